//! Spatial index hot paths at city scale (50k riders): GPS ping ingest and
//! candidate queries (the engine's: the 128 nearest fresh riders).
//!
//! Run: `cargo bench --bench index`. Prints ingest throughput against a
//! baseline measured in the same run (a bare HashMap write of the same
//! pings, the floor any index must pay).

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use waimai::base::RiderId;
use waimai::index::{PlanarIndex, RiderIndex};
use waimai::map::LatLng;
use waimai::map::geo::LocalProjection;

const RIDERS: u64 = 50_000;
const CENTER: LatLng = LatLng {
    lat: 43.735,
    lng: 7.42,
};

fn random_point(rng: &mut StdRng) -> LatLng {
    LatLng {
        lat: CENTER.lat + rng.random_range(-0.025..0.025),
        lng: CENTER.lng + rng.random_range(-0.035..0.035),
    }
}

/// A stream of pings: each rider moves a few metres from where it was.
fn pings(n: usize, rng: &mut StdRng, start: &[LatLng]) -> Vec<(RiderId, LatLng)> {
    let mut at = start.to_vec();
    (0..n)
        .map(|_| {
            let i = rng.random_range(0..RIDERS) as usize;
            at[i].lat += rng.random_range(-0.0001..0.0001);
            at[i].lng += rng.random_range(-0.0001..0.0001);
            (RiderId(i as u64), at[i])
        })
        .collect()
}

fn report_ingest(idx: &mut RiderIndex, stream: &[(RiderId, LatLng)]) {
    let t = Instant::now();
    for (k, &(id, p)) in stream.iter().enumerate() {
        idx.update(id, p, 1_000 + k as u64 / 10_000).unwrap();
    }
    let index_rate = stream.len() as f64 / t.elapsed().as_secs_f64();
    let mut map: HashMap<RiderId, (LatLng, u64)> = HashMap::new();
    let t = Instant::now();
    for (k, &(id, p)) in stream.iter().enumerate() {
        map.insert(id, (p, k as u64));
    }
    black_box(&map);
    let map_rate = stream.len() as f64 / t.elapsed().as_secs_f64();
    println!(
        "ingest {} pings into {RIDERS} riders: {:.0} updates/s (bare HashMap {:.0}/s, index costs x{:.1})",
        stream.len(),
        index_rate,
        map_rate,
        map_rate / index_rate
    );
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let mut rng = StdRng::seed_from_u64(1);
    let start: Vec<LatLng> = (0..RIDERS).map(|_| random_point(&mut rng)).collect();
    let mut idx = RiderIndex::new(CENTER, Some(60));
    for (i, &p) in start.iter().enumerate() {
        idx.update(RiderId(i as u64), p, 1_000).unwrap();
    }
    // Under `cargo test --all-targets` (no --bench flag) only smoke-run.
    let measuring = std::env::args().any(|a| a == "--bench");
    let stream = pings(if measuring { 1_000_000 } else { 1_000 }, &mut rng, &start);
    if measuring {
        report_ingest(&mut idx, &stream);
    }

    let mut k = 0usize;
    c.bench_function("index/update_50k", |b| {
        b.iter(|| {
            k = (k + 1) % stream.len();
            let (id, p) = stream[k];
            idx.update(id, p, 1_200).unwrap();
        })
    });
    let queries: Vec<LatLng> = (0..1024).map(|_| random_point(&mut rng)).collect();
    c.bench_function("index/nearest10_50k", |b| {
        b.iter(|| {
            k = (k + 1) % queries.len();
            black_box(idx.nearest(queries[k], 10, 1_200).unwrap())
        })
    });
    c.bench_function("index/within500m_50k", |b| {
        b.iter(|| {
            k = (k + 1) % queries.len();
            black_box(idx.within(queries[k], 500.0, 1_200).unwrap())
        })
    });
    let mut planar: PlanarIndex<RiderId> = PlanarIndex::new(Some(60));
    let projection = LocalProjection::new(CENTER);
    for (i, &p) in start.iter().enumerate() {
        planar.put(RiderId(i as u64), projection.to_xy(p), 1_000);
    }
    let xy: Vec<[f64; 2]> = queries.iter().map(|&q| projection.to_xy(q)).collect();
    c.bench_function("index/candidates128_50k", |b| {
        b.iter(|| {
            k = (k + 1) % xy.len();
            black_box(planar.nearest_iter(xy[k], 1_020).take(128).count())
        })
    });
    c.final_summary();
}
