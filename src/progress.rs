//! The progress display while a run goes: a bar on a terminal (counts current to the last
//! finished row, rows per second, ETA, a visible pause), a log line every few seconds
//! otherwise (cron), and the dry run's preview of the first bodies.

use std::time::{Duration, Instant};

use serde_json::json;
use tracing_indicatif::span_ext::IndicatifSpanExt;

use crate::results::{Counts, Outcome, RowResult};

/// The bar's graphic is left out after the pace's auto rate and before the pace itself.
const GRAPHIC: u8 = 4;

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
    let seconds = Duration::from_secs(wait.as_secs_f64().ceil() as u64);
    let why = if retry_after { "Retry-After" } else { "429" };
    format!("paused ({why} {})", crate::text::human_duration(seconds))
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

/// Where the bar is drawn.
#[derive(Debug)]
enum Bar {
    /// Standard error, through the run's span (log lines go around it).
    Stderr,
    /// The terminal the confirmation was asked on, standard error being redirected.
    Prompt(indicatif::ProgressBar, crate::terminal::Screen),
}

/// The bar's graphic, in columns.
const BAR_WIDTH: usize = 20;

/// One piece of the bar's line: what goes before it, its text, and how soon it is left out
/// when the line is too narrow (the highest first; 0 never).
#[derive(Debug, Clone, PartialEq)]
struct Field {
    separator: &'static str,
    text: String,
    drop_order: u8,
}

impl Field {
    fn new(separator: &'static str, text: String, drop_order: u8) -> Field {
        Field {
            separator,
            text,
            drop_order,
        }
    }
}

/// Fits the bar's line to `width` columns by leaving out whole fields, least important first,
/// never cutting one (a cut number would read as another number). The bar's graphic is the
/// field of order `graphic`. Returns whether the graphic is drawn, and the message beside it.
fn fit(fields: &[Field], graphic: u8, width: usize) -> (bool, String) {
    let mut limit = u8::MAX;
    loop {
        let kept: Vec<&Field> = fields.iter().filter(|f| f.drop_order < limit).collect();
        let mut message = String::new();
        for (i, field) in kept.iter().enumerate() {
            if i > 0 {
                message.push_str(field.separator);
            }
            message.push_str(&field.text);
        }
        let with_graphic = graphic < limit;
        let columns = message.chars().count() + if with_graphic { BAR_WIDTH + 1 } else { 0 };
        let next = fields
            .iter()
            .map(|f| f.drop_order)
            .chain(std::iter::once(graphic))
            .filter(|&o| o > 0 && o < limit)
            .max();
        match next {
            Some(order) if columns > width => limit = order,
            _ => return (with_graphic, message),
        }
    }
}

/// The bar or the log lines of one run.
#[derive(Debug)]
pub struct Progress {
    span: tracing::Span,
    bar: Option<Bar>,
    total: u64,
    started: Instant,
    log_every: Duration,
    last_log: Instant,
    previews: usize,
    /// Whether the graphic is in the bar's style now (the style changes only when that does).
    graphic: Option<bool>,
    /// The terminal's width, and when it was last asked.
    width: (usize, Instant),
    /// Control keys are not echoed while the bar is drawn (see [`crate::terminal`]).
    _quiet_keys: Option<crate::terminal::QuietControlKeys>,
}

impl Progress {
    /// The display of a run of `total` rows: a bar on standard error (`bar`), else a log line
    /// every `log_every`, and then also a bar on the confirmation's terminal if standard error
    /// is redirected (see [`crate::terminal::prompt_terminal_for_progress`]).
    pub fn new(total: u64, bar: bool, log_every: Duration) -> Progress {
        // At WARN, so that `--progress always --quiet` (whose filter keeps warnings) still
        // draws the bar.
        let span = tracing::warn_span!("run", indicatif.pb_show = tracing::field::Empty);
        let (bar, quiet_keys) = match bar {
            true => {
                // The style before the first frame, or the layer's own spinner shows first.
                span.pb_set_style(&Self::style(true));
                span.pb_set_length(total);
                (
                    Some(Bar::Stderr),
                    crate::terminal::QuietControlKeys::start(2),
                )
            }
            false => match crate::terminal::prompt_terminal_for_progress() {
                Some(tty) => {
                    #[cfg(unix)]
                    let keys = crate::terminal::QuietControlKeys::start(
                        std::os::fd::AsRawFd::as_raw_fd(&tty),
                    );
                    #[cfg(not(unix))]
                    let keys = None;
                    let screen = crate::terminal::Screen::new(tty, None);
                    let bar = Self::prompt_bar(total, screen.clone());
                    (Some(Bar::Prompt(bar, screen)), keys)
                }
                None => (None, None),
            },
        };
        let now = Instant::now();
        Progress {
            _quiet_keys: quiet_keys,
            span,
            bar,
            total,
            started: now,
            log_every,
            last_log: now,
            previews: 0,
            graphic: Some(true),
            width: (80, now - Duration::from_secs(1)),
        }
    }

