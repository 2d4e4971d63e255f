//! The sandbox: a local stand-in of `PATCH {url}/customer/status` with the vendor's
//! semantics, fault injection for rehearsals, and `/_sandbox/` endpoints that expose what it
//! received, so that tests can assert on the real requests.

mod api;
mod faults;
mod headers;
mod limit;
mod log;
pub mod seed;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use faults::{HOSTILE_MESSAGE, HUGE_MESSAGE_CHARS, NO_RETRY_AFTER};
pub use headers::LimitHeaders;
pub use limit::{Budget, LimitShape, LimitSpec, Limiter};
pub use seed::{DEMO_API_KEY, Process};

use log::RequestLog;

/// How the sandbox behaves: its processes and its faults.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The processes it starts with.
    pub processes: Vec<Process>,
    /// Create processes for unseen auth_uuids instead of answering 401.
    pub accept_unknown: bool,
    /// A path prefix before `/customer/status`, e.g. `/v1`.
    pub prefix: String,
    /// Latency added to every answer.
    pub latency: Duration,
    /// Random extra latency, up to this much.
    pub jitter: Duration,
    /// Fraction of requests answered with `error_status`.
    pub error_rate: f64,
    /// Status of injected errors.
    pub error_status: u16,
    /// Requests accepted per second (in the shape of `limit_shape`); beyond, 429 with
    /// `Retry-After`: the whole seconds until one would be accepted (unless `retry_after`
    /// says otherwise).
    pub rate_limit: Option<u32>,
    /// How the limit counts: a sliding window, fixed wall-clock windows, a token bucket.
    pub limit_shape: LimitShape,
    /// The token bucket's capacity (default: one second's worth).
    pub limit_burst: Option<u32>,
    /// Requests accepted per minute, nested under the per-second limit.
    pub limit_per_minute: Option<u32>,
    /// Changes of the per-second limit: from this long after the start, this many per second.
    pub limit_schedule: Vec<(Duration, u32)>,
    /// The rate-limit headers the answers announce the budget in, if any.
    pub limit_headers: LimitHeaders,
    /// Fraction of requests whose connection is reset without an answer.
    pub drop_rate: f64,
    /// Fraction of requests answered only after `slow_delay`.
    pub slow_rate: f64,
    /// How late a slow answer comes.
    pub slow_delay: Duration,
    /// How many received requests are kept for inspection.
    pub keep_requests: usize,
    /// How many bytes of received requests are kept for inspection (bodies, plus a little
    /// per request), oldest dropped first.
    pub keep_bytes: usize,
    /// A connection that sends no complete request head (or body) within this is closed:
    /// half-open and idle keep-alive connections are not held forever. Zero: no limit.
    pub idle_timeout: Duration,
    /// Answer 200 with the process echoed as it is, without applying the change, so that
    /// the echoed `status` differs from the state sent (the `mismatch` outcome).
    pub ignore_changes: bool,
    /// The first N requests for each auth_uuid are answered with `error_status`.
    pub fail_first: u32,
    /// `Retry-After` on injected 429 and 503 answers and on the rate limit's 429s: seconds
    /// (`"2"`), `"date:N"` for an HTTP date N seconds ahead, `"none"` ([`NO_RETRY_AFTER`]) for
    /// no header at all, or any other text sent as it is. `None`: `1` on the rate limit's
    /// 429s only.
    pub retry_after: Option<String>,
    /// The body of injected errors.
    pub error_body: ErrorBody,
    /// The body of 200 answers.
    pub ok_body: OkBody,
}

/// The body of an injected error answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ErrorBody {
    /// The vendor's `{internal_code, message}`.
    Json,
    /// A gateway's HTML error page.
    Html,
    /// No body at all.
    Empty,
    /// The request quoted back, API key included, in the message and whole, as a debug
    /// gateway's 422 does.
    Echo,
    /// A JSON message with terminal escapes and a forged summary line.
    Hostile,
    /// A JSON message of 200,000 characters.
    Huge,
}

/// The body of a 200 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OkBody {
    /// `{"data": {...}}` as the vendor sends it.
    Normal,
    /// Not JSON: the state was applied but the answer cannot be read.
    Malformed,
    /// A valid start followed by 8 MiB of padding: clients must cap what they read.
    Huge,
    /// No body.
    Empty,
}

impl SandboxConfig {
    /// The rate limit the configuration describes.
    pub fn limit(&self) -> LimitSpec {
        LimitSpec {
            per_second: self.rate_limit,
            shape: self.limit_shape,
            burst: self.limit_burst,
            per_minute: self.limit_per_minute,
            schedule: self.limit_schedule.clone(),
        }
    }

    /// The limiter, if any limit is set.
    fn limit_spec(&self) -> Option<Limiter> {
        let spec = self.limit();
        spec.is_limited()
            .then(|| Limiter::new(spec, Instant::now()))
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            processes: seed::bundled(),
            accept_unknown: false,
            prefix: String::new(),
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            error_rate: 0.0,
            error_status: 503,
            rate_limit: None,
            limit_shape: LimitShape::Sliding,
            limit_burst: None,
            limit_per_minute: None,
            limit_schedule: Vec::new(),
            limit_headers: LimitHeaders::None,
            drop_rate: 0.0,
            slow_rate: 0.0,
            slow_delay: Duration::from_secs(3600),
            keep_requests: 100_000,
            keep_bytes: 32 << 20,
            idle_timeout: Duration::from_secs(30),
            ignore_changes: false,
            fail_first: 0,
            retry_after: None,
            error_body: ErrorBody::Json,
            ok_body: OkBody::Normal,
        }
    }
}

