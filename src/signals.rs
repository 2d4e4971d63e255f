//! SIGINT and SIGTERM, handled from the moment the process starts: the first asks the run to
//! stop cleanly (it watches for it while it reads, validates, asks and sends); a second quits
//! at once, after the hook the run left for it (writing `--summary-json`).
//!
//! How a signal that comes before the handlers exist is not lost: the first line of `main`
//! blocks SIGINT and SIGTERM ([`block`]), before the command line is parsed, so every thread
//! started later inherits the block and such a signal stays pending. `run` then [`install`]s:
//! the signal thread registers its handlers and only then unblocks the two signals in itself,
//! so a pending one is delivered there, counted, and the run stops before its first request
//! (exit 130). Every other command (`validate`, `report`, `sandbox`, completions, man pages,
//! `--help` and usage errors) calls [`unblock`] before its work, so Ctrl-C ends it by the
//! default action as before (the sandbox then listens for itself, see [`interrupted`]).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// Signals received since [`install`].
static RECEIVED: AtomicU32 = AtomicU32::new(0);

/// The count of signals, for tasks that wait for one (in any runtime).
static WATCH: OnceLock<tokio::sync::watch::Sender<u32>> = OnceLock::new();

/// What a second signal does before the process quits.
type Hook = Box<dyn FnOnce() + Send>;

/// What the next second signal runs before it ends the process (see [`on_second`]).
static ON_SECOND: Mutex<Option<Hook>> = Mutex::new(None);

/// Registered handlers for SIGINT and SIGTERM. Registering happens when this is created, so
/// that a signal that arrives before anyone awaits it is not lost to the default action.
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers (inside a tokio runtime).
    fn listen() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Resolves at the next SIGINT (Ctrl-C) or SIGTERM.
    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The two signals a run takes over.
#[cfg(unix)]
fn run_signals() -> libc::sigset_t {
    // SAFETY: sigemptyset and sigaddset only write the set they are given, which is ours.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}

/// Blocks or unblocks SIGINT and SIGTERM in the calling thread (and the threads it starts
/// afterwards, which inherit its mask).
#[cfg(unix)]
fn set_blocked(blocked: bool) {
    let set = run_signals();
    let how = match blocked {
        true => libc::SIG_BLOCK,
        false => libc::SIG_UNBLOCK,
    };
    // SAFETY: the set is a valid, initialised sigset_t; the old mask is not asked for. It
    // cannot fail with these arguments (EINVAL is for a bad `how`).
    unsafe {
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

/// Blocks SIGINT and SIGTERM: the first line of `main`, before anything else, so that a
/// signal arriving before [`install`] (while the command line is parsed, the logging set up)
/// waits, pending, for the signal thread instead of killing the process without its summary.
pub fn block() {
    #[cfg(unix)]
    set_blocked(true);
}

/// Undoes [`block`] in the calling thread, for the commands that never [`install`]: a signal
/// then takes its default action (ends the process), or is seen by their own listener (the
/// sandbox), as if it had never been blocked. A signal that came while blocked is delivered
/// now.
pub fn unblock() {
    #[cfg(unix)]
    set_blocked(false);
}

/// Takes over SIGINT and SIGTERM for the rest of the process (they must have been [`block`]ed
/// in every other thread), on a thread of its own (so
/// that a signal is seen whatever the run is doing: reading a huge input, waiting for an
/// answer at the prompt). From then on the first signal only sets what [`received`] and
/// [`interrupted`] report; the run must watch for it. A second one quits at once with exit
/// 130, after the hook of [`on_second`].
pub fn install() -> std::io::Result<()> {
    if WATCH.get().is_some() {
        return Ok(());
    }
    let (installed, ready) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    let _ = installed.send(Err(e));
                    return;
                }
            };
            runtime.block_on(async move {
                let mut signals = match Signals::listen() {
                    Ok(signals) => signals,
                    Err(e) => {
                        let _ = installed.send(Err(e));
                        return;
                    }
                };
                let _ = WATCH.set(tokio::sync::watch::Sender::new(0));
                // The handlers are in place: only this thread takes the two signals (every
                // other one inherited the block of `main`), and one that came before now
                // arrives here. It is counted before `install` returns, so that the run sees
                // it at its first look.
                let pending = pending();
                #[cfg(unix)]
                set_blocked(false);
                if pending {
                    signals.recv().await;
                    count();
                }
                let _ = installed.send(Ok(()));
                loop {
                    signals.recv().await;
                    count();
                }
            });
        })?;
    ready
        .recv()
        .unwrap_or_else(|_| Err(std::io::Error::other("the signal thread ended")))
}

/// Counts a signal that came; a second one quits at once.
fn count() {
    let count = RECEIVED.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(watch) = WATCH.get() {
        watch.send_replace(count);
    }
    if count >= 2 {
        quit_now();
    }
}

