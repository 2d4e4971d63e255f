//! The sandbox's HTTP side: the router, the vendor's semantics for `PATCH /customer/status`,
//! the injected faults, and the `/_sandbox/` inspection endpoints.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State as Shared};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use rand::Rng;
use serde_json::{Value, json};
use uuid::Uuid;

use super::faults::{injected_error, ok_answer, set_retry_after, vendor_error};
use super::headers::announce;
use super::limit::Budget;
use super::{DropConnection, Process, Received, SandboxState, Stats, seed};

/// The largest request body read (axum's default limit for a body extractor).
const MAX_BODY: usize = 2 << 20;

/// The routes: the API under the configured prefix, inspection under `/_sandbox/`.
pub(super) fn router(state: Arc<SandboxState>) -> Router {
    let api = format!("{}/customer/status", state.config.prefix);
    Router::new()
        .route(&api, patch(update_status))
        .route("/_sandbox/stats", get(get_stats))
        .route("/_sandbox/requests", get(get_requests))
        .route("/_sandbox/processes/{auth_uuid}", get(get_process))
        .route("/_sandbox/reset", post(reset))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> Response {
    vendor_error(StatusCode::NOT_FOUND, "Not found")
}

/// Counts a request in flight for as long as it lives.
struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What the handler decided before doing any real work.
enum Fault {
    None,
    RateLimited(Duration),
    Drop,
    Error,
    Slow,
}

async fn update_status(
    Shared(state): Shared<Arc<SandboxState>>,
    axum::Extension(drop_connection): axum::Extension<DropConnection>,
    body: Body,
) -> Response {
    let mut budget = None;
    let mut response = answer(&state, drop_connection, body, &mut budget).await;
    if let Some(budget) = budget {
        announce(response.headers_mut(), state.config.limit_headers, &budget);
    }
    response
}

/// The answer to one `PATCH`; `budget` is set to what the rate limit has left, if limited.
async fn answer(
    state: &SandboxState,
    drop_connection: DropConnection,
    body: Body,
    budget_left: &mut Option<Budget>,
) -> Response {
    let config = &state.config;
    let read = axum::body::to_bytes(body, MAX_BODY);
    let body = if config.idle_timeout.is_zero() {
        read.await.map_err(|_| StatusCode::PAYLOAD_TOO_LARGE)
    } else {
        match tokio::time::timeout(config.idle_timeout, read).await {
            Ok(read) => read.map_err(|_| StatusCode::PAYLOAD_TOO_LARGE),
            Err(_) => Err(StatusCode::REQUEST_TIMEOUT),
        }
    };
    let body = match body {
        Ok(body) => body,
        Err(status) => return vendor_error(status, "Request body not received"),
    };
    let now_in_flight = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(&state.in_flight);
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let body_uuid = parsed
        .as_ref()
        .and_then(|v| v.get("auth_uuid"))
        .and_then(Value::as_str)
        .and_then(|u| Uuid::try_parse(u).ok());
    let (fault, at) = {
        let mut rng = rand::rng();
        let mut inner = state.lock();
        // Read under the lock, so that arrival times are in the order of the window's.
        let at = Instant::now();
        inner.stats.requests += 1;
        inner.stats.max_in_flight = inner.stats.max_in_flight.max(now_in_flight);
        let (limited, budget) = match inner.limiter.as_mut() {
            Some(limiter) => {
                let (admitted, budget) = limiter.admit(at);
                (admitted.err(), budget)
            }
            None => (None, None),
        };
        let failing_first = config.fail_first > 0
            && body_uuid.is_some_and(|uuid| {
                let count = inner.seen.entry(uuid).or_default();
                *count += 1;
                *count <= config.fail_first
            });
        let fault = if let Some(wait) = limited {
            Fault::RateLimited(wait)
        } else if failing_first {
            Fault::Error
        } else if config.drop_rate > 0.0 && rng.random_bool(config.drop_rate) {
            Fault::Drop
        } else if config.error_rate > 0.0 && rng.random_bool(config.error_rate) {
            Fault::Error
        } else if config.slow_rate > 0.0 && rng.random_bool(config.slow_rate) {
            Fault::Slow
        } else {
            Fault::None
        };
        *budget_left = budget;
        (fault, at)
    };
    let size = body.len();
    let mut delay = config.latency;
    if !config.jitter.is_zero() {
        delay += config.jitter.mul_f64(rand::rng().random::<f64>());
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match fault {
        Fault::RateLimited(wait) => {
            record(state, at, parsed, size, None, 429);
            let mut response = vendor_error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
            // Whole seconds, rounded up: the wait is under a second, so this says `1`.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            set_retry_after(&mut response, config.retry_after.as_deref(), Some(seconds));
            return response;
        }
        Fault::Drop => {
            record(state, at, parsed, size, None, 0);
            state.lock().stats.dropped += 1;
            drop_connection.0.cancel();
            return std::future::pending().await;
        }
        Fault::Error => {
            record(state, at, parsed, size, None, config.error_status);
            let status = StatusCode::from_u16(config.error_status)
                .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut response = injected_error(status, config.error_body, &body);
            if matches!(status.as_u16(), 429 | 503) {
                set_retry_after(&mut response, config.retry_after.as_deref(), None);
            }
            return response;
        }
        Fault::Slow => {
            state.lock().stats.slow += 1;
            tokio::time::sleep(config.slow_delay).await;
        }
        Fault::None => {}
    }
    let (status, response, key_matched) = apply(state, parsed.as_ref());
    record(state, at, parsed, size, key_matched, status.as_u16());
    if status == StatusCode::OK {
        return ok_answer(response, config.ok_body);
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        response,
    )
        .into_response()
}

/// The vendor's semantics: check the body, match key and process, update.
fn apply(state: &SandboxState, body: Option<&Value>) -> (StatusCode, Vec<u8>, Option<bool>) {
    let bad = |message: &str| {
        (
            StatusCode::BAD_REQUEST,
            json!({"internal_code": 400, "message": message})
                .to_string()
                .into_bytes(),
            None,
        )
    };
    let Some(body) = body.and_then(Value::as_object) else {
        return bad("Body must be a JSON object");
    };
    let text = |name: &str| body.get(name).and_then(Value::as_str);
    let (Some(auth_uuid), Some(api_key), Some(state_text)) =
        (text("auth_uuid"), text("api_key"), text("state"))
    else {
        return bad("auth_uuid, api_key and state are required strings");
    };
    if !matches!(state_text, "OK" | "KO" | "CANCELLED") {
        return bad("state must be OK, KO or CANCELLED");
    }
    let reasons = match body.get("reasons") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return bad("reasons must be a string"),
    };
    let unauthorized = |matched| {
        (
            StatusCode::UNAUTHORIZED,
            json!({"internal_code": 401, "message": "Not authorized"})
                .to_string()
                .into_bytes(),
            Some(matched),
        )
    };
    let Ok(uuid) = Uuid::try_parse(auth_uuid) else {
        return unauthorized(false);
    };
    let mut inner = state.lock();
    if !inner.processes.contains_key(&uuid) && state.config.accept_unknown {
        inner.processes.insert(uuid, Process::new(uuid, api_key));
    }
    let Some(process) = inner.processes.get_mut(&uuid) else {
        return unauthorized(false);
    };
    if process.api_key != api_key {
        return unauthorized(false);
    }
    // `--ignore-changes`: the answer a vendor gives when the change did not take.
    if !state.config.ignore_changes {
        process.status = state_text.to_string();
        if let Some(reasons) = reasons {
            process.status_reasons = Some(reasons);
        }
        process.updated_at = seed::now_rfc3339();
    }
    // Serialised straight from the process, without an intermediate JSON tree: the sandbox
    // must not be the bottleneck of a benchmark.
    let answer = serde_json::to_vec(&Answer { data: process }).unwrap_or_default();
    (StatusCode::OK, answer, Some(true))
}

/// The vendor's 200 body.
#[derive(serde::Serialize)]
struct Answer<'a> {
    data: &'a Process,
}

