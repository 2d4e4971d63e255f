//! Sending: a pacer (governor) that hands out send slots on a schedule, workers that each take
//! a row and wait for a slot before every attempt, retries included, and one collector that
//! alone writes the results and counts them. A failed row is an outcome, never an `Err`.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use crate::cli::Rate;
use crate::client::{Attempt, Body, Class, Client};
use crate::results::{Outcome, RowResult};
use crate::retry::RetryPolicy;
use crate::summary::Collector;
use crate::validate::{Request, Row};

/// The most finished rows written in one go.
const BATCH: usize = 256;

/// How many first answers, all 401, mean that the key is evidently wrong.
pub const WRONG_KEY_ANSWERS: u64 = 10;

/// One unit of work from the input.
#[derive(Debug)]
pub enum Item {
    /// A valid row to send.
    Send(Row, Request),
    /// A row already decided (invalid, or skipped by `--resume`): recorded as it is.
    Done(Box<RowResult>),
}

/// Why a run stopped before sending every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The first answers were all 401.
    WrongKey,
    /// `--max-unauthorized` was reached.
    TooManyUnauthorized,
    /// A canary row did not end `ok`.
    CanaryFailed,
    /// SIGINT or SIGTERM.
    Interrupted,
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
            StopReason::CanaryFailed => "a canary row did not end ok",
            StopReason::Interrupted => "interrupted by a signal",
        }
    }
}

/// The run's stop switch: the first reason given wins.
#[derive(Debug, Default)]
pub struct Stop {
    token: CancellationToken,
    reason: Mutex<Option<StopReason>>,
}

impl Stop {
    /// Stops the run (no new requests start) for `reason`, unless already stopped.
    pub fn stop(&self, reason: StopReason) {
        let mut current = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if current.is_none() {
            *current = Some(reason);
            tracing::warn!("stopping: {}", reason.describe());
        }
        self.token.cancel();
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

/// A pause of the whole run, set by `Retry-After` or a 429: no attempt starts before it ends.
#[derive(Debug, Default)]
struct Pause {
    until: Mutex<Option<Instant>>,
}

impl Pause {
    fn extend(&self, wait: Duration) {
        let end = Instant::now() + wait;
        let mut until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        if until.is_none_or(|u| u < end) {
            *until = Some(end);
        }
    }

    fn until(&self) -> Option<Instant> {
        let until = *self.until.lock().unwrap_or_else(|p| p.into_inner());
        until.filter(|u| *u > Instant::now())
    }
}

/// What the workers share.
pub struct Sender {
    client: Option<Client>,
    key: Option<SecretString>,
    limiter: DefaultDirectRateLimiter,
    /// Workers queue here for the limiter, first come first served, so that rows go out in
    /// input order (governor alone wakes its waiters in no particular order).
    queue: tokio::sync::Mutex<()>,
    policy: RetryPolicy,
    pause: Pause,
    /// The stop switch, shared with the collector and the signal handler.
    pub stop: Arc<Stop>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("client", &self.client)
            .finish()
    }
}

/// A rate limiter that lets one request through every `1/rate`, with no burst at the start.
pub fn limiter(rate: Rate) -> DefaultDirectRateLimiter {
    let period = rate.period().max(Duration::from_nanos(1));
    let quota = Quota::with_period(period)
        .expect("the period is not zero")
        .allow_burst(NonZeroU32::MIN);
    RateLimiter::direct(quota)
}

impl Sender {
    /// Workers for a real run (`client`), or for a dry run (`None`: nothing is sent).
    pub fn new(
        client: Option<Client>,
        key: Option<SecretString>,
        rate: Rate,
        policy: RetryPolicy,
        stop: Arc<Stop>,
    ) -> Sender {
        Sender {
            client,
            key,
            limiter: limiter(rate),
            queue: tokio::sync::Mutex::new(()),
            policy,
            pause: Pause::default(),
            stop,
        }
    }

    /// Waits for the end of any pause and for a send slot. `false` if the run stopped first.
    async fn wait_for_slot(&self) -> bool {
        loop {
            if self.stop.is_stopped() {
                return false;
            }
            if let Some(until) = self.pause.until() {
                tokio::select! {
                    _ = tokio::time::sleep_until(until.into()) => continue,
                    _ = self.stop.stopped() => return false,
                }
            }
            tokio::select! {
                _ = async {
                    let _turn = self.queue.lock().await;
                    self.limiter.until_ready().await;
                } => {}
                _ = self.stop.stopped() => return false,
            }
            // A pause may have begun while this worker waited for its slot.
            if self.pause.until().is_none() {
                return !self.stop.is_stopped();
            }
        }
    }