    /// The bar's style: the message, after the graphic or alone.
    fn style(graphic: bool) -> indicatif::ProgressStyle {
        let template = if graphic { "{bar:20} {msg}" } else { "{msg}" };
        indicatif::ProgressStyle::with_template(template).expect("the template is valid")
    }

    /// A bar of `total` rows drawn on `screen`.
    fn prompt_bar(total: u64, screen: crate::terminal::Screen) -> indicatif::ProgressBar {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::term_like(Box::new(screen)),
        );
        bar.set_style(Self::style(true));
        crate::terminal::bar_on_prompt_terminal(&bar);
        bar
    }

    /// The span the run goes in: the bar lives while it is open.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Shows `status`: the bar at once, and a log line if `log_every` has passed since the
    /// last when there is no bar on standard error.
    pub fn show(&mut self, status: Status<'_>) {
        if self.bar.is_some() {
            let width = self.width();
            let (graphic, message) = fit(&self.fields(&status), GRAPHIC, width);
            self.draw(graphic, &message, status.done);
        }
        if !matches!(self.bar, Some(Bar::Stderr)) && self.last_log.elapsed() >= self.log_every {
            self.last_log = Instant::now();
            tracing::info!(
                kind = "progress",
                done = status.done,
                total = self.total,
                "progress: {}/{} rows ({}), {}",
                status.done,
                self.total,
                counts_line(status.counts),
                self.pace(&status)
            );
        }
    }

    /// The width of the bar's terminal, asked at most four times a second.
    fn width(&mut self) -> usize {
        if self.width.1.elapsed() >= Duration::from_millis(250) {
            let now = match &self.bar {
                Some(Bar::Prompt(_, screen)) => screen.columns(),
                _ => crate::terminal::width(2),
            };
            self.width = (now.map_or(80, usize::from), Instant::now());
        }
        self.width.0
    }

    /// Draws a frame: the style (with or without the graphic) only when it changes; the
    /// message first, so that a frame drawn between the two calls shows the counts current,
    /// and only the bar's fill lags.
    fn draw(&mut self, graphic: bool, message: &str, done: u64) {
        let style = (self.graphic != Some(graphic)).then(|| Self::style(graphic));
        self.graphic = Some(graphic);
        match &self.bar {
            Some(Bar::Stderr) => {
                if let Some(style) = &style {
                    self.span.pb_set_style(style);
                }
                self.span.pb_set_message(message);
                self.span.pb_set_position(done);
            }
            Some(Bar::Prompt(bar, _)) => {
                if let Some(style) = style {
                    bar.set_style(style);
                }
                bar.set_message(message.to_string());
                bar.set_position(done);
            }
            None => {}
        }
    }

    /// The bar's fields, in the order shown: rows done and a pause if one holds (both always
    /// shown), the counts, the pace, the `--rate auto` rate, the ETA, the time elapsed. A
    /// narrow terminal loses first the elapsed time, then the auto rate, the graphic, the
    /// pace, the ETA and the counts.
    fn fields(&self, status: &Status<'_>) -> Vec<Field> {
        let (rate, eta) = self.rate_and_eta(status);
        let mut fields = vec![Field::new(
            "",
            format!("{}/{} rows", status.done, self.total),
            0,
        )];
        if let Some(paused) = status.paused {
            fields.push(Field::new(" · ", describe_pause(paused), 0));
        }
        fields.push(Field::new(" · ", counts_line(status.counts), 1));
        fields.push(Field::new(" · ", format!("{rate:.1} rows/s"), 3));
        if let Some(auto) = status.rate {
            fields.push(Field::new(" ", format!("(auto rate {auto:.1}/s)"), 5));
        }
        fields.push(Field::new(" · ", format!("ETA {eta}"), 2));
        let elapsed = Duration::from_secs(self.started.elapsed().as_secs());
        fields.push(Field::new(" · ", crate::text::human_duration(elapsed), 6));
        fields
    }

    /// Rows sent per second, and the time left. Only rows sent count toward the rate, so
    /// skipped and invalid rows do not shorten the ETA.
    fn rate_and_eta(&self, status: &Status<'_>) -> (f64, String) {
        // Over at least a second, so that the first row does not show a thousand rows a second.
        let elapsed = self.started.elapsed().as_secs_f64().max(1.0);
        let rate = status.sent as f64 / elapsed;
        let left = self.total.saturating_sub(status.done);
        let eta = if status.sent == 0 || rate <= 0.0 {
            "unknown".to_string()
        } else {
            crate::text::human_duration(Duration::from_secs((left as f64 / rate).ceil() as u64))
        };
        (rate, eta)
    }

    /// A log line's pace: rows sent per second, the `--rate auto` rate if any, the time left,
    /// and the pause that holds the run.
    fn pace(&self, status: &Status<'_>) -> String {
        let (rate, eta) = self.rate_and_eta(status);
        let mut pace = format!("{rate:.1} rows/s");
        if let Some(auto) = status.rate {
            pace.push_str(&format!(" (auto rate {auto:.1}/s)"));
        }
        pace.push_str(&format!(", about {eta} left"));
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
mod tests;
