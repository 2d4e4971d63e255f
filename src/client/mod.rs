//! One HTTP attempt, and what came back: an answer (classified in `answer.rs`) or a
//! transport failure (a timeout, a reset, a refused connection, a TLS failure).

mod answer;

use std::time::{Duration, Instant, SystemTime};

use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER};
use serde::Serialize;

pub use answer::{RateBudget, classify, rate_budget};

use crate::results::Remote;
use crate::retry::parse_retry_after;
use crate::text::{Redactor, safe_server_text};

/// The most bytes of an answer that are read; the rest is ignored. A real answer is a few
/// kilobytes; this bounds memory per request whatever a broken server sends.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The request body: the vendor's fields. `reasons` is omitted, not null, when there are
/// none, so that the stored reasons stay as they are. Its `Debug` hides the key.
#[derive(Serialize)]
pub struct Body<'a> {
    /// The process.
    pub auth_uuid: &'a str,
    /// The customer's key.
    pub api_key: &'a str,
    /// OK, KO or CANCELLED.
    pub state: &'a str,
    /// Stored in `status_reasons` when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasons: Option<&'a str>,
}

impl std::fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Body")
            .field("auth_uuid", &self.auth_uuid)
            .field("api_key", &"<redacted>")
            .field("state", &self.state)
            .field("reasons", &self.reasons)
            .finish()
    }
}

/// What an attempt's result means for the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2xx: applied.
    Ok,
    /// 401: key and auth_uuid do not match. Final.
    Unauthorized,
    /// Another 4xx (or a redirect): refused. Final.
    Rejected,
    /// Worth retrying: connection errors, timeouts, 408, 429, 500, 502, 503, 504.
    Transient,
    /// A failure that retrying cannot fix (an untrusted certificate, a 501). Final.
    Broken,
}

/// The result of one attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// What it means.
    pub class: Class,
    /// The HTTP status, if an answer came.
    pub status: Option<u16>,
    /// From sending to the end of the answer (or the failure).
    pub latency: Duration,
    /// The server's `Retry-After`, if any.
    pub retry_after: Option<Duration>,
    /// What went wrong, or a note on an `Ok`; empty otherwise.
    pub message: String,
    /// The process as returned in a 200.
    pub remote: Option<Remote>,
    /// The budget the answer's rate-limit headers announce, if any.
    pub rate_limit: Option<RateBudget>,
}

/// The HTTP client of a run: one pooled `reqwest` client, the endpoint, and the run's keys
/// to cut out of whatever comes back.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: Url,
    timeout: Duration,
    connect_timeout: Duration,
    redactor: Redactor,
}

