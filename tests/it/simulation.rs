//! The engine and the simulator against independent checks: a case worked
//! out by hand, an independent MDRP checker (and the shared verifier
//! where present), determinism, online honesty
//! and the engine's invariants under random event streams.

use crate::common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::shared_dir;
use common::waimai_run as waimai;
use proptest::prelude::*;
use waimai::dispatch::online::{Policy, ServiceSecs};
use waimai::engine::{
    Engine, EngineConfig, Event, OrderId, OrderSpec, OrderStatus, PickupRule, RiderId, RiderSpec,
};
use waimai::map::{EuclideanTravel, PlanarPoint};
use waimai::sim::mdrp::MdrpInstance;
use waimai::sim::runner::{SimConfig, run_mdrp};
use waimai::sim::world::{self, Places, RunOptions};

/// A generated day the size of MDRPLIB's `1r50t100s1p100` (MDRPLIB itself
/// carries no licence, so it stays out of the repository), made once per
/// test process.
fn small_day() -> PathBuf {
    static DAY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DAY.get_or_init(|| {
        let dir = temp_dir("small-day");
        common::mdrp::generate(&dir, 1);
        dir
    })
    .clone()
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("waimai-sim-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn simulate(instance: &Path, out: &Path, policy: &str) -> serde_json::Value {
    let run = Command::new(env!("CARGO_BIN_EXE_waimai"))
        .args(["simulate", "--quiet", "--policy", policy, "--mdrp"])
        .arg(instance)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    serde_json::from_slice(&run.stdout).unwrap()
}

/// The benchmark's figures our report and the checkers must agree on.
const METRICS: [&str; 6] = [
    "delivered",
    "ctd_mean",
    "ctd_p90",
    "rtp_mean",
    "utilization_mean",
    "cost_per_order",
];

/// The tests' own checker's verdict, after checking that the shared
/// verifier (../shared/tools/mdrp_verify.py), where present, agrees.
fn verify(instance: &Path, out: &Path) -> serde_json::Value {
    let ours = common::mdrp::check(instance, out);
    if let Some(shared) = shared_dir() {
        let run = Command::new("python3")
            .arg(shared.join("tools/mdrp_verify.py"))
            .arg(instance)
            .arg(out)
            .output()
            .unwrap();
        let theirs: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        assert_eq!(ours["feasible"], theirs["feasible"], "{ours} vs {theirs}");
        for key in METRICS {
            let (a, b) = (ours[key].as_f64(), theirs[key].as_f64());
            assert!(
                a.zip(b).map_or(a == b, |(a, b)| (a - b).abs() < 1e-9),
                "{key}: ours {a:?}, shared {b:?}"
            );
        }
    }
    ours
}

/// A one-restaurant (r1 at x=300), one-courier (c1 at the origin, on
/// 700-800) instance with the given order rows.
fn one_courier_instance(dir: &Path, order_rows: &str) {
    let files = [
        ("instance_parameters.txt", PARAMS.to_owned()),
        ("restaurants.txt", "restaurant\tx\ty\nr1\t300\t0\n".to_owned()),
        (
            "couriers.txt",
            "courier\tx\ty\ton_time\toff_time\nc1\t0\t0\t700\t800\n".to_owned(),
        ),
        (
            "orders.txt",
            format!("order\tx\ty\tplacement_time\trestaurant\tready_time\n{order_rows}"),
        ),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

use common::mdrp::PARAMS;

#[test]
fn one_order_worked_out_by_hand() {
    // The courier is 300 m (1 minute) from the restaurant; the customer is
    // 13 x 320 m (13 minutes) beyond it. Food ready at 753: the courier
    // leaves at 750 to arrive at 751, picks up at 753 (arrival + 2 would
    // be 753 too), leaves at 755, drops off at 755 + 13 + 2 = 770.
    let dir = temp_dir("hand");
    one_courier_instance(&dir, "o1\t4460\t0\t743\tr1\t753\n");
    let out = dir.join("out");
    let report = simulate(&dir, &out, "rolling");
    let orders = std::fs::read_to_string(out.join("solution_info_orders.txt")).unwrap();
    assert_eq!(orders.lines().nth(1), Some("o1 743 753 753 770 c1"));
    let moves = std::fs::read_to_string(out.join("solution_info_couriers.txt")).unwrap();
    let moves: Vec<&str> = moves.lines().skip(1).collect();
    assert_eq!(moves, ["c1 750 0 r1", "c1 755 r1 o1"]);
    assert_eq!(report["metrics"]["ctd_mean"], 27.0);
    assert_eq!(verify(&dir, &out)["feasible"], true);
}

#[test]
fn mdrp_solutions_pass_the_independent_checker_with_the_same_metrics() {
    let inst = small_day();
    let mut ctd = HashMap::new();
    for policy in ["rolling", "naive"] {
        let out = temp_dir(&format!("verify-{policy}"));
        let ours = simulate(&inst, &out, policy);
        let theirs = verify(&inst, &out);
        assert_eq!(theirs["feasible"], true, "{policy}: {}", theirs["errors"]);
        for key in METRICS {
            let (a, b) = (
                ours["metrics"][key].as_f64().unwrap(),
                theirs[key].as_f64().unwrap(),
            );
            assert!((a - b).abs() < 1e-9, "{policy} {key}: ours {a}, verifier {b}");
        }
        ctd.insert(policy, theirs["ctd_mean"].as_f64().unwrap());
    }
    // Bundling, look-ahead and just-in-time commitment beat the baseline.
    assert!(ctd["rolling"] < ctd["naive"], "{ctd:?}");
}

#[test]
fn same_input_gives_the_same_files() {
    let inst = small_day();
    let (a, b) = (temp_dir("det-a"), temp_dir("det-b"));
    simulate(&inst, &a, "rolling");
    simulate(&inst, &b, "rolling");
    for f in [
        "solution_info_assignments.txt",
        "solution_info_orders.txt",
        "solution_info_couriers.txt",
    ] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs between two runs");
    }
}

#[test]
fn decisions_before_a_time_ignore_orders_placed_after_it() {
    let a = MdrpInstance::read(&small_day()).unwrap();
    let placed: Vec<i64> = a.orders.iter().map(|(_, o)| o.placed_secs).collect();
    let cut = placed[placed.len() / 2];
    // The same day up to `cut`; after it, other customers, other times.
    let mut b = a.clone();
    for (_, o) in b.orders.iter_mut().filter(|(_, o)| o.placed_secs > cut) {
        o.customer = PlanarPoint {
            x: o.customer.x * 0.5,
            y: o.customer.y + 700.0,
        };
        o.ready_secs += 300;
    }
    b.orders.retain(|(_, o)| o.placed_secs <= cut || o.id.0 % 3 != 0);
    let config = SimConfig::new(Policy::from_name("rolling").unwrap(), 60);
    let (run_a, _) = run_mdrp(&a, &config, &mut |_| {}).unwrap();
    let (run_b, _) = run_mdrp(&b, &config, &mut |_| {}).unwrap();
    let before = |run: &waimai::sim::world::Outcome| {
        run.decisions
            .iter()
            .filter(|(t, _)| *t <= cut)
            .cloned()
            .collect::<Vec<_>>()
    };
    let (da, db) = (before(&run_a), before(&run_b));
    assert!(da.len() > 20, "too few decisions before the cut to mean anything");
    assert_eq!(da, db);
    // And the futures did differ afterwards.
    assert_ne!(run_a.decisions, run_b.decisions);
}

// ---- engine invariants under random streams --------------------------

fn pt(x: f64, y: f64) -> PlanarPoint {
    PlanarPoint { x, y }
}

prop_compose! {
    fn stream()(
        restaurants in prop::collection::vec((0.0..4000.0f64, 0.0..4000.0f64), 1..4),
        riders in prop::collection::vec((0.0..4000.0f64, 0.0..4000.0f64, 0i64..30, 30i64..120), 1..5),
        orders in prop::collection::vec((0.0..4000.0f64, 0.0..4000.0f64, 0i64..90, 0i64..30, 0usize..4), 1..25),
        cancels in prop::collection::vec((0usize..25, 0i64..40), 0..5),
        offline in prop::collection::vec((0usize..5, 0i64..100), 0..2),
        naive in any::<bool>(),
    ) -> (Vec<PlanarPoint>, Vec<(i64, Event<PlanarPoint>)>, bool) {
        let rests: Vec<PlanarPoint> = restaurants.iter().map(|&(x, y)| pt(x, y)).collect();
        let mut events = Vec::new();
        for (k, &(x, y, on, len)) in riders.iter().enumerate() {
            events.push((0, Event::RiderOnline(RiderSpec {
                id: RiderId(k as u64), start: pt(x, y), on_secs: on * 60, off_secs: (on + len) * 60,
                vehicle: Default::default(),
                capacity_orders: None,
            })));
        }
        for (k, &(x, y, placed, prep, r)) in orders.iter().enumerate() {
            events.push((placed * 60, Event::OrderPlaced(OrderSpec {
                id: OrderId(k as u64), restaurant: (r % rests.len()) as u32, customer: pt(x, y),
                placed_secs: placed * 60, ready_secs: (placed + prep) * 60,
            })));
        }
        for &(o, after) in &cancels {
            if let Some(&(_, _, placed, _, _)) = orders.get(o) {
                events.push(((placed + after) * 60, Event::OrderCancelled {
                    order: OrderId(o as u64), reason: "customer changed their mind".into(),
                }));
            }
        }
        for &(r, at) in &offline {
            if r < riders.len() {
                events.push((at * 60, Event::RiderOffline { rider: RiderId(r as u64) }));
            }
        }
        (rests, events, naive)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// After every event and tick the engine's invariants hold; at the end
    /// every order is delivered, cancelled, or still open: none vanishes,
    /// none is stuck on a rider; deliveries respect ready times.
    #[test]
    fn engine_invariants_hold_and_no_order_vanishes((rests, events, naive) in stream()) {
        let policy = if naive { Policy::NearestIdle } else { Policy::from_name("rolling").unwrap() };
        let travel = EuclideanTravel::mdrp(320.0);
        let config = EngineConfig { policy, service: ServiceSecs::split(240, 240), pickup: PickupRule::Timed, candidates: Default::default() };
        let engine = Engine::new(travel, rests.clone(), config);
        let mut customers = HashMap::new();
        let mut starts = HashMap::new();
        let mut specs = Vec::new();
        for (_, e) in &events {
            match e {
                Event::OrderPlaced(o) => { customers.insert(o.id, o.customer); specs.push(o.clone()); }
                Event::RiderOnline(r) => { starts.insert(r.id, r.start); }
                _ => {}
            }
        }
        let places = Places { restaurants: rests, customers, starts };
        let opts = RunOptions { tick_secs: 60, check_invariants: true, noise: None };
        let outcome = world::run(engine, &travel, &places, events, opts, &mut |_| ());
        let outcome = outcome.map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(outcome.status.len(), specs.len());
        for o in &specs {
            match &outcome.status[&o.id] {
                OrderStatus::Delivered { pickup_secs, dropoff_secs, .. } => {
                    prop_assert!(*pickup_secs >= o.ready_secs);
                    prop_assert!(*dropoff_secs > *pickup_secs);
                }
                OrderStatus::Cancelled { .. } | OrderStatus::Open => {}
                other => prop_assert!(false, "order {:?} ended {:?}", o.id, other),
            }
        }
    }
}

// ---- operator errors ---------------------------------------------------

fn simulate_err(args: &[&str]) -> (i32, String) {
    let run = Command::new(env!("CARGO_BIN_EXE_waimai"))
        .args(args)
        .output()
        .unwrap();
    (
        run.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    )
}

#[test]
fn unreadable_instances_get_a_clear_error_and_exit_2() {
    let dir = temp_dir("bad");
    let d = dir.to_str().unwrap();
    let (code, err) = simulate_err(&["simulate", "--quiet", "--mdrp", d, "--out", "/tmp/x"]);
    assert_eq!(code, 2);
    assert!(err.contains("instance_parameters.txt"), "{err}");
    one_courier_instance(&dir, "o1\t1\t2\t743\tr1\t753\no2\t1\tNaNx\t743\tr1\t753\n");
    let (code, err) = simulate_err(&["simulate", "--quiet", "--mdrp", d, "--out", "/tmp/x"]);
    assert_eq!(code, 2);
    assert!(err.contains("orders.txt:3") && err.contains('y'), "{err}");
    let (code, err) = simulate_err(&[
        "simulate", "--quiet", "--mdrp", d, "--out", "/tmp/x", "--policy", "psychic",
    ]);
    assert_eq!(code, 2, "a bad flag is the operator's to fix");
    assert!(err.contains("--policy"), "{err}");
    // No input at all: the usage error names both ways to give one.
    let (code, err) = simulate_err(&["simulate", "--out", "/tmp/x"]);
    assert_eq!(code, 2, "clap's usage errors exit 2");
    assert!(err.contains("--mdrp") && err.contains("--fixture"), "{err}");
}

// ---- fixtures on a real road network ----------------------------------

#[test]
fn generated_fixture_runs_on_monaco_and_accounts_for_every_order() {
    let dir = temp_dir("fixture");
    let file = dir.join("small.jsonl");
    let f = file.to_str().unwrap();
    let gen_ = waimai(&[
        "fixture", "generate", "--out", f, "--orders", "120", "--riders", "20", "--seed", "7",
    ]);
    assert!(gen_.status.success(), "{}", String::from_utf8_lossy(&gen_.stderr));
    let text = std::fs::read_to_string(&file).unwrap();
    let placed: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "order_placed")
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(placed.len(), 120);
    let out = dir.join("out");
    let run = waimai(&[
        "simulate",
        "--quiet",
        "--fixture",
        f,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    // One line per placed order, each delivered, cancelled (with its
    // reason) or still open: nothing vanishes.
    let lines = std::fs::read_to_string(out.join("orders.jsonl")).unwrap();
    let mut seen = Vec::new();
    for l in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let state = v["status"]["state"].as_str().unwrap().to_owned();
        assert!(
            ["delivered", "cancelled", "open"].contains(&state.as_str()),
            "{l}"
        );
        if state == "delivered" {
            assert!(v["status"]["dropoff_secs"].as_i64() > v["status"]["pickup_secs"].as_i64());
        }
        if state == "cancelled" {
            assert!(!v["status"]["reason"].as_str().unwrap().is_empty());
        }
        seen.push(v["order"].as_str().unwrap().to_owned());
    }
    seen.sort();
    let mut want = placed.clone();
    want.sort();
    assert_eq!(seen, want);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 5, "five plots");
}

/// Simulates a fixture expected to be refused: exit code and stderr.
fn simulate_fixture(file: &Path) -> (Option<i32>, String) {
    let run = waimai(&[
        "simulate",
        "--quiet",
        "--fixture",
        file.to_str().unwrap(),
        "--out",
        "/tmp/x",
    ]);
    (
        run.status.code(),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    )
}

#[test]
fn broken_fixture_lines_are_named() {
    let dir = temp_dir("badfx");
    let file = dir.join("bad.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"type":"header","version":1,"name":"x","map":"maps/monaco.osm.pbf","profile":"ebike","pickup_service_secs":240,"dropoff_service_secs":120,"target_click_to_door_secs":2400,"pay_per_order":10,"pay_per_hour":15}"#,
            "\n",
            r#"{"type":"restaurant","id":"r1","lat":43.7384,"lng":7.4246}"#,
            "\n",
            r#"{"type":"order_placed","t":100,"id":"o1","restaurant":"r9","lat":43.73,"lng":7.42,"ready_secs":700}"#,
            "\n"
        ),
    )
    .unwrap();
    let (code, err) = simulate_fixture(&file);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bad.jsonl:3") && err.contains("r9"), "{err}");
    std::fs::write(
        &file,
        "{\"type\":\"restaurant\",\"id\":\"r1\",\"lat\":1,\"lng\":2}\n",
    )
    .unwrap();
    let (code, err) = simulate_fixture(&file);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("bad.jsonl:1") && err.contains("header"), "{err}");
}

