//! The fault matrix: every failure a server or a network produces, end to end against the
//! sandbox (or a bare socket where the sandbox cannot play the part), asserting the outcome,
//! the attempts and the exit code.

mod common;

use std::sync::Arc;

use common::{TestServer, Workdir};
use tecalis_status::sandbox::{ErrorBody, OkBody, SandboxConfig};

/// Runs `n` fresh rows against `url` with `extra` flags; returns the output and the results.
fn run_rows(
    url: &str,
    n: usize,
    extra: &[&str],
    code: i32,
) -> (
    common::Output,
    Vec<std::collections::HashMap<String, String>>,
) {
    let dir = Workdir::new();
    dir.write_fresh("in.csv", n, "OK", "");
    let out = dir
        .run_at(url, "in.csv", &[&["--rate", "1000"], extra].concat())
        .expect(code);
    let results = dir.results("in.results.csv");
    (out, results)
}

fn server(configure: impl FnOnce(&mut SandboxConfig)) -> TestServer {
    TestServer::start(|c| {
        c.accept_unknown = true;
        configure(c);
    })
}

fn only(
    results: &[std::collections::HashMap<String, String>],
) -> &std::collections::HashMap<String, String> {
    assert_eq!(results.len(), 1);
    &results[0]
}

/// Milliseconds between consecutive requests the sandbox received.
fn gaps(server: &TestServer) -> Vec<f64> {
    server
        .received()
        .windows(2)
        .map(|w| w[1].at_ms - w[0].at_ms)
        .collect()
}

#[test]
fn connection_refused_fails_after_the_retries() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let (_, results) = run_rows(&url, 1, &["--retries", "2"], 3);
    let r = only(&results);
    assert_eq!(
        (
            r["outcome"].as_str(),
            r["attempts"].as_str(),
            r["http_status"].as_str()
        ),
        ("failed", "3", "")
    );
    assert!(r["error"].starts_with("cannot connect"), "{r:?}");
}

#[test]
fn a_reset_before_the_answer_is_retried_then_failed() {
    let server = server(|c| c.drop_rate = 1.0);
    let (_, results) = run_rows(&server.url(), 1, &["--retries", "2"], 3);
    let r = only(&results);
    assert_eq!(
        (r["outcome"].as_str(), r["attempts"].as_str()),
        ("failed", "3")
    );
    assert!(
        r["error"].contains("connection failed before an answer")
            || r["error"].contains("cannot connect"),
        "{r:?}"
    );
    assert_eq!(server.stats().dropped, 3);
}

#[test]
fn a_server_that_never_answers_times_out_and_the_run_ends() {
    let server = server(|c| c.slow_rate = 1.0);
    let (_, results) = run_rows(
        &server.url(),
        2,
        &["--retries", "1", "--timeout", "300ms"],
        3,
    );
    for r in &results {
        assert_eq!(
            (r["outcome"].as_str(), r["attempts"].as_str()),
            ("failed", "2")
        );
        assert_eq!(r["error"], "no answer within 300ms");
    }
}

#[test]
fn a_503_then_200_ends_ok_in_two_attempts() {
    let server = server(|c| c.fail_first = 1);
    let (_, results) = run_rows(&server.url(), 3, &[], 0);
    for r in &results {
        assert_eq!(
            (
                r["outcome"].as_str(),
                r["attempts"].as_str(),
                r["http_status"].as_str()
            ),
            ("ok", "2", "200")
        );
    }
    assert_eq!(server.stats().by_status.get(&503), Some(&3));
}

#[test]
fn retry_after_in_seconds_is_waited() {
    let server = server(|c| {
        c.fail_first = 1;
        c.error_status = 429;
        c.retry_after = Some("1".into());
    });
    let (_, results) = run_rows(&server.url(), 1, &[], 0);
    assert_eq!(only(&results)["attempts"], "2");
    assert!(gaps(&server)[0] >= 990.0, "{:?}", gaps(&server));
}

#[test]
fn retry_after_as_an_http_date_is_waited() {
    let server = server(|c| {
        c.fail_first = 1;
        c.error_status = 503;
        c.retry_after = Some("date:2".into());
    });
    let (_, results) = run_rows(&server.url(), 1, &[], 0);
    assert_eq!(only(&results)["attempts"], "2");
    // An HTTP date has whole seconds: two seconds ahead is at least one second away.
    assert!(gaps(&server)[0] >= 990.0, "{:?}", gaps(&server));
}

