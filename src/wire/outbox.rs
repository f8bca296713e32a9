//! One rider's outbox: every server message gets the next sequence number
//! and stays until the rider acknowledges it (cumulatively). After a
//! reconnect the rider says the last sequence number it processed, and
//! everything after it is sent again, in order. Phones drop connections
//! all the time; this is why nothing sent to a rider is ever lost, and why
//! a duplicate is harmless (the app skips sequence numbers it has seen).
//!
//! Bounded: an outbox holds at most `capacity` unacknowledged messages. A
//! rider that far behind is treated as gone (the caller takes it offline
//! and reassigns its orders) rather than growing memory without end.

use std::collections::VecDeque;

use thiserror::Error;

use super::protocol::{Outgoing, PROTOCOL_VERSION, ServerMessage};

/// Why the outbox refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum OutboxError {
    #[error("{capacity} messages unacknowledged: the rider is too far behind")]
    Full { capacity: usize },
    #[error("ack of seq {seq}, but only {last_sent} were sent")]
    AckAhead { seq: u64, last_sent: u64 },
}

/// One rider's unacknowledged messages.
#[derive(Debug, Clone)]
pub struct Outbox {
    last_sent: u64,
    unacked: VecDeque<Outgoing>,
    capacity: usize,
}

impl Outbox {
    /// An empty outbox holding at most `capacity` unacknowledged messages.
    pub fn new(capacity: usize) -> Self {
        Self {
            last_sent: 0,
            unacked: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Numbers `message` and keeps it until acknowledged; returns the frame
    /// to send now.
    pub fn push(&mut self, message: ServerMessage) -> Result<&Outgoing, OutboxError> {
        if self.unacked.len() >= self.capacity {
            return Err(OutboxError::Full {
                capacity: self.capacity,
            });
        }
        self.last_sent += 1;
        self.unacked.push_back(Outgoing {
            v: PROTOCOL_VERSION,
            seq: self.last_sent,
            message,
        });
        // Just pushed, so the queue is not empty.
        Ok(&self.unacked[self.unacked.len() - 1])
    }

    /// The rider processed everything up to `seq`: forget it. Acks of old
    /// numbers are harmless; an ack of a number never sent is an error.
    pub fn ack(&mut self, seq: u64) -> Result<(), OutboxError> {
        if seq > self.last_sent {
            return Err(OutboxError::AckAhead {
                seq,
                last_sent: self.last_sent,
            });
        }
        while self.unacked.front().is_some_and(|m| m.seq <= seq) {
            self.unacked.pop_front();
        }
        Ok(())
    }

    /// A reconnect: the rider processed up to `last_processed`; returns
    /// the frames to send again, in order.
    pub fn resume(&mut self, last_processed: u64) -> Result<impl Iterator<Item = &Outgoing>, OutboxError> {
        self.ack(last_processed)?;
        Ok(self.unacked.iter())
    }

    /// The rider holds numbers up to `last_seq` that this outbox never
    /// gave out: the server restarted and lost its outboxes. What waits
    /// here is dropped and numbering goes on after `last_seq`; the caller
    /// then sends the rider a full picture of its work, which supersedes
    /// whatever was dropped.
    pub fn restart_after(&mut self, last_seq: u64) {
        self.unacked.clear();
        self.last_sent = self.last_sent.max(last_seq);
    }

    /// The last sequence number given out.
    pub fn last_sent(&self) -> u64 {
        self.last_sent
    }

    /// How many messages wait for an ack.
    pub fn pending(&self) -> usize {
        self.unacked.len()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn msg(k: u64) -> ServerMessage {
        ServerMessage::OrderCancelled {
            order: format!("o{k}"),
            reason: "test".into(),
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push,
        Deliver,
        Ack,
        Disconnect,
        Reconnect,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => Just(Op::Push),
            4 => Just(Op::Deliver),
            1 => Just(Op::Ack),
            1 => Just(Op::Disconnect),
            1 => Just(Op::Reconnect),
        ]
    }

    proptest! {
        /// A rider app over a link that loses every frame in flight when it
        /// drops, acking now and then and resuming after each reconnect,
        /// ends up having processed every pushed message exactly once, in
        /// order.
        #[test]
        fn nothing_is_lost_or_processed_twice(ops in prop::collection::vec(op(), 1..200)) {
            let mut outbox = Outbox::new(10_000);
            let mut link: VecDeque<Outgoing> = VecDeque::new();
            let mut connected = true;
            let (mut processed, mut last_seen) = (Vec::new(), 0u64);
            let mut pushed = 0u64;
            let deliver = |link: &mut VecDeque<Outgoing>, processed: &mut Vec<ServerMessage>, last_seen: &mut u64| {
                if let Some(f) = link.pop_front() {
                    // The app processes the next number only; anything else
                    // is a duplicate (or follows a gap a resume will fill).
                    if f.seq == *last_seen + 1 {
                        processed.push(f.message);
                        *last_seen = f.seq;
                    }
                }
            };
            for o in ops {
                match o {
                    Op::Push => {
                        pushed += 1;
                        let frame = outbox.push(msg(pushed)).unwrap().clone();
                        if connected {
                            link.push_back(frame);
                        }
                    }
                    Op::Deliver => deliver(&mut link, &mut processed, &mut last_seen),
                    Op::Ack => outbox.ack(last_seen).unwrap(),
                    Op::Disconnect => {
                        connected = false;
                        link.clear();
                    }
                    Op::Reconnect => {
                        link.clear();
                        link.extend(outbox.resume(last_seen).unwrap().cloned());
                        connected = true;
                    }
                }
            }
            // Finally a clean reconnect and a link that keeps up.
            link.clear();
            link.extend(outbox.resume(last_seen).unwrap().cloned());
            while !link.is_empty() {
                deliver(&mut link, &mut processed, &mut last_seen);
            }
            let want: Vec<ServerMessage> = (1..=pushed).map(msg).collect();
            prop_assert_eq!(processed, want);
            outbox.ack(last_seen).unwrap();
            prop_assert_eq!(outbox.pending(), 0);
        }
    }

    #[test]
    fn bounded_and_strict_about_acks() {
        let mut o = Outbox::new(2);
        o.push(msg(1)).unwrap();
        o.push(msg(2)).unwrap();
        assert_eq!(o.push(msg(3)), Err(OutboxError::Full { capacity: 2 }));
        assert_eq!(o.ack(5), Err(OutboxError::AckAhead { seq: 5, last_sent: 2 }));
        o.ack(1).unwrap();
        o.ack(1).unwrap(); // a duplicate ack is harmless
        assert_eq!(o.pending(), 1);
        assert_eq!(o.push(msg(3)).unwrap().seq, 3);
        let again: Vec<u64> = o.resume(2).unwrap().map(|f| f.seq).collect();
        assert_eq!(again, [3]);
    }
}
