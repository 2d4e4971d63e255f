//! What the man pages say beyond the flags: EXIT STATUS, ENVIRONMENT and FILES of each command
//! (`""` is the top page). The reference behind each is docs/ and the README.

/// The exit codes of `command`.
pub(super) fn exit_status(command: &str) -> &'static [(&'static str, &'static str)] {
    match command {
        "validate" => &[
            (
                "0",
                "Every row is valid (a file with a header and no rows too).",
            ),
            (
                "1",
                "The input cannot be read, or it is UTF-8 and a single-byte --encoding was given (its accented letters would be read wrong).",
            ),
            ("2", "Usage error (an unknown flag or --encoding label)."),
            (
                "4",
                "Some rows are invalid, a cell that is not UTF-8 included (a file in another encoding read without --encoding); every problem is printed with its file, line and column.",
            ),
        ],
        "report" => &[
            (
                "0",
                "The job is complete and every row ended ok or skipped.",
            ),
            (
                "1",
                "The results file or its job record cannot be read or is not trusted (another user owns it, or others may write it), or --export-failed cannot be written (it exists without --force, it exists and is no earlier export, it is the results file, the input or a job record, a link).",
            ),
            ("2", "Usage error."),
            (
                "3",
                "The job is incomplete or unknown (no job record), or some rows did not end ok.",
            ),
        ],
        "sandbox" | "completions" | "man" => &[
            ("0", "Success (the sandbox serves until it is stopped)."),
            (
                "1",
                "Fatal error: the address cannot be bound, a seed file or a folder cannot be read or written.",
            ),
            ("2", "Usage error."),
        ],
        _ => &[
            (
                "0",
                "Every row ended ok or skipped (a dry run: every row valid).",
            ),
            (
                "1",
                "Fatal error: configuration, unreadable input, unwritable output, the results file locked by another run.",
            ),
            (
                "2",
                "Usage error, including a run without a terminal and without --yes, or a declined confirmation.",
            ),
            (
                "3",
                "The run finished, but some rows are mismatch, unauthorized, rejected, failed, invalid or cancelled. `report RESULTS --export-failed FILE` writes them.",
            ),
            ("4", "The input is invalid; nothing was sent."),
            (
                "5",
                "Stopped early: the credentials are evidently wrong (the first 10 answers were 401, or --max-unauthorized). Fix the key, then run the command printed at the end (--resume).",
            ),
            (
                "6",
                "Stopped early: the server could not be reached (10 rows in a row without an answer). Run the printed command with --resume once it is back.",
            ),
            (
                "7",
                "Stopped early: the server asked to wait longer than --max-retry-after (a quota). The summary says when it takes requests again; run the printed command with --resume then.",
            ),
            (
                "130",
                "Interrupted (SIGINT or SIGTERM): the requests in flight finished, the results are flushed; --resume continues.",
            ),
        ],
    }
}

/// The environment variables `command` reads.
pub(super) fn environment(command: &str) -> &'static [(&'static str, &'static str)] {
    const LOGS: [(&str, &str); 2] = [
        (
            "RUST_LOG",
            "Overrides the verbosity of -v and --quiet (a tracing filter).",
        ),
        (
            "NO_COLOR",
            "When set and not empty, no colours (colours are only used on a terminal anyway).",
        ),
    ];
    match command {
        "run" | "" => &[
            (
                "TECALIS_URL",
                "The base URL when --url is not given; /customer/status is appended.",
            ),
            (
                "TECALIS_API_KEY",
                "The default API key when --api-key-file is not given (an api_key column overrides it per row). It is never printed. Prefer --api-key-file: a variable stays in the environment for the life of the process.",
            ),
            (
                "HTTPS_PROXY, HTTP_PROXY, NO_PROXY",
                "Honoured, except for loopback targets.",
            ),
            (
                "TECALIS_REHEARSAL_RESUME",
                "Set by contrib/rehearse.sh: the command printed to resume, instead of the run's own (which would name the rehearsal's sandbox, stopped by then).",
            ),
            (
                "TMPDIR",
                "Where standard input is copied when it is the input (an unnamed file: it never has a name on disk); a regular file is read in place.",
            ),
            LOGS[0],
            LOGS[1],
        ],
        "sandbox" | "validate" | "report" => &LOGS,
        _ => &[("", "None.")],
    }
}

/// The files `command` reads and writes.
pub(super) fn files(command: &str) -> &'static [(&'static str, &'static str)] {
    match command {
        "run" | "" => &[
            (
                "NAME.results.csv (or --output)",
                "The results, a line per row sent or recorded (a --resume appends lines for the rows it sends, none for rows already ok), written as each row finishes and locked while a run writes it. An existing one is replaced only with --force, appended to with --resume; never the input, never through a link, created mode 0600.",
            ),
            (
                "NAME.results.csv.job.json",
                "The job record beside the results: the rows of the run and the input's path and SHA-256; replaced whole with each run of the job. report reads it.",
            ),
            (
                "NAME.dry-run.csv",
                "The preview of run --dry-run; replaced only with --force.",
            ),
            (
                "NAME.sandbox-results.csv",
                "The results of run --sandbox; replaced only with --force.",
            ),
            (
                "--summary-json FILE",
                "The summary as JSON, written at every exit after the arguments are parsed; replaced only with --force or --resume.",
            ),
            (
                "--api-key-file FILE",
                "Read only: the key is its first line; a warning if others can read it.",
            ),
        ],
        "report" => &[
            (
                "RESULTS",
                "Read only: the last line for an auth_uuid that records an outcome (a skipped line records none) is its final outcome.",
            ),
            (
                "RESULTS.job.json",
                "Read only: tells a complete job from an interrupted one; names the input that --export-failed copies rows from.",
            ),
            (
                "--export-failed FILE",
                "The rows that did not end ok, as an input file: written whole (a private temporary file renamed), mode 0600, replaced only with --force and only when it is an earlier export (its first line names an auth_uuid column), never the results file, the input or a job record.",
            ),
        ],
        "sandbox" => &[(
            "--seed FILE",
            "Read only: the processes, a JSON list or a CSV with auth_uuid,api_key; by default the bundled ones (samples/sandbox-processes.json). What the sandbox receives is kept in memory only.",
        )],
        "man" => &[(
            "--out-dir DIR",
            "One page per command, tecalis-status.1 and tecalis-status-COMMAND.1, each written whole by rename (a link in its place is replaced), mode 0644, replaced without --force: pages are regenerated after an upgrade.",
        )],
        "validate" => &[("INPUT", "Read only, once; nothing is written.")],
        _ => &[("", "None: the completions go to standard output.")],
    }
}
