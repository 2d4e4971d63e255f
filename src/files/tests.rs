//! The output rule, on real files in a temporary folder.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;

use super::*;

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().unwrap())
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }
    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.0.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

fn one(inputs: &[&Path], output: Output) -> Result<Checked, FileError> {
    check(inputs, vec![output]).map(|mut c| c.remove(0))
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn a_symlink_is_refused_dangling_or_not_and_its_target_untouched() {
    let dir = Dir::new();
    let precious = dir.write("precious.txt", "keep me");
    std::os::unix::fs::symlink(&precious, dir.path("out.csv")).unwrap();
    std::os::unix::fs::symlink(dir.path("nowhere.txt"), dir.path("dangling.csv")).unwrap();
    for name in ["out.csv", "dangling.csv"] {
        for existing in [Existing::Refuse, Existing::Replace, Existing::Append] {
            let output = Output::new("the results file", dir.path(name)).existing(existing);
            let error = one(&[], output).unwrap_err();
            assert!(matches!(error, FileError::Symlink { .. }), "{error}");
            assert!(error.to_string().contains(name), "{error}");
        }
    }
    assert_eq!(dir.read("precious.txt"), "keep me");
    assert!(
        !dir.path("nowhere.txt").exists(),
        "a dangling link's target is not created"
    );
}

#[test]
fn a_path_that_becomes_a_symlink_after_the_check_is_not_followed() {
    let dir = Dir::new();
    let precious = dir.write("precious.txt", "keep me");
    let checked = one(&[], Output::new("the preview", dir.path("out.csv"))).unwrap();
    std::os::unix::fs::symlink(&precious, dir.path("out.csv")).unwrap();
    let error = checked.open().unwrap_err();
    assert!(
        matches!(error, FileError::Changed { .. } | FileError::Symlink { .. }),
        "{error}"
    );
    assert_eq!(dir.read("precious.txt"), "keep me");
    // An existing file swapped for a link between the check and the opening (--force).
    let old = dir.write("old.csv", "old");
    let output = Output::new("the results file", &old).existing(Existing::Replace);
    let checked = one(&[], output).unwrap();
    std::fs::remove_file(&old).unwrap();
    std::os::unix::fs::symlink(&precious, &old).unwrap();
    let error = checked.open().unwrap_err();
    assert!(matches!(error, FileError::Symlink { .. }), "{error}");
    assert_eq!(dir.read("precious.txt"), "keep me");
}

#[test]
fn the_input_is_refused_through_a_hard_link_and_a_symlink() {
    let dir = Dir::new();
    let input = dir.write("in.csv", "auth_uuid,state\n");
    std::fs::hard_link(&input, dir.path("hard.csv")).unwrap();
    std::os::unix::fs::symlink(&input, dir.path("link-to-input.csv")).unwrap();
    // The output itself, and a hard link to it, even with --force.
    for name in ["in.csv", "hard.csv"] {
        let output = Output::new("the results file", dir.path(name)).existing(Existing::Replace);
        let error = one(&[&input], output).unwrap_err();
        assert!(matches!(error, FileError::IsInput { .. }), "{error}");
        assert!(error.to_string().contains("in.csv"), "{error}");
    }
    // The input given through a link is followed.
    let through_link = dir.path("link-to-input.csv");
    let output = Output::new("the results file", &input).existing(Existing::Append);
    let error = one(&[&through_link], output).unwrap_err();
    assert!(matches!(error, FileError::IsInput { .. }), "{error}");
    assert_eq!(
        dir.read("in.csv"),
        "auth_uuid,state\n",
        "byte for byte intact"
    );
}

#[test]
fn a_fifo_is_refused_without_hanging_at_check_and_at_open() {
    let dir = Dir::new();
    mkfifo(&dir.path("pipe"));
    let error = one(
        &[],
        Output::new("the results file", dir.path("pipe")).existing(Existing::Append),
    )
    .unwrap_err();
    assert!(
        matches!(error, FileError::NotRegular { kind: "a FIFO", .. }),
        "{error}"
    );
    // Made a FIFO between the check and the opening: the open must not block either.
    let checked = one(&[], Output::new("the preview", dir.path("late"))).unwrap();
    mkfifo(&dir.path("late"));
    let error = checked.open().unwrap_err();
    assert!(matches!(error, FileError::Changed { .. }), "{error}");
    let file = dir.write("regular", "x");
    let checked = one(
        &[],
        Output::new("the preview", &file).existing(Existing::Replace),
    )
    .unwrap();
    std::fs::remove_file(&file).unwrap();
    mkfifo(&file);
    let error = checked.open().unwrap_err();
    assert!(
        matches!(
            error,
            FileError::NotRegular { .. } | FileError::Changed { .. }
        ),
        "{error}"
    );
}

#[test]
fn a_directory_and_a_missing_folder_are_refused() {
    let dir = Dir::new();
    std::fs::create_dir(dir.path("sub")).unwrap();
    let error = one(
        &[],
        Output::new("the summary JSON", dir.path("sub")).existing(Existing::Replace),
    )
    .unwrap_err();
    assert!(
        matches!(
            error,
            FileError::NotRegular {
                kind: "a directory",
                ..
            }
        ),
        "{error}"
    );
    let error = one(&[], Output::new("the export", dir.path("missing/out.csv"))).unwrap_err();
    assert!(matches!(error, FileError::NoFolder { .. }), "{error}");
    assert!(error.to_string().contains("missing"), "{error}");
}

#[test]
fn an_existing_file_needs_force_and_is_then_replaced_or_appended() {
    let dir = Dir::new();
    let path = dir.write("out.csv", "old\n");
    let error = one(
        &[],
        Output::new("the results file", &path).hint("pass --resume or --force"),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the results file {} already exists: pass --resume or --force",
            path.display()
        )
    );
    assert_eq!(dir.read("out.csv"), "old\n");

    let checked = one(
        &[],
        Output::new("the results file", &path).existing(Existing::Append),
    )
    .unwrap();
    assert!(checked.existed());
    let mut file = checked.open().unwrap();
    file.write_all(b"new\n").unwrap();
    file.commit().unwrap();
    assert_eq!(dir.read("out.csv"), "old\nnew\n");

    let checked = one(
        &[],
        Output::new("the results file", &path).existing(Existing::Replace),
    )
    .unwrap();
    let mut file = checked.open().unwrap();
    file.write_all(b"fresh\n").unwrap();
    file.commit().unwrap();
    assert_eq!(dir.read("out.csv"), "fresh\n");
}

