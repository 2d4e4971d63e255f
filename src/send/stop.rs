//! The stop policy: why a run stops before sending every row, the switch every part of the
//! run watches, and the rules that read finished rows to decide a stop (the wrong key, unless
//! it already made rows of the job ok; too many 401s; an unreachable server).

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::results::{Outcome, RowResult};

/// How many first answers, all 401, mean that the key is evidently wrong.
pub const WRONG_KEY_ANSWERS: u64 = 10;

/// How many rows in a row that end without any HTTP answer mean that the server cannot be
/// reached.
pub const UNREACHABLE_ROWS: u64 = 10;

/// Why a run stopped before sending every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The first answers were all 401.
    WrongKey,
    /// `--max-unauthorized` was reached.
    TooManyUnauthorized,
    /// [`UNREACHABLE_ROWS`] rows in a row ended without any HTTP answer.
    Unreachable,
    /// A canary row did not end `ok`.
    CanaryFailed,
    /// SIGINT or SIGTERM.
    Interrupted,
    /// The server asked to wait longer than `--max-retry-after` (a quota): see [`Quota`].
    Quota,
}

/// A wait the run would not sit through: a `Retry-After` (or a rate-limit reset) longer than
/// `--max-retry-after`, the mark of a quota that resets in an hour or tomorrow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// How long the server asked to wait.
    pub wait: Duration,
    /// When the server takes requests again (the answer's time plus `wait`).
    pub until: SystemTime,
    /// `--max-retry-after`, which the wait exceeded.
    pub max_retry_after: Duration,
    /// The command that resumes the run, filled in by the run command.
    pub resume_command: Option<String>,
}

impl StopReason {
    /// A sentence for the summary.
    pub fn describe(self) -> &'static str {
        match self {
            StopReason::WrongKey => {
                "the first answers were all 401 Not authorized: the API key is evidently wrong for these processes"
            }
            StopReason::TooManyUnauthorized => {
                "the number of 401 answers reached --max-unauthorized"
            }
            StopReason::Unreachable => {
                "the server could not be reached: 10 rows in a row ended without any HTTP answer (refused, reset, timed out, TLS or DNS failure); check --url and the network, then resume"
            }
            StopReason::CanaryFailed => "a canary row did not end ok",
            StopReason::Interrupted => "interrupted by a signal",
            StopReason::Quota => {
                "the server asked to wait longer than --max-retry-after (a quota): rows not sent are cancelled, resume once it takes requests again"
            }
        }
    }
}

/// The run's stop switch: the first reason given wins.
#[derive(Debug, Default)]
pub struct Stop {
    token: CancellationToken,
    reason: Mutex<Option<StopReason>>,
    quota: Mutex<Option<Quota>>,
}

impl Stop {
    /// Stops the run (no new requests start) for `reason`, unless already stopped.
    pub fn stop(&self, reason: StopReason) {
        let mut current = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if current.is_none() {
            *current = Some(reason);
            // An interruption is announced by the signal handler itself, around the bar.
            if reason != StopReason::Interrupted {
                tracing::warn!("stopping: {}", reason.describe());
            }
        }
        self.token.cancel();
    }

    /// Stops the run for a quota (unless already stopped), keeping the latest time the
    /// server named.
    pub fn stop_for_quota(&self, quota: Quota) {
        {
            let mut current = self.quota.lock().unwrap_or_else(|p| p.into_inner());
            if current.as_ref().is_none_or(|q| q.until < quota.until) {
                *current = Some(quota);
            }
        }
        self.stop(StopReason::Quota);
    }

