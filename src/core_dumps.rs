//! Core dumps off for the whole process, as ssh-agent and gpg-agent do: a crash or a
//! `gcore` must not write the API keys held in memory to disk.

/// Forbids core dumps (`RLIMIT_CORE` 0, soft and hard) and, on Linux, marks the process
/// not dumpable (`PR_SET_DUMPABLE` 0), which also keeps other processes of the same user
/// from attaching to it with ptrace or reading its memory through `/proc`. Returns what
/// could not be done, for a log line; the run goes on either way.
pub fn disable() -> Result<(), String> {
    let mut failed = Vec::new();
    #[cfg(unix)]
    {
        let zero = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit reads the struct passed by pointer and nothing else.
        if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &zero) } != 0 {
            failed.push(format!(
                "setrlimit(RLIMIT_CORE, 0): {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_DUMPABLE takes plain integers; no memory is passed.
        if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
            failed.push(format!(
                "prctl(PR_SET_DUMPABLE, 0): {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    match failed.is_empty() {
        true => Ok(()),
        false => Err(failed.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn after_it_the_process_dumps_nothing() {
        super::disable().unwrap();
        let mut limit = libc::rlimit {
            rlim_cur: 1,
            rlim_max: 1,
        };
        // SAFETY: getrlimit writes the struct passed by pointer.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut limit) }, 0);
        assert_eq!((limit.rlim_cur, limit.rlim_max), (0, 0));
        // SAFETY: PR_GET_DUMPABLE takes no memory.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }, 0);
    }
}
