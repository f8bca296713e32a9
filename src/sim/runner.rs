//! Runs an MDRPLIB instance through the engine and scores it.

use std::collections::HashMap;

use serde::Serialize;

use super::SimError;
use super::mdrp::MdrpInstance;
use super::metrics::{self, Metrics, PayRules};
use super::world::{self, Outcome, Places, RunOptions, Timeline};
use crate::base::Secs;
use crate::dispatch::online::Policy;
use crate::engine::{CandidateRule, Engine, EngineConfig, Event, OrderSpec, PickupRule, RiderSpec};
use crate::map::{EuclideanTravel, PlanarPoint};

/// How to simulate.
#[derive(Debug, Clone, Copy)]
pub struct SimConfig {
    pub policy: Policy,
    pub tick_secs: Secs,
    /// The candidate rule (`[index] shortlist`); simulated riders are
    /// never stale.
    pub candidates: CandidateRule,
    /// None: the exact world; Some: a noisy one (`--world noisy`).
    pub noise: Option<super::noise::NoiseConfig>,
    /// Check the engine's invariants after every event and tick (tests).
    pub check_invariants: bool,
}

impl SimConfig {
    /// `policy` with the tick it plans for set to `tick_secs`.
    pub fn new(policy: Policy, tick_secs: Secs) -> Self {
        let policy = match policy {
            Policy::Rolling(mut p) => {
                p.tick_secs = tick_secs;
                Policy::Rolling(p)
            }
            other => other,
        };
        Self {
            policy,
            tick_secs,
            candidates: CandidateRule::default(),
            noise: None,
            check_invariants: false,
        }
    }

    /// When the engine takes a bundle as picked up: at its own expected
    /// time in the exact world, when the world says so in a noisy one.
    pub fn pickup_rule(&self) -> PickupRule {
        if self.noise.is_some() {
            PickupRule::Confirmed
        } else {
            PickupRule::Timed
        }
    }

    /// How the world runs this configuration.
    pub fn run_options(&self) -> RunOptions {
        RunOptions {
            tick_secs: self.tick_secs,
            check_invariants: self.check_invariants,
            noise: self.noise,
        }
    }
}

/// Latency of the planner over a run's ticks.
#[derive(Debug, Clone, Serialize)]
pub struct TickLatency {
    pub ticks: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl TickLatency {
    pub fn of(outcome: &Outcome) -> Self {
        let ms: Vec<f64> = outcome
            .ticks
            .iter()
            .map(|t| t.plan_micros as f64 / 1000.0)
            .collect();
        Self {
            ticks: ms.len(),
            p50_ms: metrics::percentile(&ms, 0.5),
            p99_ms: metrics::percentile(&ms, 0.99),
            max_ms: ms.iter().copied().fold(0.0, f64::max),
        }
    }
}

/// What a run of `inst` needs: the engine, where places are, the inputs.
pub struct MdrpSetup {
    pub engine: Engine<EuclideanTravel>,
    pub places: Places<PlanarPoint>,
    pub inputs: Timeline<PlanarPoint>,
    pub orders: Vec<OrderSpec<PlanarPoint>>,
    pub riders: Vec<RiderSpec<PlanarPoint>>,
}

/// Builds the engine and timeline of `inst`: riders' shifts known from the
/// start of the day, each order at its placement time.
pub fn prepare_mdrp(inst: &MdrpInstance, config: &SimConfig) -> MdrpSetup {
    let restaurants: Vec<_> = inst.restaurants.iter().map(|(_, p)| *p).collect();
    let engine = Engine::new(
        inst.travel(),
        restaurants.clone(),
        EngineConfig {
            policy: config.policy,
            service: inst.service,
            pickup: config.pickup_rule(),
            candidates: config.candidates,
        },
    );
    let orders: Vec<OrderSpec<_>> = inst.orders.iter().map(|(_, o)| o.clone()).collect();
    let riders: Vec<RiderSpec<_>> = inst.couriers.iter().map(|(_, c)| c.clone()).collect();
    let places = Places {
        restaurants,
        customers: orders.iter().map(|o| (o.id, o.customer)).collect(),
        starts: riders.iter().map(|r| (r.id, r.start)).collect::<HashMap<_, _>>(),
    };
    let day_start = orders
        .iter()
        .map(|o| o.placed_secs)
        .chain(riders.iter().map(|r| r.on_secs))
        .min()
        .unwrap_or(0);
    let mut inputs: Timeline<_> = riders
        .iter()
        .map(|r| (day_start, Event::RiderOnline(r.clone())))
        .collect();
    inputs.extend(
        orders
            .iter()
            .map(|o| (o.placed_secs, Event::OrderPlaced(o.clone()))),
    );
    MdrpSetup {
        engine,
        places,
        inputs,
        orders,
        riders,
    }
}

/// Runs `inst` online under `config`.
pub fn run_mdrp(
    inst: &MdrpInstance,
    config: &SimConfig,
    progress: &mut dyn FnMut(Secs),
) -> Result<(Outcome, Metrics), SimError> {
    let travel = inst.travel();
    let MdrpSetup {
        engine,
        places,
        inputs,
        orders,
        riders,
    } = prepare_mdrp(inst, config);
    let opts = config.run_options();
    let outcome = world::run(engine, &travel, &places, inputs, opts, &mut |o| {
        progress(o.now_secs)
    })?;
    let pay = PayRules {
        per_order: inst.pay_per_order,
        per_hour: inst.pay_per_hour,
        target_click_to_door_secs: inst.target_click_to_door_secs,
    };
    let m = metrics::compute(&orders, &riders, &outcome, &inst.service, &pay);
    Ok((outcome, m))
}
