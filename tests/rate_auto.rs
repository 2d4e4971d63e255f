//! `--rate auto` end to end against the sandbox with a hidden rate limit: every row ends ok,
//! the `--max-rate` ceiling holds by the server's own clock, the run beats the default fixed
//! rate, and the summary names the rate settled on. Timings are the benchmark's
//! (bench/rate_auto.sh); the bounds here are generous for a loaded 2-core machine.

mod common;

use std::time::Duration;

use common::{TestServer, Workdir};
use tecalis_status::sandbox::Received;

/// The most requests the server received in any sliding 1-s window (by its own clock).
fn busiest_second(received: &[Received]) -> usize {
    let at: Vec<f64> = received.iter().map(|r| r.at_ms).collect();
    let mut most = 0;
    let mut start = 0;
    for end in 0..at.len() {
        while at[end] - at[start] >= 1000.0 {
            start += 1;
        }
        most = most.max(end - start + 1);
    }
    most
}

/// Every row of the results is `ok`, one per input row.
fn assert_all_ok(w: &Workdir, results: &str, rows: usize) {
    let results = w.results(results);
    assert_eq!(results.len(), rows);
    let not_ok: Vec<_> = results.iter().filter(|r| r["outcome"] != "ok").collect();
    assert!(not_ok.is_empty(), "rows not ok: {not_ok:?}");
}

/// The server's count of answers with `status`.
fn answered(received: &[Received], status: u16) -> usize {
    received.iter().filter(|r| r.status == status).count()
}

#[test]
fn auto_rate_settles_under_a_hidden_limit_of_8_per_second() {
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.rate_limit = Some(8);
    });
    let w = Workdir::new();
    // 15 s of work at 8/s: more than the 10 windows of a second after the first 429 that the
    // suggestion needs.
    w.write_fresh("in.csv", 120, "OK", "");
    let out = w
        .run_at(
            &server.url(),
            "in.csv",
            &["--rate", "auto", "--summary-json", "s.json"],
        )
        .expect(0);
    assert_all_ok(&w, "in.results.csv", 120);
    let received = server.received();
    assert_eq!(answered(&received, 200), 120, "each row taken once");
    // Slow start passes 8/s, so the limit is met; then the controller backs off: a few 429s
    // while it finds the limit, not a stream of them.
    let throttled = answered(&received, 429);
    assert!(
        (1..=12).contains(&throttled),
        "{throttled} of {} requests answered 429\n{}",
        received.len(),
        out.describe()
    );
    // The summary names the rate settled on, and the rate to pass next time: what the server
    // sustained, never above its limit, not below 85% of it.
    let json: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    let rate = &json["rate"];
    assert_eq!(rate["mode"], "auto", "{json}");
    let settled = rate["settled_per_second"].as_f64().expect("a settled rate");
    assert!((3.0..=9.0).contains(&settled), "settled at {settled}/s");
    // Never above the limit. Not below 85% of it on an idle machine (BENCHMARKS.md); the
    // lower bound here is generous, as a loaded machine's jitter costs extra 429s, and each
    // shortens the span the suggestion is measured over.
    let sustained = rate["sustained_per_second"].as_f64().expect("a suggestion");
    assert!((4.0..=8.0).contains(&sustained), "sustained {sustained}/s");
    let suggested = rate["suggested_rate"].as_str().unwrap();
    let flag: f64 = suggested.parse().unwrap();
    assert!(
        flag <= sustained && flag > sustained - 0.1,
        "{suggested} for {sustained}"
    );
    out.stderr_has(&format!("Rate: auto, settled at {settled:.1}/s"))
        .stderr_has(&format!("pass --rate {suggested} next time"))
        .stderr_has("--rate auto: throttled");
}

#[test]
fn auto_rate_beats_the_default_rate_against_40_per_second_with_latency() {
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.rate_limit = Some(40);
        c.latency = Duration::from_millis(150);
    });
    let w = Workdir::new();
    let rows = 200;
    w.write_fresh("in.csv", rows, "OK", "");
    let out = w
        .run_at(
            &server.url(),
            "in.csv",
            &["--rate", "auto", "--log-every", "500ms"],
        )
        .expect(0);
    assert_all_ok(&w, "in.results.csv", rows);
    let received = server.received();
    assert_eq!(answered(&received, 200), rows);
    // The default fixed rate of 10/s would need 19.9 s between the first request and the
    // last (ideal at 40/s: 5 s); 150 ms of latency does not cap the rate in auto mode.
    let span = received.last().unwrap().at_ms - received[0].at_ms;
    assert!(
        span < 19_900.0,
        "auto took {span} ms, no faster than 10/s\n{}",
        out.describe()
    );
    // The progress log lines show the current rate.
    out.stderr_has("(auto rate ");
}

