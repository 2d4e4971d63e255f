//! A results file across resumes: resuming a finished job leaves it byte for byte; only a line
//! that records an outcome says whether a row is done; a damaged line before the last is an
//! error naming it, and nothing is cut; `report` counts every physical input row; the export
//! takes a row with fewer cells than the header as it is.

mod common;

use common::{TestServer, Workdir, bundled_uuids, fresh_uuids};

fn fresh_server() -> TestServer {
    TestServer::start(|c| c.accept_unknown = true)
}

/// The auth_uuids the sandbox received, in order.
fn sent(server: &TestServer) -> Vec<String> {
    server
        .received()
        .into_iter()
        .filter_map(|r| r.body?["auth_uuid"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn resuming_a_finished_job_leaves_its_results_file_byte_for_byte() {
    let dir = Workdir::new();
    let server = fresh_server();
    let url = server.url();
    let uuids = dir.write_fresh("in.csv", 30, "KO", "motivo");
    dir.run_at(&url, "in.csv", &[]).expect(0);
    let results = std::fs::read(dir.path("in.results.csv")).unwrap();
    for _ in 0..2 {
        dir.run_at(&url, "in.csv", &["--resume"])
            .expect(0)
            .stderr_has("skipped");
        assert_eq!(
            std::fs::read(dir.path("in.results.csv")).unwrap(),
            results,
            "a resume of a finished job changed its results file"
        );
    }
    assert_eq!(sent(&server).len(), uuids.len(), "a resume sent again");
    let job: serde_json::Value =
        serde_json::from_str(&dir.read("in.results.csv.job.json")).unwrap();
    assert_eq!(
        (job["rows"].as_u64(), job["already_recorded"].as_u64()),
        (Some(30), Some(30))
    );
    // Every physical row is still accounted for: report sees a complete job.
    let out = dir.cmd(&["report", "in.results.csv"]).expect(0);
    out.stdout_has("30 rows")
        .stdout_has("Complete: every row ended ok.");
    assert!(
        out.stdout.contains("skipped") && out.stdout.contains("30"),
        "{}",
        out.stdout
    );

    // One row corrected: the resume writes its line only.
    let text = dir.read("in.csv").replacen(",KO,motivo", ",OK,motivo", 1);
    dir.write("in.csv", text);
    dir.run_at(&url, "in.csv", &["--resume"]).expect(0);
    let after = dir.read("in.results.csv");
    assert_eq!(after.lines().count(), 32, "{after}");
    assert_eq!(sent(&server).last(), Some(&uuids[0]));
    dir.cmd(&["report", "in.results.csv"])
        .expect(0)
        .stdout_has("30 rows");
}

#[test]
fn a_skipped_line_is_not_evidence_that_a_row_is_done() {
    // A repeat of a row is recorded `skipped` as it is read; a run killed before its first
    // row finished leaves the skipped line alone. The resume must still send that row.
    let dir = Workdir::new();
    let server = fresh_server();
    let url = server.url();
    let uuids = fresh_uuids(2);
    let input = format!(
        "auth_uuid,state,reasons\n{a},KO,x\n{b},KO,x\n{a},KO,x\n",
        a = uuids[0],
        b = uuids[1]
    );
    dir.write("in.csv", &input);
    dir.run_at(&url, "in.csv", &[]).expect(0);
    // What a kill before the first row's answer leaves: its ok line is not there.
    let text = dir.read("in.results.csv");
    let kept: String = text
        .split_inclusive('\n')
        .filter(|l| !(l.contains(&uuids[0]) && l.contains(",ok,")))
        .collect();
    assert_eq!(kept.lines().count(), 3, "{kept}");
    dir.write("in.results.csv", &kept);
    let before = sent(&server).len();
    dir.run_at(&url, "in.csv", &["--resume"]).expect(0);
    assert_eq!(sent(&server)[before..], [uuids[0].clone()]);
    dir.cmd(&["report", "in.results.csv"])
        .expect(0)
        .stdout_has("3 rows");
}

#[test]
fn a_stray_quote_in_a_middle_line_is_an_error_naming_it_and_nothing_is_cut() {
    let dir = Workdir::new();
    let server = fresh_server();
    let url = server.url();
    dir.write_fresh("in.csv", 199, "KO", "motivo");
    dir.run_at(&url, "in.csv", &[]).expect(0);
    let text = dir.read("in.results.csv");
    for (name, edit) in [
        ("inside a cell", "moti\"vo"),
        ("opening a cell", "\"motivo"),
    ] {
        // Line 3 of 200 edited by hand.
        let mut lines: Vec<String> = text.split_inclusive('\n').map(String::from).collect();
        assert_eq!(lines.len(), 200);
        lines[2] = lines[2].replacen("motivo", edit, 1);
        let edited = lines.concat();
        dir.write("in.results.csv", &edited);
        let out = dir.cmd(&["report", "in.results.csv"]).expect(1);
        assert!(
            out.stderr.contains("in.results.csv, line 3:"),
            "{name}: {}",
            out.describe()
        );
        let before = sent(&server).len();
        let out = dir.run_at(&url, "in.csv", &["--resume"]).expect(1);
        assert!(
            out.stderr.contains("in.results.csv, line 3:"),
            "{name}: {}",
            out.describe()
        );
        assert_eq!(
            dir.read("in.results.csv"),
            edited,
            "{name}: the file was changed"
        );
        assert_eq!(sent(&server).len(), before, "{name}: the resume sent");
    }
}

#[test]
fn report_counts_every_physical_row_and_the_export_keeps_short_rows() {
    let dir = Workdir::new();
    let server = fresh_server();
    let url = server.url();
    let (_, theirs) = bundled_uuids();
    let mine = fresh_uuids(1);
    // Another customer's row (401), its repeat, a row without its reasons cell (401 too),
    // and a row that is applied.
    let input = format!(
        "auth_uuid,state,reasons\n{t},KO,=x\n{t},KO,=x\n{u},OK\n{m},OK,y\n",
        t = theirs[0],
        u = theirs[1],
        m = mine[0]
    );
    dir.write("in.csv", &input);
    dir.run_at(&url, "in.csv", &[]).expect(3);
    assert_eq!(server.process(&mine[0]).status, "OK");
    let out = dir
        .cmd(&["report", "in.results.csv", "--export-failed", "retry.csv"])
        .expect(3);
    out.stdout_has("4 rows").stdout_has("Exported 2 row(s)");
    let unauthorized = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("unauthorized"))
        .unwrap_or_default()
        .to_string();
    assert!(unauthorized.contains('3'), "{}", out.stdout);
    assert_eq!(
        dir.read("retry.csv"),
        format!(
            "auth_uuid,state,reasons\n{},KO,'=x\n{},OK\n",
            theirs[0], theirs[1]
        )
    );
}
