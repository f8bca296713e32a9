//! The online planner's tick (the engine's hot path) on synthetic city
//! snapshots of growing size, against the nearest-idle baseline in the same
//! run; a city tick through the engine's candidate generator, against the
//! same tick weighing the whole fleet; and one whole MDRPLIB day when
//! ../shared is present.
//!
//! Run: `cargo bench --bench engine`.

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use waimai::dispatch::online::{OrderView, Policy, RiderView, ServiceSecs, Snapshot, plan, plan_with_matrix};
use waimai::engine::{
    CandidateRule, Engine, EngineConfig, Event, OrderId, OrderSpec, PickupRule, RiderId, RiderSpec,
};
use waimai::map::{EuclideanTravel, PlanarPoint};
use waimai::sim::mdrp::MdrpInstance;
use waimai::sim::runner::{SimConfig, run_mdrp};

/// `orders` open orders over 10 km x 10 km, ready within 30 minutes; a
/// third of the riders busy for up to 20 more minutes.
fn snapshot(orders: usize, riders: usize, restaurants: usize) -> Snapshot<PlanarPoint> {
    let mut rng = StdRng::seed_from_u64(1);
    let pt = |rng: &mut StdRng| PlanarPoint {
        x: rng.random::<f64>() * 10_000.0,
        y: rng.random::<f64>() * 10_000.0,
    };
    let now = 12 * 3600;
    Snapshot {
        now_secs: now,
        restaurants: (0..restaurants).map(|_| pt(&mut rng)).collect(),
        orders: (0..orders)
            .map(|k| OrderView {
                id: k as u64,
                restaurant: rng.random_range(0..restaurants) as u32,
                customer: pt(&mut rng),
                placed_secs: now - rng.random_range(0..600),
                ready_secs: now + rng.random_range(0..1800),
            })
            .collect(),
        riders: (0..riders)
            .map(|k| RiderView {
                id: k as u64,
                free_place: pt(&mut rng),
                free_secs: if k % 3 == 0 {
                    now + rng.random_range(0..1200)
                } else {
                    now
                },
                off_secs: now + 4 * 3600,
                committed: None,
                vehicle: Default::default(),
                capacity_orders: None,
            })
            .collect(),
        service: ServiceSecs::split(240, 240),
        demand: vec![1.0; restaurants],
        candidates: None,
    }
}

fn bench_tick(c: &mut Criterion) {
    let travel = EuclideanTravel::mdrp(320.0);
    let mut g = c.benchmark_group("plan_tick");
    g.sample_size(10);
    for (orders, riders) in [(50, 150), (100, 300), (200, 600)] {
        let s = snapshot(orders, riders, orders / 2);
        for name in ["rolling", "naive"] {
            let policy = Policy::from_name(name).unwrap();
            g.bench_with_input(
                BenchmarkId::new(name, format!("{orders}x{riders}")),
                &s,
                |b, s| b.iter(|| black_box(plan(s, &travel, &policy))),
            );
        }
    }
    g.finish();
}

/// The same tick on Monaco's road network: every leg a CH query, against
/// one many-to-many matrix over the snapshot's places.
fn bench_road_tick(c: &mut Criterion) {
    let config = waimai::config::Config::load(None).expect("embedded config");
    let map = Path::new(env!("CARGO_MANIFEST_DIR")).join("maps/monaco.osm.pbf");
    let profile = config.profile("ebike").expect("ebike profile");
    let Ok(net) = waimai::map::RoadNetwork::load(&map, "ebike", profile, config.map.max_snap_meters) else {
        eprintln!("maps/monaco.osm.pbf not loadable: skipping the road-network tick");
        return;
    };
    let pts = &net.graph().points;
    let mut rng = StdRng::seed_from_u64(2);
    let mut snap = |_: usize| net.snap(pts[rng.random_range(0..pts.len())]).expect("road point");
    let plane = snapshot(100, 150, 20);
    let s = Snapshot {
        now_secs: plane.now_secs,
        restaurants: (0..20).map(&mut snap).collect(),
        orders: plane
            .orders
            .iter()
            .map(|o| OrderView {
                id: o.id,
                restaurant: o.restaurant,
                customer: snap(0),
                placed_secs: o.placed_secs,
                ready_secs: o.ready_secs,
            })
            .collect(),
        riders: plane
            .riders
            .iter()
            .map(|r| RiderView {
                id: r.id,
                free_place: snap(0),
                free_secs: r.free_secs,
                off_secs: r.off_secs,
                committed: None,
                vehicle: Default::default(),
                capacity_orders: None,
            })
            .collect(),
        service: plane.service,
        demand: plane.demand.clone(),
        candidates: None,
    };
    let policy = Policy::from_name("rolling").unwrap();
    let mut g = c.benchmark_group("road_tick_monaco_100x150");
    g.sample_size(10);
    g.bench_function("matrix", |b| {
        b.iter(|| black_box(plan_with_matrix(&s, &net, &policy)))
    });
    g.bench_function("leg_by_leg", |b| b.iter(|| black_box(plan(&s, &net, &policy))));
    // A live tick: travel times kept from the last one, while a tenth of
    // the riders moved and five orders were replaced (ticks alternate
    // between two such snapshots).
    let mut moved = s.clone();
    for r in moved.riders.iter_mut().step_by(10) {
        r.free_place = snap(0);
    }
    for o in moved.orders.iter_mut().take(5) {
        o.id += 1_000_000;
        o.customer = snap(0);
    }
    let mut cache = waimai::dispatch::online::TravelCache::default();
    let mut flip = false;
    g.bench_function("matrix_kept_10pct_moved", |b| {
        b.iter(|| {
            flip = !flip;
            let tick = if flip { &moved } else { &s };
            black_box(waimai::dispatch::online::plan_with_cache(
                tick, &net, &policy, &mut cache,
            ))
        })
    });
    g.finish();
}

