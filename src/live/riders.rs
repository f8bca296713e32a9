//! Each rider's link: its outbox, its current connection, its last GPS
//! fix, and what it was last told, so a change of plan becomes exactly one
//! message.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use super::Frame;
use crate::base::Secs;
use crate::map::LatLng;
use crate::wire::outbox::{Outbox, OutboxError};
use crate::wire::protocol::{ServerMessage, StopView};

/// ETAs that moved less than this are not worth a message.
const ETA_REFRESH_SECS: Secs = 120;

/// One rider as the live layer knows it.
pub(super) struct RiderLink {
    pub outbox: Outbox,
    /// The open connection: its number and frame queue.
    pub conn: Option<(u64, mpsc::Sender<Frame>)>,
    /// Since when the rider has had no connection.
    pub gone_since: Option<Instant>,
    pub fix: Option<LatLng>,
    /// Assignments (departures) given so far; the current one's number.
    pub assignment: u64,
    /// A departure was decided since the last message: the next one is a
    /// new `assignment`, not a `route_update`.
    pub new_assignment: bool,
    /// Where the rider was sent to wait, while on the way.
    pub reposition: Option<(StopView, Secs)>,
    /// The stops it was last sent.
    pub told: Vec<StopView>,
}

impl RiderLink {
    pub fn new(capacity: usize, assignments: u64) -> Self {
        Self {
            outbox: Outbox::new(capacity),
            conn: None,
            gone_since: Some(Instant::now()),
            fix: None,
            assignment: assignments,
            new_assignment: false,
            reposition: None,
            told: Vec::new(),
        }
    }

    /// The message that brings the app from what it was told to `stops`,
    /// if any is needed.
    pub fn update_for(&mut self, stops: Vec<StopView>) -> Option<ServerMessage> {
        let same_shape = stops.len() == self.told.len()
            && stops
                .iter()
                .zip(&self.told)
                .all(|(a, b)| a.order == b.order && a.kind == b.kind);
        let drift = stops
            .iter()
            .zip(&self.told)
            .map(|(a, b)| (a.eta_secs - b.eta_secs).abs())
            .max()
            .unwrap_or(0);
        let assignment = self.assignment;
        let message = if std::mem::take(&mut self.new_assignment) {
            ServerMessage::Assignment {
                assignment,
                stops: stops.clone(),
            }
        } else if !same_shape {
            ServerMessage::RouteUpdate {
                assignment,
                stops: stops.clone(),
            }
        } else if drift >= ETA_REFRESH_SECS {
            ServerMessage::EtaRefresh {
                assignment,
                stops: stops.clone(),
            }
        } else {
            return None;
        };
        self.told = stops;
        Some(message)
    }

    /// Numbers `message`, keeps it until acked and sends it if connected.
    /// A full outbox means the rider is hopelessly behind.
    pub fn push(&mut self, message: ServerMessage, decided: Option<Instant>) -> Result<(), OutboxError> {
        let frame = self.outbox.push(message)?;
        let json: Arc<str> = crate::base::json_string(frame).into();
        self.send(Frame::Text { json, decided });
        Ok(())
    }

    /// Hands a frame to the connection's writer; a writer too slow to keep
    /// up is dropped (the rider reconnects and resumes from its last ack).
    pub fn send(&mut self, frame: Frame) {
        if let Some((_, tx)) = &self.conn
            && tx.try_send(frame).is_err()
        {
            self.conn = None;
            self.gone_since = Some(Instant::now());
        }
    }
}
