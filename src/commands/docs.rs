//! `completions SHELL` and `man`: the shell completions and the manual pages, generated from
//! the clap definition so they never drift from the flags.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};

use crate::cli::{Cli, ManArgs};
use crate::exit::{ExitCode, UsageError};

mod sections;
use sections::{environment, exit_status, files};

/// Prints the completions for `shell` on standard output.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut text = Vec::new();
    clap_complete::generate(shell, &mut command, "tecalis-status", &mut text);
    print_all(&text)
}

/// Prints one manual page (roff) on standard output, or writes every page into a folder: the
/// top page and one per subcommand (`tecalis-status-run.1`, …), as git and cargo ship theirs.
/// Every page a page names (SEE ALSO, the subcommands) is one of these.
pub fn man(args: &ManArgs) -> anyhow::Result<ExitCode> {
    let mut top = <Cli as clap::CommandFactory>::command().disable_help_subcommand(true);
    top.build();
    if let Some(dir) = &args.out_dir {
        let mut pages = vec![(None, top.clone())];
        for sub in top.get_subcommands() {
            pages.push((Some(sub.get_name().to_string()), sub.clone()));
        }
        for (name, command) in pages {
            let page = render(&top, name.as_deref(), command)?;
            let file = match &name {
                Some(name) => format!("tecalis-status-{name}.1"),
                None => "tecalis-status.1".to_string(),
            };
            let path = dir.join(file);
            write_page(&path, &page)?;
            println!("{}", path.display());
        }
        return Ok(ExitCode::Success);
    }
    let page = match &args.command {
        None => render(&top, None, top.clone())?,
        Some(name) => match top.find_subcommand(name) {
            Some(sub) => render(&top, Some(name), sub.clone())?,
            None => bail!(UsageError(format!(
                "there is no subcommand {name:?}: use one of validate, run, report, sandbox, completions, man"
            ))),
        },
    };
    print_all(&page)
}

/// One page: clap's NAME, SYNOPSIS, DESCRIPTION, OPTIONS (and COMMANDS on the top page), then
/// NOTES, EXAMPLES (line by line, as in `--help`), EXIT STATUS, ENVIRONMENT, FILES and SEE
/// ALSO. `name` is the subcommand's, `None` for the top page.
fn render(
    top: &clap::Command,
    name: Option<&str>,
    command: clap::Command,
) -> anyhow::Result<Vec<u8>> {
    let after = command
        .get_after_help()
        .map(|h| h.to_string())
        .unwrap_or_default();
    let command = match name {
        Some(name) => command.name(format!("tecalis-status-{name}")),
        None => command,
    };
    let man = clap_mangen::Man::new(command.clone());
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    if name.is_none() {
        man.render_subcommands_section(&mut page)?;
    }
    let (notes, examples) = split_after_help(&after);
    let mut roff = String::new();
    if !notes.is_empty() {
        section(&mut roff, "NOTES", &paragraph(&notes));
    }
    if !examples.is_empty() {
        // .nf: each example keeps its line.
        section(
            &mut roff,
            "EXAMPLES",
            &format!(".nf\n{}\n.fi\n", escape(&examples.join("\n"))),
        );
    }
    let key = name.unwrap_or("");
    section(&mut roff, "EXIT STATUS", &table(exit_status(key)));
    section(&mut roff, "ENVIRONMENT", &table(environment(key)));
    section(&mut roff, "FILES", &table(files(key)));
    let mut see_also: Vec<String> = match name {
        Some(_) => vec!["tecalis-status".to_string()],
        None => Vec::new(),
    };
    see_also.extend(
        top.get_subcommands()
            .map(|s| format!("tecalis-status-{}", s.get_name()))
            .filter(|s| Some(s.as_str()) != command.get_name().into()),
    );
    let see_also: Vec<String> = see_also
        .iter()
        .map(|p| format!("\\fB{}\\fR(1)", escape(p)))
        .collect();
    section(
        &mut roff,
        "SEE ALSO",
        &format!("{}\n", see_also.join(",\n")),
    );
    page.extend_from_slice(roff.as_bytes());
    Ok(page)
}

/// `--help`'s text after the options: the notes before `Examples:`, and the examples, one a
/// line (what follows the examples after a blank line is the exit codes, which EXIT STATUS
/// has).
fn split_after_help(after: &str) -> (String, Vec<String>) {
    let (notes, rest) = match after.split_once("Examples:\n") {
        Some((notes, rest)) => (notes, rest),
        None if after.starts_with("Exit codes") => ("", ""),
        None => (after, ""),
    };
    let examples = rest
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect();
    (notes.trim().to_string(), examples)
}

/// A section: `.SH NAME`, then its roff.
fn section(roff: &mut String, name: &str, body: &str) {
    match name.contains(' ') {
        true => roff.push_str(&format!(".SH \"{name}\"\n{body}")),
        false => roff.push_str(&format!(".SH {name}\n{body}")),
    }
}

/// Plain text as roff paragraphs.
fn paragraph(text: &str) -> String {
    text.split("\n\n")
        .map(|p| format!(".PP\n{}\n", escape(p.trim())))
        .collect()
}

/// A list of (term, what it means) as tagged paragraphs.
fn table(items: &[(&str, &str)]) -> String {
    items
        .iter()
        .map(|(term, text)| format!(".TP\n\\fB{}\\fR\n{}\n", escape(term), escape(text)))
        .collect()
}

/// Text made safe for roff: backslashes and hyphens escaped, no line starting a request.
fn escape(text: &str) -> String {
    text.replace('\\', "\\e")
        .replace('-', "\\-")
        .lines()
        .map(|l| match l.starts_with(['.', '\'']) {
            true => format!("\\&{l}"),
            false => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Writes a manual page whole: a temporary file in the same folder, renamed over `path`, so
/// that a link at `path` is replaced, never written through. Pages are documentation, for
/// every user: mode 0644 (they are regenerated after an upgrade, so an old one is replaced
/// without --force).
fn write_page(path: &Path, page: &[u8]) -> anyhow::Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(folder)
        .with_context(|| format!("cannot write {}", path.display()))?;
    temp.write_all(page)
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    temp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Writes to standard output; a reader that closed the pipe early (`| head`) is a normal end.
fn print_all(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to standard output")
        }
        _ => Ok(ExitCode::Success),
    }
}
