//! A batch on a Redis Cluster: its commands grouped by the node that holds
//! their key's slot, each group one pipelined round trip on a connection
//! of our own to that node. A command the node does not own any more
//! (MOVED, ASK, TRYAGAIN, CLUSTERDOWN: not executed) goes again through the
//! redis crate's cluster client, which follows the redirect and retries
//! within bounds, and the slot map is read again. A node that cannot be
//! reached fails the batch: which of its commands ran is unknown, and
//! only the caller knows whether running them twice is harmless.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use redis::cluster::ClusterConnection;
use redis::{Cmd, Connection, ConnectionLike, RedisResult, Value};

use super::Batch;
use super::batch::only_reads;

/// Hash slots of a cluster.
const SLOTS: u16 = 16_384;
/// Bounds on our own connections to masters (a WAIT blocks at most its
/// own timeout, well under these).
const NODE_CONNECT_MS_MAX: u64 = 2_000;
const NODE_REPLY_MS_MAX: u64 = 10_000;

/// A cluster connection with a slot map and a connection per master.
pub struct ClusterLink {
    pub(super) client: ClusterConnection,
    /// `(first slot, last slot, "host:port")` of every master.
    slots: Vec<(u16, u16, String)>,
    nodes: HashMap<String, Connection>,
    /// Nodes our own connections wrote to since the last `wait`.
    written: BTreeSet<String>,
    /// Whether the cluster client wrote (a redirected write) since then.
    client_written: bool,
    /// Commands run again after a redirect, and the last redirect.
    pub redirects: u64,
    pub last_redirect: Option<String>,
}

impl ClusterLink {
    pub fn new(mut client: ClusterConnection) -> RedisResult<Self> {
        let slots = slot_map(&mut client)?;
        Ok(Self {
            client,
            slots,
            nodes: HashMap::new(),
            written: BTreeSet::new(),
            client_written: false,
            redirects: 0,
            last_redirect: None,
        })
    }

    /// Runs every command of `batch`; replies in the batch's order.
    pub fn run(&mut self, batch: &Batch) -> RedisResult<Vec<Value>> {
        let commands: Vec<&Cmd> = batch.commands().map(|(c, _)| c).collect();
        let mut replies: Vec<Option<Value>> = vec![None; commands.len()];
        let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, cmd) in commands.iter().enumerate() {
            let node = key_of(cmd)
                .and_then(|k| self.node_of(slot(k)))
                .map(str::to_string);
            match node {
                Some(node) => groups.entry(node).or_default().push(i),
                None => {
                    self.client_written |= !only_reads(cmd);
                    replies[i] = Some(self.client.req_command(cmd)?);
                }
            }
        }
        let groups: Vec<(String, Vec<usize>)> = groups.into_iter().collect();
        let values = match self.exchange(&groups, &commands) {
            Ok(v) => v,
            Err(e) => {
                // Which replies are still unread is unknown: these
                // connections are not used again.
                for (node, _) in &groups {
                    self.nodes.remove(node);
                }
                let _ = self.refresh();
                return Err(e);
            }
        };
        let mut stale = false;
        for ((node, group), values) in groups.iter().zip(values) {
            for (&i, value) in group.iter().zip(values) {
                let writes = !only_reads(commands[i]);
                if writes && !matches!(&value, Value::ServerError(e) if redirected(e.code())) {
                    // Ran here: WAIT on this connection covers it.
                    self.written.insert(node.clone());
                }
                replies[i] = Some(match value {
                    Value::ServerError(e) if redirected(e.code()) => {
                        stale = true;
                        self.redirects += 1;
                        self.last_redirect = Some(format!("{} {}", e.code(), e.details().unwrap_or("")));
                        self.client_written |= writes;
                        self.client.req_command(commands[i])?
                    }
                    other => other,
                });
            }
        }
        if stale {
            self.refresh()?;
        }
        replies
            .into_iter()
            .map(|r| r.unwrap_or(Value::Nil).extract_error())
            .collect()
    }

    /// Sends every master its pipeline, then reads the replies: the
    /// masters work at once, so a batch costs one round trip, not one per
    /// master.
    fn exchange(
        &mut self,
        groups: &[(String, Vec<usize>)],
        commands: &[&Cmd],
    ) -> RedisResult<Vec<Vec<Value>>> {
        for (node, group) in groups {
            let mut pipe = redis::pipe();
            for &i in group {
                pipe.add_command(commands[i].clone());
            }
            self.node(node)?
                .send_packed_command(&pipe.get_packed_pipeline())?;
        }
        let mut all = Vec::with_capacity(groups.len());
        for (node, group) in groups {
            let conn = self.node(node)?;
            let mut values = Vec::with_capacity(group.len());
            for _ in group {
                values.push(conn.recv_response()?);
            }
            all.push(values);
        }
        Ok(all)
    }

    /// `WAIT replicas timeout_ms` on every connection that wrote since the
    /// last call; the fewest replicas any of them confirmed.
    pub fn wait(&mut self, replicas: u32, timeout_ms: u64) -> RedisResult<u32> {
        let mut acked = u32::MAX;
        let mut wait = redis::cmd("WAIT");
        wait.arg(replicas).arg(timeout_ms);
        for node in std::mem::take(&mut self.written) {
            let n: u32 = match self.node(&node).and_then(|c| wait.query(c)) {
                Ok(n) => n,
                Err(e) => {
                    self.nodes.remove(&node);
                    return Err(e);
                }
            };
            acked = acked.min(n);
        }
        if std::mem::take(&mut self.client_written) {
            // Routed to every master; the reply is the smallest count.
            acked = acked.min(wait.query(&mut self.client)?);
        }
        Ok(if acked == u32::MAX { replicas } else { acked })
    }

    fn node_of(&self, slot: u16) -> Option<&str> {
        self.slots
            .iter()
            .find(|(lo, hi, _)| (*lo..=*hi).contains(&slot))
            .map(|(_, _, node)| node.as_str())
    }

    /// `host:port` of every master, from the slot map.
    pub fn masters(&self) -> Vec<String> {
        let mut masters: Vec<String> = self.slots.iter().map(|(_, _, n)| n.clone()).collect();
        masters.sort();
        masters.dedup();
        masters
    }

    /// Our own connection to the node at `addr`, opened on first use.
    pub fn node(&mut self, addr: &str) -> RedisResult<&mut Connection> {
        if !self.nodes.contains_key(addr) {
            let conn = redis::Client::open(format!("redis://{addr}"))?
                .get_connection_with_timeout(Duration::from_millis(NODE_CONNECT_MS_MAX))?;
            // A master that hangs fails the batch instead of the process.
            conn.set_read_timeout(Some(Duration::from_millis(NODE_REPLY_MS_MAX)))?;
            self.nodes.insert(addr.to_string(), conn);
        }
        self.nodes
            .get_mut(addr)
            .ok_or_else(|| redis::RedisError::from((redis::ErrorKind::IoError, "node connection lost")))
    }

    /// Forgets every node connection and reads the slot map again.
    pub fn reset(&mut self) {
        self.nodes.clear();
        let _ = self.refresh();
    }

    fn refresh(&mut self) -> RedisResult<()> {
        self.slots = slot_map(&mut self.client)?;
        let live: Vec<String> = self.slots.iter().map(|(_, _, n)| n.clone()).collect();
        self.nodes.retain(|addr, _| live.contains(addr));
        Ok(())
    }
}

