//! The engine's candidate generator at work: a large fleet is cut to each
//! restaurant's nearest fresh riders, a silent rider gets nothing new until
//! it is heard from again.

use waimai::dispatch::online::{Policy, RollingParams, ServiceSecs};
use waimai::engine::{
    CandidateRule, Command, Engine, EngineConfig, Event, OrderId, OrderSpec, PickupRule, RiderId, RiderSpec,
};
use waimai::map::{EuclideanTravel, PlanarPoint};

fn pt(x: f64, y: f64) -> PlanarPoint {
    PlanarPoint { x, y }
}

/// Ten idle riders on a line east of one restaurant, rider k at 100·k m;
/// riders 2..=10 report a fix at t=100, rider 1 (the nearest) only at 0.
fn engine() -> Engine<EuclideanTravel> {
    let rule = CandidateRule {
        riders_min: 1,
        riders_per_order: 1,
        shortlist_factor: 2,
        stale_after_secs: Some(60),
    };
    assert!(!rule.whole_fleet(10), "the test needs a fleet cut to candidates");
    // No repositioning: riders stay where the test puts them.
    let policy = Policy::Rolling(RollingParams {
        reposition_min_secs: 0,
        ..RollingParams::default()
    });
    let config = EngineConfig {
        policy,
        service: ServiceSecs::split(60, 60),
        pickup: PickupRule::Timed,
        candidates: rule,
    };
    let mut engine = with_ten_riders(config);
    for k in 2..=10u64 {
        engine
            .locate_rider(100, RiderId(k), pt(100.0 * k as f64, 0.0))
            .unwrap();
    }
    engine
}

/// An engine with one restaurant at the origin and ten idle riders on a
/// line east of it, rider k at 100·k m, online since t=0.
fn with_ten_riders(config: EngineConfig) -> Engine<EuclideanTravel> {
    let mut engine = Engine::new(EuclideanTravel::mdrp(320.0), vec![pt(0.0, 0.0)], config);
    for k in 1..=10u64 {
        let spec = RiderSpec {
            id: RiderId(k),
            start: pt(100.0 * k as f64, 0.0),
            on_secs: 0,
            off_secs: 36_000,
            vehicle: Default::default(),
            capacity_orders: None,
        };
        engine.handle(0, Event::RiderOnline(spec)).unwrap();
    }
    engine
}

fn order(k: u64, at: i64) -> Event<PlanarPoint> {
    Event::OrderPlaced(OrderSpec {
        id: OrderId(k),
        restaurant: 0,
        customer: pt(0.0, 2000.0),
        placed_secs: at,
        ready_secs: at,
    })
}

#[test]
fn a_stale_rider_is_no_candidate_and_a_fix_revives_it() {
    let mut engine = engine();
    engine.handle(100, order(1, 100)).unwrap();
    let pending = engine.begin_tick(100);
    let ids: Vec<u64> = (0..pending.snapshot.riders.len())
        .filter_map(|i| pending.rider_id(i))
        .map(|r| r.0)
        .collect();
    assert!(
        !ids.contains(&1),
        "rider 1 has been silent for 100 s > 60 s: {ids:?}"
    );
    let lists = pending.snapshot.candidates.clone().expect("a fleet of 10 is cut");
    // keep = max(1, 1 per order) = 1; the index hands over 2: riders 2, 3.
    let mut shortlisted: Vec<u64> = lists[0]
        .riders
        .iter()
        .filter_map(|&i| pending.rider_id(i))
        .map(|r| r.0)
        .collect();
    shortlisted.sort();
    assert_eq!(shortlisted, vec![2, 3]);
    assert_eq!(lists[0].keep, 1);
    let plan = waimai::dispatch::online::plan(&pending.snapshot, engine.travel(), &engine.policy());
    let (commands, _) = engine.finish_tick(pending, &plan, 0);
    let sent: Vec<RiderId> = commands
        .iter()
        .filter_map(|c| match c {
            Command::Depart { rider, orders, .. } if orders.contains(&OrderId(1)) => Some(*rider),
            _ => None,
        })
        .collect();
    assert_eq!(
        sent,
        vec![RiderId(2)],
        "the nearest fresh rider leaves: {commands:?}"
    );
    engine.check_invariants().unwrap();

    // A fix from rider 1 makes it the nearest candidate again.
    engine.locate_rider(110, RiderId(1), pt(100.0, 0.0)).unwrap();
    engine.handle(110, order(2, 110)).unwrap();
    let pending = engine.begin_tick(110);
    let lists = pending.snapshot.candidates.clone().expect("still cut");
    let shortlisted: Vec<u64> = lists[0]
        .riders
        .iter()
        .filter_map(|&i| pending.rider_id(i))
        .map(|r| r.0)
        .collect();
    assert!(
        shortlisted.contains(&1),
        "rider 1 is heard from again: {shortlisted:?}"
    );
}

#[test]
fn a_small_fleet_is_weighed_whole() {
    let config = EngineConfig {
        policy: Policy::from_name("rolling").unwrap(),
        service: ServiceSecs::split(60, 60),
        pickup: PickupRule::Timed,
        candidates: CandidateRule::default(),
    };
    let mut engine = with_ten_riders(config);
    engine.handle(0, order(1, 0)).unwrap();
    let pending = engine.begin_tick(0);
    assert!(pending.snapshot.candidates.is_none());
    assert_eq!(pending.snapshot.riders.len(), 10);
}
