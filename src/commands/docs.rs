//! `completions SHELL` and `man`: the shell completions and the manual pages, generated from
//! the clap definition so they never drift from the flags.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};

use crate::cli::{Cli, ManArgs};
use crate::exit::{ExitCode, UsageError};

/// Prints the completions for `shell` on standard output.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut command = <Cli as clap::CommandFactory>::command();
    let mut text = Vec::new();
    clap_complete::generate(shell, &mut command, "tecalis-status", &mut text);
    print_all(&text)
}

/// Prints one manual page (roff) on standard output, or writes every page into a folder: the
/// top page and one per subcommand (`tecalis-status-run.1`, …), as git and cargo ship theirs.
pub fn man(args: &ManArgs) -> anyhow::Result<ExitCode> {
    let mut top = <Cli as clap::CommandFactory>::command();
    top.build();
    if let Some(dir) = &args.out_dir {
        let mut pages = vec![("tecalis-status.1".to_string(), top.clone())];
        for sub in top.get_subcommands().filter(|s| s.get_name() != "help") {
            let name = format!("tecalis-status-{}", sub.get_name());
            pages.push((format!("{name}.1"), sub.clone().name(name)));
        }
        for (file, command) in pages {
            let path = dir.join(&file);
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            write_page(&path, &page)?;
            println!("{}", path.display());
        }
        return Ok(ExitCode::Success);
    }
    let command = match &args.command {
        None => top,
        Some(name) => match top.find_subcommand(name) {
            Some(sub) => sub.clone().name(format!("tecalis-status-{name}")),
            None => bail!(UsageError(format!(
                "there is no subcommand {name:?}: use one of validate, run, report, sandbox, completions, man"
            ))),
        },
    };
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page)?;
    print_all(&page)
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
