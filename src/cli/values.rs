//! The values that flags take: log format, progress mode, rates and durations, and the parsers
//! that turn their text into them with a message that says how to write them.

use std::time::Duration;

use clap::ValueEnum;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// When to draw the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// On a terminal, unless `--quiet` or `--log-format json`.
    Auto,
    /// On a terminal, even with `--quiet` or `--log-format json`.
    Always,
    /// Never; log a progress line every `--log-every` instead.
    Never,
}

/// A sending rate, as requests per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests per second (may be fractional, e.g. 30/min = 0.5).
    pub per_second: f64,
}

impl Rate {
    /// The time between two consecutive send slots.
    pub fn period(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second)
    }
}

/// What `--rate` asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateMode {
    /// A fixed rate.
    Fixed(Rate),
    /// `auto`: the rate adapts to the server's throttling, up to `--max-rate`.
    Auto,
}

/// Parses `auto`, or a fixed rate as [`parse_rate`] does.
pub fn parse_rate_mode(text: &str) -> Result<RateMode, String> {
    if text.trim().eq_ignore_ascii_case("auto") {
        Ok(RateMode::Auto)
    } else {
        parse_rate(text)
            .map(RateMode::Fixed)
            .map_err(|e| format!("{e}; or `auto` to find the server's limit"))
    }
}

/// Parses `10`, `10/s`, `10/sec`, `600/min`, `3600/h`.
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let text = text.trim();
    let (number, unit) = match text.split_once('/') {
        Some((n, u)) => (n.trim(), u.trim().to_ascii_lowercase()),
        None => (text, "s".to_string()),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a rate: write e.g. 10, 10/s or 600/min"))?;
    let seconds = match unit.as_str() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        other => return Err(format!("unknown rate unit `{other}`: use /s, /min or /h")),
    };
    let per_second = value / seconds;
    if !per_second.is_finite() || per_second <= 0.0 || per_second > 1_000_000.0 {
        return Err(format!(
            "rate `{text}` must be above 0 and at most 1000000/s"
        ));
    }
    Ok(Rate { per_second })
}

/// The longest duration any flag takes: a week. Longer is a slip (`500000000000y`), and
/// such a time added to a clock would overflow it.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses a human duration such as `30s`, `500ms`, `2m`, at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration ({e}): write e.g. 30s, 500ms or 2m"))?;
    if duration > MAX_DURATION {
        return Err(format!(
            "`{text}` is longer than a week, the most any time flag takes: give e.g. 5m, 1h or 7d"
        ));
    }
    Ok(duration)
}

/// Parses a duration that must be above zero (a time limit of 0 would fail every request).
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err(format!("`{text}` is zero: give a time above 0, e.g. 30s")),
        d => Ok(d),
    }
}

/// Parses a single-byte delimiter: `,` `;` `|`, or `tab` / `\t`.
pub fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        "comma" => Ok(b','),
        "semicolon" => Ok(b';'),
        "pipe" => Ok(b'|'),
        t if t.len() == 1 && t.is_ascii() && t != "\"" && t != "\n" && t != "\r" => {
            Ok(t.as_bytes()[0])
        }
        _ => Err(format!(
            "`{text}` is not a delimiter: use one character such as , ; | or the word tab"
        )),
    }
}

pub(super) fn parse_fraction(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number between 0 and 1"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("`{text}` must be between 0 and 1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_in_every_unit() {
        assert_eq!(parse_rate("10").unwrap().per_second, 10.0);
        assert_eq!(parse_rate("10/s").unwrap().per_second, 10.0);
        assert_eq!(parse_rate("600/min").unwrap().per_second, 10.0);
        assert_eq!(parse_rate("3600/h").unwrap().per_second, 1.0);
        assert_eq!(
            parse_rate("30/min").unwrap().period(),
            Duration::from_secs(2)
        );
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("10/day").is_err());
    }

    #[test]
    fn the_rate_flag_takes_auto_or_a_rate() {
        assert_eq!(parse_rate_mode("auto"), Ok(RateMode::Auto));
        assert_eq!(parse_rate_mode(" Auto "), Ok(RateMode::Auto));
        assert_eq!(
            parse_rate_mode("600/min"),
            Ok(RateMode::Fixed(Rate { per_second: 10.0 }))
        );
        let err = parse_rate_mode("automatic").unwrap_err();
        assert!(err.contains("is not a rate"), "{err}");
    }

    #[test]
    fn delimiters_parse() {
        assert_eq!(parse_delimiter(";"), Ok(b';'));
        assert_eq!(parse_delimiter("tab"), Ok(b'\t'));
        assert_eq!(parse_delimiter("\\t"), Ok(b'\t'));
        assert!(parse_delimiter(";;").is_err());
        assert!(parse_delimiter("\"").is_err());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_duration("7d"), Ok(MAX_DURATION));
        let err = parse_duration("500000000000y").unwrap_err();
        assert!(err.contains("longer than a week"), "{err}");
        assert!(parse_positive_duration("8d").is_err());
        assert!(parse_positive_duration("0s").is_err());
        assert_eq!(parse_positive_duration("1ms"), Ok(Duration::from_millis(1)));
    }
}
