//! Rate-limit headers: the budget a server announces, read in each style vendors use.

use std::time::{Duration, SystemTime};

/// The budget a server announces in rate-limit headers: what is left and when it is whole
/// again, and the policy when it says it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateBudget {
    /// Requests the window allows, if said.
    pub limit: Option<u64>,
    /// Requests left in the window.
    pub remaining: u64,
    /// Until the window has its whole limit again.
    pub reset: Duration,
    /// The window's length, if said (`RateLimit-Policy`'s `w`).
    pub window: Option<Duration>,
}

impl RateBudget {
    /// The sustained rate the policy allows, requests/s: the limit over the window (`window`
    /// stands in when the server does not say it).
    pub fn sustained(&self, window: Duration) -> Option<f64> {
        let window = self.window.unwrap_or(window).as_secs_f64();
        let limit = self.limit? as f64;
        (window > 0.0 && limit > 0.0).then(|| limit / window)
    }
}

/// Reads the budget from `X-RateLimit-Limit/-Remaining/-Reset`, `RateLimit-Limit/-Remaining/
/// -Reset`, or the IETF draft's `RateLimit` (`"name";r=5;t=3`, or the older `limit=..,
/// remaining=.., reset=..`) and `RateLimit-Policy` (`"name";q=100;w=60`). A reset above 10⁹ is
/// a Unix time (GitHub's), below it seconds from now. `None` without a remaining count.
pub fn rate_budget(headers: &reqwest::header::HeaderMap, now: SystemTime) -> Option<RateBudget> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let number = |value: &str| -> Option<f64> {
        let digits: String = value
            .trim()
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        digits.parse::<f64>().ok().filter(|n| n.is_finite())
    };
    let reset_of = |seconds: f64| {
        if seconds > 1e9 {
            // Capped, so that no number a server sends can overflow a time.
            let at = SystemTime::UNIX_EPOCH
                .checked_add(Duration::from_secs_f64(seconds.min(1e12)))
                .unwrap_or(now);
            at.duration_since(now).unwrap_or(Duration::ZERO)
        } else {
            Duration::from_secs_f64(seconds.min(1e9))
        }
    };
    // Named whole, not formatted from a prefix: this runs on every answer.
    for [remaining, limit, reset] in [
        [
            "x-ratelimit-remaining",
            "x-ratelimit-limit",
            "x-ratelimit-reset",
        ],
        ["ratelimit-remaining", "ratelimit-limit", "ratelimit-reset"],
    ] {
        if let Some(remaining) = text(remaining).and_then(number) {
            return Some(RateBudget {
                limit: text(limit).and_then(number).map(|n| n as u64),
                remaining: remaining as u64,
                reset: text(reset)
                    .and_then(number)
                    .map_or(Duration::ZERO, reset_of),
                window: None,
            });
        }
    }
    let fields = text("ratelimit")?;
    let param = |fields: &str, keys: &[&str]| {
        fields
            .split([';', ','])
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| keys.contains(&k.trim().to_ascii_lowercase().as_str()))
            .and_then(|(_, v)| number(v))
    };
    let policy = text("ratelimit-policy").unwrap_or("");
    Some(RateBudget {
        limit: param(policy, &["q"])
            .or_else(|| param(fields, &["limit"]))
            .map(|n| n as u64),
        remaining: param(fields, &["r", "remaining"])? as u64,
        reset: param(fields, &["t", "reset"]).map_or(Duration::ZERO, reset_of),
        window: param(policy, &["w"]).map(|w| Duration::from_secs_f64(w.min(1e9))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_headers_are_read_in_each_style() {
        use reqwest::header::{HeaderMap, HeaderValue};
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut map = HeaderMap::new();
            for (k, v) in pairs {
                map.insert(*k, HeaderValue::from_str(v).unwrap());
            }
            map
        };
        let x = rate_budget(
            &headers(&[
                ("x-ratelimit-limit", "30"),
                ("x-ratelimit-remaining", "7"),
                ("x-ratelimit-reset", "1"),
            ]),
            now,
        )
        .unwrap();
        assert_eq!(
            x,
            RateBudget {
                limit: Some(30),
                remaining: 7,
                reset: Duration::from_secs(1),
                window: None
            }
        );
        assert_eq!(x.sustained(Duration::from_secs(1)), Some(30.0));
        // GitHub's reset is a Unix time.
        let github = rate_budget(
            &headers(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1700003600"),
            ]),
            now,
        )
        .unwrap();
        assert_eq!(github.reset, Duration::from_secs(3600));
        let draft = rate_budget(
            &headers(&[
                ("ratelimit-limit", "100"),
                ("ratelimit-remaining", "0"),
                ("ratelimit-reset", "20"),
            ]),
            now,
        )
        .unwrap();
        assert_eq!((draft.limit, draft.remaining), (Some(100), 0));
        let ietf = rate_budget(
            &headers(&[
                ("ratelimit", "\"default\";r=5;t=3"),
                ("ratelimit-policy", "\"default\";q=1200;w=60"),
            ]),
            now,
        )
        .unwrap();
        assert_eq!(ietf.remaining, 5);
        assert_eq!(ietf.reset, Duration::from_secs(3));
        assert_eq!(ietf.sustained(Duration::from_secs(1)), Some(20.0));
        let older = rate_budget(
            &headers(&[("ratelimit", "limit=10, remaining=2, reset=4")]),
            now,
        )
        .unwrap();
        assert_eq!((older.limit, older.remaining), (Some(10), 2));
        assert_eq!(
            rate_budget(&headers(&[("ratelimit", "nonsense")]), now),
            None
        );
        assert_eq!(rate_budget(&HeaderMap::new(), now), None);
    }
}
