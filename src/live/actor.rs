//! The actor: one thread that owns the engine. It takes inputs in batches,
//! applies them, journals what they changed with one fsync, and only then
//! answers requests and tells riders (journal before acknowledgement).
//! Planning runs on the rayon pool from an owned snapshot and comes back
//! as an input.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use super::clock::EngineClock;
use super::crm_feed::{self, CrmFeed, CrmOrder};
use super::metrics::Metrics;
use super::records::{self, LiveRecord, OrderMeta};
use super::riders::RiderLink;
use super::view::{Card, CardBody, EtaBody, RiderDot, View};
use super::{
    Frame, Input, LiveError, LiveHandle, LiveOptions, LiveSetup, NewOrder, OrderReply, Restaurant, Restored,
    Scope, eta_p90,
};
use crate::base::Secs;
use crate::dispatch::online::{self, Plan, ServiceSecs};
use crate::engine::{
    Activity, Command, Engine, EngineConfig, Event, OrderId, OrderSpec, OrderStatus, PendingTick, PickupRule,
    RiderId, RiderSpec,
};
use crate::map::{LatLng, MapError, RoadNetwork, Snapped};
use crate::store::Log;
use crate::wire::protocol::{ProtocolError, RiderMessage, RiderStatus, ServerMessage, StopView};

/// Most inputs applied under one fsync.
const BATCH_MAX: usize = 1024;
/// Longest a merchant may announce for food preparation.
const READY_IN_SECS_MAX: Secs = 4 * 3600;
const IDEMPOTENCY_KEY_LEN_MAX: usize = 128;
const REASON_LEN_MAX: usize = 200;
/// The console's picture is redrawn at most this often.
const CONSOLE_EVERY: Duration = Duration::from_millis(500);

/// A plan made on the rayon pool, coming back to be applied.
pub(crate) struct PlanDone {
    pending: PendingTick<Snapped>,
    plan: Result<Plan, MapError>,
    micros: u64,
}

/// A reply that waits for the batch's journal write.
type Deferred = (
    oneshot::Sender<Result<OrderReply, LiveError>>,
    Result<(OrderId, bool), LiveError>,
);

struct Actor {
    engine: Engine<Arc<RoadNetwork>>,
    network: Arc<RoadNetwork>,
    restaurants: Vec<Restaurant>,
    restaurant_index: HashMap<String, u32>,
    options: LiveOptions,
    clock: EngineClock,
    journal: Log,
    orders: HashMap<OrderId, OrderMeta>,
    idempotency: HashMap<(String, String), OrderId>,
    next_order: u64,
    links: HashMap<RiderId, RiderLink>,
    next_conn: u64,
    /// The latest plan's (pickup, drop-off) times per order.
    etas: HashMap<OrderId, (Secs, Secs)>,
    view: Arc<View>,
    metrics: Arc<Metrics>,
    tx: SyncSender<Input>,
    /// The planner's own threads: one core fewer than the machine, so
    /// sockets and HTTP keep a core while a large tick is planned.
    planner: Arc<rayon::ThreadPool>,
    planning: bool,
    next_tick_secs: Secs,
    last_sweep: Instant,
    last_console: Instant,
    // What the current batch changed, for the commit.
    records: Vec<LiveRecord>,
    deferred: Vec<Deferred>,
    touched_orders: BTreeSet<OrderId>,
    touched_riders: BTreeSet<RiderId>,
    /// Delivered and cancelled orders for the CRM, sent after the journal.
    crm_feed: Option<CrmFeed>,
    crm_out: Vec<crate::crm::Request>,
    /// Orders whose state a decision of this batch changed.
    decided_orders: BTreeSet<OrderId>,
    messages: Vec<(RiderId, ServerMessage)>,
    decided: HashMap<RiderId, Instant>,
}

fn planner_pool() -> Result<rayon::ThreadPool, LiveError> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    rayon::ThreadPoolBuilder::new()
        .num_threads((cores - 1).max(1))
        .thread_name(|i| format!("waimai-plan-{i}"))
        .build()
        .map_err(|e| {
            LiveError::Store(crate::store::StoreError::Io {
                path: "waimai-plan".into(),
                reason: format!("cannot start the planner threads: {e}"),
            })
        })
}

