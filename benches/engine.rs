//! The online planner's tick (the engine's hot path) on synthetic city
//! snapshots of growing size, against the nearest-idle baseline in the same
//! run; and one whole MDRPLIB day when ../shared is present.
//!
//! Run: `cargo bench --bench engine`.

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use waimai::dispatch::online::{OrderView, Policy, RiderView, ServiceSecs, Snapshot, plan};
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
            })
            .collect(),
        service: ServiceSecs::split(240, 240),
        demand: vec![1.0; restaurants],
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

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_tick(&mut c);
    bench_day(&mut c);
    c.final_summary();
}
