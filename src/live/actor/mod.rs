//! The actor: one thread that owns the engine. It takes inputs in batches,
//! applies them, journals what they changed with one fsync, and only then
//! answers requests and tells riders (journal before acknowledgement).
//! Planning runs on the rayon pool from an owned snapshot and comes back
//! as an input.
//!
//! Rooms: start-up, the loop and the commit here; what a batch collects
//! for its commit (`batch`); merchants' requests (`merchants`); the rider
//! protocol (`riders`); restaurants and riders' records (`onboarding`); the tick (`tick`); what riders are told (`push`);
//! the read model (`projection`).

mod batch;
mod merchants;
mod onboarding;
mod projection;
mod push;
mod riders;
mod tick;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use super::crm_feed::CrmFeed;
use super::metrics::Metrics;
use super::records::{self, LiveRecord, OrderMeta};
use super::restaurants::{Directory, at_start};
use super::rider_profiles::RiderDirectory;
use super::riders::RiderLink;
use super::view::{Card, View};
use super::{Frame, Input, LiveError, LiveHandle, LiveOptions, LiveSetup, OrderReply, Restored};
use crate::base::{Clock, Secs};
use crate::dispatch::online::ServiceSecs;
use crate::engine::{Engine, EngineConfig, OrderId, PickupRule, RiderId};
use crate::map::VehicleNetworks;
use crate::store::Log;
use crate::wire::protocol::ServerMessage;
use batch::Batch;
pub(crate) use tick::PlanDone;

/// Most inputs applied under one fsync.
const BATCH_MAX: usize = 1024;
/// The console's picture is redrawn at most this often.
const CONSOLE_EVERY: Duration = Duration::from_millis(500);

struct Actor {
    engine: Engine<Arc<VehicleNetworks>>,
    network: Arc<VehicleNetworks>,
    restaurants: Directory,
    rider_profiles: RiderDirectory,
    options: LiveOptions,
    clock: Clock,
    journal: Log,
    orders: HashMap<OrderId, OrderMeta>,
    idempotency: HashMap<(String, String), OrderId>,
    next_order: u64,
    links: HashMap<RiderId, RiderLink>,
    next_conn: u64,
    /// Travel times kept across ticks (with the planner while it plans).
    travel_cache: crate::dispatch::online::TravelCache<crate::map::VehiclePlace>,
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
    /// Delivered and cancelled orders for the CRM, sent after the journal.
    crm_feed: Option<CrmFeed>,
    /// What the current batch changed, for the commit.
    batch: Batch,
    /// Journaled records no replica has confirmed yet: what they decided
    /// is held back (replies refused, riders not told) until one does.
    unconfirmed: bool,
    /// Why the engine stopped on its own (a journal it cannot write), for
    /// the process to exit and a supervisor to restart it from the journal.
    halted: tokio::sync::watch::Sender<Option<String>>,
}