#[test]
fn a_plan_made_off_thread_never_resurrects_what_changed_meanwhile() {
    // Plan on a snapshot, then cancel the order and take the rider offline
    // before the plan comes back: applying it must do neither.
    let travel = EuclideanTravel::mdrp(320.0);
    let config = EngineConfig {
        policy: Policy::from_name("rolling").unwrap(),
        service: ServiceSecs::split(240, 240),
        pickup: PickupRule::Timed,
        candidates: Default::default(),
    };
    let mut engine = Engine::new(travel, vec![pt(0.0, 0.0)], config);
    let rider = |k: u64| {
        Event::RiderOnline(RiderSpec {
            id: RiderId(k),
            start: pt(300.0 * k as f64, 0.0),
            on_secs: 0,
            off_secs: 7200,
            vehicle: Default::default(),
            capacity_orders: None,
        })
    };
    let order = |k: u64| {
        Event::OrderPlaced(OrderSpec {
            id: OrderId(k),
            restaurant: 0,
            customer: pt(1000.0, 1000.0 * k as f64),
            placed_secs: 0,
            ready_secs: 60,
        })
    };
    for e in [rider(1), rider(2), order(1), order(2)] {
        engine.handle(0, e).unwrap();
    }
    let pending = engine.begin_tick(0);
    let plan = waimai::dispatch::online::plan(&pending.snapshot, engine.travel(), &engine.policy());
    assert!(
        plan.trips.iter().any(|t| t.depart_now),
        "both orders are due: someone leaves now"
    );
    engine
        .handle(
            0,
            Event::OrderCancelled {
                order: OrderId(1),
                reason: "changed mind".into(),
            },
        )
        .unwrap();
    engine
        .handle(0, Event::RiderOffline { rider: RiderId(1) })
        .unwrap();
    let (commands, _) = engine.finish_tick(pending, &plan, 0);
    engine.check_invariants().unwrap();
    assert!(matches!(
        engine.order_status(OrderId(1)),
        Some(OrderStatus::Cancelled { .. })
    ));
    for c in &commands {
        if let waimai::engine::Command::Depart { rider, .. } = c {
            assert_ne!(*rider, RiderId(1), "an offline rider was sent");
        }
    }
    // Order 2 is either still open or on rider 2's trip, never on rider 1.
    match engine.order_status(OrderId(2)) {
        Some(OrderStatus::Open) => {}
        Some(OrderStatus::Assigned { rider, .. }) => assert_eq!(*rider, RiderId(2)),
        other => panic!("order 2 is {other:?}"),
    }
}