pub(super) fn start(setup: LiveSetup) -> Result<(LiveHandle, Restored), LiveError> {
    let LiveSetup {
        network,
        restaurants,
        options,
        log,
        crm,
    } = setup;
    let (journal, history) = Log::open::<LiveRecord>(&log)?;
    let places = restaurants
        .iter()
        .map(|r| network.snap(r.at))
        .collect::<Result<Vec<_>, _>>()?;
    let config = EngineConfig {
        policy: options.policy,
        service: ServiceSecs::split(options.pickup_service_secs, options.dropoff_service_secs),
        pickup: PickupRule::Confirmed,
    };
    let mut engine = Engine::new(network.clone(), places, config);
    let n_records = history.len();
    let replayed = records::replay(&mut engine, &network, history)?;
    let (tx, rx) = sync_channel(options.queue_capacity);
    let clock = EngineClock::start(replayed.last_secs, options.clock_speed);
    let mut idempotency = HashMap::new();
    for (id, meta) in &replayed.orders {
        if let Some(key) = &meta.idempotency_key {
            idempotency.insert((meta.merchant.clone(), key.clone()), *id);
        }
    }
    let mut links = HashMap::new();
    for (spec, _) in engine.riders() {
        let given = replayed.assignments.get(&spec.id).copied().unwrap_or(0);
        links.insert(spec.id, RiderLink::new(options.outbox_capacity, given));
    }
    let restored = Restored {
        records: n_records,
        orders: replayed.orders.len(),
        riders: links.len(),
    };
    let view = Arc::new(View::default());
    let metrics = Arc::new(Metrics::default());
    let mut actor = Actor {
        next_order: replayed.orders.keys().map(|o| o.0 + 1).max().unwrap_or(1),
        orders: replayed.orders,
        restaurant_index: restaurants
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i as u32))
            .collect(),
        restaurants,
        engine,
        network,
        clock,
        journal,
        idempotency,
        links,
        next_conn: 1,
        etas: HashMap::new(),
        view: view.clone(),
        metrics: metrics.clone(),
        tx: tx.clone(),
        planner: Arc::new(planner_pool()?),
        planning: false,
        // Riders reconnect after a restart before anything is planned again.
        next_tick_secs: clock.now_secs() + options.tick_secs,
        last_sweep: Instant::now(),
        last_console: Instant::now() - CONSOLE_EVERY,
        options,
        records: Vec::new(),
        deferred: Vec::new(),
        touched_orders: BTreeSet::new(),
        touched_riders: BTreeSet::new(),
        crm_feed: None,
        crm_out: Vec::new(),
        decided_orders: BTreeSet::new(),
        messages: Vec::new(),
        decided: HashMap::new(),
    };
    if let Some(crm) = crm {
        let feed = CrmFeed::start(crm, metrics.clone()).map_err(|e| crate::store::StoreError::Io {
            path: "waimai-crm".into(),
            reason: format!("cannot start the CRM thread: {e}"),
        })?;
        actor.crm_feed = Some(feed);
        actor.resend_crm();
    }
    actor.touched_orders = actor.orders.keys().copied().collect();
    actor.refresh_view();
    actor.view.put_console(actor.console_json().into());
    std::thread::Builder::new()
        .name("waimai-engine".into())
        .spawn(move || actor.run(rx))
        .map_err(|e| crate::store::StoreError::Io {
            path: "waimai-engine".into(),
            reason: format!("cannot start the engine thread: {e}"),
        })?;
    Ok((
        LiveHandle {
            tx,
            view,
            metrics,
            clock,
        },
        restored,
    ))
}

