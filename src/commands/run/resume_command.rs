//! The command line printed after a run that did not finish, to resume it.

/// The command line that resumes this run: the same arguments, without `--force` (which
/// would start over) and with `--resume`. It never holds the key: no flag takes one.
pub(super) fn resume_command(args: impl Iterator<Item = std::ffi::OsString>) -> String {
    let mut words: Vec<String> = args
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| a != "--force")
        .collect();
    if !words.iter().any(|w| w == "--resume") {
        words.push("--resume".into());
    }
    if let Some(program) = words.first_mut() {
        *program = "tecalis-status".into();
    }
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes a word for a POSIX shell when it needs it.
pub(super) fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resume_command_repeats_the_run_with_resume() {
        let args = [
            "/usr/bin/tecalis-status",
            "run",
            "my file.csv",
            "--force",
            "--reasons",
            "it's",
            "--yes",
        ]
        .into_iter()
        .map(std::ffi::OsString::from);
        assert_eq!(
            resume_command(args),
            "tecalis-status run 'my file.csv' --reasons 'it'\\''s' --yes --resume"
        );
        let again = ["x", "run", "a.csv", "--resume"]
            .into_iter()
            .map(std::ffi::OsString::from);
        assert_eq!(resume_command(again), "tecalis-status run a.csv --resume");
    }
}
