//! SIGINT and SIGTERM as futures, so that a run can stop starting requests and finish cleanly.

/// Registered handlers for SIGINT and SIGTERM. Registering happens when this is created, so
/// that a signal that arrives before anyone awaits it is not lost to the default action.
pub struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl std::fmt::Debug for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signals")
    }
}

impl Signals {
    /// Installs the handlers (inside a tokio runtime).
    pub fn listen() -> std::io::Result<Signals> {
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
    pub async fn recv(&mut self) {
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

/// Resolves when the process receives SIGINT or SIGTERM (or at once if the handlers cannot
/// be installed, which only happens when the process is already shutting down).
pub async fn interrupted() {
    match Signals::listen() {
        Ok(mut signals) => signals.recv().await,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Stops the run cleanly at SIGINT or SIGTERM; a second one quits at once (every finished
/// row is already flushed) and prints `resume`, the command that sends the rest, if any.
/// The messages go around the progress bar, so that no stale copy of it stays above them.
/// `on_quit` runs before a second signal ends the process (it writes `--summary-json`).
pub fn stop_on_signal(
    stop: std::sync::Arc<crate::send::Stop>,
    resume: Option<String>,
    on_quit: Option<Box<dyn FnOnce() + Send>>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let mut signals = Signals::listen()?;
    Ok(tokio::spawn(async move {
        signals.recv().await;
        stop.stop(crate::send::StopReason::Interrupted);
        crate::logging::emit(
            crate::logging::Level::Warn,
            "interrupted",
            "interrupted: finishing the requests in flight and flushing the results; press Ctrl-C again to quit at once",
            serde_json::Value::Null,
        );
        signals.recv().await;
        let mut text =
            "interrupted again: quitting now; every finished row is already in the results file"
                .to_string();
        if let Some(resume) = &resume {
            text.push_str(&format!(
                "\nTo send the rows that did not end ok (rows already ok are not sent again), run:\n  {resume}"
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
        crate::terminal::restore();
        std::process::exit(crate::exit::ExitCode::Interrupted.code().into());
    }))
}
