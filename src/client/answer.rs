//! The classification of an HTTP answer: its status and body into what the retry logic and
//! the results file need (the class, a message, the process echoed by a 200). This is where
//! server text enters the program: every piece of it leaves here through
//! [`safe_server_text`] (every key in use cut out, controls escaped, length capped), so that
//! every consumer (results, summary, logs, report) gets safe text.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::{Attempt, Class};
use crate::results::Remote;
use crate::retry::is_transient_status;
use crate::text::{Redactor, clean, safe_server_text};

mod rate_limit;

pub use rate_limit::{RateBudget, rate_budget};

/// How much of an unexpected body is quoted in the results' `error` column.
const QUOTED_BODY_CHARS: usize = 200;

/// Classifies an answer by its status and body. Every text taken from the answer is made
/// safe with `redactor` (the run's keys).
pub fn classify(
    status: u16,
    body: &[u8],
    body_error: Option<&str>,
    location: Option<&str>,
    redactor: &Redactor,
) -> Attempt {
    let mut attempt = Attempt {
        class: Class::Broken,
        status: Some(status),
        latency: Duration::ZERO,
        retry_after: None,
        message: String::new(),
        remote: None,
        rate_limit: None,
    };
    if (200..300).contains(&status) {
        attempt.class = Class::Ok;
        match parse_remote(body, redactor) {
            Ok(remote) => attempt.remote = Some(remote),
            Err(why) => {
                // The state was applied; only the echo is unreadable. A parser's message
                // can quote the body.
                attempt.message = format!(
                    "answered 2xx, but the answer could not be read, so the change is not confirmed by its echo: {}",
                    safe_server_text(&why, redactor)
                );
            }
        }
        if let Some(error) = body_error {
            attempt.message = format!(
                "answered 2xx, but the change is not confirmed by its echo: {}",
                safe_server_text(error, redactor)
            );
        }
        return attempt;
    }
    attempt.class = match status {
        401 => Class::Unauthorized,
        s if is_transient_status(s) => Class::Transient,
        300..=399 => Class::Rejected,
        400..=499 => Class::Rejected,
        _ => Class::Broken,
    };
    attempt.message = match (status, location) {
        (300..=399, Some(location)) => format!(
            "HTTP {status}: redirected to {}; point --url at the final address",
            safe_server_text(location, redactor)
        ),
        _ => format!("HTTP {status}: {}", describe_error_body(body, redactor)),
    };
    attempt
}

/// The server's `{internal_code, message}`, or the first characters of another body, made
/// safe.
fn describe_error_body(body: &[u8], redactor: &Redactor) -> String {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        let code = map.get("internal_code").map(value_text).unwrap_or_default();
        let message = map
            .get("message")
            .or_else(|| map.get("error"))
            .map(value_text)
            .unwrap_or_default();
        let code = safe_server_text(&code, redactor);
        let message = safe_server_text(&message, redactor);
        if !code.is_empty() || !message.is_empty() {
            return match (code.is_empty(), message.is_empty()) {
                (false, false) => format!("{message} (internal_code {code})"),
                (true, _) => message,
                (_, true) => format!("internal_code {code}"),
            };
        }
    }
    // The keys are cut from the whole body before its blanks are collapsed or it is cut.
    let text = String::from_utf8_lossy(body);
    let text = redactor.redact(&text);
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        // Blanks are still a body: a page of them (or a long run before the text, cut at
        // the read limit) is not "no body".
        return match body.len() {
            0 => "no body".to_string(),
            n => format!("no text in the {n} byte(s) of the body read (only blanks)"),
        };
    }
    clean(&collapsed, Some(redactor), QUOTED_BODY_CHARS)
}

fn value_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The part of a 200's `{"data": {...}}` that the results file keeps. Every other field (the
/// person's data, the operations, whatever the vendor adds) is skipped without being built.
#[derive(Debug, Deserialize)]
struct Envelope {
    data: Option<Data>,
}

#[derive(Debug, Deserialize)]
struct Data {
    auth_uuid: Option<Field>,
    process_uuid: Option<Field>,
    status: Option<Field>,
    status_reasons: Option<Field>,
    updated_at: Option<Field>,
}

