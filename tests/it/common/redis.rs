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

/// The replica of the master that holds `key` on the cluster at `url`,
/// stopped (SIGSTOP) until dropped: it neither acknowledges nor fails,
/// like a replica on a machine that hangs.
pub struct PausedReplica {
    pid: u32,
}

impl PausedReplica {
    pub fn of_key(url: &str, key: &str) -> Self {
        let pid = pid_of(&replica_of(url, key));
        signal(pid, "-STOP");
        PausedReplica { pid }
    }
}

impl Drop for PausedReplica {
    fn drop(&mut self) {
        signal(self.pid, "-CONT");
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}

/// `host:port` of a replica of the master holding `key`'s slot.
pub fn replica_of(url: &str, key: &str) -> String {
    let mut c = raw_connection(url);
    slot_nodes(&mut *c, key).1.expect("a replica holds the slot")
}

/// `host:port` of the master holding `key`'s slot.
pub fn master_of(url: &str, key: &str) -> String {
    let mut c = raw_connection(url);
    slot_nodes(&mut *c, key).0
}

/// The pid of the Redis at `addr`.
pub fn pid_of(addr: &str) -> u32 {
    let mut c = node(addr).expect("the node answers");
    let info: String = redis::cmd("INFO").arg("server").query(&mut c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
        .expect("INFO server names process_id")
}

/// A plain connection to one node.
pub fn node(addr: &str) -> redis::RedisResult<redis::Connection> {
    redis::Client::open(format!("redis://{addr}"))?.get_connection_with_timeout(Duration::from_secs(2))
}

/// The master and a replica of `key`'s slot, as the node `c` sees them.
pub fn slot_nodes(c: &mut dyn redis::ConnectionLike, key: &str) -> (String, Option<String>) {
    let slot: i64 = redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).query(c).unwrap();
    let ranges: Vec<redis::Value> = redis::cmd("CLUSTER").arg("SLOTS").query(c).unwrap();
    let addr = |v: Option<&redis::Value>| {
        let Some(redis::Value::Array(node)) = v else {
            return None;
        };
        let host = match node.first() {
            Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
            _ => return None,
        };
        let Some(redis::Value::Int(port)) = node.get(1) else {
            return None;
        };
        Some(format!("{host}:{port}"))
    };
    for range in ranges {
        let redis::Value::Array(parts) = range else {
            continue;
        };
        let (Some(redis::Value::Int(lo)), Some(redis::Value::Int(hi))) = (parts.first(), parts.get(1)) else {
            continue;
        };
        if (*lo..=*hi).contains(&slot) {
            return (addr(parts.get(2)).expect("a master"), addr(parts.get(3)));
        }
    }
    panic!("no node holds the slot of {key}")
}

/// A Redis Cluster of a test's own (3 masters, 3 replicas, started by
/// scripts/ensure-redis-cluster in a folder of its own), for tests that
/// kill its nodes; stopped when dropped.
pub struct OwnCluster {
    pub url: String,
    pub dir: PathBuf,
}

impl OwnCluster {
    pub fn start(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("waimai-cluster-{name}-{}", std::process::id()));
        let out = Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/ensure-redis-cluster"
        ))
        .env("WAIMAI_CLUSTER_DIR", &dir)
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/ensure-redis-cluster runs");
        assert!(out.status.success(), "scripts/ensure-redis-cluster failed");
        let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
        OwnCluster { url, dir }
    }

    /// `host:port` of every node.
    pub fn nodes(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("ports"))
            .unwrap()
            .lines()
            .map(|p| format!("127.0.0.1:{}", p.trim()))
            .collect()
    }

    /// Starts the node at `addr` again from its config file.
    pub fn restart(&self, addr: &str) {
        let port = addr.rsplit(':').next().unwrap();
        let ok = Command::new("redis-server")
            .arg(self.dir.join(port).join("redis.conf"))
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "redis-server {addr} restarts");
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/ensure-redis-cluster"
        ))
        .arg("stop")
        .env("WAIMAI_CLUSTER_DIR", &self.dir)
        .status();
    }
}

pub fn kill_9(pid: u32) {
    signal(pid, "-KILL");
}

/// `name` made unique to this process and moment, for keys no other test
/// uses.
pub fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}
