//! What an attempt's answer says about throttling: the answer the `--rate auto` controller
//! takes in (a 429, or a 503 with `Retry-After`, is throttling; another 5xx is not success),
//! and the quota that stops the run (a wait longer than `--max-retry-after`).

use std::time::{Duration, SystemTime};

use super::adaptive::Answer;
use super::pacer::Pacer;
use super::stop::{Quota, Stop};
use crate::client::{Attempt, Class};
use crate::retry::RetryPolicy;

/// The wall-clock time `wait` from now; a wait no clock can hold is as good as endless.
fn later(wait: Duration) -> SystemTime {
    let now = SystemTime::now();
    now.checked_add(wait)
        .or_else(|| now.checked_add(crate::cli::MAX_DURATION))
        .unwrap_or(now)
}

/// What an attempt says about the rate: a 429, or a 503 with `Retry-After` (a server
/// shedding load by asking to wait), is throttling; another 5xx or a 408 is neither success
/// nor throttling (the rate never climbs on errors); no answer says nothing.
pub(super) fn rate_answer(attempt: &Attempt, policy: &RetryPolicy) -> Answer {
    let retry_after = attempt.retry_after.map(|w| policy.cap_retry_after(w));
    match attempt.status {
        Some(429) => Answer::Throttled { retry_after },
        Some(503) if retry_after.is_some() => Answer::Throttled { retry_after },
        Some(408 | 500..) => Answer::Error,
        Some(_) => Answer::Answered,
        None => Answer::NoAnswer,
    }
}

/// The quota `attempt` reveals: a transient failure whose `Retry-After` is longer than
/// `--max-retry-after`. The run stops rather than cut the wait short and hammer a server that
/// said it will not take requests before then.
fn quota_in(attempt: &Attempt, policy: &RetryPolicy) -> Option<Quota> {
    let wait = attempt.retry_after?;
    if attempt.class != Class::Transient || wait <= policy.max_retry_after {
        return None;
    }
    Some(Quota {
        wait,
        until: later(wait),
        max_retry_after: policy.max_retry_after,
        resume_command: None,
    })
}

/// What an answer's rate-limit headers ask: nothing left in the window, so wait for its
/// reset (`Ok`), or a reset longer than `--max-retry-after` (a quota: `Err`). `None` while
/// budget is left, or without headers.
fn budget_wait(attempt: &Attempt, policy: &RetryPolicy) -> Option<Result<Duration, Quota>> {
    let budget = attempt.rate_limit?;
    if budget.remaining > 0 || budget.reset.is_zero() {
        return None;
    }
    if budget.reset <= policy.max_retry_after {
        return Some(Ok(budget.reset));
    }
    Some(Err(Quota {
        wait: budget.reset,
        until: later(budget.reset),
        max_retry_after: policy.max_retry_after,
        resume_command: None,
    }))
}

/// After an attempt: a wait longer than `--max-retry-after` (a `Retry-After`, or an announced
/// budget with nothing left until a far reset) stops the run for a quota; a budget with
/// nothing left until a near reset pauses it. Returns the note for a row that must not be
/// retried because of the quota.
pub(super) fn stop_for_quota(
    attempt: &Attempt,
    policy: &RetryPolicy,
    pacer: &Pacer,
    stop: &Stop,
) -> Option<String> {
    if let Some(quota) = quota_in(attempt, policy) {
        let note = format!(
            "the server asks to wait {} (Retry-After), longer than --max-retry-after {}: a quota; not retried, the run stopped",
            crate::text::human_duration(quota.wait),
            crate::text::human_duration(quota.max_retry_after)
        );
        stop.stop_for_quota(quota);
        return Some(note);
    }
    match budget_wait(attempt, policy) {
        Some(Ok(reset)) => pacer.pause(reset, true),
        Some(Err(quota)) => stop.stop_for_quota(quota),
        None => {}
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_5xx_is_not_success_and_a_503_with_retry_after_is_throttling() {
        let policy = RetryPolicy::default();
        let attempt = |status: Option<u16>, retry_after: Option<u64>| Attempt {
            class: Class::Transient,
            status,
            latency: Duration::ZERO,
            retry_after: retry_after.map(Duration::from_secs),
            message: String::new(),
            remote: None,
            rate_limit: None,
        };
        let throttled = Answer::Throttled {
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(
            rate_answer(&attempt(Some(503), Some(2)), &policy),
            throttled
        );
        assert_eq!(
            rate_answer(&attempt(Some(429), Some(2)), &policy),
            throttled
        );
        for error in [500, 502, 503, 504, 408] {
            assert_eq!(
                rate_answer(&attempt(Some(error), None), &policy),
                Answer::Error,
                "{error}"
            );
        }
        assert_eq!(
            rate_answer(&attempt(Some(200), None), &policy),
            Answer::Answered
        );
        assert_eq!(
            rate_answer(&attempt(Some(422), None), &policy),
            Answer::Answered
        );
        assert_eq!(rate_answer(&attempt(None, None), &policy), Answer::NoAnswer);
    }

    #[test]
    fn a_wait_longer_than_max_retry_after_is_a_quota() {
        let policy = RetryPolicy {
            max_retry_after: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        let attempt = |class: Class, retry_after: u64| Attempt {
            class,
            status: Some(429),
            latency: Duration::ZERO,
            retry_after: Some(Duration::from_secs(retry_after)),
            message: String::new(),
            remote: None,
            rate_limit: None,
        };
        assert_eq!(quota_in(&attempt(Class::Transient, 60), &policy), None);
        let quota = quota_in(&attempt(Class::Transient, 3600), &policy).unwrap();
        assert_eq!(quota.wait, Duration::from_secs(3600));
        assert!(quota.until > SystemTime::now() + Duration::from_secs(3500));
        assert_eq!(quota_in(&attempt(Class::Rejected, 3600), &policy), None);
    }
}
