//! The terminal's echo of control keys while the progress bar is drawn. The bar fills its line
//! to the last column, so the `^C` a terminal echoes for Ctrl-C wraps onto a new line; the
//! bar's own clearing then erases that new line and leaves the last frame of the bar on the
//! screen above the interrupt message. While a bar is drawn, control keys are not echoed
//! (`ECHOCTL` off on standard error's terminal), and the setting is put back when the bar
//! ends, including when a second Ctrl-C quits at once.

use std::sync::Mutex;

/// The terminal settings to put back, while echo of control keys is off.
#[cfg(unix)]
static SAVED: Mutex<Option<libc::termios>> = Mutex::new(None);

/// Echo of control keys is off while this lives.
#[derive(Debug)]
pub struct QuietControlKeys(());

impl QuietControlKeys {
    /// Turns echo of control keys off on standard error's terminal; `None` when standard
    /// error is not a terminal or its settings cannot be changed (then nothing changes).
    pub fn start() -> Option<QuietControlKeys> {
        #[cfg(unix)]
        {
            // SAFETY: a termios filled by tcgetattr on fd 2 and written back changed only in
            // c_lflag; both calls fail harmlessly when fd 2 is not a terminal.
            let mut settings: libc::termios = unsafe { std::mem::zeroed() };
            if unsafe { libc::tcgetattr(2, &mut settings) } != 0 {
                return None;
            }
            let saved = settings;
            settings.c_lflag &= !libc::ECHOCTL;
            if unsafe { libc::tcsetattr(2, libc::TCSANOW, &settings) } != 0 {
                return None;
            }
            *SAVED.lock().unwrap_or_else(|p| p.into_inner()) = Some(saved);
            Some(QuietControlKeys(()))
        }
        #[cfg(not(unix))]
        None
    }
}

impl Drop for QuietControlKeys {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts back the terminal settings changed by [`QuietControlKeys::start`], if any (also called
/// before the process quits at once).
pub fn restore() {
    #[cfg(unix)]
    if let Some(saved) = SAVED.lock().unwrap_or_else(|p| p.into_inner()).take() {
        // SAFETY: writes back settings read from the same descriptor.
        unsafe { libc::tcsetattr(2, libc::TCSANOW, &saved) };
    }
}
