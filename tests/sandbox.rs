//! The sandbox over loopback with a real HTTP client: the vendor's semantics, each fault
//! flag, the inspection endpoints, and the `sandbox` subcommand on port 0.

mod common;

use std::io::BufRead;
use std::time::Duration;

use common::{KEY, TestServer, Workdir, bundled_uuids};
use serde_json::{Value, json};
use tecalis_status::sandbox::ErrorBody;

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

fn patch(server: &TestServer, body: Value) -> Result<Answer, reqwest::Error> {
    let url = format!("{}/customer/status", server.url());
    server.block_on(async move {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()?;
        let response = client.patch(url).json(&body).send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        Ok(Answer {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    })
}

fn get(server: &TestServer, path: &str) -> (u16, Value) {
    let url = format!("{}{path}", server.url());
    server.block_on(async move {
        let response = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(url)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    })
}

#[test]
fn a_match_answers_200_with_every_vendor_field() {
    let server = TestServer::start(|_| {});
    let (mine, _) = bundled_uuids();
    let answer = patch(
        &server,
        json!({"auth_uuid": mine[0], "api_key": KEY, "state": "KO", "reasons": "Foto borrosa"}),
    )
    .unwrap();
    assert_eq!(answer.status, 200);
    let data = &answer.body["data"];
    for field in [
        "name",
        "document_number",
        "document_type",
        "process_uuid",
        "nationality",
        "auth_uuid",
        "company",
        "profile_alias",
        "status",
        "status_reasons",
        "created_at",
        "updated_at",
        "cleaned",
        "operations",
    ] {
        assert!(data.get(field).is_some(), "missing {field} in {data}");
    }
    assert!(data.get("api_key").is_none(), "the key is never returned");
    assert_eq!(data["status"], "KO");
    assert_eq!(data["status_reasons"], "Foto borrosa");
    let operation = &data["operations"][0];
    for field in ["type", "operation", "state", "total_time"] {
        assert!(
            operation.get(field).is_some(),
            "missing {field} in {operation}"
        );
    }
    assert_eq!(server.process(&mine[0]).status, "KO");
}

#[test]
fn a_mismatch_answers_the_vendors_401() {
    let server = TestServer::start(|_| {});
    let (mine, theirs) = bundled_uuids();
    let wrong_key = patch(
        &server,
        json!({"auth_uuid": mine[0], "api_key": "wrong", "state": "OK"}),
    )
    .unwrap();
    assert_eq!(wrong_key.status, 401);
    assert_eq!(
        wrong_key.body,
        json!({"internal_code": 401, "message": "Not authorized"})
    );
    let other_customer = patch(
        &server,
        json!({"auth_uuid": theirs[0], "api_key": KEY, "state": "OK"}),
    )
    .unwrap();
    assert_eq!(other_customer.status, 401);
    let unknown = patch(
        &server,
        json!({"auth_uuid": "01930000-0000-7000-8000-0000000000ff", "api_key": KEY, "state": "OK"}),
    )
    .unwrap();
    assert_eq!(unknown.status, 401);
    assert_eq!(
        server.process(&mine[0]).status,
        "PENDING",
        "a 401 changes nothing"
    );
}

#[test]
fn reasons_are_kept_when_absent_and_replaced_when_present() {
    let server = TestServer::start(|_| {});
    let (mine, _) = bundled_uuids();
    let before = server.process(&mine[1]).status_reasons.clone();
    assert!(before.is_some());
    let answer = patch(
        &server,
        json!({"auth_uuid": mine[1], "api_key": KEY, "state": "OK"}),
    )
    .unwrap();
    assert_eq!(answer.body["data"]["status_reasons"], json!(before));
    assert_eq!(server.process(&mine[1]).status_reasons, before);
    patch(
        &server,
        json!({"auth_uuid": mine[1], "api_key": KEY, "state": "KO", "reasons": ""}),
    )
    .unwrap();
    assert_eq!(server.process(&mine[1]).status_reasons.as_deref(), Some(""));
    patch(
        &server,
        json!({"auth_uuid": mine[1], "api_key": KEY, "state": "KO", "reasons": "nuevo"}),
    )
    .unwrap();
    assert_eq!(
        server.process(&mine[1]).status_reasons.as_deref(),
        Some("nuevo")
    );
}

#[test]
fn unknown_processes_are_created_only_when_asked() {
    let server = TestServer::start(|c| c.accept_unknown = true);
    let uuid = "01930000-0000-7000-8000-0000000000aa";
    assert_eq!(
        patch(
            &server,
            json!({"auth_uuid": uuid, "api_key": "k1", "state": "OK"})
        )
        .unwrap()
        .status,
        200
    );
    assert_eq!(
        patch(
            &server,
            json!({"auth_uuid": uuid, "api_key": "k2", "state": "OK"})
        )
        .unwrap()
        .status,
        401,
        "now owned by k1"
    );
    assert_eq!(server.process(uuid).status, "OK");
}

#[test]
fn malformed_bodies_get_a_json_400_and_other_routes_404_or_405() {
    let server = TestServer::start(|c| c.prefix = "/v1".into());
    assert!(server.url().ends_with("/v1"));
    let (mine, _) = bundled_uuids();
    for body in [
        json!("text"),
        json!({"auth_uuid": mine[0], "state": "OK"}),
        json!({"auth_uuid": mine[0], "api_key": KEY, "state": "MAYBE"}),
        json!({"auth_uuid": mine[0], "api_key": KEY, "state": "OK", "reasons": 5}),
    ] {
        let answer = patch(&server, body.clone()).unwrap();
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(answer.body["internal_code"], 400);
        assert!(answer.body["message"].is_string());
    }
    let base = server.url().trim_end_matches("/v1").to_string();
    let (status, body) = server.block_on(async {
        let r = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .patch(format!("{base}/customer/status"))
            .body("{}")
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    assert_eq!(status, 404, "{body}");
    let status = server.block_on(async {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(format!("{base}/v1/customer/status"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 405);
}

#[test]
fn the_error_rate_answers_the_configured_status() {
    let server = TestServer::start(|c| {
        c.error_rate = 1.0;
        c.error_status = 502;
    });
    let (mine, _) = bundled_uuids();
    let answer = patch(
        &server,
        json!({"auth_uuid": mine[0], "api_key": KEY, "state": "OK"}),
    )
    .unwrap();
    assert_eq!(answer.status, 502);
    assert_eq!(
        server.process(&mine[0]).status,
        "PENDING",
        "an injected error applies nothing"
    );
}

/// Sends requests one after another, each with a new client, until one is answered 429
/// (or 200 have been sent), and gives the answers.
fn until_throttled(server: &TestServer) -> Vec<Answer> {
    let (mine, _) = bundled_uuids();
    let mut answers = Vec::new();
    for i in 0..200 {
        let uuid = &mine[i % mine.len()];
        let answer = patch(
            server,
            json!({"auth_uuid": uuid, "api_key": KEY, "state": "OK"}),
        )
        .unwrap();
        let throttled = answer.status == 429;
        answers.push(answer);
        if throttled {
            break;
        }
    }
    answers
}

/// The arrival times (ms) of the requests the server accepted, from its own record.
fn accepted_at(server: &TestServer) -> Vec<f64> {
    server
        .received()
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.at_ms)
        .collect()
}

#[test]
fn the_rate_limit_answers_429_with_retry_after_in_a_sliding_window() {
    let server = TestServer::start(|c| c.rate_limit = Some(2));
    let answers = until_throttled(&server);
    let last = answers.last().unwrap();
    assert_eq!(last.status, 429, "never throttled in 200 requests");
    assert_eq!(last.headers["retry-after"], "1");
    assert_eq!(last.body["internal_code"], 429);
    // Whatever the machine's speed: the accepted requests, by the server's own clock, never
    // number more than 2 in any 1-s window, and the 429 came with 2 accepted in the second
    // before it.
    let accepted = accepted_at(&server);
    for pair in accepted.windows(3) {
        assert!(
            pair[2] - pair[0] >= 999.0,
            "3 accepted within 1 s: {accepted:?}"
        );
    }
    let refused = server.received().last().unwrap().at_ms;
    let recent = accepted.iter().filter(|at| refused - **at < 1000.0).count();
    assert_eq!(recent, 2, "{accepted:?}, refused at {refused}");
}

#[test]
fn the_rate_limit_can_answer_without_retry_after() {
    let server = TestServer::start(|c| {
        c.rate_limit = Some(1);
        c.retry_after = Some(tecalis_status::sandbox::NO_RETRY_AFTER.into());
    });
    let answers = until_throttled(&server);
    let last = answers.last().unwrap();
    assert_eq!(last.status, 429);
    assert!(
        last.headers.get("retry-after").is_none(),
        "{:?}",
        last.headers
    );
    assert_eq!(server.stats().by_status[&429], 1);
}

#[test]
fn dropped_connections_get_no_answer() {
    let server = TestServer::start(|c| c.drop_rate = 1.0);
    let (mine, _) = bundled_uuids();
    let error = patch(
        &server,
        json!({"auth_uuid": mine[0], "api_key": KEY, "state": "OK"}),
    )
    .err()
    .expect("no answer");
    assert!(!error.is_timeout(), "{error:?}");
    assert_eq!(server.stats().dropped, 1);
    assert_eq!(server.received()[0].status, 0);
}

#[test]
fn slow_answers_come_after_the_delay_and_latency_is_added() {
    let server = TestServer::start(|c| {
        c.slow_rate = 1.0;
        c.slow_delay = Duration::from_secs(3600);
    });
    let (mine, _) = bundled_uuids();
    let url = format!("{}/customer/status", server.url());
    let body = json!({"auth_uuid": mine[0], "api_key": KEY, "state": "OK"});
    let error = server.block_on(async move {
        reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap()
            .patch(url)
            .json(&body)
            .send()
            .await
            .err()
    });
    assert!(error.expect("no answer in time").is_timeout());
    assert_eq!(server.stats().slow, 1);

    let server = TestServer::start(|c| c.latency = Duration::from_millis(150));
    let started = std::time::Instant::now();
    let answer = patch(
        &server,
        json!({"auth_uuid": mine[0], "api_key": KEY, "state": "OK"}),
    )
    .unwrap();
    assert_eq!(answer.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[test]
fn inspection_shows_requests_counters_and_processes() {
    let server = TestServer::start(|_| {});
    let (mine, _) = bundled_uuids();
    patch(
        &server,
        json!({"auth_uuid": mine[0], "api_key": KEY, "state": "OK"}),
    )
    .unwrap();
    patch(
        &server,
        json!({"auth_uuid": mine[0], "api_key": "nope", "state": "KO", "reasons": "r"}),
    )
    .unwrap();
    let (status, requests) = get(&server, "/_sandbox/requests");
    assert_eq!(status, 200);
    assert_eq!(requests.as_array().unwrap().len(), 2);
    assert_eq!(
        requests[0]["body"],
        json!({"auth_uuid": mine[0], "state": "OK"}),
        "the key is removed"
    );
    assert_eq!(requests[0]["key_matched"], true);
    assert_eq!(requests[1]["key_matched"], false);
    assert_eq!(requests[1]["status"], 401);
    assert_eq!(requests[1]["body"]["reasons"], "r");
    let (_, stats) = get(&server, "/_sandbox/stats");
    assert_eq!(stats["requests"], 2);
    assert_eq!(stats["by_status"]["200"], 1);
    assert_eq!(stats["by_status"]["401"], 1);
    assert_eq!(stats["max_in_flight"], 1);
    let (status, process) = get(&server, &format!("/_sandbox/processes/{}", mine[0]));
    assert_eq!(status, 200);
    assert_eq!(process["data"]["status"], "OK");
    assert_eq!(get(&server, "/_sandbox/processes/nope").0, 404);
    let reset = server.block_on(async {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(format!("{}/_sandbox/reset", server_base(&server)))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(reset, 204);
    assert_eq!(get(&server, "/_sandbox/stats").1["requests"], 0);
}

fn server_base(server: &TestServer) -> String {
    server.url()
}

#[test]
fn concurrent_requests_are_counted_in_flight() {
    // Each answer is held 5 s, far longer than five requests take to arrive even on a loaded
    // machine; the test waits on the server's own count, not on a clock.
    let server = TestServer::start(|c| {
        c.slow_rate = 1.0;
        c.slow_delay = Duration::from_secs(5);
    });
    let (mine, _) = bundled_uuids();
    let url = format!("{}/customer/status", server.url());
    let requests = server.block_on(async move {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        mine.iter()
            .take(5)
            .map(|uuid| {
                let request = client
                    .patch(&url)
                    .json(&json!({"auth_uuid": uuid, "api_key": KEY, "state": "OK"}))
                    .send();
                tokio::spawn(async move { request.await.map(|r| r.status().as_u16()) })
            })
            .collect::<Vec<_>>()
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while server.stats().in_flight < 5 {
        assert!(
            std::time::Instant::now() < deadline,
            "five requests never in flight together: {:?}",
            server.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let statuses = server.block_on(async move {
        let mut statuses = Vec::new();
        for request in requests {
            statuses.push(request.await.unwrap().unwrap());
        }
        statuses
    });
    assert_eq!(statuses, vec![200; 5]);
    let stats = server.stats();
    assert_eq!(stats.max_in_flight, 5, "{stats:?}");
    assert_eq!(stats.in_flight, 0, "{stats:?}");
    assert_eq!(stats.slow, 5, "{stats:?}");
}

#[test]
fn the_echo_body_quotes_the_request_back_key_included() {
    let server = TestServer::start(|c| {
        c.error_rate = 1.0;
        c.error_status = 422;
        c.error_body = ErrorBody::Echo;
    });
    let (mine, _) = bundled_uuids();
    let sent = json!({"auth_uuid": mine[0], "api_key": KEY, "state": "OK"});
    let answer = patch(&server, sent.clone()).unwrap();
    assert_eq!(answer.status, 422);
    assert_eq!(answer.body["internal_code"], 422);
    assert_eq!(answer.body["request"], sent);
    let message = answer.body["message"].as_str().unwrap();
    assert!(message.contains(KEY), "{message}");
    // Its own record still leaves the key out.
    assert_eq!(
        server.received()[0].body,
        Some(json!({"auth_uuid": mine[0], "state": "OK"}))
    );
}

#[test]
fn the_hostile_and_huge_bodies_carry_their_messages() {
    let (mine, _) = bundled_uuids();
    for (body, check) in [
        (
            ErrorBody::Hostile,
            Box::new(|m: &str| {
                assert_eq!(m, tecalis_status::sandbox::HOSTILE_MESSAGE);
                assert!(m.contains("\u{1b}]0;pwned\u{7}\u{1b}[2J") && m.contains("\r\nSummary: "));
            }) as Box<dyn Fn(&str)>,
        ),
        (
            ErrorBody::Huge,
            Box::new(|m: &str| {
                assert_eq!(m.chars().count(), 200_000);
            }),
        ),
    ] {
        let server = TestServer::start(|c| {
            c.error_rate = 1.0;
            c.error_status = 503;
            c.error_body = body;
        });
        let answer = patch(
            &server,
            json!({"auth_uuid": mine[0], "api_key": KEY, "state": "OK"}),
        )
        .unwrap();
        assert_eq!(answer.status, 503, "{body:?}");
        assert_eq!(answer.body["internal_code"], 503);
        check(answer.body["message"].as_str().expect("a JSON message"));
    }
}

#[test]
fn ignore_changes_answers_200_with_the_state_unchanged() {
    let server = TestServer::start(|c| c.ignore_changes = true);
    let (mine, _) = bundled_uuids();
    let before = server.process(&mine[0]);
    assert_eq!(before.status, "PENDING");
    let answer = patch(
        &server,
        json!({"auth_uuid": mine[0], "api_key": KEY, "state": "KO", "reasons": "nuevo"}),
    )
    .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body["data"]["status"], "PENDING",
        "the echo differs from KO"
    );
    assert_eq!(answer.body["data"]["auth_uuid"], mine[0].as_str());
    assert_eq!(server.process(&mine[0]), before, "nothing applied");
    // The key is still checked.
    let wrong = patch(
        &server,
        json!({"auth_uuid": mine[0], "api_key": "wrong", "state": "KO"}),
    )
    .unwrap();
    assert_eq!(wrong.status, 401);
}

#[test]
fn the_request_log_is_capped_by_bytes() {
    let server = TestServer::start(|c| c.keep_bytes = 50_000);
    let (mine, _) = bundled_uuids();
    let reasons = "r".repeat(20_000);
    for _ in 0..10 {
        let answer = patch(
            &server,
            json!({"auth_uuid": mine[0], "api_key": KEY, "state": "KO", "reasons": reasons}),
        )
        .unwrap();
        assert_eq!(answer.status, 200);
    }
    let kept: Vec<u64> = server.received().iter().map(|r| r.seq).collect();
    assert_eq!(kept, vec![9, 10], "the newest two of 10 bodies of 20 KB");
    let stats = server.stats();
    assert!(
        stats.kept_bytes <= 50_000 && stats.kept_bytes > 40_000,
        "{stats:?}"
    );
    assert_eq!(stats.requests, 10);
}

/// Reads from a raw connection until the server closes it (or the deadline), and gives
/// what it sent.
fn read_until_closed(stream: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return String::from_utf8_lossy(&answer).into_owned(),
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return String::from_utf8_lossy(&answer).into_owned();
            }
            Err(e) => panic!("the server held the connection open: {e}"),
        }
    }
}

#[test]
fn idle_and_half_open_connections_are_closed() {
    use std::io::Write;
    let server = TestServer::start(|c| c.idle_timeout = Duration::from_secs(1));
    let addr = server.url().trim_start_matches("http://").to_string();
    let (mine, _) = bundled_uuids();

    // Half a request head, then nothing.
    let mut half_open = std::net::TcpStream::connect(&addr).unwrap();
    half_open
        .write_all(b"PATCH /customer/status HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    // A head that announces a body that never comes.
    let mut no_body = std::net::TcpStream::connect(&addr).unwrap();
    no_body
        .write_all(b"PATCH /customer/status HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    // A whole request, then an idle keep-alive connection.
    let mut idle = std::net::TcpStream::connect(&addr).unwrap();
    let body = json!({"auth_uuid": mine[0], "api_key": KEY, "state": "OK"}).to_string();
    write!(
        idle,
        "PATCH /customer/status HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();

    assert_eq!(read_until_closed(&mut half_open), "");
    let answer = read_until_closed(&mut no_body);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let answer = read_until_closed(&mut idle);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(server.stats().requests, 1, "only the whole request counts");
}

#[test]
fn the_idle_timeout_does_not_cut_a_request_being_answered() {
    let server = TestServer::start(|c| {
        c.idle_timeout = Duration::from_millis(300);
        c.slow_rate = 1.0;
        c.slow_delay = Duration::from_secs(2);
    });
    let (mine, _) = bundled_uuids();
    let answer = patch(
        &server,
        json!({"auth_uuid": mine[0], "api_key": KEY, "state": "OK"}),
    )
    .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(server.stats().slow, 1);
}

#[test]
fn the_subcommand_prints_its_address_first_on_port_0() {
    let dir = Workdir::new();
    // Every new flag, so that the command's mapping to the sandbox's config is exercised.
    let mut child = dir
        .cmd(&[
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--ignore-changes",
            "--rate-limit",
            "1000",
            "--retry-after",
            "none",
            "--error-body",
            "hostile",
            "--keep-bytes",
            "100000",
            "--idle-timeout",
            "10s",
        ])
        .spawn();
    let stdout = child.stdout.take().unwrap();
    let mut first = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut first)
        .unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );
    let (mine, _) = bundled_uuids();
    let (status, body) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let response = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .patch(format!("{url}/customer/status"))
            .json(&json!({"auth_uuid": mine[0], "api_key": KEY, "state": "OK"}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    });
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["status"], "PENDING",
        "--ignore-changes: {body}"
    );
    terminate(&child);
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "the sandbox exits cleanly on SIGTERM: {status:?}"
    );
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        !stderr.contains("beyond loopback"),
        "no warning on loopback: {stderr}"
    );
}

fn terminate(child: &std::process::Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}