#[test]
fn new_files_are_private_in_place_and_by_rename() {
    let dir = Dir::new();
    let outputs = vec![
        Output::new("the results file", dir.path("r.csv")).locked(),
        Output::new("the summary JSON", dir.path("s.json")).by_rename(),
    ];
    for checked in check(&[], outputs).unwrap() {
        let mut file = checked.open().unwrap();
        file.write_all(b"{}").unwrap();
        file.commit().unwrap();
    }
    for name in ["r.csv", "s.json"] {
        let mode = std::fs::metadata(dir.path(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}: {mode:o}");
    }
    assert_eq!(
        dir.names(),
        vec!["r.csv", "s.json"],
        "no temporary file left"
    );
}

#[test]
fn a_renamed_output_appears_only_at_commit_and_replaces_only_with_force() {
    let dir = Dir::new();
    let summary = dir.path("s.json");
    let checked = one(&[], Output::new("the summary JSON", &summary).by_rename()).unwrap();
    let mut file = checked.open().unwrap();
    file.write_all(b"{\"exit_code\": 3}").unwrap();
    assert!(!summary.exists(), "not visible before the commit");
    // Something appears there meanwhile: not replaced without force.
    std::fs::write(&summary, "theirs").unwrap();
    let error = file.commit().unwrap_err();
    assert!(matches!(error, FileError::Changed { .. }), "{error}");
    assert_eq!(dir.read("s.json"), "theirs");
    assert_eq!(dir.names(), vec!["s.json"], "the temporary file is removed");

    let output = Output::new("the summary JSON", &summary)
        .by_rename()
        .existing(Existing::Replace);
    let mut file = one(&[], output).unwrap().open().unwrap();
    file.write_all(b"{}").unwrap();
    assert!(file.into_file().is_err(), "a staged file keeps its rename");
    let output = Output::new("the summary JSON", &summary)
        .by_rename()
        .existing(Existing::Replace);
    let mut file = one(&[], output).unwrap().open().unwrap();
    file.write_all(b"{\"ok\": true}").unwrap();
    file.commit().unwrap();
    assert_eq!(dir.read("s.json"), "{\"ok\": true}");
    // Dropped without a commit: the path is left as it was.
    let output = Output::new("the summary JSON", &summary)
        .by_rename()
        .existing(Existing::Replace);
    let mut file = one(&[], output).unwrap().open().unwrap();
    file.write_all(b"half").unwrap();
    drop(file);
    assert_eq!(dir.read("s.json"), "{\"ok\": true}");
    assert_eq!(dir.names(), vec!["s.json"]);
}

#[test]
fn two_outputs_that_are_the_same_file_are_refused() {
    let dir = Dir::new();
    // Neither exists yet: the same path spelled two ways.
    std::fs::create_dir(dir.path("sub")).unwrap();
    let outputs = vec![
        Output::new("the results file", dir.path("out.csv")),
        Output::new("the summary JSON", dir.path("sub/../out.csv")).by_rename(),
    ];
    let error = check(&[], outputs).unwrap_err();
    assert!(matches!(error, FileError::SameFile { .. }), "{error}");
    assert!(error.to_string().contains("the summary JSON"), "{error}");
    // Both exist, hard-linked.
    let a = dir.write("a.csv", "a");
    std::fs::hard_link(&a, dir.path("b.json")).unwrap();
    let outputs = vec![
        Output::new("the results file", &a).existing(Existing::Append),
        Output::new("the summary JSON", dir.path("b.json")).existing(Existing::Replace),
    ];
    let error = check(&[], outputs).unwrap_err();
    assert!(matches!(error, FileError::SameFile { .. }), "{error}");
    assert_eq!(dir.read("a.csv"), "a");
    // Different files are fine.
    let outputs = vec![
        Output::new("the results file", dir.path("x.csv")),
        Output::new("the summary JSON", dir.path("x.json")),
    ];
    assert_eq!(check(&[], outputs).unwrap().len(), 2);
}

#[test]
fn a_locked_output_refuses_a_second_opener() {
    let dir = Dir::new();
    let path = dir.path("r.csv");
    let first = one(&[], Output::new("the results file", &path).locked())
        .unwrap()
        .open()
        .unwrap();
    let output = Output::new("the results file", &path)
        .locked()
        .existing(Existing::Append);
    let error = one(&[], output).unwrap().open().unwrap_err();
    assert!(matches!(error, FileError::Locked { .. }), "{error}");
    let mut file = first.into_file().unwrap();
    file.write_all(b"header\n").unwrap();
    // --force on a file another run holds: refused before anything is truncated.
    let output = Output::new("the results file", &path)
        .locked()
        .existing(Existing::Replace);
    let error = one(&[], output).unwrap().open().unwrap_err();
    assert!(matches!(error, FileError::Locked { .. }), "{error}");
    let mut text = String::new();
    std::fs::File::open(&path)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "header\n");
}

#[test]
fn a_folder_it_may_not_write_is_refused_at_the_check() {
    let dir = Dir::new();
    std::fs::create_dir(dir.path("ro")).unwrap();
    std::fs::set_permissions(dir.path("ro"), std::fs::Permissions::from_mode(0o500)).unwrap();
    let result = one(
        &[],
        Output::new("the summary JSON", dir.path("ro/s.json")).by_rename(),
    );
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        // Root may write anywhere: the check must agree with the operating system.
        assert!(result.is_ok(), "{:?}", result.err());
    } else {
        let error = result.unwrap_err();
        assert!(
            matches!(
                error,
                FileError::Io {
                    action: "create",
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("ro/s.json"), "{error}");
    }
    assert!(dir.names().contains(&"ro".to_string()));
    assert!(!dir.path("ro/s.json").exists(), "the check touches nothing");
}
