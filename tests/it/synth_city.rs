//! Synthetic cities: deterministic, strongly connected, and routed by the
//! contraction hierarchy exactly as plain Dijkstra routes them.

use crate::common;

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use waimai::map::ch::{ChSearch, Seed};
use waimai::map::graph::RoadGraph;
use waimai::map::synth::{SynthOptions, synth_graph};
use waimai::map::{LatLng, NetworkOptions, RoadNetwork, file};

fn city(junctions: usize, seed: u64) -> RoadGraph {
    let config = common::config();
    let options = SynthOptions {
        junctions,
        seed,
        center: LatLng {
            lat: 31.23,
            lng: 121.47,
        },
    };
    synth_graph(&options, config.profile("ebike").unwrap(), "ebike").unwrap()
}

/// Every node reached from node 0 along arcs, forward or backward.
fn reached(g: &RoadGraph, backward: bool) -> usize {
    let n = g.nodes.len();
    let mut next: Vec<Vec<u32>> = vec![Vec::new(); n];
    for a in &g.arcs {
        let (from, to) = if backward { (a.to, a.from) } else { (a.from, a.to) };
        next[from as usize].push(to);
    }
    let mut seen = vec![false; n];
    let mut queue = VecDeque::from([0u32]);
    seen[0] = true;
    while let Some(u) = queue.pop_front() {
        for &v in &next[u as usize] {
            if !std::mem::replace(&mut seen[v as usize], true) {
                queue.push_back(v);
            }
        }
    }
    seen.iter().filter(|s| **s).count()
}

#[test]
fn a_synthetic_city_is_strongly_connected_and_the_same_for_the_same_seed() {
    let g = city(2500, 3);
    let n = g.nodes.len();
    assert!((2250..=2500).contains(&n), "{n} junctions for 2,500 asked");
    assert_eq!(reached(&g, false), n, "every junction reachable from junction 0");
    assert_eq!(reached(&g, true), n, "junction 0 reachable from every junction");
    let one_way = g
        .arcs
        .iter()
        .filter(|a| !g.arcs.iter().any(|b| b.from == a.to && b.to == a.from))
        .count();
    assert!(one_way > 0, "some streets are one-way");
    let mut classes: Vec<&str> = g.arcs.iter().map(|a| g.arc_class(a)).collect();
    classes.sort();
    classes.dedup();
    assert_eq!(classes, vec!["primary", "residential", "secondary"]);

    let dir = std::env::temp_dir().join(format!("waimai-synth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bytes = |g: &RoadGraph, name: &str| {
        let path = dir.join(name);
        file::write_graph(g, &path).unwrap();
        std::fs::read(path).unwrap()
    };
    assert_eq!(bytes(&g, "a.wmap"), bytes(&city(2500, 3), "b.wmap"));
    assert_ne!(bytes(&g, "a.wmap"), bytes(&city(2500, 4), "c.wmap"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_hierarchy_of_a_synthetic_city_equals_dijkstra() {
    let g = city(3000, 11);
    let net = RoadNetwork::new(
        g.clone(),
        NetworkOptions {
            max_snap_meters: 500.0,
            rush_hours: Vec::new(),
        },
    );
    let mut search = ChSearch::new(net.hierarchy());
    let mut rng = StdRng::seed_from_u64(5);
    let n = g.nodes.len() as u32;
    let seed = |node| {
        [Seed {
            node,
            duration_ms: 0,
            meters: 0,
        }]
    };
    for _ in 0..40 {
        let (s, t) = (rng.random_range(0..n), rng.random_range(0..n));
        let want = g.dijkstra_ms(&[(s, 0)], None)[t as usize];
        let got = net
            .hierarchy()
            .query(&mut search, &seed(s), &seed(t), false)
            .expect("strongly connected");
        assert_eq!(got.duration_ms as u64, want, "{s} -> {t}");
    }
}

#[test]
fn map_synth_writes_a_file_and_refuses_a_bad_size() {
    let run = common::waimai_run;
    let out = std::env::temp_dir().join(format!("waimai-synth-cli-{}.wmap", std::process::id()));
    let ok = run(&[
        "map",
        "synth",
        "--junctions",
        "400",
        "--seed",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let info = run(&["map", "info", "--map", out.to_str().unwrap()]);
    assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
    let _ = std::fs::remove_file(&out);
    let bad = run(&["map", "synth", "--junctions", "2000001", "--out", "/tmp/x.wmap"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--junctions"));
}
