//! The command line printed after a run that did not finish, to resume it.

/// The command line that resumes this run: the program as it was run, the same arguments,
/// without `--force` (which would start over) and with `--resume`; prefixed with
/// `TECALIS_URL=...` when the URL came from the environment (`env_url`), so that pasting it
/// in another shell sends to the same server (credentials in the URL redacted). It never
/// holds the key: no flag takes one.
pub(super) fn resume_command(
    args: impl Iterator<Item = std::ffi::OsString>,
    env_url: Option<&str>,
) -> String {
    let mut words: Vec<String> = args
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| a != "--force")
        .collect();
    if !words.iter().any(|w| w == "--resume") {
        words.push("--resume".into());
    }
    let url_in_args = words
        .iter()
        .skip(1)
        .any(|w| w == "--url" || w.starts_with("--url=") || w == "--sandbox");
    let prefix = match env_url.filter(|u| !u.is_empty() && !url_in_args) {
        Some(url) => format!(
            "TECALIS_URL={} ",
            shell_quote(&crate::config::redact_userinfo(url))
        ),
        None => String::new(),
    };
    let command = words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ");
    prefix + &command
}

/// Quotes a word for a POSIX shell when it needs it.
pub(super) fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain {
        word.to_string()
    } else if word.chars().any(crate::text::is_unsafe_char) {
        // A control character never reaches the terminal: bash's $'...' spells it, so that
        // the command can still be copied.
        use std::fmt::Write as _;
        let mut quoted = String::from("$'");
        for c in word.chars() {
            match c {
                '\\' => quoted.push_str("\\\\"),
                '\'' => quoted.push_str("\\'"),
                c if crate::text::is_unsafe_char(c) => {
                    let mut utf8 = [0u8; 4];
                    for byte in c.encode_utf8(&mut utf8).bytes() {
                        let _ = write!(quoted, "\\x{byte:02x}");
                    }
                }
                c => quoted.push(c),
            }
        }
        quoted.push('\'');
        quoted
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_control_character_is_spelled_not_printed() {
        assert_eq!(shell_quote("in\u{1b}[2J.csv"), "$'in\\x1b[2J.csv'");
        assert_eq!(shell_quote("a'b\u{7}"), "$'a\\'b\\x07'");
    }

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
            resume_command(args, None),
            "/usr/bin/tecalis-status run 'my file.csv' --reasons 'it'\\''s' --yes --resume"
        );
        let again = || {
            ["./bin/ts", "run", "a.csv", "--resume"]
                .into_iter()
                .map(std::ffi::OsString::from)
        };
        assert_eq!(resume_command(again(), None), "./bin/ts run a.csv --resume");
        assert_eq!(
            resume_command(again(), Some("https://u:secret@api.example.com/v1")),
            "TECALIS_URL='https://<redacted>@api.example.com/v1' ./bin/ts run a.csv --resume"
        );
        assert_eq!(
            resume_command(again(), Some("")),
            "./bin/ts run a.csv --resume"
        );
        let with_url = ["ts", "run", "a.csv", "--url=http://h"]
            .into_iter()
            .map(std::ffi::OsString::from);
        assert_eq!(
            resume_command(with_url, Some("https://other")),
            "ts run a.csv --url=http://h --resume"
        );
    }
}
