//! The rate-limit headers a sandbox can announce its budget in: the common `X-RateLimit-*`,
//! the older IETF draft's `RateLimit-Limit/-Remaining/-Reset`, or the IETF draft's
//! structured `RateLimit` and `RateLimit-Policy` fields.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::limit::Budget;

/// Which rate-limit headers the sandbox's answers carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LimitHeaders {
    /// None: the limit is hidden.
    #[default]
    None,
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (seconds from now).
    XRatelimit,
    /// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds from now).
    Ratelimit,
    /// `RateLimit: "default";r=R;t=T` and `RateLimit-Policy: "default";q=Q;w=W`.
    Ietf,
}

/// Whole seconds, rounded up, as the headers carry them.
fn seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Adds the headers `style` asks for, saying `budget`, to `headers`.
pub(super) fn announce(headers: &mut HeaderMap, style: LimitHeaders, budget: &Budget) {
    let reset = seconds(budget.reset);
    let window = seconds(budget.window).max(1);
    let fields: Vec<(&'static str, String)> = match style {
        LimitHeaders::None => Vec::new(),
        LimitHeaders::XRatelimit => vec![
            ("x-ratelimit-limit", budget.limit.to_string()),
            ("x-ratelimit-remaining", budget.remaining.to_string()),
            ("x-ratelimit-reset", reset.to_string()),
        ],
        LimitHeaders::Ratelimit => vec![
            ("ratelimit-limit", budget.limit.to_string()),
            ("ratelimit-remaining", budget.remaining.to_string()),
            ("ratelimit-reset", reset.to_string()),
        ],
        LimitHeaders::Ietf => vec![
            (
                "ratelimit-policy",
                format!("\"default\";q={};w={window}", budget.limit),
            ),
            (
                "ratelimit",
                format!("\"default\";r={};t={reset}", budget.remaining),
            ),
        ],
    };
    for (name, value) in fields {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}
