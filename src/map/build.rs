//! From accepted OSM ways to a [`RoadGraph`]: node-level arcs, the largest
//! strongly connected component, then folding of plain degree-2 nodes.
//!
//! **Invariant:** every node of the result can reach every other node, so a
//! snapped point always has a route to any other snapped point.

use std::collections::HashMap;

use petgraph::algo::kosaraju_scc;
use petgraph::graph::DiGraph;

use super::MapError;
use super::geo::{LatLng, haversine_meters};
use super::graph::{Arc, NO_ARC, RoadEdge, RoadGraph};
use super::osm::OsmExtract;

/// A directed arc between two consecutive OSM nodes.
#[derive(Debug, Clone, Copy)]
struct NodeArc {
    from: u32,
    to: u32,
    meters: f64,
    speed_kmh: f64,
    class: u16,
}

impl NodeArc {
    fn secs(&self) -> f64 {
        self.meters / (self.speed_kmh / 3.6)
    }
}

/// Node-level graph: OSM nodes as dense ids, arcs with adjacency lists.
struct NodeGraph {
    coords: Vec<LatLng>,
    arcs: Vec<NodeArc>,
    out: Vec<Vec<u32>>,
    inn: Vec<Vec<u32>>,
}

/// Rounds to the 1e-7 degree grid the map file stores, so that a graph
/// built in memory and one read back from disk are identical.
pub fn quantize(p: LatLng) -> LatLng {
    LatLng {
        lat: (p.lat * 1e7).round() / 1e7,
        lng: (p.lng * 1e7).round() / 1e7,
    }
}

/// Builds the routable graph of one profile from its accepted ways.
pub fn build_graph(extract: &OsmExtract, profile: &str) -> Result<RoadGraph, MapError> {
    let (coords, arcs, classes) = node_arcs(extract);
    let full = largest_component(coords, arcs);
    if full.coords.len() < 2 {
        return Err(MapError::NoRoads(format!(
            "profile {profile}: no connected road component"
        )));
    }
    Ok(fold_degree_two(&full, profile, classes))
}

fn node_arcs(extract: &OsmExtract) -> (Vec<LatLng>, Vec<NodeArc>, Vec<String>) {
    let mut ids: HashMap<i64, u32> = HashMap::new();
    let mut coords = Vec::new();
    let mut classes: Vec<String> = Vec::new();
    let mut best: HashMap<(u32, u32), NodeArc> = HashMap::new();
    for way in &extract.ways {
        let class = match classes.iter().position(|c| *c == way.highway) {
            Some(i) => i as u16,
            None => {
                classes.push(way.highway.clone());
                (classes.len() - 1) as u16
            }
        };
        for pair in way.node_ids.windows(2) {
            let (Some(&a), Some(&b)) = (extract.coords.get(&pair[0]), extract.coords.get(&pair[1])) else {
                continue; // a node outside the extract cuts the way there
            };
            let mut id = |osm: i64, p: LatLng| {
                *ids.entry(osm).or_insert_with(|| {
                    coords.push(quantize(p));
                    (coords.len() - 1) as u32
                })
            };
            let (u, v) = (id(pair[0], a), id(pair[1], b));
            if u == v {
                continue;
            }
            let meters = haversine_meters(coords[u as usize], coords[v as usize]);
            let speed_kmh = way.rule.speed_kmh;
            let mut add = |from, to| {
                let arc = NodeArc {
                    from,
                    to,
                    meters,
                    speed_kmh,
                    class,
                };
                let keep = best.get(&(from, to)).is_none_or(|old| arc.secs() < old.secs());
                if keep {
                    best.insert((from, to), arc);
                }
            };
            if way.rule.forward {
                add(u, v);
            }
            if way.rule.backward {
                add(v, u);
            }
        }
    }
    let mut arcs: Vec<NodeArc> = best.into_values().collect();
    arcs.sort_by_key(|a| (a.from, a.to)); // HashMap order is random: fix it
    (coords, arcs, classes)
}

fn largest_component(coords: Vec<LatLng>, arcs: Vec<NodeArc>) -> NodeGraph {
    let mut g: DiGraph<(), ()> = DiGraph::with_capacity(coords.len(), arcs.len());
    for _ in 0..coords.len() {
        g.add_node(());
    }
    for a in &arcs {
        g.add_edge(a.from.into(), a.to.into(), ());
    }
    let components = kosaraju_scc(&g);
    let largest = components
        .iter()
        .max_by_key(|c| c.len())
        .cloned()
        .unwrap_or_default();
    let mut new_id = vec![u32::MAX; coords.len()];
    let mut kept = largest.iter().map(|n| n.index()).collect::<Vec<_>>();
    kept.sort_unstable();
    let mut out_coords = Vec::with_capacity(kept.len());
    for (new, &old) in kept.iter().enumerate() {
        new_id[old] = new as u32;
        out_coords.push(coords[old]);
    }
    let mut graph = NodeGraph {
        out: vec![Vec::new(); kept.len()],
        inn: vec![Vec::new(); kept.len()],
        coords: out_coords,
        arcs: Vec::new(),
    };
    for a in arcs {
        let (from, to) = (new_id[a.from as usize], new_id[a.to as usize]);
        if from != u32::MAX && to != u32::MAX {
            let id = graph.arcs.len() as u32;
            graph.arcs.push(NodeArc { from, to, ..a });
            graph.out[from as usize].push(id);
            graph.inn[to as usize].push(id);
        }
    }
    graph
}