/// Records a request that arrived `at`, whose body was `size` bytes, and its answer.
fn record(
    state: &SandboxState,
    at: Instant,
    body: Option<Value>,
    size: usize,
    key_matched: Option<bool>,
    status: u16,
) {
    let body = body.map(|mut value| {
        if let Some(object) = value.as_object_mut() {
            object.remove("api_key");
        }
        value
    });
    let mut inner = state.lock();
    *inner.stats.by_status.entry(status).or_default() += 1;
    inner.seq += 1;
    let entry = Received {
        seq: inner.seq,
        at_ms: at.saturating_duration_since(inner.started).as_secs_f64() * 1000.0,
        body,
        key_matched,
        status,
    };
    inner.received.push(entry, size);
}

async fn get_stats(Shared(state): Shared<Arc<SandboxState>>) -> Response {
    axum::Json(state.stats()).into_response()
}

async fn get_requests(Shared(state): Shared<Arc<SandboxState>>) -> Response {
    axum::Json(state.received()).into_response()
}

async fn get_process(
    Shared(state): Shared<Arc<SandboxState>>,
    UrlPath(auth_uuid): UrlPath<String>,
) -> Response {
    let found = Uuid::try_parse(&auth_uuid)
        .ok()
        .and_then(|uuid| state.process(uuid));
    match found {
        Some(process) => axum::Json(json!({ "data": process })).into_response(),
        None => vendor_error(StatusCode::NOT_FOUND, "No such process"),
    }
}

async fn reset(Shared(state): Shared<Arc<SandboxState>>) -> Response {
    let mut inner = state.lock();
    inner.received.clear();
    inner.stats = Stats::default();
    inner.seq = 0;
    inner.started = Instant::now();
    let now = inner.started;
    if let Some(limiter) = inner.limiter.as_mut() {
        limiter.clear(now);
    }
    inner.seen.clear();
    StatusCode::NO_CONTENT.into_response()
}
