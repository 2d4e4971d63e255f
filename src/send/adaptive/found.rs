//! What the rate controller found, for the summary.

use std::time::Duration;

/// What the controller found, for the summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    /// The rate settled on after the last congestion event; `None` if the server never
    /// throttled.
    pub settled: Option<f64>,
    /// What to pass as `--rate` next time: the sustained rate the server accepted over its
    /// longest window (see `History::suggest`); `None` if the run could not tell it.
    pub suggested: Option<f64>,
    /// The longest window the server showed (a second if none longer).
    pub longest_window: Duration,
    /// The target at the end of the run.
    pub rate: f64,
    /// The highest target of the run.
    pub peak: f64,
    /// The ceiling (`--max-rate`).
    pub max_rate: f64,
    /// How many congestion events (decreases) there were.
    pub events: u64,
    /// How many answers were throttling (429, or 503 with `Retry-After`).
    pub throttled: u64,
    /// How long the run was paused in all, for `Retry-After` or a 429's backoff (filled in
    /// by the worker, from the pacer).
    pub paused: Duration,
    /// At a fixed `--rate`, that rate: the controller only watched, the pacer did not follow.
    pub fixed: Option<f64>,
    /// The rate the server took once it began to throttle, pauses included (a fact about this
    /// run, not a limit); `None` if it never throttled or too little followed.
    pub taken: Option<f64>,
    /// The lowest sustained rate the server's rate-limit headers announced, if they did.
    pub announced: Option<f64>,
}

impl Found {
    /// Whether the target reached the `--max-rate` ceiling.
    pub fn reached_ceiling(&self) -> bool {
        self.peak >= self.max_rate * 0.999
    }
}