impl NodeGraph {
    fn has_arc(&self, from: u32, to: u32) -> bool {
        self.out[from as usize]
            .iter()
            .any(|&a| self.arcs[a as usize].to == to)
    }

    /// A node that merely bends a road: two neighbours, traffic passes
    /// straight through in the same directions, same speed and class.
    fn is_pass_through(&self, v: u32) -> bool {
        let incident = || {
            self.out[v as usize]
                .iter()
                .chain(&self.inn[v as usize])
                .map(|&a| &self.arcs[a as usize])
        };
        let mut neighbours: Vec<u32> = incident()
            .map(|a| if a.from == v { a.to } else { a.from })
            .collect();
        neighbours.sort_unstable();
        neighbours.dedup();
        let [a, b] = neighbours[..] else {
            return false;
        };
        let first = incident().next().map(|x| (x.speed_kmh, x.class));
        let uniform = incident().all(|x| Some((x.speed_kmh, x.class)) == first);
        uniform && self.has_arc(a, v) == self.has_arc(v, b) && self.has_arc(b, v) == self.has_arc(v, a)
    }

    /// Follows an arc through pass-through nodes to the next junction;
    /// returns the node sequence and the arcs used.
    fn walk(&self, first: u32, junction: &[bool]) -> (Vec<u32>, Vec<u32>) {
        let start = self.arcs[first as usize];
        let (mut nodes, mut used) = (vec![start.from, start.to], vec![first]);
        let mut arc = start;
        // Bounded: each step visits a new node of a simple chain.
        for _ in 0..self.coords.len() {
            if junction[arc.to as usize] {
                break;
            }
            let next = self.out[arc.to as usize]
                .iter()
                .copied()
                .find(|&a| self.arcs[a as usize].to != arc.from);
            let Some(next) = next else { break };
            arc = self.arcs[next as usize];
            nodes.push(arc.to);
            used.push(next);
        }
        (nodes, used)
    }
}

/// Folds pass-through nodes into arc geometry; see the module doc.
fn fold_degree_two(full: &NodeGraph, profile: &str, classes: Vec<String>) -> RoadGraph {
    let n = full.coords.len() as u32;
    let mut junction: Vec<bool> = (0..n).map(|v| !full.is_pass_through(v)).collect();
    if !junction.iter().any(|&j| j) {
        junction[0] = true; // the whole component is one ring
    }
    // A loop that leaves and re-enters the same junction would become a
    // self-arc and vanish; cut it at its middle node instead. Two rounds
    // suffice: the cut halves end at distinct junctions.
    for _ in 0..2 {
        let mut cuts = Vec::new();
        for (a, arc) in full.arcs.iter().enumerate() {
            if junction[arc.from as usize] {
                let (nodes, _) = full.walk(a as u32, &junction);
                if nodes.first() == nodes.last() {
                    cuts.push(nodes[nodes.len() / 2]);
                }
            }
        }
        if cuts.is_empty() {
            break;
        }
        for c in cuts {
            junction[c as usize] = true;
        }
    }
    assemble(full, &junction, profile, classes)
}

fn assemble(full: &NodeGraph, junction: &[bool], profile: &str, classes: Vec<String>) -> RoadGraph {
    let mut node_id = vec![u32::MAX; full.coords.len()];
    let mut nodes = Vec::new();
    for (v, &j) in junction.iter().enumerate() {
        if j {
            node_id[v] = nodes.len() as u32;
            nodes.push(full.coords[v]);
        }
    }
    let (mut arcs, mut edges, mut points) = (Vec::new(), Vec::<RoadEdge>::new(), Vec::new());
    let mut edge_by_first_step: HashMap<(u32, u32), u32> = HashMap::new();
    for (a, arc) in full.arcs.iter().enumerate() {
        if !junction[arc.from as usize] {
            continue;
        }
        let (seq, used) = full.walk(a as u32, junction);
        let (first, last) = (seq[0], seq[seq.len() - 1]);
        if first == last {
            continue; // unreachable after the cuts above; kept as a guard
        }
        let meters: f64 = used.iter().map(|&u| full.arcs[u as usize].meters).sum();
        let secs: f64 = used.iter().map(|&u| full.arcs[u as usize].secs()).sum();
        let arc_id = arcs.len() as u32;
        let reverse_key = (seq[seq.len() - 1], seq[seq.len() - 2]);
        let (edge, reversed) = match edge_by_first_step.get(&reverse_key) {
            Some(&e) => {
                edges[e as usize].backward = arc_id;
                (e, true)
            }
            None => {
                let e = edges.len() as u32;
                edges.push(RoadEdge {
                    first_point: points.len() as u32,
                    point_count: seq.len() as u32,
                    class: arc.class,
                    forward: arc_id,
                    backward: NO_ARC,
                });
                points.extend(seq.iter().map(|&v| full.coords[v as usize]));
                edge_by_first_step.insert((seq[0], seq[1]), e);
                (e, false)
            }
        };
        arcs.push(Arc {
            from: node_id[first as usize],
            to: node_id[last as usize],
            duration_ms: (secs * 1000.0).round() as u32,
            meters: meters.round() as u32,
            edge,
            reversed,
        });
    }
    RoadGraph::from_parts(profile.to_string(), nodes, arcs, edges, points, classes)
}
