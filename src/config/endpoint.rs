//! The endpoint URL: `{base}/customer/status` built from `--url` or `TECALIS_URL`, the https
//! rule, and the slips refused with the value to use (the full endpoint pasted, a query
//! string, credentials), never echoing credentials.

use anyhow::bail;
use reqwest::Url;

use crate::client::is_loopback;
use crate::exit::UsageError;

/// The path appended to the base URL.
pub const ENDPOINT_PATH: &str = "customer/status";

/// Builds `{base}/customer/status` and applies the https rule: plain http is allowed only to
/// a loopback host unless `allow_insecure_http`. A base that already ends in the endpoint's
/// path, or that carries a query string or fragment, is a [`UsageError`] that shows the value
/// to use: guessing would send every row to a path the operator did not mean.
pub fn endpoint(base: &str, allow_insecure_http: bool) -> anyhow::Result<Url> {
    let base = base.trim();
    let mut url = Url::parse(base).map_err(|_| {
        UsageError(format!(
            "the URL {:?} is not valid: write it in full, e.g. https://api.example.com",
            redact_userinfo(base)
        ))
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        // Checked first, so that no later message repeats the credentials.
        return Err(UsageError(
            "the URL must not carry credentials (user:password@): the key goes in TECALIS_API_KEY or --api-key-file".into(),
        )
        .into());
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback(&url) && !allow_insecure_http {
                bail!(
                    "refusing plain http:// to {}: the API key would cross the network unencrypted; use https://, or pass --allow-insecure-http if you really mean it",
                    url.host_str().unwrap_or("")
                );
            }
        }
        other => bail!("the URL scheme {other}:// is not supported: use https://"),
    }
    if url.host_str().is_none_or(str::is_empty) {
        bail!("the URL {base:?} has no host");
    }
    let path = url.path().trim_end_matches('/').to_string();
    let suffix = format!("/{ENDPOINT_PATH}");
    let extra = url.query().is_some() || url.fragment().is_some();
    if extra || path.ends_with(&suffix) {
        let mut suggested = url.clone();
        suggested.set_query(None);
        suggested.set_fragment(None);
        suggested.set_path(path.strip_suffix(&suffix).unwrap_or(&path));
        let what = if extra {
            "carries a query string or fragment, which the endpoint does not take"
        } else {
            "already ends in /customer/status, which the tool appends itself"
        };
        return Err(UsageError(format!(
            "the URL (--url or TECALIS_URL) {what}: pass the base URL, --url {}",
            suggested.as_str().trim_end_matches('/')
        ))
        .into());
    }
    url.set_path(&format!("{path}/{ENDPOINT_PATH}"));
    Ok(url)
}

/// A URL as text with any `user:password@` replaced, for messages about a URL that did not
/// parse (a parsed one is refused before it is shown).
pub fn redact_userinfo(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..authority_end].rfind('@') {
        Some(at) => format!("{}<redacted>@{}", &url[..start], &url[start + at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_path_is_appended_once() {
        let e = |u| endpoint(u, false).unwrap().to_string();
        assert_eq!(
            e("https://api.example.com"),
            "https://api.example.com/customer/status"
        );
        assert_eq!(
            e("https://api.example.com/"),
            "https://api.example.com/customer/status"
        );
        assert_eq!(
            e("https://api.example.com/v1/"),
            "https://api.example.com/v1/customer/status"
        );
        assert_eq!(
            e("http://127.0.0.1:8080/v1"),
            "http://127.0.0.1:8080/v1/customer/status"
        );
        assert_eq!(
            e("http://localhost:1"),
            "http://localhost:1/customer/status"
        );
        assert_eq!(e("http://[::1]:1"), "http://[::1]:1/customer/status");
    }

    #[test]
    fn plain_http_is_refused_off_loopback() {
        let err = endpoint("http://api.example.com", false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--allow-insecure-http"), "{err}");
        assert!(endpoint("http://api.example.com", true).is_ok());
        assert!(endpoint("http://127.0.0.2:9", false).is_ok());
        assert!(endpoint("ftp://api.example.com", true).is_err());
        assert!(endpoint("api.example.com", false).is_err());
        assert!(endpoint("https://user:pw@api.example.com", false).is_err());
    }

    #[test]
    fn a_full_endpoint_or_a_query_is_a_usage_error_that_shows_the_value_to_use() {
        for (given, shown) in [
            (
                "https://api.example.com/customer/status",
                "--url https://api.example.com",
            ),
            (
                "https://api.example.com/v1/customer/status/",
                "--url https://api.example.com/v1",
            ),
            (
                "https://api.example.com/v1?token=1",
                "--url https://api.example.com/v1",
            ),
            (
                "https://api.example.com/#x",
                "--url https://api.example.com",
            ),
        ] {
            let err = endpoint(given, false).unwrap_err();
            assert!(err.downcast_ref::<UsageError>().is_some(), "{given}");
            assert!(err.to_string().ends_with(shown), "{given}: {err}");
        }
    }

    #[test]
    fn credentials_in_a_url_are_never_echoed() {
        for url in [
            "https://bob:s3cret@api.example.com",
            "ht tp://bob:s3cret@x/",
        ] {
            let err = endpoint(url, false).unwrap_err().to_string();
            assert!(!err.contains("s3cret"), "{err}");
        }
        assert_eq!(
            redact_userinfo("https://u:p@host/x@y"),
            "https://<redacted>@host/x@y"
        );
        assert_eq!(redact_userinfo("https://host/a@b"), "https://host/a@b");
    }
}