#[test]
fn a_retry_after_longer_than_the_maximum_is_a_quota_that_stops_the_run() {
    // Issue 20: cutting a day's wait to --max-retry-after and retrying hammers a server that
    // said no; the run stops instead (exit 7), the row failed after its one attempt.
    let server = server(|c| {
        c.fail_first = 1;
        c.error_status = 429;
        c.retry_after = Some("86400".into());
    });
    let (_, results) = run_rows(&server.url(), 1, &["--max-retry-after", "1s"], 7);
    let r = only(&results);
    assert_eq!(
        (r["outcome"].as_str(), r["attempts"].as_str()),
        ("failed", "1")
    );
    assert!(
        r["error"].contains("longer than --max-retry-after 1s"),
        "{r:?}"
    );
    assert_eq!(server.received().len(), 1, "not retried");
}

#[test]
fn a_gateways_html_502_is_quoted_in_the_error() {
    let server = server(|c| {
        c.error_rate = 1.0;
        c.error_status = 502;
        c.error_body = ErrorBody::Html;
    });
    let (_, results) = run_rows(&server.url(), 1, &["--retries", "1"], 3);
    let r = only(&results);
    assert_eq!(
        (
            r["outcome"].as_str(),
            r["attempts"].as_str(),
            r["http_status"].as_str()
        ),
        ("failed", "2", "502")
    );
    assert!(
        r["error"].starts_with("HTTP 502: <html> <head><title>502 Bad Gateway</title>"),
        "{r:?}"
    );
}

#[test]
fn a_200_with_malformed_json_is_still_ok() {
    let server = server(|c| c.ok_body = OkBody::Malformed);
    let (_, results) = run_rows(&server.url(), 1, &[], 0);
    let r = only(&results);
    assert_eq!((r["outcome"].as_str(), r["attempts"].as_str()), ("ok", "1"));
    assert!(
        r["error"].starts_with("answered 2xx, but the answer could not be read"),
        "{r:?}"
    );
    assert_eq!(r["remote_status"], "");
}

#[test]
fn a_200_with_a_huge_body_is_cut() {
    let server = server(|c| c.ok_body = OkBody::Huge);
    let (_, results) = run_rows(&server.url(), 2, &[], 0);
    for r in &results {
        assert_eq!(r["outcome"], "ok");
        assert!(
            r["error"].contains("answer longer than 262144 bytes, cut"),
            "{r:?}"
        );
    }
}

#[test]
fn other_4xx_are_rejected_with_or_without_a_json_body() {
    for (status, body, expected) in [
        (
            400,
            ErrorBody::Json,
            "HTTP 400: Injected error (internal_code 400)",
        ),
        (404, ErrorBody::Empty, "HTTP 404: no body"),
        (
            422,
            ErrorBody::Json,
            "HTTP 422: Injected error (internal_code 422)",
        ),
        (422, ErrorBody::Html, "HTTP 422: <html>"),
    ] {
        let server = server(|c| {
            c.error_rate = 1.0;
            c.error_status = status;
            c.error_body = body;
        });
        let (_, results) = run_rows(&server.url(), 1, &[], 3);
        let r = only(&results);
        assert_eq!(
            (r["outcome"].as_str(), r["attempts"].as_str()),
            ("rejected", "1"),
            "{status}"
        );
        assert!(r["error"].starts_with(expected), "{status}: {r:?}");
    }
}

#[test]
fn an_untrusted_certificate_fails_at_once_with_its_cause() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = handshakes.clone();
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    runtime.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(stream).await;
            });
        }
    });
    let url = format!("https://127.0.0.1:{port}");
    let (out, results) = run_rows(&url, 3, &["--retries", "3"], 3);
    for r in &results {
        assert_eq!(
            (r["outcome"].as_str(), r["attempts"].as_str()),
            ("failed", "1"),
            "{}",
            out.describe()
        );
        assert!(r["error"].contains("certificate is not trusted"), "{r:?}");
    }
    assert_eq!(
        handshakes.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "no retry storm: one handshake a row"
    );
}

