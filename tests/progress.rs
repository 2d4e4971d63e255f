//! The progress bar under a pseudo-terminal (util-linux `script`, as in `tests/terminal.rs`):
//! its counts agree with its position in every frame, a `Retry-After` pause shows, and
//! Ctrl-C leaves no stale copy of the bar above the interrupt warning.

mod common;

use common::pty::Pty;
use common::{TestServer, Workdir};

/// Every frame of the bar, escape codes removed: the text between carriage returns and
/// line feeds that shows `rows ·`.
fn frames(screen: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = screen.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte.
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            plain.push('\n');
            continue;
        }
        plain.push(c);
    }
    plain
        .split(['\r', '\n'])
        .filter(|f| f.contains(" rows · "))
        .map(str::to_string)
        .collect()
}

/// The rows done and the ok count a frame shows: `12/130 rows · ok 12 · …`.
fn position_and_ok(frame: &str) -> Option<(u64, u64)> {
    let (before, after) = frame.split_once(" rows · ")?;
    let done = before.rsplit(' ').next()?.split('/').next()?.parse().ok()?;
    let ok = match after.strip_prefix("ok ") {
        Some(rest) => rest.split([' ', ',']).next()?.parse().ok()?,
        None => 0,
    };
    Some((done, ok))
}

#[test]
fn the_bar_counts_agree_with_its_position_in_every_frame() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    dir.write_fresh("in.csv", 130, "OK", "");
    let args = format!(
        "run in.csv --url {} --yes --rate 100 --concurrency 4",
        server.url()
    );
    let (code, screen) = Pty::start(&dir, &args).finish();
    assert_eq!(code, Some(0), "{screen}");
    let frames = frames(&screen);
    let counted: Vec<(u64, u64)> = frames.iter().filter_map(|f| position_and_ok(f)).collect();
    assert!(counted.len() >= 3, "too few frames: {frames:#?}");
    for (done, ok) in &counted {
        // Every row ends ok, so a frame whose ok count lags its position is stale.
        assert_eq!(
            done, ok,
            "a frame shows {done} rows but ok {ok}: {frames:#?}"
        );
    }
    // indicatif draws at most 20 frames a second, so not every row gets a frame of its own.
    assert!(counted.iter().any(|(done, _)| *done >= 10), "{frames:#?}");
    assert!(
        frames.iter().any(|f| f.contains(" rows/s · ETA ")),
        "{frames:#?}"
    );
}

#[test]
fn a_retry_after_pause_shows_on_the_bar() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.fail_first = 1;
        c.error_status = 429;
        c.retry_after = Some("3".into());
    });
    dir.write_fresh("in.csv", 2, "OK", "");
    let args = format!(
        "run in.csv --url {} --yes --rate 100 --concurrency 1",
        server.url()
    );
    let (code, screen) = Pty::start(&dir, &args).finish();
    assert_eq!(code, Some(0), "{screen}");
    assert!(
        frames(&screen)
            .iter()
            .any(|f| f.contains("paused (Retry-After ")),
        "{screen}"
    );
}

#[test]
fn ctrl_c_leaves_no_stale_bar_above_the_warning() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    dir.write_fresh("in.csv", 300, "OK", "");
    let args = format!("run in.csv --url {} --yes --rate 20", server.url());
    let mut pty = Pty::start(&dir, &args);
    pty.wait_for("3/300 rows");
    pty.type_keys(b"\x03");
    let (code, screen) = pty.finish();
    assert_eq!(code, Some(130), "{screen}");
    let at = screen
        .find("interrupted: finishing the requests in flight")
        .unwrap_or_else(|| panic!("no warning:\n{screen}"));
    // 200 bytes before the warning, on a character's boundary (the bar's graphic is not ASCII).
    let before = (0..=at.saturating_sub(200))
        .rev()
        .find(|&i| screen.is_char_boundary(i))
        .unwrap_or(0);
    // The bar is erased (carriage return, erase line) right before the warning is written,
    // so no copy of it stays on the line above.
    assert!(
        screen[..at].ends_with("\r\u{1b}[2K"),
        "the warning is not written on a cleared line: {:?}",
        &screen[before..at + 20]
    );
    // The terminal does not echo `^C` over the bar: the bar fills its line to the last
    // column, so an echoed `^C` wraps onto a new line, the clearing above erases that line
    // instead, and the last frame of the bar stays on the screen.
    assert!(
        !screen[before..at].contains("^C"),
        "Ctrl-C was echoed over the bar: {:?}",
        &screen[before..at + 20]
    );
    let results = dir.results("in.results.csv");
    assert_eq!(results.len(), 300);
    assert!(results.iter().any(|r| r["outcome"] == "cancelled"));
    assert!(server.stats().requests < 300);
}

#[test]
fn progress_always_draws_the_bar_with_quiet() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    dir.write_fresh("in.csv", 30, "OK", "");
    let args = format!(
        "run in.csv --url {} --yes --rate 20 -q --progress always",
        server.url()
    );
    let (code, screen) = Pty::start(&dir, &args).finish();
    assert_eq!(code, Some(0), "{screen}");
    let frames = frames(&screen);
    assert!(
        frames.iter().filter_map(|f| position_and_ok(f)).count() >= 2,
        "no bar with -q --progress always: {frames:#?}"
    );
    // Quiet: no informational log lines, only the bar and the summary.
    assert!(!screen.contains("sending 30 row(s)"), "{screen}");
}

#[test]
fn with_standard_error_redirected_the_bar_and_the_end_go_to_the_terminal() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.accept_unknown = true);
    dir.write_fresh("in.csv", 40, "OK", "");
    let args = format!("run in.csv --url {} --rate 20 2>run.log", server.url());
    let mut pty = Pty::start(&dir, &args);
    pty.wait_for("Type yes to send");
    pty.type_keys(b"yes\n");
    let (code, screen) = pty.finish();
    assert_eq!(code, Some(0), "{screen}");
    let after = &screen[screen.find("Type yes to send").unwrap()..];
    assert!(
        frames(after).iter().any(|f| f.contains("/40 rows · ok ")),
        "no bar on the terminal: {after:?}"
    );
    assert!(
        after.contains("Summary: "),
        "no end on the terminal: {after:?}"
    );
    // The log has it all, without a bar.
    let log = std::fs::read_to_string(dir.path("run.log")).unwrap();
    assert!(
        log.contains("Summary: ") && !log.contains('\u{1b}'),
        "{log}"
    );
    assert_eq!(dir.results("in.results.csv").len(), 40);
}
