//! The rider protocol: connections and replay, locations, status,
//! rejections, pickups and deliveries.

use std::time::Instant;

use tokio::sync::mpsc;

use super::Actor;
use crate::base::Secs;
use crate::engine::{Activity, Event, OrderId, OrderStatus, RiderId, RiderSpec};
use crate::live::records::LiveRecord;
use crate::live::riders::RiderLink;
use crate::live::{Frame, LiveError};
use crate::map::{LatLng, MapError};
use crate::wire::protocol::{ProtocolError, RiderMessage, RiderStatus, ServerMessage};

impl Actor {
    pub(super) fn link(&mut self, rider: RiderId) -> &mut RiderLink {
        let capacity = self.options.outbox_capacity;
        self.links
            .entry(rider)
            .or_insert_with(|| RiderLink::new(capacity, 0))
    }

    pub(super) fn connect(
        &mut self,
        rider: RiderId,
        last_seq: u64,
        frames: mpsc::Sender<Frame>,
    ) -> Result<u64, LiveError> {
        let conn = self.next_conn;
        self.next_conn += 1;
        let link = self.link(rider);
        let bad = |e: crate::wire::outbox::OutboxError| LiveError::Invalid {
            field: "last_seq",
            reason: e.to_string(),
        };
        if last_seq > link.outbox.last_sent() {
            // The rider holds numbers this process never sent: a restart
            // lost the outbox. Go on after them with a full picture.
            link.outbox.restart_after(last_seq);
            link.told.clear();
            link.new_assignment = true;
        }
        let replay: Vec<_> = link.outbox.resume(last_seq).map_err(bad)?.cloned().collect();
        if let Some((_, old)) = link.conn.take() {
            let _ = old.try_send(Frame::Close);
        }
        link.conn = Some((conn, frames));
        link.gone_since = None;
        for frame in replay {
            let json = crate::base::json_string(&frame).into();
            link.send(Frame::Text { json, decided: None });
        }
        self.batch.touched_riders.insert(rider);
        Ok(conn)
    }

    pub(super) fn rider_message(&mut self, rider: RiderId, message: RiderMessage) {
        let now = self.clock.now_secs();
        let result = match message {
            RiderMessage::Location { lat, lng, .. } => self.locate(rider, lat, lng),
            RiderMessage::Status { status } => self.status(now, rider, status),
            RiderMessage::Accept { .. } => Ok(()),
            RiderMessage::Reject { assignment, .. } => self.reject(now, rider, assignment),
            RiderMessage::PickedUp { order } => self.picked_up(now, rider, &order),
            RiderMessage::Delivered { order } => self.delivered(now, rider, &order),
            RiderMessage::Ack { seq } => self
                .link(rider)
                .outbox
                .ack(seq)
                .map_err(|e| ProtocolError::new("bad_ack", Some("seq"), e.to_string())),
        };
        if let Err(e) = result {
            self.batch.messages.push((rider, ServerMessage::Error(e)));
        }
    }

    pub(super) fn locate(&mut self, rider: RiderId, lat: f64, lng: f64) -> Result<(), ProtocolError> {
        let bad = |e: MapError| ProtocolError::new("bad_field", Some("lat,lng"), e.to_string());
        let at = LatLng::new(lat, lng).map_err(bad)?;
        let snapped = self.network.snap(at).map_err(bad)?;
        self.link(rider).fix = Some(at);
        if self.engine.is_rider_online(rider) {
            let now = self.clock.now_secs();
            let _ = self.engine.locate_rider(now, rider, snapped);
        }
        Ok(())
    }