/// A rider with nothing committed, free at `free_secs` and on shift until
/// three hours after `now`.
fn idle_rider<P>(id: u64, free_place: P, free_secs: i64, now: i64) -> waimai::dispatch::online::RiderView<P> {
    waimai::dispatch::online::RiderView {
        id,
        free_place,
        free_secs,
        off_secs: now + 3 * 3600,
        committed: None,
        vehicle: Default::default(),
        capacity_orders: None,
    }
}

#[test]
fn planning_on_a_road_matrix_equals_planning_on_single_legs() {
    // Monaco: restaurants, customers and riders on real roads; the plan made
    // on one many-to-many matrix must be the plan made leg by leg.
    use waimai::dispatch::online::{OrderView, Snapshot, plan, plan_with_matrix};
    let net = &common::EBIKE[1];
    let pts = &net.graph().points;
    let snap = |k: usize| net.snap(pts[(k * 7919) % pts.len()]).unwrap();
    let now = 12 * 3600;
    let s = Snapshot {
        now_secs: now,
        restaurants: (0..4).map(snap).collect(),
        orders: (0..12)
            .map(|k| OrderView {
                id: k as u64,
                restaurant: (k % 4) as u32,
                customer: snap(100 + k),
                placed_secs: now - 60 * k as i64,
                ready_secs: now + 120 * k as i64,
            })
            .collect(),
        riders: (0..5)
            .map(|k| idle_rider(k as u64, snap(500 + k), now + 300 * (k as i64 % 2), now))
            .collect(),
        service: ServiceSecs::split(240, 120),
        demand: vec![1.0; 4],
        candidates: None,
    };
    for policy in [Policy::from_name("rolling").unwrap(), Policy::NearestIdle] {
        let direct = plan(&s, net, &policy);
        let matrix = plan_with_matrix(&s, net, &policy).unwrap();
        assert_eq!(direct.trips, matrix.trips);
        assert_eq!(direct.unplanned, matrix.unplanned);
        assert!(!direct.trips.is_empty());
    }
}

