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
