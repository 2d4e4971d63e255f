//! The progress display while a run goes: a bar on a terminal (counts current to the last
//! finished row, rows per second, ETA, a visible pause), a log line every few seconds
//! otherwise (cron), and the dry run's preview of the first bodies.

use std::time::{Duration, Instant};

use serde_json::json;
use tracing_indicatif::span_ext::IndicatifSpanExt;

use crate::results::{Counts, Outcome, RowResult};

/// How many request bodies a dry run shows.
pub const PREVIEWS: usize = 3;

/// The one-line counts: `ok 9, unauthorized 3`, or `no rows`.
pub fn counts_line(counts: &Counts) -> String {
    let parts: Vec<String> = counts
        .nonzero()
        .map(|(o, n)| format!("{} {n}", o.as_str()))
        .collect();
    if parts.is_empty() {
        "no rows".to_string()
    } else {
        parts.join(", ")
    }
}

/// `paused (Retry-After 3s)`, or `paused (429 1s)` for a 429's own backoff.
fn describe_pause((wait, retry_after): (Duration, bool)) -> String {
    let seconds = wait.as_secs_f64().ceil() as u64;
    let why = if retry_after { "Retry-After" } else { "429" };
    format!("paused ({why} {seconds}s)")
}

/// Where the run stands, as the collector sees it.
#[derive(Debug, Clone, Copy)]
pub struct Status<'a> {
    /// Rows recorded.
    pub done: u64,
    /// Rows per outcome, indexed by [`Outcome::index`].
    pub counts: &'a Counts,
    /// Rows sent at least once.
    pub sent: u64,
    /// The time left in a whole-run pause, and whether the server named it (`Retry-After`)
    /// or it is a 429's backoff.
    pub paused: Option<(Duration, bool)>,
    /// `--rate auto`: the rate the pacer is at now, requests/s.
    pub rate: Option<f64>,
}

/// The bar or the log lines of one run.
#[derive(Debug)]
pub struct Progress {
    span: tracing::Span,
    bar: bool,
    total: u64,
    started: Instant,
    log_every: Duration,
    last_log: Instant,
    previews: usize,
    /// Control keys are not echoed while the bar is drawn (see [`crate::terminal`]).
    _quiet_keys: Option<crate::terminal::QuietControlKeys>,
}

impl Progress {
    /// The display of a run of `total` rows: a bar (`bar`), or a log line every `log_every`.
    pub fn new(total: u64, bar: bool, log_every: Duration) -> Progress {
        // At WARN, so that `--progress always --quiet` (whose filter keeps warnings) still
        // draws the bar.
        let span = tracing::warn_span!("run", indicatif.pb_show = tracing::field::Empty);
        if bar {
            span.pb_set_style(
                &indicatif::ProgressStyle::with_template("{bar:20} {wide_msg} {elapsed}")
                    .expect("the template is valid"),
            );
            span.pb_set_length(total);
        }
        let now = Instant::now();
        Progress {
            _quiet_keys: bar.then(crate::terminal::QuietControlKeys::start).flatten(),
            span,
            bar,
            total,
            started: now,
            log_every,
            last_log: now,
            previews: 0,
        }
    }

    /// The span the run goes in: the bar lives while it is open.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Shows `status`: the bar at once; a log line if `log_every` has passed since the last.
    pub fn show(&mut self, status: Status<'_>) {
        if self.bar {
            // The counts are all in the message, set first: a frame drawn between the two
            // calls shows them current, and only the bar's fill lags.
            self.span.pb_set_message(&self.message(&status));
            self.span.pb_set_position(status.done);
        } else if self.last_log.elapsed() >= self.log_every {
            self.last_log = Instant::now();
            tracing::info!(
                "progress: {}/{} rows ({}), {}",
                status.done,
                self.total,
                counts_line(status.counts),
                self.pace(&status, false)
            );
        }
    }