#[test]
fn five_percent_transient_failures_still_end_all_ok() {
    let server = server(|c| c.error_rate = 0.05);
    let (_, results) = run_rows(
        &server.url(),
        300,
        &["--retries", "6", "--concurrency", "16"],
        0,
    );
    assert_eq!(results.len(), 300);
    assert!(results.iter().all(|r| r["outcome"] == "ok"));
    let attempts: u64 = results
        .iter()
        .map(|r| r["attempts"].parse::<u64>().unwrap())
        .sum();
    assert_eq!(
        attempts,
        server.stats().requests,
        "every attempt is counted"
    );
}

#[test]
fn a_dead_url_stops_the_run_with_exit_6_and_a_resume_completes_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{port}");
    let dir = Workdir::new();
    let uuids = dir.write_fresh("in.csv", 40, "OK", "");
    let started = std::time::Instant::now();
    let out = dir
        .run_at(&dead, "in.csv", &["--rate", "1000", "--retries", "1"])
        .expect(6);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{}",
        out.describe()
    );
    out.stderr_has("the server could not be reached")
        .stderr_has("--resume");
    let results = dir.results("in.results.csv");
    assert_eq!(results.len(), 40, "every row is recorded");
    let failed = results.iter().filter(|r| r["outcome"] == "failed").count();
    let cancelled = results
        .iter()
        .filter(|r| r["outcome"] == "cancelled")
        .count();
    assert_eq!(failed + cancelled, 40);
    // The stop comes at the tenth row in a row without an answer; the rows then in flight
    // (concurrency 4) still end.
    assert!((10..=13).contains(&failed), "{failed} failed");
    assert!(
        results
            .iter()
            .filter(|r| r["outcome"] == "cancelled")
            .all(|r| r["attempts"] == "0")
    );
    // The server is back: a resume sends every row once, and a second resume sends nothing.
    let server = server(|_| {});
    let url = server.url();
    dir.run_at(&url, "in.csv", &["--rate", "1000", "--resume"])
        .expect(0);
    let mut sent: Vec<String> = server
        .received()
        .iter()
        .map(|r| {
            r.body.as_ref().unwrap()["auth_uuid"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    sent.sort();
    let mut expected = uuids.clone();
    expected.sort();
    assert_eq!(sent, expected, "each row sent exactly once");
    dir.run_at(&url, "in.csv", &["--rate", "1000", "--resume"])
        .expect(0);
    assert_eq!(server.stats().requests, 40, "nothing is sent twice");
}

#[test]
fn a_tls_protocol_version_refusal_is_final() {
    // A server that answers every ClientHello with a fatal protocol_version alert.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = handshakes.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut hello = [0u8; 512];
            let _ = std::io::Read::read(&mut stream, &mut hello);
            let _ =
                std::io::Write::write_all(&mut stream, &[0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]);
        }
    });
    let url = format!("https://127.0.0.1:{port}");
    let (out, results) = run_rows(&url, 2, &["--retries", "3"], 3);
    for r in &results {
        assert_eq!(
            (r["outcome"].as_str(), r["attempts"].as_str()),
            ("failed", "1"),
            "{}",
            out.describe()
        );
        assert!(r["error"].contains("retrying cannot fix this"), "{r:?}");
    }
    assert_eq!(handshakes.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[test]
fn a_connect_timeout_is_reported_as_such() {
    // A listener that never accepts, its queue full: the next connection is never completed.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let socket = runtime
        .block_on(async { tokio::net::TcpSocket::new_v4() })
        .unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    let _listener = runtime.block_on(async { socket.listen(1) }).unwrap();
    let mut queued = Vec::new();
    for _ in 0..4 {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        if let Ok(stream) =
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(300))
        {
            queued.push(stream);
        }
    }
    let url = format!("http://127.0.0.1:{port}");
    let (out, results) = run_rows(
        &url,
        1,
        &["--retries", "0", "--connect-timeout", "300ms"],
        3,
    );
    let r = only(&results);
    assert_eq!(r["outcome"], "failed", "{}", out.describe());
    assert_eq!(
        r["error"], "cannot connect: no connection within 300ms (--connect-timeout)",
        "{r:?}"
    );
}
