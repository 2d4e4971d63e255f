//! The man pages as `man --out-dir` writes them: every command's page has EXIT STATUS,
//! ENVIRONMENT, FILES and EXAMPLES (the examples one a line, as in `--help`), and every page a
//! page names is one that was written.

mod common;

use common::Workdir;

#[test]
fn every_page_has_the_sections_and_names_only_pages_that_exist() {
    let dir = Workdir::new();
    std::fs::create_dir(dir.path("man")).unwrap();
    let out = dir.cmd(&["man", "--out-dir", "man"]).expect(0);
    let mut written: Vec<String> = std::fs::read_dir(dir.path("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            "tecalis-status-completions.1",
            "tecalis-status-man.1",
            "tecalis-status-report.1",
            "tecalis-status-run.1",
            "tecalis-status-sandbox.1",
            "tecalis-status-validate.1",
            "tecalis-status.1",
        ],
        "{}",
        out.describe()
    );
    for file in &written {
        let page = std::fs::read_to_string(dir.path(&format!("man/{file}"))).unwrap();
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "\"EXIT STATUS\"",
            "ENVIRONMENT",
            "FILES",
            "\"SEE ALSO\"",
        ] {
            assert!(
                page.lines().any(|l| l == format!(".SH {section}")),
                "{file} has no {section}:\n{page}"
            );
        }
        // Every page named, as `name(1)` in roff (`\fBname\fR(1)`, hyphens escaped), exists.
        let plain = page
            .replace("\\-", "-")
            .replace("\\fB", "")
            .replace("\\fR", "");
        for (at, _) in plain.match_indices("(1)") {
            let name = plain[..at]
                .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .next()
                .unwrap();
            assert!(
                written.contains(&format!("{name}.1")),
                "{file} names {name}(1), which is not written"
            );
        }
    }
    // The commands' pages have examples, one a line (.nf keeps the layout).
    for command in ["validate", "run", "report", "sandbox", "completions", "man"] {
        let page =
            std::fs::read_to_string(dir.path(&format!("man/tecalis-status-{command}.1"))).unwrap();
        let examples = page
            .split(".SH EXAMPLES\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{command}: no EXAMPLES:\n{page}"));
        assert!(examples.starts_with(".nf\n"), "{command}: {examples}");
        let lines: Vec<&str> = examples[4..].lines().take_while(|l| *l != ".fi").collect();
        assert!(lines.len() >= 2, "{command}: {examples}");
        assert!(
            lines.iter().all(|l| l.starts_with("tecalis\\-status ")
                || l.starts_with("TECALIS_URL=")
                || l.starts_with("cat ")),
            "{command}: {lines:#?}"
        );
    }
    let run = std::fs::read_to_string(dir.path("man/tecalis-status-run.1")).unwrap();
    assert!(run.contains("TECALIS_API_KEY") && run.contains("results.csv.job.json"));
}

/// The exit codes of a man page's EXIT STATUS: (code, text).
fn exit_status(page: &str) -> Vec<(u8, String)> {
    let section = page
        .split(".SH \"EXIT STATUS\"\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no EXIT STATUS:\n{page}"));
    let section = section.split("\n.SH ").next().unwrap();
    section
        .split(".TP\n")
        .filter(|entry| !entry.trim().is_empty())
        .map(|entry| {
            let (code, text) = entry.split_once('\n').unwrap();
            let code = code.trim_start_matches("\\fB").trim_end_matches("\\fR");
            let code = code
                .parse()
                .unwrap_or_else(|_| panic!("not a code: {code:?} in {entry:?}"));
            (code, text.replace("\\-", "-").replace('\n', " "))
        })
        .collect()
}

/// The codes a `--help` states after "Exit codes:" (`0 all ok, 1 fatal error, …`).
fn help_codes(help: &str) -> Vec<u8> {
    let stated = help
        .split("Exit codes:")
        .nth(1)
        .unwrap_or_else(|| panic!("no exit codes in:\n{help}"));
    stated
        .split(',')
        .map(|item| {
            let word = item.split_whitespace().next().unwrap();
            word.parse()
                .unwrap_or_else(|_| panic!("not a code: {word:?} in {stated:?}"))
        })
        .collect()
}

/// Every exit code a man page or `--help` states is one the tool has (src/exit.rs), the
/// top and `run` pages state them all, `--help` states those of its page, and what the
/// `validate` page says of encodings is what `validate` does: a cell that is not UTF-8 is an
/// invalid row (exit 4; the page said 1), a UTF-8 file read with a single-byte encoding is
/// refused (exit 1).
#[test]
fn the_exit_codes_stated_are_the_ones_the_tool_returns() {
    use tecalis_status::exit::ExitCode;
    let all: Vec<u8> = ExitCode::ALL.iter().map(|c| c.code()).collect();
    let dir = Workdir::new();
    std::fs::create_dir(dir.path("man")).unwrap();
    dir.cmd(&["man", "--out-dir", "man"]).expect(0);
    let page = |name: &str| {
        let file = match name {
            "" => "man/tecalis-status.1".to_string(),
            name => format!("man/tecalis-status-{name}.1"),
        };
        exit_status(&std::fs::read_to_string(dir.path(&file)).unwrap())
    };
    for name in [
        "",
        "run",
        "validate",
        "report",
        "sandbox",
        "completions",
        "man",
    ] {
        let codes: Vec<u8> = page(name).iter().map(|(c, _)| *c).collect();
        assert!(
            codes.iter().all(|c| all.contains(c)),
            "{name:?} states {codes:?}; the codes are {all:?}"
        );
        if name.is_empty() || name == "run" {
            assert_eq!(codes, all, "the {name:?} page states every code");
        }
    }
    for (args, name) in [(vec!["--help"], ""), (vec!["report", "--help"], "report")] {
        let help = dir.cmd(&args).expect(0).stdout;
        let codes: Vec<u8> = page(name).iter().map(|(c, _)| *c).collect();
        let mut stated = help_codes(&help);
        stated.sort();
        assert_eq!(stated, codes, "{args:?} against its man page:\n{help}");
    }
    let validate = page("validate");
    let says = |code: u8| {
        validate
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, text)| text.clone())
            .unwrap_or_default()
    };
    let uuid = "0193a1b2-c3d4-726b-b2a7-4de452e6b438";
    let mut latin1 = format!("auth_uuid,state,reasons\n{uuid},KO,Revisi").into_bytes();
    latin1.extend_from_slice(b"\xf3n\n");
    dir.write("latin1.csv", latin1);
    dir.cmd(&["validate", "latin1.csv"]).expect(4);
    assert!(says(4).contains("not UTF-8"), "{:?}", says(4));
    assert!(!says(1).contains("another encoding"), "{:?}", says(1));
    dir.write(
        "utf8.csv",
        format!("auth_uuid,state,reasons\n{uuid},KO,Revisión\n"),
    );
    dir.cmd(&["validate", "--encoding", "windows-1252", "utf8.csv"])
        .expect(1);
    assert!(says(1).contains("single-byte --encoding"), "{:?}", says(1));
}