impl Actor {
    fn run(mut self, rx: Receiver<Input>) {
        loop {
            let wait = self.until_next_tick();
            let mut batch = Vec::new();
            match rx.recv_timeout(wait) {
                Ok(input) => batch.push(input),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            // A plan ends its batch: its riders are told at once, not
            // after a thousand location fixes queued behind it.
            while batch.len() < BATCH_MAX && !matches!(batch.last(), Some(Input::Planned(_))) {
                match rx.try_recv() {
                    Ok(input) => batch.push(input),
                    Err(_) => break,
                }
            }
            let mut stop = None;
            for input in batch {
                match input {
                    Input::Shutdown { reply } => stop = Some(reply),
                    other => self.apply(other),
                }
            }
            self.housekeeping();
            if !self.commit() {
                error!("journal write failed: the engine stops so a restart rebuilds from the journal");
                break;
            }
            if let Some(reply) = stop {
                if let Some(feed) = self.crm_feed.take() {
                    feed.close();
                }
                for link in self.links.values_mut() {
                    link.send(Frame::Close);
                }
                info!(records = self.journal.len(), "engine stopped");
                let _ = reply.send(());
                break;
            }
        }
    }

    /// Wall time until the next tick is due (at most a second, so timeouts
    /// are checked).
    fn until_next_tick(&self) -> Duration {
        let left = self.next_tick_secs - self.clock.now_secs();
        self.clock
            .wall(left)
            .clamp(Duration::from_millis(1), Duration::from_secs(1))
    }

    fn apply(&mut self, input: Input) {
        match input {
            Input::Place { scope, order, reply } => {
                let result = self.place(&scope, order);
                self.deferred.push((reply, result));
            }
            Input::Cancel {
                scope,
                order,
                reason,
                reply,
            } => {
                let result = self.cancel(&scope, OrderId(order), reason);
                self.deferred.push((reply, result.map(|id| (id, false))));
            }
            Input::Ready { scope, order, reply } => {
                let result = self.ready(&scope, OrderId(order));
                self.deferred.push((reply, result.map(|id| (id, false))));
            }
            Input::Connect {
                rider,
                last_seq,
                frames,
                reply,
            } => {
                let _ = reply.send(self.connect(rider, last_seq, frames));
            }
            Input::Disconnected { rider, conn } => {
                if let Some(link) = self.links.get_mut(&rider)
                    && link.conn.as_ref().is_some_and(|(c, _)| *c == conn)
                {
                    link.conn = None;
                    link.gone_since = Some(Instant::now());
                }
            }
            Input::Rider { rider, message } => self.rider_message(rider, message),
            Input::RiderError { rider, error } => self.messages.push((rider, ServerMessage::Error(error))),
            Input::Planned(done) => self.finish_tick(*done),
            Input::Shutdown { .. } => {}
        }
    }

    // ----- merchants -------------------------------------------------

    fn place(&mut self, scope: &Scope, o: NewOrder) -> Result<(OrderId, bool), LiveError> {
        let invalid = |field, reason: String| LiveError::Invalid { field, reason };
        let r = *self
            .restaurant_index
            .get(&o.restaurant)
            .ok_or_else(|| invalid("restaurant", format!("unknown restaurant {:?}", o.restaurant)))?;
        let merchant = self.restaurants[r as usize].merchant.clone();
        if !scope.sees(&merchant) {
            return Err(LiveError::Forbidden(o.restaurant));
        }
        if !(0..=READY_IN_SECS_MAX).contains(&o.ready_in_secs) {
            return Err(invalid(
                "ready_in_secs",
                format!("must be within 0..={READY_IN_SECS_MAX}"),
            ));
        }
        if let Some(Err((field, reason))) = o.crm.as_ref().map(CrmOrder::check) {
            return Err(invalid(field, reason));
        }
        let crm_json = o
            .crm
            .as_ref()
            .map(|c| serde_json::to_string(c).unwrap_or_default());
        let request_hash = crate::base::fnv1a(
            format!(
                "{}|{}|{}|{}|{}",
                o.restaurant,
                o.customer.lat,
                o.customer.lng,
                o.ready_in_secs,
                crm_json.unwrap_or_default()
            )
            .as_bytes(),
        );
        if let Some(key) = &o.idempotency_key {
            if key.is_empty() || key.len() > IDEMPOTENCY_KEY_LEN_MAX {
                return Err(invalid(
                    "Idempotency-Key",
                    format!("1 to {IDEMPOTENCY_KEY_LEN_MAX} characters"),
                ));
            }
            if let Some(&id) = self.idempotency.get(&(merchant.clone(), key.clone())) {
                let same = self
                    .orders
                    .get(&id)
                    .is_some_and(|m| m.request_hash == request_hash);
                return if same {
                    Ok((id, true))
                } else {
                    Err(LiveError::Conflict {
                        field: "Idempotency-Key",
                        reason: format!("already used for order {} with a different request", id.0),
                    })
                };
            }
        }
        let customer = self
            .network
            .snap(o.customer)
            .map_err(|e| invalid("customer", e.to_string()))?;
        let now = self.clock.now_secs();
        let id = OrderId(self.next_order);
        let spec = OrderSpec {
            id,
            restaurant: r,
            customer,
            placed_secs: now,
            ready_secs: now + o.ready_in_secs,
        };
        self.engine.handle(now, Event::OrderPlaced(spec))?;
        self.next_order += 1;
        if let Some(key) = &o.idempotency_key {
            self.idempotency.insert((merchant.clone(), key.clone()), id);
        }
        self.records.push(LiveRecord::Placed {
            at_secs: now,
            order: OrderSpec {
                id,
                restaurant: r,
                customer: o.customer,
                placed_secs: now,
                ready_secs: now + o.ready_in_secs,
            },
            merchant: merchant.clone(),
            idempotency_key: o.idempotency_key.clone(),
            request_hash,
            crm: o.crm.clone(),
        });
        self.orders.insert(
            id,
            OrderMeta {
                merchant,
                customer: o.customer,
                idempotency_key: o.idempotency_key,
                request_hash,
                crm: o.crm,
            },
        );
        self.touched_orders.insert(id);
        Ok((id, false))
    }

    /// Queues the CRM request of an order's end (sent after the journal
    /// write, with the rest of the batch's effects).
    fn tell_crm(&mut self, id: OrderId, delivered: bool) {
        let Some(feed) = &self.crm_feed else {
            return;
        };
        let Some(meta) = self.orders.get(&id) else {
            return;
        };
        let Some(crm) = &meta.crm else {
            return;
        };
        let delivery = match self.engine.order(id) {
            Some((
                spec,
                OrderStatus::Delivered {
                    rider, dropoff_secs, ..
                },
            )) if delivered => Some(crm_feed::Delivery {
                rider: rider.0,
                late_secs: dropoff_secs - spec.placed_secs - feed.promise_secs,
                zone: crate::crm::analytics::grid_zone(meta.customer.lat, meta.customer.lng),
            }),
            _ => None,
        };
        self.crm_out.push(crm_feed::request(
            id.0,
            &meta.merchant,
            crm,
            delivered,
            delivery.as_ref(),
        ));
        if let Some(d) = delivery.filter(|d| d.late_secs > 0) {
            self.crm_out.push(crm_feed::lateness(
                id.0,
                &meta.merchant,
                crm,
                d.rider,
                d.late_secs,
            ));
        }
    }

    /// After a restart: every delivered or cancelled order of the journal
    /// goes to the CRM again (idempotent), so none is missed because the
    /// process died between its journal write and the CRM's commit.
    fn resend_crm(&mut self) {
        let ended: Vec<(OrderId, bool)> = self
            .orders
            .iter()
            .filter(|(_, m)| m.crm.is_some())
            .filter_map(|(id, _)| match self.engine.order_status(*id) {
                Some(OrderStatus::Delivered { .. }) => Some((*id, true)),
                Some(OrderStatus::Cancelled { .. }) => Some((*id, false)),
                _ => None,
            })
            .collect();
        for (id, delivered) in ended {
            self.tell_crm(id, delivered);
        }
    }

    /// The order, if `scope` may see it (others' orders are not found).
    fn visible(&self, scope: &Scope, id: OrderId) -> Result<(), LiveError> {
        match self.orders.get(&id) {
            Some(m) if scope.sees(&m.merchant) => Ok(()),
            _ => Err(LiveError::NotFound(id.0)),
        }
    }

    fn cancel(&mut self, scope: &Scope, id: OrderId, reason: String) -> Result<OrderId, LiveError> {
        self.visible(scope, id)?;
        if reason.is_empty() || reason.len() > REASON_LEN_MAX {
            return Err(LiveError::Invalid {
                field: "reason",
                reason: format!("1 to {REASON_LEN_MAX} characters"),
            });
        }
        let rider = match self.engine.order_status(id) {
            Some(OrderStatus::Assigned { rider, .. }) => Some(*rider),
            _ => None,
        };
        let now = self.clock.now_secs();
        self.apply_event(now, Event::OrderCancelled { order: id, reason })?;
        self.tell_crm(id, false);
        self.touched_orders.insert(id);
        self.etas.remove(&id);
        if let (Some(rider), Some(OrderStatus::Cancelled { reason, .. })) =
            (rider, self.engine.order_status(id))
        {
            let message = ServerMessage::OrderCancelled {
                order: id.0.to_string(),
                reason: reason.clone(),
            };
            self.messages.push((rider, message));
            self.touched_riders.insert(rider);
        }
        Ok(id)
    }

    fn ready(&mut self, scope: &Scope, id: OrderId) -> Result<OrderId, LiveError> {
        self.visible(scope, id)?;
        let now = self.clock.now_secs();
        self.apply_event(now, Event::OrderReady { order: id })?;
        self.touched_orders.insert(id);
        Ok(id)
    }

    /// Applies an event and journals it if the engine accepts it (places
    /// as coordinates, snapped again on replay).
    fn apply_event(&mut self, now: Secs, event: Event<LatLng>) -> Result<(), LiveError> {
        let snapped = records::snap_event(&self.network, event.clone())?;
        self.engine.handle(now, snapped)?;
        self.records.push(LiveRecord::Event { at_secs: now, event });
        Ok(())
    }

    // ----- riders ----------------------------------------------------

    fn link(&mut self, rider: RiderId) -> &mut RiderLink {
        let capacity = self.options.outbox_capacity;
        self.links
            .entry(rider)
            .or_insert_with(|| RiderLink::new(capacity, 0))
    }

    fn connect(
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
            let json = serde_json::to_string(&frame).unwrap_or_default().into();
            link.send(Frame::Text { json, decided: None });
        }
        self.touched_riders.insert(rider);
        Ok(conn)
    }

