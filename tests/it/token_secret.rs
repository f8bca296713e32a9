//! The real binary and the token secret: the shipped secret is refused off
//! loopback (exit 2, naming the variable), a strong one serves there, and
//! on loopback a private secret is made that `waimai token --data-dir`
//! signs with, while a token forged from the public default is refused.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use waimai::app::secret::SHIPPED_SECRET;
use waimai::wire::auth::{Role, Tokens};

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("waimai-token-secret-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn waimai() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_waimai"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("WAIMAI_SERVER__SECRET")
        .env("RUST_LOG", "warn");
    cmd
}

/// A server that printed its address; killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(listen: &str, dir: &Path, secret: Option<&str>) -> Server {
    let mut cmd = waimai();
    cmd.args(["serve", "--listen", listen, "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(s) = secret {
        cmd.env("WAIMAI_SERVER__SECRET", s);
    }
    let mut child = cmd.spawn().expect("waimai serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("a first line");
    let port = line
        .trim()
        .strip_prefix("waimai serving on http://")
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    Server { child, port }
}

async fn console_status(port: u16, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/v1/console/state"))
        .bearer_auth(token)
        .send()
        .await
        .expect("the server answers")
        .status()
        .as_u16()
}

#[test]
fn the_shipped_secret_is_refused_off_loopback_with_exit_code_2() {
    for (secret, listen) in [
        (None, "0.0.0.0:0"),
        (Some("only-twenty-bytes-ok"), "0.0.0.0:0"),
        (Some(SHIPPED_SECRET), "[::]:0"),
    ] {
        let dir = fresh_dir("refused");
        let mut cmd = waimai();
        cmd.args(["serve", "--listen", listen, "--data-dir"]).arg(&dir);
        if let Some(s) = secret {
            cmd.env("WAIMAI_SERVER__SECRET", s);
        }
        let out = cmd.output().expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{secret:?} on {listen}: {stderr}");
        assert!(
            stderr.contains("WAIMAI_SERVER__SECRET") && stderr.contains(listen),
            "the message names the variable and the address: {stderr}"
        );
        assert!(
            !dir.join("token.secret").exists(),
            "no secret is made for a refused address"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strong_secret_serves_on_every_address() {
    let strong = "a-strong-operator-secret-of-40-bytes-0123";
    let dir = fresh_dir("strong");
    let server = serve("0.0.0.0:0", &dir, Some(strong));
    let operator = Tokens::new(strong).issue(&Role::Operator).unwrap();
    assert_eq!(console_status(server.port, &operator).await, 200);
    let forged = Tokens::new(SHIPPED_SECRET).issue(&Role::Operator).unwrap();
    assert_eq!(console_status(server.port, &forged).await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_loopback_a_private_secret_signs_and_the_public_one_does_not() {
    let dir = fresh_dir("loopback");
    // Before the server made one, the CLI says where to get it.
    let out = waimai()
        .args(["token", "operator", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WAIMAI_SERVER__SECRET"));

    let server = serve("127.0.0.1:0", &dir, None);
    let out = waimai()
        .args(["token", "operator", "--data-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let operator = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(console_status(server.port, &operator).await, 200);

    // The attack of issue 30: HMAC-SHA256 over the public default.
    let forged = Tokens::new(SHIPPED_SECRET).issue(&Role::Operator).unwrap();
    assert_eq!(console_status(server.port, &forged).await, 401);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("token.secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "owner-only");
    }
}
