//! A batch of commands, built like the redis crate's pipeline, that knows
//! which replies its caller wants, so it can also run one command at a time
//! on a cluster.

use redis::{Cmd, Pipeline, ToRedisArgs};

/// Commands that never write, so a batch of them waits for no replica.
const READS: [&str; 24] = [
    "GET",
    "MGET",
    "EXISTS",
    "TYPE",
    "DUMP",
    "TTL",
    "PTTL",
    "STRLEN",
    "HGET",
    "HMGET",
    "HGETALL",
    "HLEN",
    "HEXISTS",
    "LRANGE",
    "LLEN",
    "LINDEX",
    "SMEMBERS",
    "SISMEMBER",
    "SCARD",
    "ZRANGE",
    "ZRANGEBYSCORE",
    "ZREVRANGE",
    "ZSCORE",
    "ZCARD",
];

/// Commands to run together; replies of `ignore`d ones are dropped.
#[derive(Default)]
pub struct Batch {
    pipe: Pipeline,
    ignored: Vec<bool>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a command; `arg` adds to it.
    pub fn cmd(&mut self, name: &str) -> &mut Self {
        self.pipe.cmd(name);
        self.ignored.push(false);
        self
    }

    /// Adds a whole command.
    pub fn add_command(&mut self, cmd: Cmd) -> &mut Self {
        self.pipe.add_command(cmd);
        self.ignored.push(false);
        self
    }

    /// Adds an argument to the last command.
    pub fn arg<T: ToRedisArgs>(&mut self, arg: T) -> &mut Self {
        self.pipe.arg(arg);
        self
    }

    /// Drops the last command's reply (an error still fails the batch).
    pub fn ignore(&mut self) -> &mut Self {
        self.pipe.ignore();
        if let Some(last) = self.ignored.last_mut() {
            *last = true;
        }
        self
    }

    pub fn len(&self) -> usize {
        self.ignored.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ignored.is_empty()
    }

    /// Whether any command may write.
    pub fn writes(&self) -> bool {
        self.pipe.cmd_iter().any(|c| !only_reads(c))
    }

    pub(super) fn pipeline(&self) -> &Pipeline {
        &self.pipe
    }

    pub(super) fn commands(&self) -> impl Iterator<Item = (&Cmd, bool)> {
        self.pipe.cmd_iter().zip(self.ignored.iter().copied())
    }
}

/// Whether `cmd` only reads (an unknown command may write).
pub(super) fn only_reads(cmd: &Cmd) -> bool {
    let Some(redis::Arg::Simple(name)) = cmd.args_iter().next() else {
        return false;
    };
    READS.iter().any(|r| r.as_bytes().eq_ignore_ascii_case(name))
}
