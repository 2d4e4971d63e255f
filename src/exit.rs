//! The process exit codes of SPEC.md, and how the outcomes of a run merge into one.

use crate::results::Outcome;

/// An error that is the caller's wording, not the system's: exit 2, like clap's own.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The exit code for a fatal error: [`ExitCode::Usage`] for a [`UsageError`] anywhere in its
/// chain, [`ExitCode::Fatal`] otherwise.
pub fn code_for_error(error: &anyhow::Error) -> ExitCode {
    if error.chain().any(|e| e.is::<UsageError>()) {
        ExitCode::Usage
    } else {
        ExitCode::Fatal
    }
}

/// Every exit code the tool can return. The numbers are part of the contract: cron jobs and
/// scripts branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Every row ended `ok` or `skipped` (validate / dry run: every row valid).
    Success,
    /// Fatal error: configuration, unreadable input, unwritable output, lock held.
    Fatal,
    /// Usage error, including a non-interactive run without `--yes`.
    Usage,
    /// The run finished, but some rows are `mismatch`, `unauthorized`, `rejected`, `failed`,
    /// `invalid` or `cancelled`.
    RowsFailed,
    /// The input is invalid; nothing was sent.
    InvalidInput,
    /// Stopped early because the credentials are evidently wrong (too many 401s).
    WrongCredentials,
    /// Stopped early because the server could not be reached (10 rows in a row without any
    /// HTTP answer).
    Unreachable,
    /// Stopped early because the server asked to wait longer than `--max-retry-after` (a
    /// quota); resumable once it takes requests again.
    Quota,
    /// Interrupted by SIGINT or SIGTERM; in-flight requests finished, results flushed.
    Interrupted,
}

impl ExitCode {
    /// Every exit code, in the order of their numbers (the man pages and `--help` state
    /// them; `tests/man.rs` checks those against this list).
    pub const ALL: [ExitCode; 9] = [
        ExitCode::Success,
        ExitCode::Fatal,
        ExitCode::Usage,
        ExitCode::RowsFailed,
        ExitCode::InvalidInput,
        ExitCode::WrongCredentials,
        ExitCode::Unreachable,
        ExitCode::Quota,
        ExitCode::Interrupted,
    ];

    /// The number the process exits with.
    pub fn code(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Fatal => 1,
            ExitCode::Usage => 2,
            ExitCode::RowsFailed => 3,
            ExitCode::InvalidInput => 4,
            ExitCode::WrongCredentials => 5,
            ExitCode::Unreachable => 6,
            ExitCode::Quota => 7,
            ExitCode::Interrupted => 130,
        }
    }

    /// How loudly a code speaks when two apply: an interruption hides everything else, a stop
    /// for a quota hides a stop for an unreachable server, which hides a stop for wrong
    /// credentials, which hides failed rows, and failed rows hide success.
    fn rank(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::RowsFailed => 1,
            ExitCode::InvalidInput => 2,
            ExitCode::WrongCredentials => 3,
            ExitCode::Unreachable => 4,
            ExitCode::Quota => 5,
            ExitCode::Interrupted => 6,
            ExitCode::Usage => 7,
            ExitCode::Fatal => 8,
        }
    }

    /// The code that wins when both `self` and `other` apply.
    pub fn merge(self, other: ExitCode) -> ExitCode {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    /// The code a finished run's rows call for, before any early stop is taken into account.
    pub fn for_outcome(outcome: Outcome) -> ExitCode {
        match outcome {
            Outcome::Ok | Outcome::Skipped | Outcome::DryRun => ExitCode::Success,
            Outcome::Mismatch
            | Outcome::Unauthorized
            | Outcome::Rejected
            | Outcome::Failed
            | Outcome::Invalid
            | Outcome::Cancelled => ExitCode::RowsFailed,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_spec() {
        let codes: Vec<u8> = ExitCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 5, 6, 7, 130]);
    }

    #[test]
    fn merging_keeps_the_most_serious() {
        use ExitCode::*;
        assert_eq!(Success.merge(RowsFailed), RowsFailed);
        assert_eq!(RowsFailed.merge(Success), RowsFailed);
        assert_eq!(RowsFailed.merge(WrongCredentials), WrongCredentials);
        assert_eq!(WrongCredentials.merge(Interrupted), Interrupted);
        assert_eq!(WrongCredentials.merge(Unreachable), Unreachable);
        assert_eq!(Unreachable.merge(RowsFailed), Unreachable);
        assert_eq!(Unreachable.merge(Interrupted), Interrupted);
        assert_eq!(RowsFailed.merge(Quota), Quota);
        assert_eq!(Quota.merge(Interrupted), Interrupted);
        assert_eq!(Interrupted.merge(RowsFailed), Interrupted);
        assert_eq!(Success.merge(Success), Success);
    }

    #[test]
    fn outcomes_map_to_codes() {
        assert_eq!(ExitCode::for_outcome(Outcome::Ok), ExitCode::Success);
        assert_eq!(ExitCode::for_outcome(Outcome::Skipped), ExitCode::Success);
        assert_eq!(ExitCode::for_outcome(Outcome::DryRun), ExitCode::Success);
        for bad in [
            Outcome::Mismatch,
            Outcome::Unauthorized,
            Outcome::Rejected,
            Outcome::Failed,
            Outcome::Invalid,
            Outcome::Cancelled,
        ] {
            assert_eq!(ExitCode::for_outcome(bad), ExitCode::RowsFailed, "{bad:?}");
        }
    }
}