#[test]
fn auto_rate_never_passes_max_rate() {
    // No limit on the server: only --max-rate holds the rate.
    let server = TestServer::start(|c| c.accept_unknown = true);
    let w = Workdir::new();
    w.write_fresh("in.csv", 60, "OK", "");
    let out = w
        .run_at(
            &server.url(),
            "in.csv",
            &["--rate", "auto", "--max-rate", "15"],
        )
        .expect(0);
    assert_all_ok(&w, "in.results.csv", 60);
    let received = server.received();
    assert_eq!(received.len(), 60, "no 429, no retry");
    // The pacer's own schedule never passes 15/s: 60 requests need at least 59/15 = 3.9 s
    // (a loaded machine only makes it slower). Arrival times on the server also carry the
    // network's and the scheduler's jitter, so a 1-s window gets a margin of three.
    let span = received.last().unwrap().at_ms - received[0].at_ms;
    assert!(
        span >= 3_600.0,
        "60 requests in {span} ms: faster than 15/s"
    );
    let most = busiest_second(&received);
    assert!(most <= 18, "{most} requests in one second, --max-rate 15");
    out.stderr_has("the server never throttled: its limit was not found");
}

#[test]
fn auto_rate_backs_off_on_429_without_retry_after() {
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.rate_limit = Some(20);
        c.retry_after = Some(tecalis_status::sandbox::NO_RETRY_AFTER.into());
    });
    let w = Workdir::new();
    w.write_fresh("in.csv", 100, "OK", "");
    let out = w
        .run_at(
            &server.url(),
            "in.csv",
            &["--rate", "auto", "--summary-json", "s.json"],
        )
        .expect(0);
    assert_all_ok(&w, "in.results.csv", 100);
    let received = server.received();
    let throttled = answered(&received, 429);
    assert!(
        throttled <= 20,
        "{throttled} of {} requests answered 429\n{}",
        received.len(),
        out.describe()
    );
    let json: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    // 100 rows at 5/s rising: the limit of 20/s is found within the run.
    assert_eq!(json["rate"]["limit_found"], true, "{json}");
    let settled = json["rate"]["settled_per_second"].as_f64().unwrap();
    assert!((8.0..=22.0).contains(&settled), "settled at {settled}/s");
    out.stderr_has("Rate: auto, settled at ")
        .stderr_has(" next time");
}

/// Rows per outcome in a results file.
fn outcomes(w: &Workdir, results: &str) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for row in w.results(results) {
        *counts.entry(row["outcome"].clone()).or_default() += 1;
    }
    counts
}

#[test]
fn a_quota_longer_than_max_retry_after_stops_the_run_with_exit_7() {
    // 20 per minute: the 21st request is told to wait the rest of the minute, far longer
    // than --max-retry-after 2s. Before, the wait was cut to 2 s and retried again and again.
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.limit_per_minute = Some(20);
    });
    let w = Workdir::new();
    w.write_fresh("in.csv", 40, "OK", "");
    let out = w
        .run_at(
            &server.url(),
            "in.csv",
            &[
                "--rate",
                "50",
                "--max-retry-after",
                "2s",
                "--summary-json",
                "s.json",
            ],
        )
        .expect(7);
    let received = server.received();
    // The server took 20; the requests in flight when the first 429 came (at most the
    // default concurrency of 4) were refused, and nothing was sent after them.
    assert_eq!(answered(&received, 200), 20, "{}", out.describe());
    let throttled = answered(&received, 429);
    assert!((1..=4).contains(&throttled), "{throttled} answered 429");
    assert_eq!(received.len(), 20 + throttled, "no retry after the quota");
    // Every input row accounted for: ok, failed (the 429s), cancelled (not sent).
    let counts = outcomes(&w, "in.results.csv");
    assert_eq!(counts.get("ok"), Some(&20), "{counts:?}");
    assert_eq!(counts.get("failed"), Some(&throttled), "{counts:?}");
    assert_eq!(
        counts.get("cancelled"),
        Some(&(20 - throttled)),
        "{counts:?}"
    );
    // The summary says when the server takes requests again and the command to run then.
    let json: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    assert_eq!(json["exit_code"], 7, "{json}");
    assert_eq!(json["stopped"], "quota", "{json}");
    let quota = &json["quota"];
    let wait = quota["wait_seconds"].as_f64().unwrap();
    assert!((2.0..=60.0).contains(&wait), "{json}");
    let again = quota["takes_requests_again_at"].as_str().unwrap();
    assert!(humantime::parse_rfc3339(again).is_ok(), "{again}");
    let resume = quota["resume_command"].as_str().unwrap();
    assert!(resume.ends_with("--resume"), "{resume}");
    out.stderr_has("Quota: the server asked to wait")
        .stderr_has(&format!("it takes requests again at {again}"))
        .stderr_has(&format!("The server takes requests again at {again}."))
        .stderr_has("add --max-retry-after 1m to wait through such pauses")
        .stderr_has(resume);
    // report, later, repeats when: the resume it advises is for then.
    let report = w.cmd(&["report", "in.results.csv"]).run();
    assert_eq!(report.code, 3, "{}", report.describe());
    assert!(
        report
            .stdout
            .contains(&format!("takes requests again at {again}")),
        "{}",
        report.describe()
    );
}