// ---- durability --------------------------------------------------------

#[test]
fn a_journal_replayed_after_a_crash_rebuilds_the_exact_state() {
    use waimai::engine::{Activity, Record};
    use waimai::sim::runner::prepare_mdrp;
    use waimai::store::Journal;
    type State = (Vec<(OrderId, OrderStatus)>, Vec<(RiderId, Activity<PlanarPoint>)>);
    fn state(e: &Engine<EuclideanTravel>) -> State {
        (
            e.orders().map(|(s, st)| (s.id, st.clone())).collect(),
            e.riders().map(|(s, a)| (s.id, a.clone())).collect(),
        )
    }
    let inst = MdrpInstance::read(&small_day()).unwrap();
    let config = SimConfig::new(Policy::from_name("rolling").unwrap(), 60);
    let setup = prepare_mdrp(&inst, &config);
    // Cut right after the first time an order joined a rider already on
    // its way, so every kind of decision is in the journal.
    let (first_run, _) = run_mdrp(&inst, &config, &mut |_| {}).unwrap();
    let cut = first_run
        .decisions
        .iter()
        .find(|(_, c)| matches!(c, waimai::engine::Command::Join { .. }))
        .map(|(t, _)| *t)
        .expect("some order joins a committed trip on this instance");
    let path = temp_dir("journal").join("engine.journal");
    let (mut journal, old) = Journal::open::<Record<PlanarPoint>>(&path).unwrap();
    assert!(old.is_empty());
    let mut at_cut: Option<State> = None;
    let opts = RunOptions {
        tick_secs: 60,
        check_invariants: false,
        noise: None,
    };
    let travel = inst.travel();
    world::run(
        setup.engine,
        &travel,
        &setup.places,
        setup.inputs,
        opts,
        &mut |o| {
            if o.now_secs <= cut {
                journal.append(o.records).unwrap();
            }
            if o.now_secs == cut {
                at_cut = Some(state(o.engine));
            }
        },
    )
    .unwrap();
    drop(journal);
    // The process died at `cut`: a new one reads the journal back.
    let (_, records) = Journal::open::<Record<PlanarPoint>>(&path).unwrap();
    let mut fresh = prepare_mdrp(&inst, &config).engine;
    for r in records {
        fresh.restore(r).unwrap();
    }
    fresh.check_invariants().unwrap();
    let want = at_cut.expect("the run reached the cut");
    let busy = want
        .0
        .iter()
        .filter(|(_, s)| matches!(s, OrderStatus::Assigned { .. } | OrderStatus::PickedUp { .. }));
    assert!(busy.count() > 3, "the cut should fall while riders carry orders");
    assert!(
        want.0
            .iter()
            .any(|(_, s)| matches!(s, OrderStatus::Delivered { .. }))
    );
    let got = state(&fresh);
    assert_eq!(got.0, want.0, "order states differ after replay");
    assert_eq!(got.1, want.1, "rider activities differ after replay");
}

