//! The input side of a plan: the file (or standard input), how to read it and the rules to
//! check it by, from the flags that `validate` and `run` share.

use std::path::PathBuf;

use crate::cli::InputArgs;
use crate::input::{InputError, ReadOptions};
use crate::validate::Rules;

/// The input and how to read and check it.
#[derive(Debug, Clone)]
pub struct InputPlan {
    /// The input path as given (`-` for standard input).
    pub path: PathBuf,
    /// Whether the input is standard input.
    pub stdin: bool,
    /// The delimiter and encoding to read with.
    pub options: ReadOptions,
    /// The validation rules (`--reasons`, `--max-reasons-len`).
    pub rules: Rules,
    /// The `--encoding` label as given, for the job record.
    pub encoding: Option<String>,
}

impl InputPlan {
    /// The input settings from the command line.
    pub fn from_args(args: &InputArgs) -> Result<InputPlan, InputError> {
        let options = ReadOptions::new(args.delimiter, args.encoding.as_deref())?;
        let rules = Rules {
            default_reasons: args
                .reasons
                .as_ref()
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty()),
            max_reasons_len: args.max_reasons_len,
        };
        Ok(InputPlan {
            stdin: args.input.as_os_str() == "-",
            path: args.input.clone(),
            options,
            rules,
            encoding: args.encoding.clone(),
        })
    }

    /// The input files a run reads, which no output may be: none for standard input (its
    /// spool is private).
    pub fn files(&self) -> Vec<&std::path::Path> {
        match self.stdin {
            true => Vec::new(),
            false => vec![self.path.as_path()],
        }
    }
}
