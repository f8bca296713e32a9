//! The real binary serving on an ephemeral port, for tests that kill it
//! (`kill -9`) or read what it logs.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A `waimai serve` process and the address it printed.
pub struct Served {
    pub child: Child,
    pub addr: String,
}

impl Served {
    /// SIGKILL, as a crash or an OOM killer would.
    pub fn kill_9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `waimai serve --listen 127.0.0.1:0 --data-dir DIR` with `env`,
/// appending its log (stderr) to `DIR.log`, and waits for the line that
/// says where it serves.
pub fn serve_binary(dir: &Path, env: &[(&str, &str)]) -> Served {
    let log_path = dir.with_extension("log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .expect("the log file opens");
    let mut command = Command::new(env!("CARGO_BIN_EXE_waimai"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(log);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("waimai serve starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("a first line");
    let addr = line
        .trim()
        .strip_prefix("waimai serving on http://")
        .unwrap_or_else(|| {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("unexpected first line {line:?}; server log:\n{log}")
        })
        .to_string();
    Served { child, addr }
}