    pub(super) fn status(
        &mut self,
        now: Secs,
        rider: RiderId,
        status: RiderStatus,
    ) -> Result<(), ProtocolError> {
        match status {
            RiderStatus::Online => {
                if self.engine.is_rider_online(rider) {
                    return Ok(());
                }
                let at = self.link(rider).fix.ok_or_else(|| {
                    ProtocolError::new(
                        "not_allowed",
                        Some("status"),
                        "send a location before going online",
                    )
                })?;
                let (vehicle, capacity_orders) = self.rider_profiles.kit(rider.0, &self.network);
                let spec = RiderSpec {
                    id: rider,
                    start: at,
                    on_secs: now,
                    off_secs: now + self.options.shift_secs,
                    vehicle,
                    capacity_orders,
                };
                self.apply_event(now, Event::RiderOnline(spec))
                    .map_err(|e| ProtocolError::new("not_allowed", Some("status"), e.to_string()))
            }
            RiderStatus::Break | RiderStatus::Offline => {
                self.go_offline(now, rider);
                Ok(())
            }
        }
    }

    /// Takes a rider off dispatch: what it has not picked up is planned
    /// again.
    pub(super) fn go_offline(&mut self, now: Secs, rider: RiderId) {
        if !self.engine.is_rider_online(rider) {
            return;
        }
        let held = self.trip_orders(rider);
        if self.apply_event(now, Event::RiderOffline { rider }).is_ok() {
            self.batch.touched_riders.insert(rider);
            self.batch.decided_orders.extend(held);
        }
    }

    pub(super) fn trip_orders(&self, rider: RiderId) -> Vec<OrderId> {
        match self.engine.rider_activity(rider) {
            Some(Activity::Heading { trip, .. }) => trip.orders.clone(),
            _ => Vec::new(),
        }
    }

    /// A rider declining its assignment goes on break: its orders are
    /// planned again, and it says `online` when it wants work again.
    pub(super) fn reject(&mut self, now: Secs, rider: RiderId, assignment: u64) -> Result<(), ProtocolError> {
        let current = self.link(rider).assignment;
        let heading = matches!(self.engine.rider_activity(rider), Some(Activity::Heading { .. }));
        if assignment != current || !heading {
            return Err(ProtocolError::new(
                "not_allowed",
                Some("assignment"),
                format!("assignment {assignment} is not yours to reject (current: {current})"),
            ));
        }
        self.go_offline(now, rider);
        Ok(())
    }

    pub(super) fn order_of(&self, rider: RiderId, text: &str) -> Result<OrderId, ProtocolError> {
        let id = text.parse().map(OrderId).map_err(|_| {
            ProtocolError::new("bad_field", Some("order"), format!("{text:?} is not an order id"))
        })?;
        let mine = match self.engine.order_status(id) {
            Some(OrderStatus::Assigned { rider: r, .. } | OrderStatus::PickedUp { rider: r, .. }) => {
                *r == rider
            }
            _ => false,
        };
        if !mine {
            return Err(ProtocolError::new(
                "not_allowed",
                Some("order"),
                format!("order {text} is not on your trip"),
            ));
        }
        Ok(id)
    }

    pub(super) fn picked_up(&mut self, now: Secs, rider: RiderId, order: &str) -> Result<(), ProtocolError> {
        let id = self.order_of(rider, order)?;
        if !matches!(self.engine.order_status(id), Some(OrderStatus::Assigned { .. })) {
            return Ok(()); // Already picked up with its bundle: a repeat.
        }
        let command = self
            .engine
            .pick_up(now, rider)
            .map_err(|e| ProtocolError::new("not_allowed", Some("order"), e.to_string()))?;
        self.note_command(&command, Instant::now());
        self.batch.records.push(LiveRecord::Decision { command });
        Ok(())
    }

    pub(super) fn delivered(&mut self, now: Secs, rider: RiderId, order: &str) -> Result<(), ProtocolError> {
        let id = self.order_of(rider, order)?;
        self.apply_event(now, Event::Delivered { rider, order: id })
            .map_err(|e| ProtocolError::new("not_allowed", Some("order"), e.to_string()))?;
        self.tell_crm(id, true);
        self.etas.remove(&id);
        self.batch.decided_orders.insert(id);
        self.batch.touched_riders.insert(rider);
        Ok(())
    }
}
