//! A run of the binary under a pseudo-terminal (util-linux `script`), its screen read as it
//! comes, keys typed when the screen shows what a person would wait for.

use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{KEY, Workdir};

/// A run under a pseudo-terminal, its screen read as it comes.
pub struct Pty {
    child: Child,
    keyboard: Option<ChildStdin>,
    screen: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Pty {
    /// Starts `tecalis-status ARGS` under a pseudo-terminal (util-linux `script`), with the
    /// demo key and `NO_COLOR`.
    pub fn start(dir: &Workdir, args: &str) -> Pty {
        Pty::start_with(dir, args, true)
    }

    /// Like [`Pty::start`], with or without `NO_COLOR`.
    pub fn start_with(dir: &Workdir, args: &str, no_color: bool) -> Pty {
        let command = format!("{} {args}", env!("CARGO_BIN_EXE_tecalis-status"));
        let mut child = Command::new("script")
            .args(["-q", "-e", "-c", &command, "/dev/null"])
            .current_dir(dir.path(""))
            .env("TECALIS_API_KEY", KEY)
            .env("NO_COLOR", if no_color { "1" } else { "" })
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("util-linux script runs");
        let keyboard = child.stdin.take();
        let mut stdout = child.stdout.take().expect("piped");
        let screen = Arc::new(Mutex::new(Vec::new()));
        let sink = screen.clone();
        let reader = std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        });
        Pty {
            child,
            keyboard,
            screen,
            reader: Some(reader),
        }
    }

    /// The screen so far.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// Waits (with a generous deadline) until the screen shows `text`.
    pub fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.screen().contains(text) {
            assert!(
                Instant::now() < deadline,
                "the screen never showed {text:?}:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `keys` at the terminal.
    pub fn type_keys(&mut self, keys: &[u8]) {
        let keyboard = self.keyboard.as_mut().expect("the keyboard is open");
        keyboard.write_all(keys).unwrap();
        keyboard.flush().unwrap();
    }

    /// Waits for the end; the exit code and the whole screen.
    pub fn finish(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().expect("script ends");
        drop(self.keyboard.take());
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        (status.code(), self.screen())
    }
}