pub(super) fn start(setup: LiveSetup) -> Result<(LiveHandle, Restored), LiveError> {
    let LiveSetup {
        network,
        restaurants,
        options,
        log,
        crm,
        clock,
    } = setup;
    let (mut journal, history) = Log::open::<LiveRecord>(&log)?;
    let journaled = history.iter().filter_map(|r| match r {
        LiveRecord::Restaurant {
            index, restaurant, ..
        } => Some((*index, restaurant.clone())),
        _ => None,
    });
    let (mut directory, added) = at_start(restaurants, journaled).map_err(LiveError::Journal)?;
    let places = directory
        .all()
        .iter()
        .map(|r| network.snap(r.at))
        .collect::<Result<Vec<_>, _>>()?;
    let config = EngineConfig {
        policy: options.policy,
        service: ServiceSecs::split(options.pickup_service_secs, options.dropoff_service_secs),
        pickup: PickupRule::Confirmed,
        candidates: options.candidates,
    };
    let mut engine = Engine::new(network.clone(), places, config);
    let n_records = history.len();
    let mut rider_profiles = RiderDirectory::default();
    let replayed = records::replay(
        &mut engine,
        &network,
        &mut directory,
        &mut rider_profiles,
        history,
    )?;
    // Seeds new to the journal are journaled before anything names them.
    let seeded: Vec<LiveRecord> = added
        .into_iter()
        .map(|(index, restaurant)| LiveRecord::Restaurant {
            at_secs: clock.now_secs().max(replayed.last_secs),
            index,
            restaurant,
        })
        .collect();
    if !seeded.is_empty() {
        journal.append(&seeded)?;
    }
    let (tx, rx) = sync_channel(options.queue_capacity);
    let clock = clock.not_before(replayed.last_secs);
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
    let view = Arc::new(View::new(options.city.clone()));
    let metrics = Arc::new(Metrics::default());
    *metrics.journal_link.lock().unwrap_or_else(|e| e.into_inner()) = journal.link_stats();
    let (halted, halted_rx) = tokio::sync::watch::channel(None);
    let mut actor = Actor {
        next_order: replayed
            .orders
            .keys()
            .map(|o| o.0 + 1)
            .max()
            .unwrap_or(1)
            .max(options.first_order.0),
        orders: replayed.orders,
        restaurants: directory,
        rider_profiles,
        engine,
        network,
        clock: clock.clone(),
        journal,
        idempotency,
        links,
        next_conn: 1,
        etas: HashMap::new(),
        travel_cache: Default::default(),
        view: view.clone(),
        metrics: metrics.clone(),
        tx: tx.clone(),
        planner: Arc::new(tick::planner_pool()?),
        planning: false,
        // Riders reconnect after a restart before anything is planned again.
        next_tick_secs: clock.now_secs() + options.tick_secs,
        last_sweep: Instant::now(),
        last_console: Instant::now() - CONSOLE_EVERY,
        options,
        crm_feed: None,
        batch: Batch::default(),
        unconfirmed: false,
        halted: halted.clone(),
    };
    if let Some(crm) = crm {
        let feed = CrmFeed::start(crm, metrics.clone(), clock.clone()).map_err(|e| LiveError::Thread {
            name: "CRM",
            source: Box::new(e),
        })?;
        actor.crm_feed = Some(feed);
        actor.resend_crm();
    }
    actor.batch.touched_orders = actor.orders.keys().copied().collect();
    actor.batch.restaurants_changed = actor.restaurants.all().to_vec();
    actor.batch.riders_changed = actor.rider_profiles.all().cloned().collect();
    actor.refresh_view();
    actor.view.put_console(actor.console_json().into());
    std::thread::Builder::new()
        .name("waimai-engine".into())
        .spawn(move || actor.run(rx))
        .map_err(|e| LiveError::Thread {
            name: "engine",
            source: Box::new(e),
        })?;
    Ok((
        LiveHandle {
            tx,
            view,
            metrics,
            clock,
            halted: halted_rx,
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
            .wall_wait(left)
            .clamp(Duration::from_millis(1), Duration::from_secs(1))
    }

    fn apply(&mut self, input: Input) {
        match input {
            Input::Place { scope, order, reply } => {
                let result = self.place(&scope, order);
                self.batch.deferred.push((reply, result));
            }
            Input::Cancel {
                scope,
                order,
                reason,
                reply,
            } => {
                let result = self.cancel(&scope, OrderId(order), reason);
                self.batch.deferred.push((reply, result.map(|id| (id, false))));
            }
            Input::Ready { scope, order, reply } => {
                let result = self.ready(&scope, OrderId(order));
                self.batch.deferred.push((reply, result.map(|id| (id, false))));
            }
            Input::PutRestaurant { restaurant, reply } => {
                let result = self.put_restaurant(restaurant);
                self.batch.restaurant_replies.push((reply, result));
            }
            Input::PutRider { rider, reply } => {
                let result = self.put_rider(rider);
                self.batch.rider_replies.push((reply, result));
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
            Input::RiderError { rider, error } => {
                self.batch.messages.push((rider, ServerMessage::Error(error)))
            }
            Input::Planned(done) => self.finish_tick(*done),
            Input::Shutdown { .. } => {}
        }
    }

    /// Journals the batch, then answers and tells riders. False if the
    /// journal failed (the actor must stop). When the records are on the
    /// log but replicas did not confirm them, the requests waiting on
    /// them are refused (503; a retry with the same idempotency key gets
    /// the order) and the rest of the batch waits for a later commit that
    /// confirms.
    fn commit(&mut self) -> bool {
        let started = Instant::now();
        let asked_redis = !self.batch.records.is_empty() || self.unconfirmed;
        let written = if !self.batch.records.is_empty() {
            self.journal.append(&self.batch.records)
        } else if self.unconfirmed {
            self.journal.confirm()
        } else {
            Ok(())
        };
        let appended = std::mem::take(&mut self.batch.records).len() as u64;
        if appended > 0 {
            self.metrics
                .journal_append
                .observe_micros(started.elapsed().as_micros() as u64);
        }
        if asked_redis && let Some(stats) = self.journal.link_stats() {
            *self
                .metrics
                .journal_link
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(stats);
        }
        match written {
            Ok(()) => {
                self.metrics
                    .journal_records
                    .fetch_add(appended, Ordering::Relaxed);
                self.unconfirmed = false;
            }
            Err(e) if Log::unconfirmed(&e) => {
                warn!(error = %e, "journal append not confirmed by a replica: requests refused, decisions held");
                self.metrics
                    .journal_records
                    .fetch_add(appended, Ordering::Relaxed);
                self.unconfirmed = true;
                self.batch.refuse(&e.to_string());
                return true;
            }
            Err(e) => {
                error!(error = %e, "journal append failed");
                self.halted
                    .send_replace(Some(format!("journal append failed: {e}")));
                self.batch.abandon();
                return false;
            }
        }
        if let Some(feed) = &self.crm_feed {
            for request in self.batch.crm_out.drain(..) {
                feed.send(request);
            }
        }
        // Orders whose state a decision changed, then riders: a merchant
        // never sees an order open after its rider was told. Cards whose
        // only change is an ETA follow the replies.
        let ids = std::mem::take(&mut self.batch.decided_orders);
        for id in &ids {
            self.batch.touched_orders.remove(id);
        }
        let decided: Vec<Card> = ids.iter().filter_map(|id| self.card(*id)).collect();
        self.view.put_cards(decided);
        self.tell_riders();
        for (reply, result) in std::mem::take(&mut self.batch.deferred) {
            let answer = result.and_then(|(id, replayed)| {
                let card = self.card(id).ok_or(LiveError::NotFound(id.0))?;
                Ok(OrderReply { card, replayed })
            });
            let _ = reply.send(answer);
        }
        for (reply, result) in std::mem::take(&mut self.batch.restaurant_replies) {
            let _ = reply.send(result);
        }
        for (reply, result) in std::mem::take(&mut self.batch.rider_replies) {
            let _ = reply.send(result);
        }
        self.refresh_view();
        true
    }
}
