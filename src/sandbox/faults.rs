//! The bodies and headers of the sandbox's injected answers: error bodies (the vendor's JSON,
//! a gateway's HTML, none, the request quoted back, a hostile message, a huge message), 200
//! bodies, and `Retry-After`.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{ErrorBody, OkBody};

/// The message of `--error-body hostile`: terminal escapes (retitle the window, clear the
/// screen) and a forged summary line after a line break.
pub const HOSTILE_MESSAGE: &str =
    "\u{1b}]0;pwned\u{7}\u{1b}[2JInjected error\r\nSummary: every row ok, 0 failed";

/// The length in characters of the message of `--error-body huge`.
pub const HUGE_MESSAGE_CHARS: usize = 200_000;

/// The `Retry-After` value that sends no header at all.
pub const NO_RETRY_AFTER: &str = "none";

/// The vendor's `{internal_code, message}` error.
pub(super) fn vendor_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"internal_code": status.as_u16(), "message": message})),
    )
        .into_response()
}

/// An injected error answer with the configured body; `request` is the body received, for
/// the bodies that quote it back.
pub(super) fn injected_error(status: StatusCode, body: ErrorBody, request: &[u8]) -> Response {
    match body {
        ErrorBody::Json => vendor_error(status, "Injected error"),
        ErrorBody::Empty => status.into_response(),
        ErrorBody::Html => {
            let code = status.as_u16();
            let reason = status.canonical_reason().unwrap_or("Error");
            let page = format!(
                "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            );
            (status, [(header::CONTENT_TYPE, "text/html")], page).into_response()
        }
        ErrorBody::Echo => {
            // As a debug gateway does: the request, key included, in the message and whole.
            let text = String::from_utf8_lossy(request);
            let quoted = serde_json::from_slice::<Value>(request)
                .unwrap_or_else(|_| Value::String(text.clone().into_owned()));
            let answer = json!({
                "internal_code": status.as_u16(),
                "message": format!("Unprocessable request: {text}"),
                "request": quoted,
            });
            (status, axum::Json(answer)).into_response()
        }
        ErrorBody::Hostile => vendor_error(status, HOSTILE_MESSAGE),
        ErrorBody::Huge => vendor_error(status, &"E".repeat(HUGE_MESSAGE_CHARS)),
    }
}

/// A 200 answer with the configured body.
pub(super) fn ok_answer(response: Vec<u8>, body: OkBody) -> Response {
    let json = [(header::CONTENT_TYPE, "application/json")];
    match body {
        OkBody::Normal => (StatusCode::OK, json, response).into_response(),
        OkBody::Malformed => {
            (StatusCode::OK, json, "{\"data\": {\"status\": \"OK\", ").into_response()
        }
        OkBody::Empty => StatusCode::OK.into_response(),
        OkBody::Huge => {
            let mut text = String::from_utf8_lossy(&response).into_owned();
            text.pop();
            text.push_str(",\"padding\":\"");
            text.push_str(&"x".repeat(8 << 20));
            text.push_str("\"}");
            (StatusCode::OK, json, text).into_response()
        }
    }
}

/// What `--retry-after` asks for on an answer that may carry the header.
#[derive(Debug, PartialEq)]
pub(super) enum RetryAfter {
    /// The sandbox's own value (`1` on the rate limit's 429s, none on injected errors).
    Default,
    /// No header at all (`--retry-after none`).
    Omit,
    /// This value.
    Value(HeaderValue),
}

/// Reads `--retry-after`: seconds, `date:N` for an HTTP date N seconds ahead, `none`, or
/// any other text sent as it is (a malformed header, for clients to survive).
pub(super) fn retry_after(spec: Option<&str>) -> RetryAfter {
    let Some(spec) = spec else {
        return RetryAfter::Default;
    };
    if spec.eq_ignore_ascii_case(NO_RETRY_AFTER) {
        return RetryAfter::Omit;
    }
    let value = match spec.strip_prefix("date:") {
        Some(ahead) => ahead.trim().parse::<u64>().ok().and_then(|seconds| {
            let date = std::time::SystemTime::now() + Duration::from_secs(seconds);
            HeaderValue::from_str(&httpdate::fmt_http_date(date)).ok()
        }),
        None => HeaderValue::from_str(spec).ok(),
    };
    value.map_or(RetryAfter::Default, RetryAfter::Value)
}

/// Sets `Retry-After` on `response` as asked, with `default` when nothing was asked.
pub(super) fn set_retry_after(response: &mut Response, spec: Option<&str>, default: Option<u64>) {
    let value = match retry_after(spec) {
        RetryAfter::Omit => None,
        RetryAfter::Value(value) => Some(value),
        RetryAfter::Default => default.map(HeaderValue::from),
    };
    if let Some(value) = value {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_dates_none_and_text() {
        assert_eq!(retry_after(None), RetryAfter::Default);
        assert_eq!(retry_after(Some("none")), RetryAfter::Omit);
        assert_eq!(
            retry_after(Some("2")),
            RetryAfter::Value(HeaderValue::from_static("2"))
        );
        let RetryAfter::Value(date) = retry_after(Some("date:5")) else {
            panic!("a date");
        };
        assert!(httpdate::parse_http_date(date.to_str().unwrap()).is_ok());
        assert_eq!(
            retry_after(Some("soon")),
            RetryAfter::Value(HeaderValue::from_static("soon"))
        );
    }

    #[test]
    fn the_huge_and_hostile_messages_are_what_they_say() {
        assert_eq!(HUGE_MESSAGE_CHARS, 200_000);
        assert!(HOSTILE_MESSAGE.contains('\u{1b}') && HOSTILE_MESSAGE.contains("\r\n"));
    }
}