    fn rider_message(&mut self, rider: RiderId, message: RiderMessage) {
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
            self.messages.push((rider, ServerMessage::Error(e)));
        }
    }

    fn locate(&mut self, rider: RiderId, lat: f64, lng: f64) -> Result<(), ProtocolError> {
        let bad = |e: MapError| ProtocolError::new("bad_field", Some("lat,lng"), e.to_string());
        let at = LatLng::new(lat, lng).map_err(bad)?;
        let snapped = self.network.snap(at).map_err(bad)?;
        self.link(rider).fix = Some(at);
        if self.engine.is_rider_online(rider) {
            let _ = self.engine.locate_rider(rider, snapped);
        }
        Ok(())
    }

    fn status(&mut self, now: Secs, rider: RiderId, status: RiderStatus) -> Result<(), ProtocolError> {
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
                let spec = RiderSpec {
                    id: rider,
                    start: at,
                    on_secs: now,
                    off_secs: now + self.options.shift_secs,
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
    fn go_offline(&mut self, now: Secs, rider: RiderId) {
        if !self.engine.is_rider_online(rider) {
            return;
        }
        let held = self.trip_orders(rider);
        if self.apply_event(now, Event::RiderOffline { rider }).is_ok() {
            self.touched_riders.insert(rider);
            self.decided_orders.extend(held);
        }
    }

    fn trip_orders(&self, rider: RiderId) -> Vec<OrderId> {
        match self.engine.rider_activity(rider) {
            Some(Activity::Heading { trip, .. }) => trip.orders.clone(),
            _ => Vec::new(),
        }
    }

    /// A rider declining its assignment goes on break: its orders are
    /// planned again, and it says `online` when it wants work again.
    fn reject(&mut self, now: Secs, rider: RiderId, assignment: u64) -> Result<(), ProtocolError> {
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

    fn order_of(&self, rider: RiderId, text: &str) -> Result<OrderId, ProtocolError> {
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

    fn picked_up(&mut self, now: Secs, rider: RiderId, order: &str) -> Result<(), ProtocolError> {
        let id = self.order_of(rider, order)?;
        if !matches!(self.engine.order_status(id), Some(OrderStatus::Assigned { .. })) {
            return Ok(()); // Already picked up with its bundle: a repeat.
        }
        let command = self
            .engine
            .pick_up(now, rider)
            .map_err(|e| ProtocolError::new("not_allowed", Some("order"), e.to_string()))?;
        self.note_command(&command, Instant::now());
        self.records.push(LiveRecord::Decision { command });
        Ok(())
    }

    fn delivered(&mut self, now: Secs, rider: RiderId, order: &str) -> Result<(), ProtocolError> {
        let id = self.order_of(rider, order)?;
        self.apply_event(now, Event::Delivered { rider, order: id })
            .map_err(|e| ProtocolError::new("not_allowed", Some("order"), e.to_string()))?;
        self.tell_crm(id, true);
        self.etas.remove(&id);
        self.decided_orders.insert(id);
        self.touched_riders.insert(rider);
        Ok(())
    }

    // ----- dispatch --------------------------------------------------

    fn housekeeping(&mut self) {
        if self.last_sweep.elapsed() >= Duration::from_secs(1) {
            self.last_sweep = Instant::now();
            let timeout = self.options.rider_timeout;
            let gone: Vec<RiderId> = self
                .links
                .iter()
                .filter(|(_, l)| l.gone_since.is_some_and(|t| t.elapsed() >= timeout))
                .map(|(id, _)| *id)
                .filter(|id| self.engine.is_rider_online(*id))
                .collect();
            let now = self.clock.now_secs();
            for rider in gone {
                info!(
                    rider = rider.0,
                    "rider timed out: offline, orders not picked up are planned again"
                );
                self.go_offline(now, rider);
            }
        }
        let now = self.clock.now_secs();
        if self.planning || now < self.next_tick_secs {
            return;
        }
        self.next_tick_secs = now + self.options.tick_secs;
        self.planning = true;
        let mut pending = self.engine.begin_tick(now);
        shortlist_riders(&mut pending, &self.restaurants);
        let travel = self.network.clone();
        let policy = self.engine.policy();
        let tx = self.tx.clone();
        self.planner.spawn(move || {
            let started = Instant::now();
            let plan = online::plan_with_matrix(&pending.snapshot, &travel, &policy);
            let micros = started.elapsed().as_micros() as u64;
            // Blocking send: a plan is never dropped; the queue drains.
            let _ = tx.send(Input::Planned(Box::new(PlanDone {
                pending,
                plan,
                micros,
            })));
        });
    }

    fn finish_tick(&mut self, done: PlanDone) {
        self.planning = false;
        let PlanDone {
            pending,
            plan,
            micros,
        } = done;
        let plan = plan.unwrap_or_else(|e| {
            warn!(error = %e, "planning failed; nothing new is dispatched this tick");
            Plan::default()
        });
        for trip in &plan.trips {
            for (i, &o) in trip.orders.iter().enumerate() {
                if let (Some(id), Some(&drop)) = (pending.order_id(o), trip.timing.dropoff_secs.get(i)) {
                    self.etas.insert(id, (trip.timing.pickup_secs, drop));
                    self.touched_orders.insert(id);
                }
            }
            if trip.committed
                && let Some(r) = pending.rider_id(trip.rider)
            {
                self.touched_riders.insert(r);
            }
        }
        for &o in &plan.unplanned {
            if let Some(id) = pending.order_id(o) {
                self.etas.remove(&id);
                self.touched_orders.insert(id);
            }
        }
        let decided = Instant::now();
        let (commands, _) = self.engine.finish_tick(pending, &plan, micros);
        self.metrics.dispatch_tick.observe_micros(micros);
        for command in commands {
            self.note_command(&command, decided);
            self.records.push(LiveRecord::Decision { command });
        }
    }

    /// What a decision changes for riders' messages and ETAs.
    fn note_command(&mut self, command: &Command, decided: Instant) {
        let rider = match command {
            Command::Depart { rider, orders, .. } => {
                let link = self.link(*rider);
                link.assignment += 1;
                link.new_assignment = true;
                link.reposition = None;
                self.touched_orders.extend(orders.iter().copied());
                self.decided_orders.extend(orders.iter().copied());
                *rider
            }
            Command::Join { rider, orders, .. } => {
                self.touched_orders.extend(orders.iter().copied());
                self.decided_orders.extend(orders.iter().copied());
                *rider
            }
            Command::Release { rider, .. } => *rider,
            Command::Reposition {
                rider,
                restaurant,
                arrive_secs,
                ..
            } => {
                let at = self.restaurants[*restaurant as usize].at;
                let stop = StopView {
                    order: String::new(),
                    kind: "reposition".into(),
                    lat: at.lat,
                    lng: at.lng,
                    eta_secs: *arrive_secs,
                };
                self.link(*rider).reposition = Some((stop, *arrive_secs));
                *rider
            }
            Command::PickUp {
                rider,
                trip,
                pickup_secs,
                dropoff_secs,
            } => {
                for (o, d) in trip.orders.iter().zip(dropoff_secs) {
                    self.etas.insert(*o, (*pickup_secs, *d));
                    self.touched_orders.insert(*o);
                    self.decided_orders.insert(*o);
                }
                *rider
            }
        };
        self.touched_riders.insert(rider);
        self.decided.insert(rider, decided);
    }

    // ----- commit ----------------------------------------------------

    /// Journals the batch, then answers and tells riders. False if the
    /// journal failed (the actor must stop).
    fn commit(&mut self) -> bool {
        if !self.records.is_empty() {
            let started = Instant::now();
            if let Err(e) = self.journal.append(&self.records) {
                error!(error = %e, "journal append failed");
                for (reply, _) in self.deferred.drain(..) {
                    let _ = reply.send(Err(LiveError::Stopped));
                }
                return false;
            }
            self.metrics
                .journal_append
                .observe_micros(started.elapsed().as_micros() as u64);
            self.metrics
                .journal_records
                .fetch_add(self.records.len() as u64, std::sync::atomic::Ordering::Relaxed);
            self.records.clear();
        }
        if let Some(feed) = &self.crm_feed {
            for request in self.crm_out.drain(..) {
                feed.send(request);
            }
        }
        // Orders whose state a decision changed, then riders: a merchant
        // never sees an order open after its rider was told. Cards whose
        // only change is an ETA follow the replies.
        let ids = std::mem::take(&mut self.decided_orders);
        for id in &ids {
            self.touched_orders.remove(id);
        }
        let decided: Vec<Card> = ids.iter().filter_map(|id| self.card(*id)).collect();
        self.view.put_cards(decided);
        self.tell_riders();
        for (reply, result) in std::mem::take(&mut self.deferred) {
            let answer = result.and_then(|(id, replayed)| {
                let card = self.card(id).ok_or(LiveError::NotFound(id.0))?;
                Ok(OrderReply { card, replayed })
            });
            let _ = reply.send(answer);
        }
        self.refresh_view();
        true
    }

    fn tell_riders(&mut self) {
        let now = self.clock.now_secs();
        let mut offline = Vec::new();
        for (rider, message) in std::mem::take(&mut self.messages) {
            if self.link(rider).push(message, None).is_err() {
                offline.push(rider);
            }
        }
        // Riders with a new decision first: an ETA-only refresh (every
        // rider with a committed trip, each tick) never delays a push.
        let mut riders: Vec<RiderId> = std::mem::take(&mut self.touched_riders).into_iter().collect();
        riders.sort_by_key(|r| !self.decided.contains_key(r));
        for rider in riders {
            let stops = self.stops(now, rider);
            let decided = self.decided.remove(&rider);
            let link = self.link(rider);
            if link.new_assignment && stops.is_empty() {
                link.new_assignment = false;
            }
            if let Some(message) = link.update_for(stops) {
                if link.push(message, decided).is_err() {
                    offline.push(rider);
                } else if let Some(at) = decided {
                    self.metrics
                        .assignment_queued
                        .observe_micros(at.elapsed().as_micros() as u64);
                }
            }
        }
        for rider in offline {
            warn!(rider = rider.0, "outbox full: rider offline");
            self.go_offline(now, rider);
        }
    }

    /// The rider's stops in order, with ETAs.
    fn stops(&self, now: Secs, rider: RiderId) -> Vec<StopView> {
        let stop = |o: &OrderId, kind: &str, at: LatLng, eta: Secs| StopView {
            order: o.0.to_string(),
            kind: kind.into(),
            lat: at.lat,
            lng: at.lng,
            eta_secs: eta,
        };
        let customer = |o: &OrderId| {
            self.orders
                .get(o)
                .map_or(LatLng { lat: 0.0, lng: 0.0 }, |m| m.customer)
        };
        let dropoff_eta = |o: &OrderId| self.etas.get(o).map_or(0, |e| e.1);
        match self.engine.rider_activity(rider) {
            Some(Activity::Heading { trip, arrive_secs }) => {
                let at = self.restaurants[trip.restaurant as usize].at;
                let pickups = trip.orders.iter().map(|o| {
                    let eta = self.etas.get(o).map_or(*arrive_secs, |e| e.0);
                    stop(o, "pickup", at, eta)
                });
                let drops = trip
                    .orders
                    .iter()
                    .map(|o| stop(o, "dropoff", customer(o), dropoff_eta(o)));
                pickups.chain(drops).collect()
            }
            Some(Activity::Delivering { left, .. }) => left
                .iter()
                .map(|o| stop(o, "dropoff", customer(o), dropoff_eta(o)))
                .collect(),
            _ => self
                .links
                .get(&rider)
                .and_then(|l| l.reposition.clone())
                .filter(|(_, arrive)| *arrive > now)
                .map(|(s, _)| s)
                .into_iter()
                .collect(),
        }
    }

    // ----- read model ------------------------------------------------

    fn refresh_view(&mut self) {
        let cards: Vec<Card> = std::mem::take(&mut self.touched_orders)
            .iter()
            .filter_map(|id| self.card(*id))
            .collect();
        self.view.put_cards(cards);
        if self.last_console.elapsed() >= CONSOLE_EVERY && self.view.console_watched() {
            self.last_console = Instant::now();
            self.view.put_console(self.console_json().into());
        }
    }

    fn card(&self, id: OrderId) -> Option<Card> {
        let meta = self.orders.get(&id)?;
        let (spec, status) = self.engine.order(id)?;
        let now = self.clock.now_secs();
        let eta = |at: Secs| EtaBody {
            at,
            p90: eta_p90(now, at),
        };
        let planned = self.etas.get(&id);
        let mut body = CardBody {
            id: id.0,
            merchant: meta.merchant.clone(),
            restaurant: self.restaurants[spec.restaurant as usize].id.clone(),
            state: status.name(),
            rider: None,
            customer: meta.customer,
            placed_at: spec.placed_secs,
            ready_at: spec.ready_secs,
            pickup_eta: None,
            dropoff_eta: None,
            picked_up_at: None,
            delivered_at: None,
            cancelled_at: None,
            cancel_reason: None,
        };
        match status {
            OrderStatus::Open | OrderStatus::Assigned { .. } => {
                body.pickup_eta = planned.map(|e| eta(e.0));
                body.dropoff_eta = planned.map(|e| eta(e.1));
            }
            OrderStatus::PickedUp { pickup_secs, .. } => {
                body.picked_up_at = Some(*pickup_secs);
                body.dropoff_eta = planned.map(|e| eta(e.1));
            }
            OrderStatus::Delivered {
                pickup_secs,
                dropoff_secs,
                ..
            } => {
                body.picked_up_at = Some(*pickup_secs);
                body.delivered_at = Some(*dropoff_secs);
            }
            OrderStatus::Cancelled { reason, at_secs } => {
                body.cancelled_at = Some(*at_secs);
                body.cancel_reason = Some(reason.clone());
            }
        }
        body.rider = match status {
            OrderStatus::Assigned { rider, .. }
            | OrderStatus::PickedUp { rider, .. }
            | OrderStatus::Delivered { rider, .. } => Some(rider.0),
            _ => None,
        };
        Some(Card::new(&body))
    }

    fn console_json(&self) -> Vec<u8> {
        let mut riders = Vec::new();
        for (spec, activity) in self.engine.riders() {
            let link = self.links.get(&spec.id);
            let Some(at) = link.and_then(|l| l.fix) else {
                continue;
            };
            let state = match activity {
                _ if !self.engine.is_rider_online(spec.id) => "offline",
                Activity::Waiting { .. } => "waiting",
                Activity::Heading { .. } => "heading",
                Activity::Delivering { .. } => "delivering",
            };
            riders.push(RiderDot {
                id: spec.id.0,
                lat: at.lat,
                lng: at.lng,
                state,
                connected: link.is_some_and(|l| l.conn.is_some()),
            });
        }
        // The cards' JSON as it is, not parsed and written again.
        let orders = String::from_utf8(self.view.active_json(&Scope::Operator))
            .ok()
            .and_then(|text| serde_json::value::RawValue::from_string(text).ok());
        let restaurants: Vec<&Restaurant> = self.restaurants.iter().collect();
        let body = serde_json::json!({
            "now": self.clock.now_secs(),
            "restaurants": restaurants,
            "riders": riders,
            "orders": orders,
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

/// Riders planned per open order of a restaurant (the nearest ones).
const RIDERS_PER_ORDER: usize = 4;
/// And at least this many per restaurant with open orders.
const RIDERS_PER_RESTAURANT_MIN: usize = 8;

/// Keeps, for each restaurant with orders to plan, its nearest free riders
/// (straight line): with thousands of idle riders across a city, the far
/// ones would never win an order but would cost the planner a matrix row
/// each. Riders on committed trips are always kept.
fn shortlist_riders(pending: &mut PendingTick<Snapped>, restaurants: &[Restaurant]) {
    let s = &pending.snapshot;
    let mut wanted = vec![0usize; restaurants.len()];
    for o in &s.orders {
        if let Some(w) = wanted.get_mut(o.restaurant as usize) {
            *w += RIDERS_PER_ORDER;
        }
    }
    let mut keep = std::collections::HashSet::new();
    for (r, want) in wanted.iter().enumerate().filter(|(_, w)| **w > 0) {
        let at = restaurants[r].at;
        let mut by_distance: Vec<(f64, usize)> = s
            .riders
            .iter()
            .enumerate()
            .map(|(i, v)| (crate::map::geo::haversine_meters(at, v.free_place.position), i))
            .collect();
        let k = (*want).max(RIDERS_PER_RESTAURANT_MIN).min(by_distance.len());
        if k == 0 {
            continue;
        }
        by_distance.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
        keep.extend(by_distance[..k].iter().filter_map(|(_, i)| pending.rider_id(*i)));
    }
    pending.retain_riders(|id, _| keep.contains(&id));
}
