//! A worker takes one row to its final outcome: it waits for a send slot before every
//! attempt (retries included), sends, retries what is transient with backoff, and pauses the
//! whole run on a 429 or a `Retry-After`, on any attempt, the row's last included.
//! With `--rate auto` it reports every attempt to the controller, and the pacer follows it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};

use super::adaptive::{AdaptiveRate, Found};
use super::pacer::Pacer;
use super::stop::Stop;
use super::throttle::{rate_answer, stop_for_quota};
use crate::client::{Attempt, Body, Class, Client};
use crate::results::{Outcome, Remote, RowResult};
use crate::retry::RetryPolicy;
use crate::text::{Redactor, safe_server_text};
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
    /// `--rate auto`: the controller the pacer's rate follows; at a fixed rate, one that only
    /// watches (to tell what the server allowed).
    auto: Option<Mutex<AdaptiveRate>>,
    /// Whether the pacer follows `auto` (`--rate auto`) or it only watches.
    follow: bool,
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
            follow: false,
        }
    }

    /// A fixed rate: every attempt is reported to `controller`, which only watches, so that
    /// the summary can say what the server allowed when it throttled.
    pub fn watching_rate(mut self, controller: AdaptiveRate) -> Worker {
        self.auto = Some(Mutex::new(controller));
        self.follow = false;
        self
    }

    /// `--rate auto`: every attempt is reported to `controller`, and the pacer's rate
    /// follows it.
    pub fn with_auto_rate(mut self, controller: AdaptiveRate) -> Worker {
        if controller.rate() != self.pacer.rate() {
            self.pacer.set_rate(controller.rate());
        }
        self.auto = Some(Mutex::new(controller));
        self.follow = true;
        self
    }

    /// What the controller found so far, with the time the run was paused, and the fixed
    /// rate if it only watched; `None` without a controller.
    pub fn auto_rate(&self) -> Option<Found> {
        let mut found = self
            .auto
            .as_ref()
            .map(|auto| auto.lock().unwrap_or_else(|p| p.into_inner()).found())?;
        found.paused = self.pacer.paused_total();
        found.fixed = (!self.follow).then(|| self.pacer.rate());
        Some(found)
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
        let body = WipedBody::new(&Body {
            auth_uuid: &row.auth_uuid,
            api_key: key.expose_secret(),
            state: request.state.as_str(),
            reasons: request.reasons.as_deref(),
        });
        let mut attempts = 0u32;
        let mut last: Option<Attempt> = None;
        loop {
            if !self.pacer.slot(&self.stop).await {
                return match last {
                    None => cancelled(row),
                    Some(attempt) => {
                        let mut result =
                            finish(row, &request, attempt, attempts, client.redactor());
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
            let attempt = client.send(body.0.clone()).await;
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
            if let Some(note) = stop_for_quota(&attempt, &self.policy, &self.pacer, &self.stop) {
                let mut result = finish(row, &request, attempt, attempts, client.redactor());
                result.error = format!("{}; {note}", result.error);
                return result;
            }
            let wait = self.wait_after(&attempt, attempts);
            if attempt.class != Class::Transient || !self.policy.may_retry(attempts) {
                return finish(row, &request, attempt, attempts, client.redactor());
            }
            tracing::info!(
                line = row.line,
                "{}; retry {} of {} in {}",
                attempt.message,
                attempts,
                self.policy.retries,
                crate::text::human_duration(wait)
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
        let answer = rate_answer(attempt, &self.policy);
        let mut auto = auto.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(budget) = &attempt.rate_limit {
            auto.on_budget(budget);
        }
        let events = auto.events();
        let rate = auto.on_answer(sent_at, Instant::now(), answer);
        if !self.follow {
            return;
        }
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

/// A request body, which holds the key: written once into a buffer of the right size (so
/// that no partial copy is left behind by a reallocation), and wiped when the row is done if
/// no other copy of it is alive by then (the HTTP client's are gone once it answered).
struct WipedBody(bytes::Bytes);

impl WipedBody {
    fn new(body: &Body<'_>) -> WipedBody {
        let size = body.auth_uuid.len()
            + body.api_key.len() * 6
            + body.state.len()
            + body.reasons.map_or(0, |r| r.len() * 6)
            + 80;
        let mut buffer = Vec::with_capacity(size);
        serde_json::to_writer(&mut buffer, body).expect("a struct of strings always serialises");
        WipedBody(buffer.into())
    }
}

impl Drop for WipedBody {
    fn drop(&mut self) {
        if let Ok(mut only) = std::mem::take(&mut self.0).try_into_mut() {
            only.as_mut().zeroize();
        }
    }
}

/// A row the run's stop reached before its first attempt.
fn cancelled(row: Row) -> RowResult {
    RowResult::unsent(row, Outcome::Cancelled, "not sent: the run stopped".into())
}

/// The result of a row from its last attempt. A 2xx is checked against the server's echo:
/// another `status` than the state sent is a `mismatch` (the change did not take); other
/// `status_reasons` than the reasons sent is only a note (see [`check_echo`]).
fn finish(
    row: Row,
    request: &Request,
    attempt: Attempt,
    attempts: u32,
    redactor: &Redactor,
) -> RowResult {
    let mut outcome = match attempt.class {
        Class::Ok => Outcome::Ok,
        Class::Unauthorized => Outcome::Unauthorized,
        Class::Rejected => Outcome::Rejected,
        Class::Transient | Class::Broken => Outcome::Failed,
    };
    let mut error = attempt.message;
    let mut reasons_differ = false;
    if let (Outcome::Ok, Some(remote)) = (outcome, &attempt.remote) {
        let echo = check_echo(request, remote, redactor);
        reasons_differ = echo == Echo::ReasonsDiffer;
        let note = match echo {
            Echo::Agrees => None,
            Echo::OtherProcess => {
                outcome = Outcome::Mismatch;
                Some(format!(
                    "the answer is about another process: the server answered {} for auth_uuid {}, not {}",
                    attempt.status.unwrap_or(200),
                    remote.auth_uuid,
                    request.uuid
                ))
            }
            Echo::StatusDiffers => {
                outcome = Outcome::Mismatch;
                Some(format!(
                    "the change did not take: the server answered {} but its echo says status {}, not {}",
                    attempt.status.unwrap_or(200),
                    remote.status,
                    request.state.as_str()
                ))
            }
            Echo::NoStatus => Some("applied, but the answer has no `status` to check".to_string()),
            Echo::ReasonsDiffer => Some(
                "applied, but the echoed status_reasons differ from the reasons sent (see remote_status_reasons)"
                    .to_string(),
            ),
        };
        if let Some(note) = note {
            error = match error.is_empty() {
                true => note,
                false => format!("{note}; {error}"),
            };
        }
    }
    RowResult {
        row,
        outcome,
        http_status: attempt.status,
        attempts,
        latency_ms: Some(attempt.latency.as_millis() as u64),
        error,
        reasons_differ,
        remote: attempt.remote,
        finished_at: std::time::SystemTime::now(),
        already_recorded: false,
    }
}

/// What a 2xx's echo says about the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Echo {
    /// The echoed status is the state sent, and the reasons (if sent) are those sent.
    Agrees,
    /// The echo names another auth_uuid than the row's: nothing says this row's change took.
    OtherProcess,
    /// The echoed status is another state: the change did not take.
    StatusDiffers,
    /// The echo has no status: nothing to check against.
    NoStatus,
    /// The status agrees, but reasons were sent and the echoed ones differ: a warning only
    /// (the vendor's own example echoes other words than it was sent).
    ReasonsDiffer,
}

/// Compares a 2xx's echo with what was sent. States compare without regard to case or
/// surrounding blanks; reasons compare after trimming. The echo was made safe as it arrived
/// (keys cut out, controls escaped, length capped), so what was sent is compared after the
/// same treatment: a key that happens to be part of a state or a reason cannot make an
/// echo that agrees look like a mismatch. The text as sent is compared first: that is the
/// answer for every echo that holds no key, and costs nothing on the per-row path.
fn check_echo(request: &Request, remote: &Remote, redactor: &Redactor) -> Echo {
    if remote.names_another_process(&request.uuid) {
        return Echo::OtherProcess;
    }
    let status = remote.status.trim();
    if status.is_empty() {
        return Echo::NoStatus;
    }
    let state = request.state.as_str();
    if !status.eq_ignore_ascii_case(state)
        && !status.eq_ignore_ascii_case(safe_server_text(state, redactor).trim())
    {
        return Echo::StatusDiffers;
    }
    let echoed = remote.status_reasons.trim();
    match &request.reasons {
        Some(sent)
            if sent.trim() != echoed
                && safe_server_text(sent.trim(), redactor).trim() != echoed =>
        {
            Echo::ReasonsDiffer
        }
        _ => Echo::Agrees,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::State;

    fn request(state: State, reasons: Option<&str>) -> Request {
        Request {
            uuid: uuid::Uuid::nil(),
            state,
            reasons: reasons.map(str::to_string),
        }
    }

    fn remote(status: &str, reasons: &str) -> Remote {
        Remote {
            status: status.into(),
            status_reasons: reasons.into(),
            ..Remote::default()
        }
    }

    #[test]
    fn the_echo_decides_between_ok_mismatch_and_a_note() {
        let ko = request(State::Ko, None);
        let none = Redactor::default();
        assert_eq!(
            check_echo(&ko, &remote("KO", "old words"), &none),
            Echo::Agrees
        );
        assert_eq!(check_echo(&ko, &remote(" ko ", ""), &none), Echo::Agrees);
        assert_eq!(
            check_echo(&ko, &remote("OK", ""), &none),
            Echo::StatusDiffers
        );
        assert_eq!(check_echo(&ko, &remote("", ""), &none), Echo::NoStatus);
        let mut other = remote("KO", "");
        other.auth_uuid = "01900000-0000-7000-8000-000000000009".into();
        assert_eq!(check_echo(&ko, &other, &none), Echo::OtherProcess);
        other.auth_uuid = uuid::Uuid::nil().to_string().to_uppercase();
        assert_eq!(
            check_echo(&ko, &other, &none),
            Echo::Agrees,
            "the same UUID"
        );
        let with_reasons = request(State::Cancelled, Some("duplicado"));
        assert_eq!(
            check_echo(&with_reasons, &remote("CANCELLED", "duplicado"), &none),
            Echo::Agrees
        );
        assert_eq!(
            check_echo(&with_reasons, &remote("CANCELLED", "otra cosa"), &none),
            Echo::ReasonsDiffer
        );
        assert_eq!(
            check_echo(&with_reasons, &remote("OK", "otra cosa"), &none),
            Echo::StatusDiffers,
            "a wrong state wins over wrong reasons"
        );
    }

    #[test]
    fn a_key_inside_a_state_does_not_make_an_agreeing_echo_a_mismatch() {
        // The echo arrives with the key cut out ("KO" with a key "k" is "<redacted>O").
        let redactor = Redactor::new([&secrecy::SecretString::from("k")]);
        let ko = request(State::Ko, Some("ok, checked"));
        let echoed = remote(
            &safe_server_text("KO", &redactor),
            &safe_server_text("ok, checked", &redactor),
        );
        assert_eq!(check_echo(&ko, &echoed, &redactor), Echo::Agrees);
        let wrong = remote(&safe_server_text("OK", &redactor), "");
        assert_eq!(check_echo(&ko, &wrong, &redactor), Echo::StatusDiffers);
    }
}
