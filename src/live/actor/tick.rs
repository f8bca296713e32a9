//! The tick: rider timeouts, a snapshot planned on the planner's pool,
//! the plan applied when it comes back, and what each decision changes.

use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::Actor;
use crate::dispatch::online::{self, Plan, TravelCache};
use crate::engine::{Command, PendingTick, RiderId};
use crate::live::records::LiveRecord;
use crate::live::{Input, LiveError};
use crate::map::{MapError, VehiclePlace};
use crate::wire::protocol::StopView;

/// A plan made on the rayon pool, coming back to be applied.
pub(crate) struct PlanDone {
    pending: PendingTick<VehiclePlace>,
    plan: Result<Plan, MapError>,
    micros: u64,
    /// The travel times kept across ticks, handed back for the next one.
    cache: TravelCache<VehiclePlace>,
}

pub(super) fn planner_pool() -> Result<rayon::ThreadPool, LiveError> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    rayon::ThreadPoolBuilder::new()
        .num_threads((cores - 1).max(1))
        .thread_name(|i| format!("waimai-plan-{i}"))
        .build()
        .map_err(|e| LiveError::Thread {
            name: "planner",
            source: Box::new(e),
        })
}

impl Actor {
    pub(super) fn housekeeping(&mut self) {
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
        let pending = self.engine.begin_tick(now);
        let travel = self.network.clone();
        let policy = self.engine.policy();
        let tx = self.tx.clone();
        // One plan at a time (`planning`), so the cache travels with it.
        let mut cache = std::mem::take(&mut self.travel_cache);
        self.planner.spawn(move || {
            let started = Instant::now();
            let plan = online::plan_with_cache(&pending.snapshot, &travel, &policy, &mut cache);
            let micros = started.elapsed().as_micros() as u64;
            // Blocking send: a plan is never dropped; the queue drains.
            let _ = tx.send(Input::Planned(Box::new(PlanDone {
                pending,
                plan,
                micros,
                cache,
            })));
        });
    }

    pub(super) fn finish_tick(&mut self, done: PlanDone) {
        self.planning = false;
        let PlanDone {
            pending,
            plan,
            micros,
            cache,
        } = done;
        self.travel_cache = cache;
        self.metrics.travel_pairs_computed.store(
            self.travel_cache.computed_pairs,
            std::sync::atomic::Ordering::Relaxed,
        );
        self.metrics.travel_pairs_reused.store(
            self.travel_cache.reused_pairs,
            std::sync::atomic::Ordering::Relaxed,
        );
        let plan = plan.unwrap_or_else(|e| {
            warn!(error = %e, "planning failed; nothing new is dispatched this tick");
            Plan::default()
        });
        for trip in &plan.trips {
            for (i, &o) in trip.orders.iter().enumerate() {
                if let (Some(id), Some(&drop)) = (pending.order_id(o), trip.timing.dropoff_secs.get(i)) {
                    self.etas.insert(id, (trip.timing.pickup_secs, drop));
                    self.batch.touched_orders.insert(id);
                }
            }
            if trip.committed
                && let Some(r) = pending.rider_id(trip.rider)
            {
                self.batch.touched_riders.insert(r);
            }
        }
        for &o in &plan.unplanned {
            if let Some(id) = pending.order_id(o) {
                self.etas.remove(&id);
                self.batch.touched_orders.insert(id);
            }
        }
        let decided = Instant::now();
        let (commands, _) = self.engine.finish_tick(pending, &plan, micros);
        self.metrics.dispatch_tick.observe_micros(micros);
        for command in commands {
            self.note_command(&command, decided);
            self.batch.records.push(LiveRecord::Decision { command });
        }
    }

    /// What a decision changes for riders' messages and ETAs.
    pub(super) fn note_command(&mut self, command: &Command, decided: Instant) {
        let rider = match command {
            Command::Depart { rider, orders, .. } => {
                let link = self.link(*rider);
                link.assignment += 1;
                link.new_assignment = true;
                link.reposition = None;
                self.batch.touched_orders.extend(orders.iter().copied());
                self.batch.decided_orders.extend(orders.iter().copied());
                *rider
            }
            Command::Join { rider, orders, .. } => {
                self.batch.touched_orders.extend(orders.iter().copied());
                self.batch.decided_orders.extend(orders.iter().copied());
                *rider
            }
            Command::Release { rider, .. } => *rider,
            Command::Reposition {
                rider,
                restaurant,
                arrive_secs,
                ..
            } => {
                let at = self.restaurants.position(*restaurant);
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
                    self.batch.touched_orders.insert(*o);
                    self.batch.decided_orders.insert(*o);
                }
                *rider
            }
        };
        self.batch.touched_riders.insert(rider);
        self.batch.decided.insert(rider, decided);
    }
}
