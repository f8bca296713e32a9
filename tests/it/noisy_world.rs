//! The noisy world of `waimai simulate --world noisy`: in the exact world
//! every order is delivered exactly when the engine said at pickup (ETAs
//! right by construction); in the noisy one they are not, the run is the
//! same for the same seed, and no order vanishes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::common;
use waimai::dispatch::online::Policy;
use waimai::engine::{Command, OrderId, OrderStatus};
use waimai::sim::fixture::{self, Fixture, Prepared};
use waimai::sim::noise::NoiseConfig;
use waimai::sim::runner::SimConfig;
use waimai::sim::world::Outcome;

fn monaco() -> (Fixture, Prepared) {
    let fx = Fixture::read(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/monaco-lunch.jsonl"))
        .unwrap();
    let config = common::config();
    let profile = config.profile(&fx.header.profile).unwrap().clone();
    let map = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(&fx.header.map);
    let net = Arc::new(
        waimai::map::RoadNetwork::load(&map, &fx.header.profile, &profile, config.map.max_snap_meters)
            .unwrap(),
    );
    let prepared = fixture::prepare(&fx, &net).unwrap();
    (fx, prepared)
}

/// |delivered - promised at pickup| per delivered order, in seconds.
fn misses(outcome: &Outcome) -> Vec<i64> {
    let mut promised: HashMap<OrderId, i64> = HashMap::new();
    for (_, c) in &outcome.decisions {
        if let Command::PickUp {
            trip, dropoff_secs, ..
        } = c
        {
            for (o, d) in trip.orders.iter().zip(dropoff_secs) {
                promised.insert(*o, *d);
            }
        }
    }
    outcome
        .status
        .iter()
        .filter_map(|(o, s)| match s {
            OrderStatus::Delivered { dropoff_secs, .. } => Some((dropoff_secs - promised[o]).abs()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_noisy_world_misses_the_engines_etas_the_same_way_for_the_same_seed() {
    let (fx, prepared) = monaco();
    let exact = SimConfig::new(Policy::from_name("rolling").unwrap(), 60);
    let noise = common::config().world;
    let noisy = SimConfig {
        noise: Some(noise),
        ..exact
    };
    let (exact_run, exact_metrics) = fixture::run(&fx, &prepared, &exact).unwrap();
    assert!(
        misses(&exact_run).iter().all(|m| *m == 0),
        "the exact world keeps every ETA given at pickup"
    );

    let (a, a_metrics) = fixture::run(&fx, &prepared, &noisy).unwrap();
    let (b, _) = fixture::run(&fx, &prepared, &noisy).unwrap();
    assert_eq!(a.decisions, b.decisions, "one seed, one world");
    assert_eq!(a.status, b.status);
    let other_seed = SimConfig {
        noise: Some(NoiseConfig {
            seed: noise.seed + 1,
            ..noise
        }),
        ..exact
    };
    let (c, _) = fixture::run(&fx, &prepared, &other_seed).unwrap();
    assert_ne!(a.status, c.status, "another seed, another world");
    // The engine's invariants hold after every event and tick while the
    // world, not the engine, decides when pickups happen.
    let checked = SimConfig {
        check_invariants: true,
        ..other_seed
    };
    let (checked_run, _) = fixture::run(&fx, &prepared, &checked).unwrap();
    assert_eq!(checked_run.status, c.status);

    let missed = misses(&a);
    let mean_secs = missed.iter().sum::<i64>() as f64 / missed.len() as f64;
    assert!(
        mean_secs > 30.0,
        "drop-off ETAs miss by {mean_secs:.0} s on average"
    );
    // Nothing vanishes, and the noisy day still delivers about as much.
    assert_eq!(a.status.len(), exact_run.status.len());
    assert!(
        a_metrics.delivered * 100 >= exact_metrics.delivered * 95,
        "{a_metrics:?}"
    );
    println!(
        "noisy Monaco lunch: drop-off ETA at pickup misses by {mean_secs:.0} s on average \
         (exact: 0); delivered {} of {} (exact {})",
        a_metrics.delivered, a_metrics.orders, exact_metrics.delivered
    );
}

/// Riders who turn assignments down or do not answer drop out (offline,
/// back later); their orders go to other riders and are still delivered,
/// with the engine's invariants checked throughout.
#[test]
fn orders_a_rider_turns_down_go_to_another_rider() {
    let (fx, prepared) = monaco();
    let exact = SimConfig::new(Policy::from_name("rolling").unwrap(), 60);
    let noise = NoiseConfig {
        reject_probability: 0.3,
        no_answer_probability: 0.1,
        ..common::config().world
    };
    let noisy = SimConfig {
        noise: Some(noise),
        check_invariants: true,
        ..exact
    };
    let (run, metrics) = fixture::run(&fx, &prepared, &noisy).unwrap();
    let (_, exact_metrics) = fixture::run(&fx, &prepared, &exact).unwrap();
    let mut departed_by: HashMap<OrderId, Vec<waimai::engine::RiderId>> = HashMap::new();
    for (_, c) in &run.decisions {
        if let Command::Depart { rider, orders, .. } = c {
            for o in orders {
                departed_by.entry(*o).or_default().push(*rider);
            }
        }
    }
    let moved = departed_by
        .iter()
        .filter(|(o, riders)| {
            riders.windows(2).any(|w| w[0] != w[1])
                && matches!(run.status.get(o), Some(OrderStatus::Delivered { .. }))
        })
        .count();
    assert!(
        moved > 20,
        "only {moved} turned-down orders were delivered by another rider"
    );
    assert!(
        metrics.delivered * 100 >= exact_metrics.delivered * 90,
        "{metrics:?}"
    );
    println!(
        "riders dropping out of 40% of assignments: {moved} orders delivered by another rider; \
         delivered {} (exact {})",
        metrics.delivered, exact_metrics.delivered
    );
}
