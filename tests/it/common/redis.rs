//! A Redis for one test: its own redis-server on a free port with AOF on,
//! in a temp dir (killed when dropped), or, where redis-server is not
//! installed, the machine's 127.0.0.1:6379 under a fresh key prefix.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TestRedis {
    pub url: String,
    /// A key prefix no other test uses.
    pub prefix: String,
    child: Option<Child>,
    dir: PathBuf,
}

impl TestRedis {
    pub fn start(name: &str) -> Self {
        let prefix = format!("waimai-test:{name}:{}", std::process::id());
        let dir = std::env::temp_dir().join(format!("waimai-redis-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // A free port can be taken by another test's server between our
        // probe and redis-server's bind: retry until the server that
        // answers is ours (its dir is our dir).
        for _ in 0..10 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--appendonly",
                    "yes",
                ])
                .args(["--appendfsync", "everysec", "--save", "", "--dir"])
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let Ok(mut child) = child else {
                return TestRedis {
                    url: "redis://127.0.0.1:6379/".into(),
                    prefix,
                    child: None,
                    dir,
                };
            };
            let url = format!("redis://127.0.0.1:{port}/");
            if ours(&url, &dir, &mut child) {
                return TestRedis {
                    url,
                    prefix,
                    child: Some(child),
                    dir,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("could not start a redis-server of our own");
    }

    /// A raw connection, for tests that damage data on purpose.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap()
    }
}

/// Waits for the server at `url` to answer, true if it is `child`.
fn ours(url: &str, dir: &std::path::Path, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return false;
        }
        let answer = redis::Client::open(url)
            .and_then(|c| c.get_connection())
            .and_then(|mut c| {
                redis::cmd("CONFIG")
                    .arg("GET")
                    .arg("dir")
                    .query::<Vec<String>>(&mut c)
            });
        if let Ok(pair) = answer {
            let want = dir.canonicalize().unwrap_or(dir.to_path_buf());
            return pair.get(1).is_some_and(|d| std::path::Path::new(d) == want);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The seed URL of the local Redis Cluster (3 masters, 3 replicas) that
/// `scripts/ensure-redis-cluster` starts, or reuses when it already runs;
/// tests share it, each under keys of its own.
pub fn cluster_url() -> String {
    static URL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    URL.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ensure-redis-cluster");
        let out = Command::new(script)
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/ensure-redis-cluster runs");
        assert!(out.status.success(), "scripts/ensure-redis-cluster failed");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    })
    .clone()
}

/// A raw connection to `url` (one server or a cluster), for tests that
/// read or damage data behind the store's back.
pub fn raw_connection(url: &str) -> Box<dyn redis::ConnectionLike> {
    match waimai::kv::Target::parse(url).unwrap() {
        waimai::kv::Target::Single(u) => Box::new(redis::Client::open(u).unwrap().get_connection().unwrap()),
        waimai::kv::Target::Cluster(seeds) => Box::new(
            redis::cluster::ClusterClient::new(seeds)
                .unwrap()
                .get_connection()
                .unwrap(),
        ),
    }
}