/// One request as the sandbox received it, with the key replaced by whether it matched.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    /// Order of arrival, from 1.
    pub seq: u64,
    /// When it arrived, in milliseconds since the sandbox started (or was reset).
    pub at_ms: f64,
    /// The body as JSON, without `api_key` (absent when the body was not JSON).
    pub body: Option<Value>,
    /// Whether the body had an `api_key` matching the process (`None` when not checked).
    pub key_matched: Option<bool>,
    /// The status answered; 0 when the connection was dropped without an answer.
    pub status: u16,
}

/// The sandbox's counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Requests to the API endpoint.
    pub requests: u64,
    /// Requests being handled now.
    pub in_flight: u64,
    /// The most requests handled at once.
    pub max_in_flight: u64,
    /// Answers per status code.
    pub by_status: std::collections::BTreeMap<u16, u64>,
    /// Connections dropped on purpose.
    pub dropped: u64,
    /// Requests answered late on purpose.
    pub slow: u64,
    /// Bytes the kept requests are counted as (at most `keep_bytes`).
    pub kept_bytes: u64,
}

struct Inner {
    processes: HashMap<Uuid, Process>,
    received: RequestLog,
    stats: Stats,
    limiter: Option<Limiter>,
    started: Instant,
    seq: u64,
    seen: HashMap<Uuid, u32>,
}

struct SandboxState {
    config: SandboxConfig,
    inner: Mutex<Inner>,
    in_flight: AtomicU64,
}

impl SandboxState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means a handler panicked mid-update; the data is still usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The counters, with the requests in flight now.
    fn stats(&self) -> Stats {
        let inner = self.lock();
        let mut stats = inner.stats.clone();
        stats.kept_bytes = inner.received.bytes() as u64;
        drop(inner);
        stats.in_flight = self.in_flight.load(Ordering::SeqCst);
        stats
    }

    /// The requests received, oldest first.
    fn received(&self) -> Vec<Received> {
        self.lock().received.entries()
    }

    /// A process as it is now.
    fn process(&self, auth_uuid: Uuid) -> Option<Process> {
        self.lock().processes.get(&auth_uuid).cloned()
    }
}

/// A running sandbox: its address, and a handle to inspect and stop it.
pub struct Sandbox {
    addr: SocketAddr,
    state: Arc<SandboxState>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("addr", &self.addr).finish()
    }
}

/// Marks a connection to be dropped without an answer, from inside a handler.
#[derive(Clone)]
struct DropConnection(CancellationToken);

impl Sandbox {
    /// Binds `listen` (port 0 picks a free port) and serves until stopped.
    pub async fn start(listen: &str, config: SandboxConfig) -> anyhow::Result<Sandbox> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        let processes = config
            .processes
            .iter()
            .map(|p| (p.auth_uuid, p.clone()))
            .collect();
        let state = Arc::new(SandboxState {
            inner: Mutex::new(Inner {
                processes,
                received: RequestLog::new(config.keep_requests, config.keep_bytes),
                stats: Stats::default(),
                limiter: config.limit_spec(),
                started: Instant::now(),
                seq: 0,
                seen: HashMap::new(),
            }),
            in_flight: AtomicU64::new(0),
            config,
        });
        let router = api::router(state.clone());
        let stop = CancellationToken::new();
        let task = tokio::spawn(accept_loop(listener, router, stop.clone(), state.clone()));
        Ok(Sandbox {
            addr,
            state,
            stop,
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to give to `--url`.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.state.config.prefix)
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.state.stats()
    }

    /// The requests received, oldest first (at most `keep_requests`, and `keep_bytes`).
    pub fn received(&self) -> Vec<Received> {
        self.state.received()
    }

    /// A process as it is now.
    pub fn process(&self, auth_uuid: Uuid) -> Option<Process> {
        self.state.process(auth_uuid)
    }

    /// Whether it listens beyond loopback, where anyone who can reach the port can read the
    /// rehearsed rows from `/_sandbox/requests`.
    pub fn exposed(&self) -> bool {
        exposed(self.addr)
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    stop: CancellationToken,
    state: Arc<SandboxState>,
) {
    let reset_on_drop = state.config.drop_rate > 0.0;
    let idle_timeout = state.config.idle_timeout;
    loop {
        let stream = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    tracing::warn!("sandbox: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        if reset_on_drop {
            // Closing with a zero linger sends a reset, as a crashed proxy would.
            let _ = stream.set_zero_linger();
        }
        let router = router.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let kill = CancellationToken::new();
            let marker = DropConnection(kill.clone());
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(marker.clone());
                    tower::ServiceExt::oneshot(router.clone(), request)
                },
            );
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                // Also runs while a keep-alive connection waits for its next request.
                .header_read_timeout((!idle_timeout.is_zero()).then_some(idle_timeout))
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = kill.cancelled() => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}

/// Whether an address reaches beyond loopback (`0.0.0.0`, `::`, a LAN address).
pub fn exposed(addr: SocketAddr) -> bool {
    !addr.ip().to_canonical().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_is_not_exposed() {
        for private in [
            "127.0.0.1:0",
            "127.0.0.2:8080",
            "[::1]:0",
            "[::ffff:127.0.0.1]:0",
        ] {
            assert!(!exposed(private.parse().unwrap()), "{private}");
        }
        for public in ["0.0.0.0:0", "[::]:8080", "192.168.1.10:80", "10.0.0.1:1"] {
            assert!(exposed(public.parse().unwrap()), "{public}");
        }
    }
}
