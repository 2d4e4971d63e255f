//! The server's echo is the proof: a 200 whose echoed `status` is not the state sent is a
//! `mismatch` (counted, exit 3, reported, exported, sent again by `--resume`); other echoed
//! reasons only a warning; an unreadable 200 stays `ok` with a note.

mod common;

use common::{TestServer, Workdir, bundled_uuids, csv_input};
use serde_json::Value;

#[test]
fn a_change_that_did_not_take_is_a_mismatch_from_run_to_report_and_resume() {
    let dir = Workdir::new();
    let (mine, _) = bundled_uuids();
    let (already_ko, pending) = (mine[0].clone(), mine[1].clone());
    // A server that answers 200 without applying anything; one process is already KO with
    // reasons of its own, so that sending KO with other reasons agrees on the status only.
    let server = TestServer::start(|c| {
        c.ignore_changes = true;
        for p in &mut c.processes {
            if p.auth_uuid.to_string() == already_ko {
                p.status = "KO".into();
                p.status_reasons = Some("motivo antiguo".into());
            }
        }
    });
    dir.write(
        "in.csv",
        csv_input(&[
            (&already_ko, "KO", "motivo nuevo"),
            (&pending, "OK", "revisado"),
        ]),
    );
    let out = dir
        .run_at(&server.url(), "in.csv", &["--summary-json", "s.json"])
        .expect(3);
    out.stderr_has("mismatch")
        .stderr_has("Mismatch on 1 row(s)")
        .stderr_has("Reasons differ on 1 ok row(s)");
    assert_eq!(server.stats().requests, 2, "each row sent once, no retry");
    assert_eq!(
        server.process(&pending).status,
        "PENDING",
        "nothing applied"
    );

    let results = dir.results("in.results.csv");
    let row = |uuid: &str| results.iter().find(|r| r["auth_uuid"] == uuid).unwrap();
    let mismatch = row(&pending);
    assert_eq!(mismatch["outcome"], "mismatch");
    assert_eq!(mismatch["http_status"], "200");
    assert_eq!(mismatch["remote_status"], "PENDING");
    assert!(
        mismatch["error"].contains("echo says status PENDING, not OK"),
        "{mismatch:?}"
    );
    let warned = row(&already_ko);
    assert_eq!(warned["outcome"], "ok");
    assert_eq!(warned["remote_status_reasons"], "motivo antiguo");
    assert!(
        warned["error"].contains("status_reasons differ"),
        "{warned:?}"
    );

    let json: Value = serde_json::from_str(&dir.read("s.json")).unwrap();
    assert_eq!(json["counts"]["mismatch"], 1, "{json}");
    assert_eq!(json["counts"]["ok"], 1, "{json}");
    assert_eq!(json["reasons_differ"], 1, "{json}");
    assert_eq!(json["exit_code"], 3);
    assert_eq!(
        json["examples"]["mismatch"][0]["auth_uuid"],
        pending.as_str()
    );

    let report = dir
        .cmd(&["report", "in.results.csv", "--export-failed", "again.csv"])
        .expect(3);
    report
        .stdout_has("mismatch")
        .stdout_has(&format!("{pending}: mismatch"));
    let again = dir.read("again.csv");
    assert!(
        again.contains(&pending) && !again.contains(&already_ko),
        "{again}"
    );

    // Once the server applies changes again (the same URL), --resume sends the mismatch, not
    // the ok row.
    let address = server.url().trim_start_matches("http://").to_string();
    drop(server);
    let fixed = TestServer::start_at(&address, |_| {});
    dir.run_at(&fixed.url(), "in.csv", &["--resume"]).expect(0);
    let sent: Vec<String> = fixed
        .received()
        .iter()
        .map(|r| {
            r.body.clone().unwrap()["auth_uuid"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(sent, vec![pending.clone()]);
    assert_eq!(fixed.process(&pending).status, "OK");
    dir.cmd(&["report", "in.results.csv"])
        .expect(0)
        .stdout_has("every row ended ok");
}

#[test]
fn an_unreadable_200_stays_ok_with_a_note() {
    let dir = Workdir::new();
    let server = TestServer::start(|c| c.ok_body = tecalis_status::sandbox::OkBody::Malformed);
    let (mine, _) = bundled_uuids();
    dir.write("in.csv", csv_input(&[(&mine[0], "OK", "")]));
    dir.run_at(&server.url(), "in.csv", &[]).expect(0);
    let results = dir.results("in.results.csv");
    assert_eq!(results[0]["outcome"], "ok");
    assert!(
        results[0]["error"].starts_with("answered 2xx, but the answer could not be read"),
        "{:?}",
        results[0]
    );
    assert_eq!(server.process(&mine[0]).status, "OK", "it was applied");
}

#[test]
fn a_key_that_shares_eight_characters_with_a_uuid_does_not_make_its_echo_another_process() {
    // A key of zeros, and processes whose auth_uuid starts with eight zeros: the echoed
    // auth_uuid is compared as sent back, not after the key's runs are cut from it.
    let key = "00000000-0000-4000-8000-000000000000";
    let uuids = [
        "00000000-1111-4111-8111-111111111111",
        "00000000-2222-4222-8222-222222222222",
    ];
    let server = TestServer::start(|c| c.accept_unknown = true);
    let dir = Workdir::new();
    dir.write(
        "in.csv",
        csv_input(&[(uuids[0], "OK", ""), (uuids[1], "KO", "r")]),
    );
    let out = dir
        .run_at(&server.url(), "in.csv", &[])
        .env("TECALIS_API_KEY", key)
        .run();
    assert_eq!(out.code, 0, "{}", out.describe());
    let results = dir.results("in.results.csv");
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r["outcome"] == "ok"), "{results:?}");
    assert!(
        !out.stderr.contains("another process"),
        "{}",
        out.describe()
    );
}