#[test]
fn a_journal_from_another_city_is_refused_not_replayed() {
    use waimai::engine::{Command, EngineError};
    let travel = EuclideanTravel::mdrp(320.0);
    let config = EngineConfig {
        policy: Policy::NearestIdle,
        service: ServiceSecs::split(240, 240),
        pickup: PickupRule::Timed,
        candidates: Default::default(),
    };
    let mut engine = Engine::new(travel, vec![pt(0.0, 0.0)], config);
    let spec = RiderSpec {
        id: RiderId(1),
        start: pt(0.0, 0.0),
        on_secs: 0,
        off_secs: 3600,
        vehicle: Default::default(),
        capacity_orders: None,
    };
    engine.handle(0, Event::RiderOnline(spec)).unwrap();
    let depart = |rider: u64, restaurant: u32| Command::Depart {
        rider: RiderId(rider),
        restaurant,
        orders: vec![],
        depart_secs: 0,
        arrive_secs: 60,
    };
    assert_eq!(
        engine.replay(&depart(1, 7)),
        Err(EngineError::UnknownRestaurant(7))
    );
    assert_eq!(
        engine.replay(&depart(9, 0)),
        Err(EngineError::UnknownRider(RiderId(9)))
    );
    // Nothing changed: the rider still waits where it started.
    assert!(matches!(
        engine.rider_activity(RiderId(1)),
        Some(waimai::engine::Activity::Waiting { .. })
    ));
    engine.check_invariants().unwrap();
}