fn bench_day(c: &mut Criterion) {
    let dirs = [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
        "/work/shared".into(),
    ];
    let Some(dir) = dirs.iter().find(|d| d.join("data/mdrplib").exists()) else {
        eprintln!("../shared/data/mdrplib not found: skipping the whole-day benchmark");
        return;
    };
    let Ok(inst) = MdrpInstance::read(&dir.join("data/mdrplib/1o100t100s1p100")) else {
        return;
    };
    let mut g = c.benchmark_group("simulate_day");
    g.sample_size(10);
    for name in ["rolling", "naive"] {
        let config = SimConfig::new(Policy::from_name(name).unwrap(), 60);
        g.bench_function(format!("{name}/{}", inst.name), |b| {
            b.iter(|| black_box(run_mdrp(&inst, &config, &mut |_| {}).map(|r| r.1.ctd_mean)))
        });
    }
    g.finish();
}

/// An engine over a 10 km x 10 km plane with `riders` idle riders and
/// `orders` open orders at `orders / 5` restaurants, all placed at 12:00.
fn city_engine(orders: usize, riders: usize, rule: CandidateRule) -> Engine<EuclideanTravel> {
    let mut rng = StdRng::seed_from_u64(3);
    let pt = |rng: &mut StdRng| PlanarPoint {
        x: rng.random::<f64>() * 10_000.0,
        y: rng.random::<f64>() * 10_000.0,
    };
    let restaurants: Vec<PlanarPoint> = (0..(orders / 5).max(1)).map(|_| pt(&mut rng)).collect();
    let config = EngineConfig {
        policy: Policy::from_name("rolling").unwrap(),
        service: ServiceSecs::split(240, 120),
        pickup: PickupRule::Timed,
        candidates: rule,
    };
    let n_restaurants = restaurants.len();
    let mut engine = Engine::new(EuclideanTravel::mdrp(320.0), restaurants, config);
    let now = 12 * 3600;
    for k in 0..riders {
        let spec = RiderSpec {
            id: RiderId(k as u64),
            start: pt(&mut rng),
            on_secs: now - 3600,
            off_secs: now + 4 * 3600,
            vehicle: Default::default(),
            capacity_orders: None,
        };
        engine.handle(now - 3600, Event::RiderOnline(spec)).unwrap();
    }
    for k in 0..orders {
        let spec = OrderSpec {
            id: OrderId(k as u64),
            restaurant: rng.random_range(0..n_restaurants) as u32,
            customer: pt(&mut rng),
            placed_secs: now - rng.random_range(0..600),
            ready_secs: now + rng.random_range(0..1800),
        };
        engine.handle(now - 600, Event::OrderPlaced(spec)).unwrap();
    }
    engine
}

fn bench_city_tick(c: &mut Criterion) {
    let now = 12 * 3600;
    let mut g = c.benchmark_group("city_tick");
    g.sample_size(10);
    for (orders, riders) in [(500, 2000), (2000, 5000)] {
        let mut engine = city_engine(orders, riders, CandidateRule::default());
        let label = format!("{orders}x{riders}");
        g.bench_function(BenchmarkId::new("candidates/snapshot", &label), |b| {
            b.iter(|| black_box(engine.begin_tick(now).snapshot.riders.len()))
        });
        let pending = engine.begin_tick(now);
        let policy = engine.policy();
        g.bench_function(BenchmarkId::new("candidates/plan", &label), |b| {
            b.iter(|| black_box(plan(&pending.snapshot, engine.travel(), &policy).trips.len()))
        });
    }
    // The baseline: the same 500 x 2,000 tick weighing every rider.
    let whole = CandidateRule {
        riders_min: usize::MAX / 8,
        ..CandidateRule::default()
    };
    let mut engine = city_engine(500, 2000, whole);
    let pending = engine.begin_tick(now);
    let policy = engine.policy();
    g.bench_function(BenchmarkId::new("whole_fleet/plan", "500x2000"), |b| {
        b.iter(|| black_box(plan(&pending.snapshot, engine.travel(), &policy).trips.len()))
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_tick(&mut c);
    bench_city_tick(&mut c);
    bench_road_tick(&mut c);
    bench_day(&mut c);
    c.final_summary();
}