/// One echoed field as text, as [`value_text`] gives it: a string as it is, null as nothing,
/// any other JSON written compactly. A string (every field of a real answer) is read
/// straight from the body, without building a `Value` first: this runs on every answer.
#[derive(Debug, Default)]
struct Field(String);

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Field, D::Error> {
        use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
        use serde::de::{Error, MapAccess, SeqAccess};

        struct Text;
        impl<'de> serde::de::Visitor<'de> for Text {
            type Value = Field;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Field, E> {
                Ok(Field(v.to_string()))
            }
            fn visit_string<E: Error>(self, v: String) -> Result<Field, E> {
                Ok(Field(v))
            }
            fn visit_unit<E: Error>(self) -> Result<Field, E> {
                Ok(Field::default())
            }
            fn visit_bool<E: Error>(self, v: bool) -> Result<Field, E> {
                Ok(Field(Value::from(v).to_string()))
            }
            fn visit_i64<E: Error>(self, v: i64) -> Result<Field, E> {
                Ok(Field(Value::from(v).to_string()))
            }
            fn visit_u64<E: Error>(self, v: u64) -> Result<Field, E> {
                Ok(Field(Value::from(v).to_string()))
            }
            fn visit_f64<E: Error>(self, v: f64) -> Result<Field, E> {
                Ok(Field(Value::from(v).to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Field, A::Error> {
                Value::deserialize(SeqAccessDeserializer::new(seq)).map(|v| Field(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Field, A::Error> {
                Value::deserialize(MapAccessDeserializer::new(map)).map(|v| Field(v.to_string()))
            }
        }
        deserializer.deserialize_any(Text)
    }
}

/// Reads the fields the results file keeps from a 200's `{"data": {...}}`, made safe.
fn parse_remote(body: &[u8], redactor: &Redactor) -> Result<Remote, String> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| format!("not the expected JSON ({e})"))?;
    let Some(data) = envelope.data else {
        return Err("no `data` object".to_string());
    };
    let text = |field: Option<Field>| safe_server_text(&field.unwrap_or_default().0, redactor);
    Ok(Remote {
        process_uuid: text(data.process_uuid),
        status: text(data.status),
        status_reasons: text(data.status_reasons),
        updated_at: text(data.updated_at),
        // A UUID as sent back, not cut: it is compared with the row's, and a key that shares
        // a run of 8 characters with UUIDs (all zeros, say) would turn every echo into
        // "another process". It is made safe where it is shown (the worker's mismatch note).
        auth_uuid: match data.auth_uuid.map(|field| field.0) {
            Some(raw) => match uuid::Uuid::try_parse(raw.trim()) {
                Ok(uuid) => uuid.to_string(),
                Err(_) => safe_server_text(&raw, redactor),
            },
            None => String::new(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    /// Classifies with no key to cut out.
    fn classify(
        status: u16,
        body: &[u8],
        body_error: Option<&str>,
        location: Option<&str>,
    ) -> Attempt {
        super::classify(status, body, body_error, location, &Redactor::default())
    }

    #[test]
    fn every_text_from_the_server_is_made_safe() {
        let key = "k3y-0f-the-run/with+odd=chars";
        let redactor = Redactor::new([&SecretString::from(key)]);
        let echo = serde_json::json!({
            "internal_code": format!("422 {key}"),
            "message": format!("bad request {{\"api_key\":\"{key}\"}}\u{1b}]0;pwned\u{7}\r\nSummary: ok"),
        });
        let attempt = super::classify(422, echo.to_string().as_bytes(), None, None, &redactor);
        assert!(!attempt.message.contains(key), "{}", attempt.message);
        assert!(
            attempt.message.contains("<redacted>"),
            "{}",
            attempt.message
        );
        assert!(!attempt.message.chars().any(crate::text::is_unsafe_char));
        let page = format!("<pre>{}{key}</pre>", "x".repeat(195));
        let attempt = super::classify(502, page.as_bytes(), None, None, &redactor);
        assert!(!attempt.message.contains(&key[..8]), "{}", attempt.message);
        let ok = format!(
            r#"{{"data":{{"status":"OK","status_reasons":"{key}\u001b[2J","process_uuid":"{}","updated_at":"t"}}}}"#,
            "p".repeat(5000)
        );
        let remote = super::classify(200, ok.as_bytes(), None, None, &redactor)
            .remote
            .unwrap();
        assert_eq!(remote.status_reasons, "<redacted>\\u{1b}[2J");
        assert!(remote.process_uuid.chars().count() < 400);
        let not_json = format!(r#"{{"data":"{key}"}}"#);
        let unreadable = super::classify(200, not_json.as_bytes(), None, None, &redactor);
        assert!(!unreadable.message.contains(key), "{}", unreadable.message);
        let moved = super::classify(
            302,
            b"",
            None,
            Some(&format!("https://x/?k={key}")),
            &redactor,
        );
        assert!(!moved.message.contains(key), "{}", moved.message);
    }

    #[test]
    fn answers_are_classified() {
        let ok = classify(200, br#"{"data":{"process_uuid":"p","status":"OK","status_reasons":null,"updated_at":"t","extra":[1]}}"#, None, None);
        assert_eq!(ok.class, Class::Ok);
        assert_eq!(
            ok.remote.unwrap(),
            Remote {
                process_uuid: "p".into(),
                status: "OK".into(),
                status_reasons: "".into(),
                updated_at: "t".into(),
                auth_uuid: "".into(),
            }
        );
        let about = classify(
            200,
            br#"{"data":{"auth_uuid":"01900000-0000-7000-8000-000000000009","status":"OK"}}"#,
            None,
            None,
        );
        assert_eq!(
            about.remote.unwrap().auth_uuid,
            "01900000-0000-7000-8000-000000000009",
            "the echoed process is kept, to be compared with the row's"
        );
        let unreadable = classify(200, b"<html>", None, None);
        assert_eq!(unreadable.class, Class::Ok);
        assert!(unreadable.message.starts_with("answered 2xx, but"));
        let unauthorized = classify(
            401,
            br#"{"internal_code": 401, "message": "Not authorized"}"#,
            None,
            None,
        );
        assert_eq!(unauthorized.class, Class::Unauthorized);
        assert_eq!(
            unauthorized.message,
            "HTTP 401: Not authorized (internal_code 401)"
        );
        assert_eq!(classify(422, b"", None, None).class, Class::Rejected);
        assert_eq!(classify(422, b"", None, None).message, "HTTP 422: no body");
        // A body of blanks (here, what was read of one cut at the read limit) is not "no body".
        assert_eq!(
            classify(400, " ".repeat(1000).as_bytes(), None, None).message,
            "HTTP 400: no text in the 1000 byte(s) of the body read (only blanks)"
        );
        for s in [408, 429, 500, 502, 503, 504] {
            assert_eq!(classify(s, b"", None, None).class, Class::Transient);
        }
        assert_eq!(classify(501, b"", None, None).class, Class::Broken);
        let moved = classify(301, b"", None, Some("https://new.example.com/"));
        assert_eq!(moved.class, Class::Rejected);
        assert!(
            moved
                .message
                .contains("redirected to https://new.example.com/")
        );
    }

    #[test]
    fn gateway_pages_are_quoted_briefly() {
        let page = format!(
            "<html>\n  <body><h1>502 Bad Gateway</h1>{}</body></html>",
            "x".repeat(1000)
        );
        let attempt = classify(502, page.as_bytes(), None, None);
        assert!(
            attempt
                .message
                .starts_with("HTTP 502: <html> <body><h1>502 Bad Gateway</h1>")
        );
        assert!(attempt.message.chars().count() < 250);
    }

    #[test]
    fn an_echoed_field_of_any_json_type_reads_as_its_value_would() {
        for json in [
            r#""OK""#,
            r#""con \"comillas\" y \u00f1 y \n""#,
            "null",
            "true",
            "-12",
            "18446744073709551615",
            "1.5e3",
            r#"[1, "a", null]"#,
            r#"{"b": {"c": [1.0]}, "a": "x"}"#,
        ] {
            let field: Field = serde_json::from_str(json).unwrap();
            let value: Value = serde_json::from_str(json).unwrap();
            assert_eq!(field.0, value_text(&value), "{json}");
        }
        let data: Data =
            serde_json::from_str(r#"{"status": null, "status_reasons": 7, "extra": [1]}"#).unwrap();
        assert!(data.status.is_none() && data.auth_uuid.is_none());
        assert_eq!(data.status_reasons.unwrap().0, "7");
    }
}