#[test]
fn travel_times_kept_across_ticks_plan_as_fresh_ones_do() {
    // Ticks on Monaco where orders come and go, riders move, a restaurant
    // moves and the hour turns: a plan made with the kept travel times is
    // the plan made leg by leg, and some pairs are kept.
    use rand::SeedableRng;
    use waimai::dispatch::online::{OrderView, Snapshot, TravelCache, plan, plan_with_cache};
    let net = &common::EBIKE[1];
    let pts = &net.graph().points;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut snap = || net.snap(pts[rng.random_range(0..pts.len())]).unwrap();
    let mut restaurants: Vec<_> = (0..4).map(|_| snap()).collect();
    let mut riders: Vec<_> = (0..6).map(|_| snap()).collect();
    let mut orders: Vec<(u64, usize, waimai::map::Snapped)> = Vec::new();
    let mut cache = TravelCache::default();
    let policy = Policy::from_name("rolling").unwrap();
    let mut next_order = 0u64;
    for tick in 0..12i64 {
        // Orders arrive and leave; two riders move; at tick 6 a restaurant
        // moves; at tick 9 the hour turns (rush hours are hourly).
        orders.retain(|(id, _, _)| !(id + tick as u64).is_multiple_of(5));
        for _ in 0..3 {
            orders.push((next_order, (next_order % 4) as usize, snap()));
            next_order += 1;
        }
        riders[tick as usize % 6] = snap();
        riders[(tick as usize + 3) % 6] = snap();
        if tick == 6 {
            restaurants[1] = snap();
        }
        // At night: no rush hour changes a leg's time between departures,
        // so leg by leg is an exact oracle for the kept matrix.
        let now = if tick < 9 {
            2 * 3600 + 60 * tick
        } else {
            3 * 3600 + 60 * tick
        };
        let s = Snapshot {
            now_secs: now,
            restaurants: restaurants.clone(),
            orders: orders
                .iter()
                .map(|(id, r, c)| OrderView {
                    id: *id,
                    restaurant: *r as u32,
                    customer: *c,
                    placed_secs: now - 120,
                    ready_secs: now + 300,
                })
                .collect(),
            riders: riders
                .iter()
                .enumerate()
                .map(|(k, p)| idle_rider(k as u64, *p, now, now))
                .collect(),
            service: ServiceSecs::split(240, 120),
            demand: vec![1.0; 4],
            candidates: None,
        };
        let direct = plan(&s, net, &policy);
        let kept = plan_with_cache(&s, net, &policy, &mut cache).unwrap();
        assert_eq!(direct.trips, kept.trips, "tick {tick}");
        assert_eq!(direct.unplanned, kept.unplanned, "tick {tick}");
    }
    // At least the restaurants' times to each other outlive a tick: 10
    // ticks follow one in the same hour, 9 such pairs each (3 after a move).
    assert!(
        cache.reused_pairs >= 90,
        "kept {} pairs, computed {}",
        cache.reused_pairs,
        cache.computed_pairs
    );
}