/// Whether a SIGINT or SIGTERM came while they were blocked and waits to be delivered.
fn pending() -> bool {
    #[cfg(unix)]
    {
        // SAFETY: sigpending writes the set it is given, which is ours and initialised.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            if libc::sigpending(&mut set) != 0 {
                return false;
            }
            libc::sigismember(&set, libc::SIGINT) == 1
                || libc::sigismember(&set, libc::SIGTERM) == 1
        }
    }
    #[cfg(not(unix))]
    false
}

/// Ends the process at a second signal: the hook (if any), the terminal put back, exit 130.
fn quit_now() -> ! {
    let hook = ON_SECOND.lock().unwrap_or_else(|p| p.into_inner()).take();
    match hook {
        Some(hook) => hook(),
        None => crate::logging::emit(
            crate::logging::Level::Warn,
            "interrupted",
            "interrupted again: quitting now",
            serde_json::Value::Null,
        ),
    }
    crate::terminal::restore();
    std::process::exit(crate::exit::ExitCode::Interrupted.code().into());
}

/// Sets what a second signal does before it quits (say what is left, write the summary),
/// replacing the previous hook.
pub fn on_second(hook: Box<dyn FnOnce() + Send>) {
    *ON_SECOND.lock().unwrap_or_else(|p| p.into_inner()) = Some(hook);
}

/// Whether a signal came since [`install`].
pub fn received() -> bool {
    RECEIVED.load(Ordering::SeqCst) > 0
}

/// Resolves at the first SIGINT or SIGTERM (at once if one already came). Without
/// [`install`], listens for itself (the `sandbox` command), or resolves at once if the
/// handlers cannot be installed, which only happens when the process is shutting down.
pub async fn interrupted() {
    match WATCH.get() {
        Some(watch) => {
            let mut receiver = watch.subscribe();
            let _ = receiver.wait_for(|count| *count > 0).await;
        }
        None => match Signals::listen() {
            Ok(mut signals) => signals.recv().await,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        },
    }
}

/// Runs `work` on a thread of its own until it ends, or until a signal comes (`None`):
/// reading and validating a big input takes a while, and a signal must not wait for it (nor
/// for a read of standard input that blocks). After a signal the thread is left to the end
/// of the process.
pub async fn unless_interrupted<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<Option<T>> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("input".into())
        .spawn(move || {
            let _ = done.send(work());
        })?;
    tokio::select! {
        biased;
        () = interrupted() => Ok(None),
        result = result => match result {
            Ok(value) => Ok(Some(value)),
            // The thread panicked; the panic hook has said where.
            Err(_) => Err(std::io::Error::other("reading the input stopped unexpectedly (a bug)")),
        },
    }
}

/// Stops the run cleanly at the first SIGINT or SIGTERM (at once if one already came); a
/// second one quits at once (rows not yet written have no line, which it says) and prints
/// `resume`, the
/// command that sends the rest, if any, after running `on_quit` (it writes
/// `--summary-json`). The messages go around the progress bar, so that no stale copy of it
/// stays above them.
pub fn stop_on_signal(
    stop: std::sync::Arc<crate::send::Stop>,
    resume: Option<String>,
    on_quit: Option<Box<dyn FnOnce() + Send>>,
) -> tokio::task::JoinHandle<()> {
    on_second(Box::new(move || {
        // Rows finish in the collector and reach the file on the results thread: quitting at
        // once, those still queued, like the requests in flight, have no line.
        let mut text = "interrupted again: quitting now; the results file holds the rows written \
             so far: the requests in flight, and rows that had just finished and were not \
             written yet, have no line there"
            .to_string();
        if let Some(resume) = &resume {
            text.push_str(&format!(
                " and are sent again by the command below (safe: setting a state is idempotent)\nTo send the rows that did not end ok (rows already ok in the results file are not sent again), run:\n  {resume}"
            ));
        }
        crate::logging::emit(
            crate::logging::Level::Warn,
            "interrupted",
            &text,
            serde_json::json!({ "resume_command": resume }),
        );
        if let Some(on_quit) = on_quit {
            on_quit();
        }
    }));
    let announce = |stop: &crate::send::Stop| {
        stop.stop(crate::send::StopReason::Interrupted);
        crate::logging::emit(
            crate::logging::Level::Warn,
            "interrupted",
            "interrupted: finishing the requests in flight and flushing the results; press Ctrl-C again to quit at once",
            serde_json::Value::Null,
        );
    };
    // A signal that came before sending stops the run before its first request.
    if received() {
        announce(&stop);
        return tokio::spawn(async {});
    }
    tokio::spawn(async move {
        interrupted().await;
        announce(&stop);
    })
}