impl Client {
    /// The keys cut out of everything the server says.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Builds the client: rustls, keep-alive pool, timeouts, no redirects (a PATCH must not
    /// silently turn into something else), no proxy for loopback targets. `redactor` holds
    /// every key of the run: every text of an answer or a failure is made safe with it.
    pub fn new(
        endpoint: Url,
        timeout: Duration,
        connect_timeout: Duration,
        pool: usize,
        redactor: Redactor,
    ) -> anyhow::Result<Client> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("tecalis-status/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(pool)
            .tcp_nodelay(true);
        if is_loopback(&endpoint) {
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {}", error_chain(&e)))?;
        Ok(Client {
            http,
            endpoint,
            timeout,
            connect_timeout,
            redactor,
        })
    }

    /// Sends one PATCH with `body` and classifies what happens.
    pub async fn send(&self, body: bytes::Bytes) -> Attempt {
        let started = Instant::now();
        let sent = self
            .http
            .patch(self.endpoint.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return self.transport_failure(&error, started.elapsed()),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let rate_limit = rate_budget(response.headers(), SystemTime::now());
        // A 429 that says when its window resets but has no Retry-After: the reset is the wait.
        let retry_after = match (status, retry_after, rate_limit) {
            (429, None, Some(budget)) if !budget.reset.is_zero() => Some(budget.reset),
            _ => retry_after,
        };
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let (body, body_error) = read_capped(response).await;
        let latency = started.elapsed();
        let mut attempt = classify(
            status,
            &body,
            body_error.as_deref(),
            location.as_deref(),
            &self.redactor,
        );
        attempt.latency = latency;
        attempt.retry_after = retry_after;
        attempt.rate_limit = rate_limit;
        attempt
    }

    fn transport_failure(&self, error: &reqwest::Error, latency: Duration) -> Attempt {
        let raw = error_chain(error);
        // A failure's text can carry what the server sent (a TLS alert, a proxy's words).
        let chain = safe_server_text(&raw, &self.redactor);
        let (class, message) = if error.is_timeout() && error.is_connect() {
            (
                Class::Transient,
                format!(
                    "cannot connect: no connection within {} (--connect-timeout)",
                    crate::text::human_duration(self.connect_timeout)
                ),
            )
        } else if error.is_timeout() {
            (
                Class::Transient,
                format!(
                    "no answer within {}",
                    crate::text::human_duration(self.timeout)
                ),
            )
        } else if let Some(tls) = tls_error(error).and_then(unfixable_tls) {
            (
                Class::Broken,
                match tls {
                    UnfixableTls::Untrusted => format!(
                        "TLS: the server's certificate is not trusted, so nothing was sent ({chain}); check --url or the system's CA certificates"
                    ),
                    UnfixableTls::Incompatible => format!(
                        "TLS: the server and this tool share no protocol version or cipher, so nothing was sent ({chain}); retrying cannot fix this: check --url"
                    ),
                },
            )
        } else if error.is_connect() {
            (Class::Transient, format!("cannot connect: {chain}"))
        } else {
            (
                Class::Transient,
                format!("connection failed before an answer: {chain}"),
            )
        };
        Attempt {
            class,
            status: None,
            latency,
            retry_after: None,
            message,
            remote: None,
            rate_limit: None,
        }
    }
}

/// A TLS failure that retrying cannot fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnfixableTls {
    /// The server's certificate is not trusted (or this end's was refused).
    Untrusted,
    /// The two ends share no protocol version or cipher.
    Incompatible,
}

/// The TLS error in an error's chain, if any. rustls's error reaches reqwest inside an
/// `io::Error` (itself inside another), whose `source` skips what it wraps: the walk goes
/// into each `io::Error`'s own error instead.
fn tls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        current = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// Whether a TLS failure is one that retrying cannot fix, and which: by the error's type and
/// the alert the server sent, never by its text.
fn unfixable_tls(error: &rustls::Error) -> Option<UnfixableTls> {
    use rustls::AlertDescription as Alert;
    use rustls::Error;
    match error {
        Error::InvalidCertificate(_)
        | Error::NoCertificatesPresented
        | Error::AlertReceived(
            Alert::BadCertificate
            | Alert::UnsupportedCertificate
            | Alert::CertificateRevoked
            | Alert::CertificateExpired
            | Alert::CertificateUnknown
            | Alert::UnknownCA
            | Alert::CertificateRequired,
        ) => Some(UnfixableTls::Untrusted),
        Error::PeerIncompatible(_)
        | Error::AlertReceived(
            Alert::ProtocolVersion | Alert::HandshakeFailure | Alert::InsufficientSecurity,
        ) => Some(UnfixableTls::Incompatible),
        _ => None,
    }
}

/// Every message in an error's chain, without the URL (which adds nothing per row).
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        let text = match e.downcast_ref::<reqwest::Error>() {
            Some(r) => {
                let mut text = r.to_string();
                if let Some(url) = r.url() {
                    text = text.replace(&format!(" for url ({url})"), "");
                }
                text
            }
            None => e.to_string(),
        };
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// Reads at most [`MAX_BODY_BYTES`]; an error while reading is returned beside what was read.
async fn read_capped(mut response: reqwest::Response) -> (Vec<u8>, Option<String>) {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_BODY_BYTES - body.len();
                if chunk.len() >= room {
                    body.extend_from_slice(&chunk[..room]);
                    return (
                        body,
                        Some(format!("answer longer than {MAX_BODY_BYTES} bytes, cut")),
                    );
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return (body, None),
            Err(e) => return (body, Some(format!("answer cut short: {}", error_chain(&e)))),
        }
    }
}

/// Whether the URL's host is this machine.
pub fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => std::net::IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => std::net::IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_omit_absent_reasons() {
        let body = Body {
            auth_uuid: "u",
            api_key: "k",
            state: "OK",
            reasons: None,
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"auth_uuid":"u","api_key":"k","state":"OK"}"#
        );
        let body = Body {
            reasons: Some("a \"b\""),
            ..body
        };
        assert!(
            serde_json::to_string(&body)
                .unwrap()
                .ends_with(r#""reasons":"a \"b\""}"#)
        );
    }

    #[test]
    fn a_body_never_shows_its_key_in_debug() {
        let body = Body {
            auth_uuid: "u",
            api_key: "sk_live_secret",
            state: "OK",
            reasons: None,
        };
        let shown = format!("{body:?}");
        assert!(
            !shown.contains("sk_live_secret") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn tls_failures_that_retrying_cannot_fix_are_recognised_by_type() {
        use rustls::{AlertDescription, CertificateError, Error, PeerIncompatible};
        // As rustls's error reaches reqwest: inside an io::Error, inside another error.
        #[derive(Debug, thiserror::Error)]
        #[error("client error (Connect)")]
        struct Outer(#[source] std::io::Error);
        let wrapped = |tls: Error| {
            let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
            Outer(std::io::Error::other(io))
        };
        let class = |tls: Error| tls_error(&wrapped(tls)).and_then(unfixable_tls);
        assert_eq!(
            class(Error::InvalidCertificate(CertificateError::UnknownIssuer)),
            Some(UnfixableTls::Untrusted)
        );
        assert_eq!(
            class(Error::AlertReceived(AlertDescription::ProtocolVersion)),
            Some(UnfixableTls::Incompatible)
        );
        assert_eq!(
            class(Error::PeerIncompatible(
                PeerIncompatible::Tls12NotOfferedOrEnabled
            )),
            Some(UnfixableTls::Incompatible)
        );
        // A reset during the handshake may pass: retried.
        assert_eq!(
            class(Error::AlertReceived(AlertDescription::InternalError)),
            None
        );
        // The words alone mean nothing: a plain I/O error that names a certificate.
        let words = Outer(std::io::Error::other("certificate protocol version"));
        assert_eq!(tls_error(&words), None);
    }
}