    /// Takes one row to its final outcome: attempts, retries, waits.
    pub async fn process(&self, row: Row, request: Request) -> RowResult {
        let Some(client) = &self.client else {
            return RowResult::unsent(row, Outcome::DryRun, String::new());
        };
        let Some(key) = row.api_key.as_ref().or(self.key.as_ref()) else {
            return RowResult::unsent(row, Outcome::Failed, "no API key for this row".into());
        };
        let body: bytes::Bytes = serde_json::to_vec(&Body {
            auth_uuid: &row.auth_uuid,
            api_key: key.expose_secret(),
            state: request.state.as_str(),
            reasons: request.reasons.as_deref(),
        })
        .expect("a struct of strings always serialises")
        .into();
        let mut attempts = 0u32;
        let mut last: Option<Attempt> = None;
        loop {
            if !self.wait_for_slot().await {
                return match last {
                    None => RowResult::unsent(
                        row,
                        Outcome::Cancelled,
                        "not sent: the run stopped".into(),
                    ),
                    Some(attempt) => {
                        let mut result = finish(row, attempt, attempts);
                        result.error =
                            format!("{}; the run stopped before the next retry", result.error);
                        result
                    }
                };
            }
            attempts += 1;
            let attempt = client.send(body.clone()).await;
            tracing::debug!(
                line = row.line,
                attempt = attempts,
                status = attempt.status,
                latency_ms = attempt.latency.as_millis() as u64,
                "{}",
                if attempt.message.is_empty() {
                    "answered"
                } else {
                    &attempt.message
                }
            );
            if attempt.class != Class::Transient || !self.policy.may_retry(attempts) {
                return finish(row, attempt, attempts);
            }
            let wait = match attempt.retry_after {
                Some(wait) => {
                    let wait = self.policy.cap_retry_after(wait);
                    self.pause.extend(wait);
                    wait
                }
                None => {
                    let wait = self.policy.backoff(attempts, &mut rand::rng());
                    if attempt.status == Some(429) {
                        // A 429 means the client as a whole is too fast, not this row.
                        self.pause.extend(wait);
                    }
                    wait
                }
            };
            tracing::info!(
                line = row.line,
                "{}; retry {} of {} in {}",
                attempt.message,
                attempts,
                self.policy.retries,
                humantime::format_duration(Duration::from_millis(wait.as_millis() as u64))
            );
            last = Some(attempt);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.stop.stopped() => {}
            }
        }
    }
}

/// The result of a row from its last attempt.
fn finish(row: Row, attempt: Attempt, attempts: u32) -> RowResult {
    let outcome = match attempt.class {
        Class::Ok => Outcome::Ok,
        Class::Unauthorized => Outcome::Unauthorized,
        Class::Rejected => Outcome::Rejected,
        Class::Transient | Class::Broken => Outcome::Failed,
    };
    RowResult {
        row,
        outcome,
        http_status: attempt.status,
        attempts,
        latency_ms: Some(attempt.latency.as_millis() as u64),
        error: attempt.message,
        remote: attempt.remote,
        finished_at: std::time::SystemTime::now(),
    }
}

/// Runs every item through the workers and into the collector. The canary rows, if any, go
/// first and one at a time; the rest at most `concurrency` at once. Returns when every item
/// is recorded (rows not sent after a stop are recorded `cancelled`), or at the first error
/// writing the results.
pub async fn run(
    sender: Arc<Sender>,
    mut items: impl futures::Stream<Item = Item> + Unpin,
    collector: &mut Collector,
    concurrency: usize,
    canary: Option<u64>,
    log_every: Duration,
) -> anyhow::Result<()> {
    if let Some(canary) = canary {
        let mut sent = 0;
        while sent < canary {
            let Some(item) = items.next().await else {
                return Ok(());
            };
            let result = match item {
                Item::Done(result) => *result,
                Item::Send(row, request) => {
                    sent += 1;
                    let result = sender.process(row, request).await;
                    if result.outcome != Outcome::Ok && result.outcome != Outcome::DryRun {
                        sender.stop.stop(StopReason::CanaryFailed);
                    }
                    result
                }
            };
            collector.record(result)?;
        }
    }
    let results = items
        .map(|item| {
            let sender = sender.clone();
            async move {
                match item {
                    Item::Done(result) => *result,
                    Item::Send(row, request) => sender.process(row, request).await,
                }
            }
        })
        .buffer_unordered(concurrency);
    tokio::pin!(results);
    let mut tick = tokio::time::interval(log_every.max(Duration::from_millis(10)));
    tick.tick().await;
    loop {
        tokio::select! {
            next = results.next() => match next {
                Some(result) => {
                    collector.record_unflushed(result)?;
                    // Rows that finished at the same moment share one write; every row
                    // that finished is flushed before the run waits for anything again.
                    let mut finished = true;
                    for _ in 0..BATCH {
                        match results.next().now_or_never() {
                            Some(Some(result)) => collector.record_unflushed(result)?,
                            Some(None) => {
                                finished = false;
                                break;
                            }
                            None => break,
                        }
                    }
                    collector.flush()?;
                    if !finished {
                        return Ok(());
                    }
                }
                None => return Ok(()),
            },
            _ = tick.tick() => collector.log_progress(),
        }
    }
}
