//! The terminal while a run goes. Echo of control keys is off while the progress bar is drawn:
//! the bar fills its line to the last column, so the `^C` a terminal echoes for Ctrl-C would
//! wrap onto a new line, which the bar's own clearing then erases, leaving the last frame of
//! the bar on the screen above the interrupt message; the setting is put back when the bar
//! ends, including when a second Ctrl-C quits at once. And the terminal the confirmation was
//! asked on (`/dev/tty`): when standard error is redirected (`2>run.log`), the bar, the
//! interruption and the end of the run are shown there too, so that the screen does not go
//! silent after the question.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The terminal settings to put back (the descriptor and its settings), while echo of
/// control keys is off.
#[cfg(unix)]
static SAVED: Mutex<Option<(i32, libc::termios)>> = Mutex::new(None);

/// Echo of control keys is off while this lives.
#[derive(Debug)]
pub struct QuietControlKeys(());

impl QuietControlKeys {
    /// Turns echo of control keys off on the terminal open on `fd`; `None` when `fd` is not a
    /// terminal or its settings cannot be changed (then nothing changes).
    pub fn start(fd: i32) -> Option<QuietControlKeys> {
        #[cfg(unix)]
        {
            // SAFETY: a termios filled by tcgetattr on `fd` and written back changed only in
            // c_lflag; both calls fail harmlessly when `fd` is not a terminal.
            let mut settings: libc::termios = unsafe { std::mem::zeroed() };
            if unsafe { libc::tcgetattr(fd, &mut settings) } != 0 {
                return None;
            }
            let saved = settings;
            settings.c_lflag &= !libc::ECHOCTL;
            if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &settings) } != 0 {
                return None;
            }
            *SAVED.lock().unwrap_or_else(|p| p.into_inner()) = Some((fd, saved));
            Some(QuietControlKeys(()))
        }
        #[cfg(not(unix))]
        {
            let _ = fd;
            None
        }
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
    if let Some((fd, saved)) = SAVED.lock().unwrap_or_else(|p| p.into_inner()).take() {
        // SAFETY: writes back settings read from the same descriptor.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    }
}

/// The width in columns of the terminal open on `fd`, if it is one.
pub fn width(fd: i32) -> Option<u16> {
    #[cfg(unix)]
    {
        // SAFETY: TIOCGWINSZ fills a winsize; it fails harmlessly when `fd` is no terminal.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        // As indicatif's terminal reads it (no rows: not known), so that the line we fit and
        // the line it draws agree on the width.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) } != 0
            || size.ws_col == 0
            || size.ws_row == 0
        {
            return None;
        }
        Some(size.ws_col)
    }
    #[cfg(not(unix))]
    {
        let _ = fd;
        None
    }
}

/// The terminal the confirmation was asked on, kept when standard error is not that
/// terminal (see [`keep_prompt_terminal`]).
static PROMPT: Mutex<Option<std::fs::File>> = Mutex::new(None);

/// Whether the progress display may use the confirmation's terminal: `--progress` is not
/// `never`, and not `auto` with `--quiet`.
static PROGRESS_ALLOWED: AtomicBool = AtomicBool::new(false);

/// Says whether the bar may be drawn on the confirmation's terminal (set once at start).
pub fn allow_progress_on_prompt_terminal(allowed: bool) {
    PROGRESS_ALLOWED.store(allowed, Ordering::Relaxed);
}

/// Keeps the terminal a confirmation was just answered on, when standard error goes
/// elsewhere (`2>run.log`): the bar, the interruption and the end of the run are then shown
/// on it as well.
pub fn keep_prompt_terminal(tty: &std::fs::File) {
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return;
    }
    if let Ok(tty) = tty.try_clone() {
        *PROMPT.lock().unwrap_or_else(|p| p.into_inner()) = Some(tty);
    }
}

/// The confirmation's terminal for the progress bar, when kept and allowed.
pub fn prompt_terminal_for_progress() -> Option<std::fs::File> {
    if !PROGRESS_ALLOWED.load(Ordering::Relaxed) {
        return None;
    }
    let kept = PROMPT.lock().unwrap_or_else(|p| p.into_inner());
    kept.as_ref().and_then(|tty| tty.try_clone().ok())
}

/// The bar drawn on the confirmation's terminal, if any: lifted while a message is written.
static PROMPT_BAR: Mutex<Option<indicatif::WeakProgressBar>> = Mutex::new(None);

/// Registers the bar drawn on the confirmation's terminal.
pub fn bar_on_prompt_terminal(bar: &indicatif::ProgressBar) {
    *PROMPT_BAR.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar.downgrade());
}

/// Writes `text` on the confirmation's terminal too, if it was kept (standard error being
/// elsewhere), lifting the bar drawn there around it.
pub fn echo_on_prompt_terminal(text: &str) {
    let kept = PROMPT.lock().unwrap_or_else(|p| p.into_inner());
    let Some(mut tty) = kept.as_ref() else {
        return;
    };
    let mut write = || {
        let _ = writeln!(tty, "{}", text.trim_end_matches('\n'));
    };
    let bar = PROMPT_BAR
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(indicatif::WeakProgressBar::upgrade);
    match bar {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

/// A terminal that indicatif draws a bar on: the confirmation's `/dev/tty` when standard
/// error is redirected, with the width the terminal has now (or a fixed one, for tests).
#[derive(Debug, Clone)]
pub struct Screen {
    file: std::sync::Arc<std::fs::File>,
    width: Option<u16>,
}

impl Screen {
    /// A screen on `file`; `width` fixed, or `None` to ask the terminal at each frame.
    pub fn new(file: std::fs::File, width: Option<u16>) -> Screen {
        Screen {
            file: std::sync::Arc::new(file),
            width,
        }
    }

    /// The width in columns: the fixed one, or the terminal's now.
    pub fn columns(&self) -> Option<u16> {
        #[cfg(unix)]
        let now = width(std::os::fd::AsRawFd::as_raw_fd(&*self.file));
        #[cfg(not(unix))]
        let now = None;
        self.width.or(now)
    }

    fn write(&self, text: &str) -> std::io::Result<()> {
        (&*self.file).write_all(text.as_bytes())
    }
}

impl indicatif::TermLike for Screen {
    fn width(&self) -> u16 {
        self.columns().unwrap_or(80)
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        match n {
            0 => Ok(()),
            n => self.write(&format!("\x1b[{n}A")),
        }
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        match n {
            0 => Ok(()),
            n => self.write(&format!("\x1b[{n}B")),
        }
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        match n {
            0 => Ok(()),
            n => self.write(&format!("\x1b[{n}C")),
        }
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        match n {
            0 => Ok(()),
            n => self.write(&format!("\x1b[{n}D")),
        }
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.write(&format!("{s}\n"))
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.write(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.write("\r\x1b[2K")
    }
    fn flush(&self) -> std::io::Result<()> {
        (&*self.file).flush()
    }
}
