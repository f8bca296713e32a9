//! Shared test fixtures: the real maps in maps/, and a plain Dijkstra that
//! serves as the independent oracle for contraction-hierarchy queries.
#![allow(dead_code)]

pub mod load;
pub mod mdrp;
pub mod pdptw;
pub mod process;
pub mod redis;
pub mod serve;

use std::path::PathBuf;
use std::sync::LazyLock;

use waimai::config::Config;
use waimai::map::graph::{NO_ARC, RoadGraph};
use waimai::map::{Leg, RoadNetwork, Snapped};

pub const MAPS: [&str; 3] = ["helsinki", "monaco", "baltimore"];

pub fn map_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("maps")
        .join(format!("{name}.osm.pbf"))
}

/// Where the team's independent verifiers are (`tools/*_verify.py`):
/// ../shared (or WAIMAI_SHARED_DIR) where this checkout has it, else the
/// copy in tests/data (tests/data/tools/SOURCE.md), so a fresh clone runs
/// them too. The tests' instances are in tests/data and their own checkers
/// in tests/it/common; the verifiers are run beside those.
pub fn shared_dir() -> Option<PathBuf> {
    let named = std::env::var("WAIMAI_SHARED_DIR").map(PathBuf::from);
    [
        named.unwrap_or_default(),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data"),
    ]
    .into_iter()
    .find(|d| d.join("tools/pdptw_verify.py").exists())
}

/// A file of tests/data.
pub fn test_data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

pub fn config() -> Config {
    Config::load_with_env(None, Vec::new()).expect("embedded config is valid")
}

/// Imports `maps/<name>.osm.pbf` for `profile` and prepares it for queries.
pub fn network(name: &str, profile: &str) -> RoadNetwork {
    let c = config();
    RoadNetwork::load(
        &map_path(name),
        profile,
        c.profile(profile).unwrap(),
        c.map.max_snap_meters,
    )
    .unwrap()
}

pub static EBIKE: LazyLock<Vec<RoadNetwork>> =
    LazyLock::new(|| MAPS.iter().map(|m| network(m, "ebike")).collect());

/// Dijkstra over the base graph from seeded start nodes; distances in ms.
pub fn dijkstra(g: &RoadGraph, seeds: &[(u32, u64)]) -> Vec<u64> {
    g.dijkstra_ms(seeds, None)
}

/// Travel time between two snapped points by the problem's definition:
/// leave along the road the way it may be driven (cost proportional to the
/// share of the road), Dijkstra between junctions, arrive along the road;
/// or drive straight along the shared road when both lie on it.
pub fn oracle_ms(net: &RoadNetwork, a: &Snapped, b: &Snapped) -> u64 {
    let g = net.graph();
    let share = |s: &Snapped| {
        let len = net.snap_index().edge_meters(g, s.edge);
        if len > 0.0 {
            (s.offset_meters / len).clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    let part = |arc: u32, f: f64| (g.arcs[arc as usize].duration_ms as f64 * f).round() as u64;
    let (ea, eb) = (g.edges[a.edge as usize], g.edges[b.edge as usize]);
    let (fa, fb) = (share(a), share(b));
    let mut seeds = Vec::new();
    if ea.forward != NO_ARC {
        seeds.push((g.arcs[ea.forward as usize].to, part(ea.forward, 1.0 - fa)));
    }
    if ea.backward != NO_ARC {
        seeds.push((g.arcs[ea.backward as usize].to, part(ea.backward, fa)));
    }
    let dist = dijkstra(g, &seeds);
    let mut best = u64::MAX;
    if eb.forward != NO_ARC {
        let from = g.arcs[eb.forward as usize].from as usize;
        best = best.min(dist[from].saturating_add(part(eb.forward, fb)));
    }
    if eb.backward != NO_ARC {
        let from = g.arcs[eb.backward as usize].from as usize;
        best = best.min(dist[from].saturating_add(part(eb.backward, 1.0 - fb)));
    }
    if a.edge == b.edge {
        if fb >= fa && ea.forward != NO_ARC {
            best = best.min(part(ea.forward, fb - fa));
        }
        if fb <= fa && ea.backward != NO_ARC {
            best = best.min(part(ea.backward, fa - fb));
        }
    }
    best
}

/// A uniformly random point inside the map's bounding box that snaps.
pub fn random_snapped(net: &RoadNetwork, rng: &mut impl rand::Rng) -> Snapped {
    use rand::RngExt;
    let b = net.snap_index().bbox();
    loop {
        let p = waimai::map::LatLng {
            lat: rng.random_range(b.min.lat..b.max.lat),
            lng: rng.random_range(b.min.lng..b.max.lng),
        };
        if let Ok(s) = net.snap(p) {
            return s;
        }
    }
}

pub fn leg_ms(l: Leg) -> u64 {
    l.duration_ms as u64
}

/// Every record of a CRM store as JSON, sorted: two stores hold the same
/// data exactly when these are equal.
pub fn crm_records(store: &dyn waimai::crm::store::CrmStore) -> Vec<String> {
    let mut all = Vec::new();
    store
        .dump(&mut |r| {
            all.push(serde_json::to_string(&r).unwrap());
            Ok(())
        })
        .unwrap();
    all.sort();
    all
}

/// Runs the `waimai` binary in the project folder and waits for it.
pub fn waimai_run(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_waimai"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("the waimai binary runs")
}
