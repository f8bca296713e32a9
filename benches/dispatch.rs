//! Solver hot paths on 200-task Li & Lim instances: insertion evaluation
//! (the inner loop of every recreate, on short and on long routes) and one
//! ruin-and-recreate iteration.
//!
//! Run: `cargo bench --bench dispatch`. Prints the O(1)-per-position
//! insertion check against a baseline measured in the same run: trying
//! every position by building the route and re-checking it from scratch.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::Criterion;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use waimai::dispatch::recreate::{Limits, recreate};
use waimai::dispatch::route::Route;
use waimai::dispatch::ruin::{RuinShape, related_orders, ruin};
use waimai::dispatch::{Problem, SearchOptions, Solution, lilim, solve};

fn instance(name: &str) -> Option<Problem> {
    let dirs = [
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
        "/work/shared".into(),
    ];
    let dir = dirs.iter().find(|d| d.join("data/lilim").exists())?;
    let text = std::fs::read_to_string(dir.join(format!("data/lilim/pdp_200/{name}.txt"))).ok()?;
    lilim::parse(&text).ok()
}

/// Every (route, order) pair where the order is not on the route.
fn pairs(p: &Problem, s: &Solution) -> Vec<(usize, u32)> {
    let mut out = Vec::new();
    for (ri, r) in s.routes.iter().enumerate().filter(|(_, r)| !r.is_empty()) {
        let mine: Vec<u32> = r.visits().iter().map(|&x| p.stop(x).order).collect();
        for o in (0..p.orders.len() as u32).step_by(7) {
            if !mine.contains(&o) {
                out.push((ri, o));
            }
        }
    }
    out
}

fn brute_force_insertion(p: &Problem, r: &Route, order: u32) -> Option<f64> {
    let o = p.orders[order as usize];
    let m = r.stops().len();
    let mut best: Option<f64> = None;
    for i in 0..m - 1 {
        for j in i..m - 1 {
            let mut stops = r.stops().to_vec();
            stops.insert(j + 1, o.delivery);
            stops.insert(i + 1, o.pickup);
            let cand = Route::from_stops(p, r.rider, stops);
            if cand.is_feasible(p) {
                let c = cand.distance() - r.distance();
                best = Some(best.map_or(c, |b| b.min(c)));
            }
        }
    }
    best
}

/// Best insertion of each (route, order) pair of `work` in turn.
fn bench_insertion(c: &mut Criterion, name: &str, p: &Problem, s: &Solution, work: &[(usize, u32)]) {
    let mut k = 0;
    c.bench_function(name, |b| {
        b.iter(|| {
            k = (k + 1) % work.len();
            let (r, o) = work[k];
            black_box(s.routes[r].best_insertion(p, o, f64::INFINITY, || false))
        })
    });
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let Some(p) = instance("lr1_2_4") else {
        eprintln!("dispatch bench: ../shared/data/lilim not found, skipping");
        return;
    };
    let opts = SearchOptions {
        time_limit: Duration::from_secs(60),
        iterations_max: Some(2000),
        seed: 1,
        searches: 1,
        tuning: Default::default(),
    };
    let (solved, _) = solve(&p, opts);
    let work = pairs(&p, &solved);
    if std::env::args().any(|a| a == "--bench") {
        let t = Instant::now();
        for &(r, o) in &work {
            black_box(solved.routes[r].best_insertion(&p, o, f64::INFINITY, || false));
        }
        let fast = t.elapsed() / work.len() as u32;
        let t = Instant::now();
        for &(r, o) in work.iter().take(200) {
            black_box(brute_force_insertion(&p, &solved.routes[r], o));
        }
        let slow = t.elapsed() / 200;
        println!(
            "best insertion into one route (lr1_2_4, {} vehicles): {fast:?}; rebuild-and-check baseline {slow:?} (x{:.0})",
            solved.vehicles(),
            slow.as_secs_f64() / fast.as_secs_f64()
        );
    }
    bench_insertion(&mut c, "dispatch/best_insertion_route", &p, &solved, &work);
    let related = related_orders(&p);
    // Unbounded, and bounded by the solution's own distance (annealing at
    // zero temperature: every worse neighbour is given up half-built).
    for (name, distance_max) in [
        ("dispatch/ruin_recreate_iteration", f64::INFINITY),
        ("dispatch/ruin_recreate_iteration_bounded", solved.distance()),
    ] {
        let mut rng = SmallRng::seed_from_u64(7);
        let limits = Limits {
            distance_max,
            ..Limits::new(solved.vehicles(), 0.01)
        };
        c.bench_function(name, |b| {
            b.iter(|| {
                let mut s = solved.clone();
                let shape = RuinShape {
                    removed_mean: 10.0,
                    string_stops_max: 10.0,
                    split_share: 0.0,
                };
                let removed = ruin(&p, &mut s, &related, shape, &mut rng);
                black_box(recreate(&p, &mut s, removed, limits, &mut rng));
                black_box(s.distance())
            })
        });
    }
    c.bench_function("dispatch/prepare_related_orders", |b| {
        b.iter(|| black_box(related_orders(&p)))
    });
    // Long routes (3 riders, about 130 stops each), where time windows
    // prune few position pairs and the detour floor does most of the work.
    if let Some(long) = instance("lr2_2_9") {
        let (solved, _) = solve(&long, opts);
        let work = pairs(&long, &solved);
        bench_insertion(
            &mut c,
            "dispatch/best_insertion_route_long",
            &long,
            &solved,
            &work,
        );
    }
    c.final_summary();
}