#[test]
fn a_fixed_rate_above_the_limit_is_called_out_with_its_429s_and_what_the_server_took() {
    // A new user's guess: --rate 100 against a limit of 30/s. Before, neither the summary nor
    // its JSON said that answers were 429.
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.rate_limit = Some(30);
    });
    let w = Workdir::new();
    w.write_fresh("in.csv", 150, "OK", "");
    let out = w
        .run_at(
            &server.url(),
            "in.csv",
            &[
                "--rate",
                "100",
                "--retries",
                "20",
                "--summary-json",
                "s.json",
            ],
        )
        .expect(0);
    assert_all_ok(&w, "in.results.csv", 150);
    let received = server.received();
    let throttled = answered(&received, 429);
    assert!(throttled > 0, "the limit was met\n{}", out.describe());
    let json: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    let rate = &json["rate"];
    assert_eq!(rate["mode"], "fixed", "{json}");
    // Every 429 the server answered is counted, and the pauses they called for.
    assert_eq!(rate["throttled_answers"], throttled as u64, "{json}");
    let paused = rate["paused_seconds"].as_f64().unwrap();
    assert!(paused >= 1.0, "{json}");
    // What the server took once it throttled: never more than its limit (plus one request
    // for the span's edges).
    let taken = rate["taken_after_throttling_per_second"].as_f64().unwrap();
    assert!(taken > 5.0 && taken <= 31.0, "{json}");
    if let Some(allowed) = rate["allowed_per_second"].as_f64() {
        assert!((25.5..=30.0).contains(&allowed), "{json}");
    }
    out.stderr_has(&format!(
        "Rate: fixed at 100/s, faster than the server allows: {throttled} answer(s) were 429"
    ))
    .stderr_has("once it began to throttle, the server took ");
}

#[test]
fn auto_rate_paces_from_rate_limit_headers_with_at_most_one_429() {
    use tecalis_status::sandbox::{LimitHeaders, LimitShape};
    for (shape, headers) in [
        (LimitShape::Sliding, LimitHeaders::XRatelimit),
        (LimitShape::Fixed, LimitHeaders::Ratelimit),
        (LimitShape::Sliding, LimitHeaders::Ietf),
    ] {
        let server = TestServer::start(|c| {
            c.accept_unknown = true;
            c.rate_limit = Some(30);
            c.limit_shape = shape;
            c.limit_headers = headers;
        });
        let w = Workdir::new();
        w.write_fresh("in.csv", 240, "OK", "");
        let out = w
            .run_at(
                &server.url(),
                "in.csv",
                &["--rate", "auto", "--summary-json", "s.json"],
            )
            .expect(0);
        assert_all_ok(&w, "in.results.csv", 240);
        let received = server.received();
        let throttled = answered(&received, 429);
        assert!(
            throttled <= 1,
            "{shape:?} {headers:?}: {throttled} answered 429\n{}",
            out.describe()
        );
        let json: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
        assert_eq!(json["rate"]["announced_per_second"], 30.0, "{json}");
        let suggested: f64 = json["rate"]["suggested_rate"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((25.5..=30.0).contains(&suggested), "{json}");
        // Paced near the limit, not far below it: 240 rows at 30/s take 8 s; the bound is
        // generous for a loaded machine.
        let span = received.last().unwrap().at_ms - received[0].at_ms;
        assert!(span >= 7_000.0, "{headers:?}: {span} ms, faster than 30/s");
        out.stderr_has("paced from the server's rate-limit headers");
    }
}

/// Issue 20, "Errors are not success": half the answers are 503s without `Retry-After` (each
/// row's first attempt; its retry succeeds). The successes used to raise the rate (slow start
/// climbs at each); now, while errors are one answer in ten or more of the last 20, it holds
/// at its start. With 18 rows that is so in any order of the answers: a row's success comes
/// after its error, so no 20 answers (nor the first few) ever hold fewer than one error in ten.
#[test]
fn a_storm_of_503s_never_raises_the_auto_rate() {
    let server = TestServer::start(|c| {
        c.accept_unknown = true;
        c.fail_first = 1;
    });
    let w = Workdir::new();
    w.write_fresh("in.csv", 18, "OK", "");
    w.run_at(
        &server.url(),
        "in.csv",
        &["--rate", "auto", "--summary-json", "s.json"],
    )
    .expect(0);
    assert_all_ok(&w, "in.results.csv", 18);
    let received = server.received();
    assert_eq!(answered(&received, 503), 18, "each row's first attempt");
    assert_eq!(answered(&received, 200), 18, "each row's retry");
    let json: serde_json::Value = serde_json::from_str(&w.read("s.json")).unwrap();
    // The first answer is an error, and so is every other one after it: the rate never rose.
    assert_eq!(json["rate"]["peak_per_second"], 5.0, "{json}");
    assert_eq!(json["rate"]["final_per_second"], 5.0, "{json}");
}
