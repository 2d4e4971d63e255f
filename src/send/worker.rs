//! A worker takes one row to its final outcome: it waits for a send slot before every
//! attempt (retries included), sends, retries what is transient with backoff, and pauses the
//! whole run on a 429 or a `Retry-After`, on any attempt, the row's last included.
//! With `--rate auto` it reports every attempt to the controller, and the pacer follows it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};

use super::adaptive::{AdaptiveRate, Answer, Found};
use super::pacer::Pacer;
use super::stop::Stop;
use crate::client::{Attempt, Body, Class, Client};
use crate::results::{Outcome, RowResult};
use crate::retry::RetryPolicy;
use crate::validate::{Request, Row};

/// What the workers share: the client, the default key, the pacer, the retry policy and the
/// stop switch.
pub struct Worker {
    client: Option<Client>,
    key: Option<SecretString>,
    /// The pacer every attempt waits on.
    pub pacer: Arc<Pacer>,
    policy: RetryPolicy,
    /// The stop switch, shared with the collector and the signal handler.
    pub stop: Arc<Stop>,
    /// `--rate auto`: the controller the pacer's rate follows; `None` at a fixed rate.
    auto: Option<Mutex<AdaptiveRate>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("client", &self.client)
            .field("pacer", &self.pacer)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// Workers for a real run (`client`), or for a dry run (`None`: nothing is sent).
    pub fn new(
        client: Option<Client>,
        key: Option<SecretString>,
        pacer: Arc<Pacer>,
        policy: RetryPolicy,
        stop: Arc<Stop>,
    ) -> Worker {
        Worker {
            client,
            key,
            pacer,
            policy,
            stop,
            auto: None,
        }
    }

    /// `--rate auto`: every attempt is reported to `controller`, and the pacer's rate
    /// follows it.
    pub fn with_auto_rate(mut self, controller: AdaptiveRate) -> Worker {
        if controller.rate() != self.pacer.rate() {
            self.pacer.set_rate(controller.rate());
        }
        self.auto = Some(Mutex::new(controller));
        self
    }

    /// `--rate auto`: what the controller found so far; `None` at a fixed rate.
    pub fn auto_rate(&self) -> Option<Found> {
        self.auto
            .as_ref()
            .map(|auto| auto.lock().unwrap_or_else(|p| p.into_inner()).found())
    }

    /// Whether this is a dry run: nothing is sent.
    pub fn is_dry_run(&self) -> bool {
        self.client.is_none()
    }

    /// Takes one row to its final outcome: attempts, retries, pauses. A row that the run's
    /// stop reaches before its first attempt is `cancelled`.
    pub async fn process(&self, row: Row, request: Request) -> RowResult {
        if self.stop.is_stopped() {
            return cancelled(row);
        }
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
            if !self.pacer.slot(&self.stop).await {
                return match last {
                    None => cancelled(row),
                    Some(attempt) => {
                        let mut result = finish(row, attempt, attempts);
                        result.error =
                            format!("{}; the run stopped before the next retry", result.error);
                        result
                    }
                };
            }
            attempts += 1;
            let sent_at = self.auto.as_ref().map(|auto| {
                let now = Instant::now();
                auto.lock().unwrap_or_else(|p| p.into_inner()).on_send(now);
                now
            });
            let attempt = client.send(body.clone()).await;
            if let Some(sent_at) = sent_at {
                self.report(sent_at, &attempt);
            }
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
            let wait = self.wait_after(&attempt, attempts);
            if attempt.class != Class::Transient || !self.policy.may_retry(attempts) {
                return finish(row, attempt, attempts);
            }
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

    /// `--rate auto`: tells the controller how an attempt sent at `sent_at` was answered, and
    /// moves the pacer to its new rate. The pacer changes under the controller's lock, so
    /// that two answers at once cannot leave it on the older of two rates.
    fn report(&self, sent_at: Instant, attempt: &Attempt) {
        let Some(auto) = &self.auto else {
            return;
        };
        let answer = match attempt.status {
            Some(429) => Answer::Throttled {
                retry_after: attempt.retry_after.map(|w| self.policy.cap_retry_after(w)),
            },
            Some(_) => Answer::Answered,
            None => Answer::NoAnswer,
        };
        let mut auto = auto.lock().unwrap_or_else(|p| p.into_inner());
        let events = auto.events();
        let rate = auto.on_answer(sent_at, Instant::now(), answer);
        if rate != self.pacer.rate() {
            self.pacer.set_rate(rate);
        }
        if auto.events() > events {
            tracing::info!(
                "--rate auto: throttled; down to {rate:.1}/s, then back up to {:.1}/s, just \
                 below the limit it found",
                auto.settled().unwrap_or(rate),
            );
        }
    }

    /// The wait before retrying `attempt`. A `Retry-After`, or a 429 without one, pauses the
    /// whole run for that long (a 429 means the client as a whole is too fast, not this row),
    /// also after a row's last attempt, so that the next rows wait too.
    fn wait_after(&self, attempt: &Attempt, attempts: u32) -> Duration {
        if attempt.class != Class::Transient {
            return Duration::ZERO;
        }
        match attempt.retry_after {
            Some(wait) => {
                let wait = self.policy.cap_retry_after(wait);
                self.pacer.pause(wait, true);
                wait
            }
            None => {
                let wait = self.policy.backoff(attempts, &mut rand::rng());
                if attempt.status == Some(429) {
                    self.pacer.pause(wait, false);
                }
                wait
            }
        }
    }
}

/// A row the run's stop reached before its first attempt.
fn cancelled(row: Row) -> RowResult {
    RowResult::unsent(row, Outcome::Cancelled, "not sent: the run stopped".into())
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