#[test]
fn a_day_too_large_for_a_matrix_is_routed_leg_by_leg_and_planned_on_kept_matrices() {
    // The Monaco lunch as if it were too large for an all-pairs matrix:
    // the same orders, riders and roads, timed by the road network per leg
    // and planned on matrices kept across ticks. Without rush hours (the
    // one thing a matrix built once cannot follow) every time is the same
    // either way, so the day must be the same decision for decision.
    use std::sync::Arc;
    use waimai::sim::fixture::{self, Fixture, FixtureTravel};
    let fx = Fixture::read(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/monaco-lunch.jsonl"))
        .unwrap();
    let config = common::config();
    let mut profile = config.profile(&fx.header.profile).unwrap().clone();
    profile.rush_hours.clear();
    let map = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(&fx.header.map);
    let net = Arc::new(
        waimai::map::RoadNetwork::load(&map, &fx.header.profile, &profile, config.map.max_snap_meters)
            .unwrap(),
    );
    let roads = fixture::prepare_with(&fx, &net, 0).unwrap();
    assert!(matches!(roads.travel, FixtureTravel::Roads(_)));
    let matrix = fixture::prepare(&fx, &net).unwrap();
    assert!(matches!(matrix.travel, FixtureTravel::Matrix(_)));
    let sim = SimConfig::new(Policy::from_name("rolling").unwrap(), 60);
    let (by_roads, m_roads) = fixture::run(&fx, &roads, &sim).unwrap();
    let (by_matrix, m_matrix) = fixture::run(&fx, &matrix, &sim).unwrap();
    assert_eq!(by_roads.decisions, by_matrix.decisions);
    assert_eq!(by_roads.status, by_matrix.status);
    assert_eq!(m_roads.delivered, m_matrix.delivered);
    assert!(m_roads.delivered * 100 >= m_roads.orders * 95, "{m_roads:?}");
}
