//! Profiles checked against the raw OSM data, read independently of the
//! importer: a car never drives a footway; oneways bind where they should.

use crate::common;

use std::collections::{HashMap, HashSet};

use osmpbf::{Element, ElementReader};
use waimai::map::{LatLng, RoadNetwork};

type Key = (i64, i64);
type Seg = (Key, Key);

fn key(p: LatLng) -> Key {
    ((p.lat * 1e7).round() as i64, (p.lng * 1e7).round() as i64)
}

/// Raw ways of monaco: (highway, tags, node coordinates).
fn raw_ways() -> Vec<(String, HashMap<String, String>, Vec<Key>)> {
    let mut coords: HashMap<i64, Key> = HashMap::new();
    let mut ways = Vec::new();
    ElementReader::from_path(common::map_path("monaco"))
        .unwrap()
        .for_each(|e| match e {
            Element::DenseNode(n) => {
                coords.insert(
                    n.id(),
                    key(LatLng {
                        lat: n.lat(),
                        lng: n.lon(),
                    }),
                );
            }
            Element::Node(n) => {
                coords.insert(
                    n.id(),
                    key(LatLng {
                        lat: n.lat(),
                        lng: n.lon(),
                    }),
                );
            }
            Element::Way(w) => {
                let tags: HashMap<String, String> = w.tags().map(|(k, v)| (k.into(), v.into())).collect();
                if let Some(h) = tags.get("highway") {
                    ways.push((h.clone(), tags.clone(), w.refs().collect::<Vec<i64>>()));
                }
            }
            _ => {}
        })
        .unwrap();
    ways.into_iter()
        .map(|(h, t, refs)| (h, t, refs.iter().filter_map(|r| coords.get(r).copied()).collect()))
        .collect()
}

/// Directed consecutive-point segments the graph lets a vehicle drive.
fn driven_segments(net: &RoadNetwork) -> HashSet<Seg> {
    let g = net.graph();
    let mut out = HashSet::new();
    for a in &g.arcs {
        let mut pts: Vec<Key> = g
            .edge_points(&g.edges[a.edge as usize])
            .iter()
            .map(|&p| key(p))
            .collect();
        if a.reversed {
            pts.reverse();
        }
        out.extend(pts.windows(2).map(|w| (w[0], w[1])));
    }
    out
}

const FOOT_ONLY: &[&str] = &["footway", "pedestrian", "steps", "path", "cycleway", "corridor"];

#[test]
fn car_never_uses_a_footway() {
    let ways = raw_ways();
    let undirected = |a: Key, b: Key| if a < b { (a, b) } else { (b, a) };
    let mut foot = HashSet::new();
    let mut road = HashSet::new();
    for (h, _, pts) in &ways {
        let set = if FOOT_ONLY.contains(&h.as_str()) {
            &mut foot
        } else {
            &mut road
        };
        set.extend(pts.windows(2).map(|w| undirected(w[0], w[1])));
    }
    let foot_only: HashSet<Seg> = foot.difference(&road).copied().collect();
    assert!(foot_only.len() > 1000, "monaco has many footways");
    let car = driven_segments(&common::network("monaco", "car"));
    let on_foot = car
        .iter()
        .filter(|(a, b)| foot_only.contains(&undirected(*a, *b)))
        .count();
    assert_eq!(on_foot, 0, "car graph drives {on_foot} footway segments");
    let walk = driven_segments(&common::network("monaco", "walk"));
    let walked = walk
        .iter()
        .filter(|(a, b)| foot_only.contains(&undirected(*a, *b)))
        .count();
    assert!(
        walked > 1000,
        "the walk profile must use footways (sees {walked})"
    );
}

#[test]
fn oneway_is_honoured_by_car_and_ignored_on_foot() {
    let ways = raw_ways();
    let car_roads = &common::config().profiles["car"].highway_kmh;
    let is_oneway = |t: &HashMap<String, String>| {
        matches!(t.get("oneway").map(String::as_str), Some("yes" | "1" | "true"))
    };
    let mut forbidden: HashSet<Seg> = HashSet::new();
    let mut allowed_elsewhere: HashSet<Seg> = HashSet::new();
    for (h, t, pts) in &ways {
        for w in pts.windows(2) {
            if is_oneway(t) && car_roads.contains_key(h) {
                forbidden.insert((w[1], w[0]));
                allowed_elsewhere.insert((w[0], w[1]));
            } else {
                allowed_elsewhere.insert((w[0], w[1]));
                allowed_elsewhere.insert((w[1], w[0]));
            }
        }
    }
    let forbidden: HashSet<Seg> = forbidden.difference(&allowed_elsewhere).copied().collect();
    assert!(forbidden.len() > 500, "monaco has many oneway streets");
    let car = driven_segments(&common::network("monaco", "car"));
    let wrong_way = forbidden.iter().filter(|s| car.contains(s)).count();
    assert_eq!(
        wrong_way, 0,
        "car drives {wrong_way} oneway segments the wrong way"
    );
    // Walkers go both ways on every oneway they may use at all (not on
    // motorways, `foot=no` or private roads); a few service roads lie
    // outside the largest connected component, hence 90%, not 100%.
    let walk_roads = &common::config().profiles["walk"].highway_kmh;
    let denied = |t: &HashMap<String, String>| {
        ["foot", "access"]
            .iter()
            .any(|k| matches!(t.get(*k).map(String::as_str), Some("no" | "private")))
    };
    let walkable_oneway: HashSet<Seg> = ways
        .iter()
        .filter(|(h, t, _)| is_oneway(t) && walk_roads.contains_key(h) && !denied(t))
        .flat_map(|(_, _, pts)| pts.windows(2).map(|w| (w[1], w[0])).collect::<Vec<_>>())
        .collect();
    let walk = driven_segments(&common::network("monaco", "walk"));
    let walked = walkable_oneway.iter().filter(|s| walk.contains(s)).count();
    assert!(
        walked * 10 > walkable_oneway.len() * 9,
        "walkers ignore oneway: {walked}/{}",
        walkable_oneway.len()
    );
}
