//! The road graph: junctions, directed arcs between them, and the road
//! geometry each arc follows.
//!
//! Plain degree-2 nodes of OSM (points that only bend a road) are folded
//! into the arcs' geometry, so the graph the router searches is several
//! times smaller than the OSM node graph while positions along a road are
//! still exact. Times are integer milliseconds, lengths integer metres.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde::Serialize;

use super::geo::{BoundingBox, LatLng};

/// Marks "no arc in this direction" on a [`RoadEdge`].
pub const NO_ARC: u32 = u32::MAX;

/// A directed, traversable piece of road between two junctions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arc {
    pub from: u32,
    pub to: u32,
    pub duration_ms: u32,
    pub meters: u32,
    /// The [`RoadEdge`] whose geometry this arc follows.
    pub edge: u32,
    /// True when the arc runs against the edge's point order.
    pub reversed: bool,
}

/// A physical road piece (one geometry) and the arcs that run along it in
/// each direction; snapping finds edges, routing uses arcs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoadEdge {
    pub first_point: u32,
    pub point_count: u32,
    /// Index into [`RoadGraph::road_classes`].
    pub class: u16,
    /// Arc following the point order, or [`NO_ARC`].
    pub forward: u32,
    /// Arc against the point order, or [`NO_ARC`].
    pub backward: u32,
}

/// The routable road network of one profile, as imported from OSM.
#[derive(Debug, Clone, PartialEq)]
pub struct RoadGraph {
    pub profile: String,
    pub nodes: Vec<LatLng>,
    /// Sorted by `from`; see [`RoadGraph::arcs_from`].
    pub arcs: Vec<Arc>,
    pub first_arc: Vec<u32>,
    pub edges: Vec<RoadEdge>,
    pub points: Vec<LatLng>,
    /// OSM `highway` values, indexed by [`RoadEdge::class`].
    pub road_classes: Vec<String>,
}

/// Summary figures for `waimai map info`.
#[derive(Debug, Clone, Serialize)]
pub struct GraphInfo {
    pub profile: String,
    pub nodes: usize,
    pub arcs: usize,
    pub edges: usize,
    pub geometry_points: usize,
    pub total_road_meters: u64,
    pub bbox: Option<BoundingBox>,
    pub road_classes: Vec<String>,
}

impl RoadGraph {
    /// Assembles a graph from arcs in any order, computing the CSR offsets.
    pub fn from_parts(
        profile: String,
        nodes: Vec<LatLng>,
        mut arcs: Vec<Arc>,
        mut edges: Vec<RoadEdge>,
        points: Vec<LatLng>,
        road_classes: Vec<String>,
    ) -> Self {
        let mut order: Vec<u32> = (0..arcs.len() as u32).collect();
        order.sort_by_key(|&i| (arcs[i as usize].from, arcs[i as usize].to, i));
        let mut new_id = vec![0u32; arcs.len()];
        for (new, &old) in order.iter().enumerate() {
            new_id[old as usize] = new as u32;
        }
        arcs = order.iter().map(|&i| arcs[i as usize]).collect();
        for e in &mut edges {
            for a in [&mut e.forward, &mut e.backward] {
                if *a != NO_ARC {
                    *a = new_id[*a as usize];
                }
            }
        }
        let mut first_arc = vec![0u32; nodes.len() + 1];
        for a in &arcs {
            first_arc[a.from as usize + 1] += 1;
        }
        for i in 0..nodes.len() {
            first_arc[i + 1] += first_arc[i];
        }
        Self {
            profile,
            nodes,
            arcs,
            first_arc,
            edges,
            points,
            road_classes,
        }
    }

    /// The arcs leaving `node`.
    pub fn arcs_from(&self, node: u32) -> &[Arc] {
        let (lo, hi) = (self.first_arc[node as usize], self.first_arc[node as usize + 1]);
        &self.arcs[lo as usize..hi as usize]
    }

    /// The geometry of `edge` in point order.
    pub fn edge_points(&self, edge: &RoadEdge) -> &[LatLng] {
        let lo = edge.first_point as usize;
        &self.points[lo..lo + edge.point_count as usize]
    }

    /// The road class (`highway` value) an arc belongs to.
    pub fn arc_class(&self, arc: &Arc) -> &str {
        &self.road_classes[self.edges[arc.edge as usize].class as usize]
    }

    /// Plain Dijkstra from seeded nodes (node, ms already spent): the
    /// reference the contraction hierarchy is tested and benchmarked
    /// against. Stops early once `target` is settled. `u64::MAX` = unreached.
    pub fn dijkstra_ms(&self, seeds: &[(u32, u64)], target: Option<u32>) -> Vec<u64> {
        let mut dist = vec![u64::MAX; self.nodes.len()];
        let mut heap = BinaryHeap::new();
        for &(n, d) in seeds {
            if d < dist[n as usize] {
                dist[n as usize] = d;
                heap.push(Reverse((d, n)));
            }
        }
        while let Some(Reverse((d, v))) = heap.pop() {
            if Some(v) == target {
                break;
            }
            if d > dist[v as usize] {
                continue;
            }
            for a in self.arcs_from(v) {
                let nd = d + a.duration_ms as u64;
                if nd < dist[a.to as usize] {
                    dist[a.to as usize] = nd;
                    heap.push(Reverse((nd, a.to)));
                }
            }
        }
        dist
    }

    /// Counts and extent, for operators.
    pub fn info(&self) -> GraphInfo {
        GraphInfo {
            profile: self.profile.clone(),
            nodes: self.nodes.len(),
            arcs: self.arcs.len(),
            edges: self.edges.len(),
            geometry_points: self.points.len(),
            total_road_meters: self.arcs.iter().map(|a| a.meters as u64).sum(),
            bbox: BoundingBox::around(self.points.iter().copied()),
            road_classes: self.road_classes.clone(),
        }
    }
}