/// Replies that mean "not executed here": ask the cluster client.
fn redirected(code: &str) -> bool {
    matches!(code, "MOVED" | "ASK" | "TRYAGAIN" | "CLUSTERDOWN")
}

/// The key a command is routed by, if it has one.
fn key_of(cmd: &Cmd) -> Option<&[u8]> {
    let arg = |i: usize| match cmd.args_iter().nth(i) {
        Some(redis::Arg::Simple(a)) => Some(a),
        _ => None,
    };
    let name = arg(0)?.to_ascii_uppercase();
    match name.as_slice() {
        b"EVAL" | b"EVALSHA" => {
            let keys: usize = std::str::from_utf8(arg(2)?).ok()?.parse().ok()?;
            if keys == 0 { None } else { arg(3) }
        }
        b"ECHO" | b"PING" | b"SCRIPT" | b"CLUSTER" | b"INFO" | b"SCAN" => None,
        _ => arg(1),
    }
}

/// The hash slot of `key`: CRC16 (XMODEM) of its hash tag, or of the whole
/// key when it has none.
pub fn slot(key: &[u8]) -> u16 {
    let tagged = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        let close = rest.iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &rest[..close])
    });
    crc16(tagged.unwrap_or(key)) % SLOTS
}

fn crc16(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Masters by slot range, from CLUSTER SLOTS.
fn slot_map(client: &mut ClusterConnection) -> RedisResult<Vec<(u16, u16, String)>> {
    let ranges: Vec<Value> = redis::cmd("CLUSTER").arg("SLOTS").query(client)?;
    let mut slots = Vec::with_capacity(ranges.len());
    for range in ranges {
        let Value::Array(parts) = range else { continue };
        let (Some(Value::Int(lo)), Some(Value::Int(hi)), Some(Value::Array(master))) =
            (parts.first(), parts.get(1), parts.get(2))
        else {
            continue;
        };
        let host = match master.first() {
            Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
            Some(Value::SimpleString(s)) => s.clone(),
            _ => continue,
        };
        let Some(Value::Int(port)) = master.get(1) else {
            continue;
        };
        slots.push((*lo as u16, *hi as u16, format!("{host}:{port}")));
    }
    Ok(slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_cluster_specification() {
        // The CRC16 check value of XMODEM, and a key's tag decides its slot.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"waimai:{c:42}:meta"), slot(b"c:42"));
        assert_eq!(slot(b"a{}b"), crc16(b"a{}b") % SLOTS);
    }
}
