//! Road-network hot paths on Monaco: snap, point-to-point, matrices, CH build.
//!
//! Run: `cargo bench --bench map`. With `WAIMAI_BENCH_MAP=city.wmap` (a
//! synthetic city from `waimai map synth`, say) it instead times that map
//! alone: hierarchy build, point-to-point percentiles and a 1000x1000
//! matrix, once each (criterion would build a million-junction hierarchy
//! ten times). Besides criterion's means it prints
//! per-query latency percentiles and ratios against baselines measured in
//! the same run (plain Dijkstra; one query per matrix cell), because this
//! machine is shared and absolute figures drift.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::Criterion;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use waimai::config::Config;
use waimai::map::ch::build_hierarchy;
use waimai::map::graph::RoadGraph;
use waimai::map::{LatLng, RoadNetwork, Snapped, TravelTime};

fn monaco() -> RoadNetwork {
    let c = Config::load_with_env(None, Vec::new()).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("maps/monaco.osm.pbf");
    RoadNetwork::load(&path, "ebike", c.profile("ebike").unwrap(), c.map.max_snap_meters).unwrap()
}

/// The map named by `WAIMAI_BENCH_MAP`, timed once: build, p2p, matrix.
fn report_city(path: &str) {
    let c = Config::load_with_env(None, Vec::new()).unwrap();
    let graph = waimai::map::file::read_graph(Path::new(path)).unwrap();
    let profile = graph.profile.clone();
    let t = Instant::now();
    let net = RoadNetwork::load(
        Path::new(path),
        &profile,
        c.profile(&profile).unwrap(),
        c.map.max_snap_meters,
    )
    .unwrap();
    let load = t.elapsed();
    let info = net.graph().info();
    println!(
        "{path} ({profile}): {} nodes, {} arcs, {} CH arcs; read + hierarchy {:?}",
        info.nodes,
        info.arcs,
        net.hierarchy().arc_count(),
        load
    );
    report_latencies(&net);
    let a = snapped(&net, &random_points(&net, 1000, 5));
    let b = snapped(&net, &random_points(&net, 1000, 6));
    for round in 1..=3 {
        let t = Instant::now();
        black_box(net.matrix(&a, &b, 0).unwrap());
        println!("matrix 1000x1000 (round {round}): {:?}", t.elapsed());
    }
}

fn random_points(net: &RoadNetwork, n: usize, seed: u64) -> Vec<LatLng> {
    let mut rng = StdRng::seed_from_u64(seed);
    let b = net.snap_index().bbox();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let p = LatLng {
            lat: rng.random_range(b.min.lat..b.max.lat),
            lng: rng.random_range(b.min.lng..b.max.lng),
        };
        if net.snap(p).is_ok() {
            out.push(p);
        }
    }
    out
}

fn snapped(net: &RoadNetwork, pts: &[LatLng]) -> Vec<Snapped> {
    pts.iter().map(|&p| net.snap(p).unwrap()).collect()
}

/// Baseline: unidirectional Dijkstra to one target over the same graph.
fn dijkstra_ms(g: &RoadGraph, s: u32, t: u32) -> u64 {
    g.dijkstra_ms(&[(s, 0)], Some(t))[t as usize]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Per-query latencies, which criterion's means do not show.
fn report_latencies(net: &RoadNetwork) {
    let pts = snapped(net, &random_points(net, 4000, 1));
    let mut times: Vec<Duration> = pts
        .chunks(2)
        .cycle()
        .take(20_000)
        .map(|pair| {
            let t = Instant::now();
            black_box(net.leg(&pair[0], &pair[1], 0).unwrap());
            t.elapsed()
        })
        .collect();
    times.sort();
    let g = net.graph();
    let n = g.nodes.len() as u32;
    let t = Instant::now();
    for i in 0..300u32 {
        black_box(dijkstra_ms(g, (i * 7919) % n, (i * 104_729 + 13) % n));
    }
    let dijkstra = t.elapsed() / 300;
    let mean: Duration = times.iter().sum::<Duration>() / times.len() as u32;
    println!(
        "p2p leg (20k random pairs): p50 {:?} p90 {:?} p99 {:?} max {:?} mean {:?}; plain Dijkstra mean {:?} (x{:.0} slower)",
        percentile(&times, 0.5),
        percentile(&times, 0.9),
        percentile(&times, 0.99),
        times[times.len() - 1],
        mean,
        dijkstra,
        dijkstra.as_secs_f64() / mean.as_secs_f64()
    );
    let a = snapped(net, &random_points(net, 200, 2));
    let b = snapped(net, &random_points(net, 100, 3));
    let t = Instant::now();
    black_box(net.matrix(&a, &b, 0).unwrap());
    let bucket = t.elapsed();
    let t = Instant::now();
    for x in &a {
        for y in &b {
            black_box(net.leg(x, y, 0).unwrap());
        }
    }
    let pairwise = t.elapsed();
    println!(
        "matrix 200x100: bucket {:?}, one query per cell {:?} (x{:.1})",
        bucket,
        pairwise,
        pairwise.as_secs_f64() / bucket.as_secs_f64()
    );
}

fn benches(c: &mut Criterion) {
    let net = monaco();
    let info = net.graph().info();
    println!(
        "Monaco ebike: {} nodes, {} arcs, {} CH arcs",
        info.nodes,
        info.arcs,
        net.hierarchy().arc_count()
    );
    if measuring() {
        report_latencies(&net);
    }

    let pts = random_points(&net, 1024, 4);
    let mut i = 0;
    c.bench_function("snap", |b| {
        b.iter(|| {
            i = (i + 1) % pts.len();
            black_box(net.snap(pts[i]).unwrap())
        })
    });
    let sn = snapped(&net, &pts);
    c.bench_function("p2p_leg", |b| {
        b.iter(|| {
            i = (i + 1) % (sn.len() - 1);
            black_box(net.leg(&sn[i], &sn[i + 1], 0).unwrap())
        })
    });
    c.bench_function("route_with_geometry", |b| {
        b.iter(|| {
            i = (i + 1) % (pts.len() - 1);
            black_box(net.route(pts[i], pts[i + 1], 0).unwrap())
        })
    });
    let mut group = c.benchmark_group("matrix");
    group.sample_size(20);
    let a = snapped(&net, &random_points(&net, 1000, 5));
    let b = snapped(&net, &random_points(&net, 1000, 6));
    group.bench_function("200x100", |bench| {
        bench.iter(|| black_box(net.matrix(&a[..200], &b[..100], 0).unwrap()))
    });
    group.bench_function("1000x1000", |bench| {
        bench.iter(|| black_box(net.matrix(&a, &b, 0).unwrap()))
    });
    group.finish();

    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    group.bench_function("ch_monaco", |bench| {
        bench.iter(|| black_box(build_hierarchy(net.graph())))
    });
    let c2 = Config::load_with_env(None, Vec::new()).unwrap();
    let pbf = Path::new(env!("CARGO_MANIFEST_DIR")).join("maps/monaco.osm.pbf");
    group.bench_function("import_monaco_pbf", |bench| {
        bench
            .iter(|| black_box(RoadNetwork::import_pbf(&pbf, "ebike", c2.profile("ebike").unwrap()).unwrap()))
    });
    group.finish();
}

/// True under `cargo bench`; `cargo test --all-targets` only smoke-runs.
fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn main() {
    if let Ok(path) = std::env::var("WAIMAI_BENCH_MAP") {
        if measuring() {
            report_city(&path);
        }
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}