    /// The bar's message: rows done, a pause if one holds (first, so that a narrow terminal
    /// still shows it), the counts, then the pace.
    fn message(&self, status: &Status<'_>) -> String {
        let pause = match status.paused {
            Some(paused) => format!("{} · ", describe_pause(paused)),
            None => String::new(),
        };
        format!(
            "{}/{} rows · {pause}{} · {}",
            status.done,
            self.total,
            counts_line(status.counts),
            self.pace(status, true)
        )
    }

    /// Rows sent per second, the `--rate auto` rate if any, and the time left (and, in a log
    /// line, the pause that holds the run). Only rows sent count toward the rate, so skipped and invalid rows do not shorten
    /// the ETA.
    fn pace(&self, status: &Status<'_>, bar: bool) -> String {
        // Over at least a second, so that the first row does not show a thousand rows a second.
        let elapsed = self.started.elapsed().as_secs_f64().max(1.0);
        let rate = status.sent as f64 / elapsed;
        let left = self.total.saturating_sub(status.done);
        let eta = if status.sent == 0 || rate <= 0.0 {
            "unknown".to_string()
        } else {
            humantime::format_duration(Duration::from_secs((left as f64 / rate).ceil() as u64))
                .to_string()
        };
        let auto = match status.rate {
            Some(auto) => format!(" (auto rate {auto:.1}/s)"),
            None => String::new(),
        };
        if bar {
            return format!("{rate:.1} rows/s{auto} · ETA {eta}");
        }
        let mut pace = format!("{rate:.1} rows/s{auto}, about {eta} left");
        if let Some(paused) = status.paused {
            pace.push_str(&format!(", {}", describe_pause(paused)));
        }
        pace
    }

    /// Shows the body a dry-run row would send, for the first few rows (the key redacted),
    /// on standard output: the preview is the dry run's primary output.
    pub fn preview(&mut self, result: &RowResult) {
        if result.outcome != Outcome::DryRun || self.previews >= PREVIEWS {
            return;
        }
        self.previews += 1;
        let mut body = json!({
            "auth_uuid": result.row.auth_uuid,
            "api_key": "<redacted>",
            "state": result.row.state,
        });
        if !result.row.reasons.is_empty() {
            body["reasons"] = json!(result.row.reasons);
        }
        let line = format!("would send (line {}): {body}", result.row.line);
        let _ = std::io::Write::write_fmt(&mut std::io::stdout().lock(), format_args!("{line}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counts_line_names_only_what_happened() {
        let mut counts = Counts::default();
        counts[Outcome::Ok] = 9;
        counts[Outcome::Unauthorized] = 3;
        assert_eq!(counts_line(&counts), "ok 9, unauthorized 3");
        assert_eq!(counts_line(&Counts::default()), "no rows");
    }

    #[test]
    fn the_pace_counts_only_rows_sent_and_shows_a_pause() {
        let progress = Progress::new(100, false, Duration::from_secs(5));
        let counts = Counts::default();
        let idle = Status {
            done: 50,
            counts: &counts,
            sent: 0,
            paused: None,
            rate: None,
        };
        assert_eq!(progress.pace(&idle, true), "0.0 rows/s · ETA unknown");
        let paused = Status {
            sent: 10,
            paused: Some((Duration::from_millis(2_100), true)),
            ..idle
        };
        let message = progress.message(&paused);
        assert!(
            message.starts_with("50/100 rows · paused (Retry-After 3s) · no rows · "),
            "{message}"
        );
        assert!(message.contains(" rows/s · ETA "), "{message}");
        assert!(
            progress
                .pace(
                    &Status {
                        paused: Some((Duration::from_secs(1), false)),
                        ..paused
                    },
                    false
                )
                .ends_with(", paused (429 1s)")
        );
        let auto = Status {
            rate: Some(38.04),
            ..paused
        };
        assert!(
            progress
                .message(&auto)
                .contains(" rows/s (auto rate 38.0/s) · ETA "),
            "{}",
            progress.message(&auto)
        );
        assert!(
            progress
                .pace(&auto, false)
                .contains(" rows/s (auto rate 38.0/s), about "),
            "{}",
            progress.pace(&auto, false)
        );
    }
}
