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
/// row is already flushed). The messages go around the progress bar, so that no stale copy
/// of it stays above them.
pub fn stop_on_signal(
    stop: std::sync::Arc<crate::send::Stop>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let mut signals = Signals::listen()?;
    Ok(tokio::spawn(async move {
        signals.recv().await;
        stop.stop(crate::send::StopReason::Interrupted);
        tracing_indicatif::suspend_tracing_indicatif(|| {
            eprintln!(
                "interrupted: finishing the requests in flight and flushing the results; press Ctrl-C again to quit at once"
            )
        });
        signals.recv().await;
        tracing_indicatif::suspend_tracing_indicatif(|| {
            eprintln!(
                "interrupted again: quitting now; every finished row is already in the results file"
            )
        });
        std::process::exit(crate::exit::ExitCode::Interrupted.code().into());
    }))
}