    /// The quota that stopped the run, if one did.
    pub fn quota(&self) -> Option<Quota> {
        if self.reason() != Some(StopReason::Quota) {
            return None;
        }
        self.quota.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Why the run stopped, if it did.
    pub fn reason(&self) -> Option<StopReason> {
        *self.reason.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the run has stopped.
    pub fn is_stopped(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves when the run stops.
    pub async fn stopped(&self) {
        self.token.cancelled().await
    }
}

/// The stops that depend on what came back, fed every finished row in the order recorded.
#[derive(Debug)]
pub struct StopPolicy {
    max_unauthorized: Option<u64>,
    /// The default key already made rows of this job ok: 401s first are rows of another
    /// customer, not a wrong key.
    key_proven: bool,
    unauthorized: u64,
    answered: u64,
    answered_all_unauthorized: bool,
    unanswered_in_a_row: u64,
}

impl StopPolicy {
    /// The policy of a run; `max_unauthorized` is `--max-unauthorized`.
    pub fn new(max_unauthorized: Option<u64>) -> StopPolicy {
        StopPolicy {
            max_unauthorized,
            key_proven: false,
            unauthorized: 0,
            answered: 0,
            answered_all_unauthorized: true,
            unanswered_in_a_row: 0,
        }
    }

    /// The default key already made rows of this job `ok` (a resume): first answers all 401
    /// do not stop the run as a wrong key (`--max-unauthorized` still does).
    pub fn key_proven(&mut self) {
        self.key_proven = true;
    }

    /// Reads one finished row; the reason to stop, if this row calls for one.
    pub fn observe(&mut self, result: &RowResult) -> Option<StopReason> {
        let mut stop = None;
        if result.outcome == Outcome::Unauthorized {
            self.unauthorized += 1;
            if self
                .max_unauthorized
                .is_some_and(|max| self.unauthorized >= max)
            {
                stop = Some(StopReason::TooManyUnauthorized);
            }
        }
        match result.http_status {
            Some(status) => {
                self.unanswered_in_a_row = 0;
                self.answered += 1;
                self.answered_all_unauthorized &= status == 401;
                if self.answered == WRONG_KEY_ANSWERS
                    && self.answered_all_unauthorized
                    && !self.key_proven
                {
                    stop = Some(StopReason::WrongKey);
                }
            }
            // Sent, and no answer came to any attempt.
            None if result.attempts > 0 => {
                self.unanswered_in_a_row += 1;
                if self.unanswered_in_a_row >= UNREACHABLE_ROWS {
                    stop = stop.or(Some(StopReason::Unreachable));
                }
            }
            None => {}
        }
        stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(outcome: Outcome, status: Option<u16>, attempts: u32) -> RowResult {
        let row = crate::validate::Row {
            line: 2,
            auth_uuid: String::new(),
            state: "OK".into(),
            reasons: String::new(),
            api_key: None,
            extras: Vec::new(),
        };
        let mut result = RowResult::unsent(row, outcome, String::new());
        result.http_status = status;
        result.attempts = attempts;
        result
    }

    #[test]
    fn ten_unanswered_rows_in_a_row_stop_the_run() {
        let mut policy = StopPolicy::new(None);
        for _ in 0..9 {
            assert_eq!(policy.observe(&row(Outcome::Failed, None, 3)), None);
        }
        // An answer in between starts the count again; unsent rows do not count.
        assert_eq!(policy.observe(&row(Outcome::Ok, Some(200), 1)), None);
        assert_eq!(policy.observe(&row(Outcome::Skipped, None, 0)), None);
        for _ in 0..9 {
            assert_eq!(policy.observe(&row(Outcome::Failed, None, 1)), None);
        }
        assert_eq!(
            policy.observe(&row(Outcome::Failed, None, 1)),
            Some(StopReason::Unreachable)
        );
    }

    #[test]
    fn ten_first_answers_all_401_mean_a_wrong_key() {
        let mut policy = StopPolicy::new(None);
        for _ in 0..9 {
            assert_eq!(
                policy.observe(&row(Outcome::Unauthorized, Some(401), 1)),
                None
            );
        }
        assert_eq!(
            policy.observe(&row(Outcome::Unauthorized, Some(401), 1)),
            Some(StopReason::WrongKey)
        );
        // A key that made rows of the job ok is not called wrong; the limit still applies.
        let mut proven = StopPolicy::new(Some(12));
        proven.key_proven();
        for _ in 0..11 {
            assert_eq!(
                proven.observe(&row(Outcome::Unauthorized, Some(401), 1)),
                None
            );
        }
        assert_eq!(
            proven.observe(&row(Outcome::Unauthorized, Some(401), 1)),
            Some(StopReason::TooManyUnauthorized)
        );
        let mut mixed = StopPolicy::new(Some(3));
        assert_eq!(mixed.observe(&row(Outcome::Ok, Some(200), 1)), None);
        assert_eq!(
            mixed.observe(&row(Outcome::Unauthorized, Some(401), 1)),
            None
        );
        assert_eq!(
            mixed.observe(&row(Outcome::Unauthorized, Some(401), 1)),
            None
        );
        assert_eq!(
            mixed.observe(&row(Outcome::Unauthorized, Some(401), 1)),
            Some(StopReason::TooManyUnauthorized)
        );
    }
}
