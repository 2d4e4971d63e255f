//! The sandbox over loopback with a real HTTP client: the vendor's semantics, each fault
//! flag, the inspection endpoints, and the `sandbox` subcommand on port 0.

mod common;

use std::io::BufRead;
use std::time::Duration;

use common::{KEY, TestServer, Workdir, bundled_uuids};
use serde_json::{Value, json};

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

#[test]
fn the_rate_limit_answers_429_with_retry_after() {
    let server = TestServer::start(|c| c.rate_limit = Some(2));
    let (mine, _) = bundled_uuids();
    let statuses: Vec<u16> = (0..5)
        .map(|i| {
            patch(
                &server,
                json!({"auth_uuid": mine[i], "api_key": KEY, "state": "OK"}),
            )
            .unwrap()
        })
        .map(|a| {
            if a.status == 429 {
                assert_eq!(a.headers["retry-after"], "1");
                assert_eq!(a.body["internal_code"], 429);
            }
            a.status
        })
        .collect();
    // Five requests in well under a second (or straddling one boundary): at least one 429.
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().filter(|s| **s == 200).count() <= 4,
        "{statuses:?}"
    );
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
fn the_subcommand_prints_its_address_first_on_port_0() {
    let dir = Workdir::new();
    let mut child = dir.cmd(&["sandbox", "--listen", "127.0.0.1:0"]).spawn();
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
    let status = tokio::runtime::Runtime::new().unwrap().block_on(async {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .patch(format!("{url}/customer/status"))
            .json(&json!({"auth_uuid": mine[0], "api_key": KEY, "state": "OK"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 200);
    terminate(&child);
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "the sandbox exits cleanly on SIGTERM: {status:?}"
    );
}

fn terminate(child: &std::process::Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}
