//! `RoadNetwork`: a road graph ready to answer queries (hierarchy + snap
//! index + rush-hour factors), and its `TravelTime` implementation.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

use super::ch::{ChSearch, ContractionHierarchy, INF, Seed, build_hierarchy};
use super::geo::LatLng;
use super::graph::{NO_ARC, RoadGraph};
use super::profile::{Profile, RushHour, rush_factor};
use super::snap::{SnapIndex, Snapped};
use super::travel::{Leg, TravelMatrix, TravelTime};
use super::{MapError, build, file, osm};

/// A route with its geometry, as `waimai map route` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    pub secs: f64,
    pub meters: u32,
    pub duration_ms: u32,
    pub from: Snapped,
    pub to: Snapped,
    pub path: Vec<LatLng>,
}

/// A road graph with everything needed to route on it.
#[derive(Debug)]
pub struct RoadNetwork {
    graph: RoadGraph,
    ch: ContractionHierarchy,
    snap: SnapIndex,
    rush_hours: Vec<RushHour>,
    searches: Mutex<Vec<ChSearch>>,
}

/// Settings for turning a graph into a queryable network.
#[derive(Debug, Clone)]
pub struct NetworkOptions {
    /// Points farther than this from every road are outside the map.
    pub max_snap_meters: f64,
    pub rush_hours: Vec<RushHour>,
}

impl RoadNetwork {
    /// Prepares `graph` for queries (builds the hierarchy and snap index).
    pub fn new(graph: RoadGraph, options: NetworkOptions) -> Self {
        let ch = build_hierarchy(&graph);
        let snap = SnapIndex::new(&graph, options.max_snap_meters);
        Self {
            graph,
            ch,
            snap,
            rush_hours: options.rush_hours,
            searches: Mutex::new(Vec::new()),
        }
    }

    /// Imports an OSM extract for one profile.
    pub fn import_pbf(path: &Path, name: &str, profile: &Profile) -> Result<RoadGraph, MapError> {
        let extract = osm::read_extract(path, profile)?;
        build::build_graph(&extract, name)
    }

    /// Loads a network from a `.wmap` file, or imports a `.osm.pbf`
    /// directly with `profile` (convenient for one-off commands).
    pub fn load(
        path: &Path,
        profile_name: &str,
        profile: &Profile,
        max_snap_meters: f64,
    ) -> Result<Self, MapError> {
        let is_pbf = path.to_string_lossy().ends_with(".pbf");
        let graph = if is_pbf {
            Self::import_pbf(path, profile_name, profile)?
        } else {
            file::read_graph(path)?
        };
        let options = NetworkOptions {
            max_snap_meters,
            rush_hours: profile.rush_hours.clone(),
        };
        Ok(Self::new(graph, options))
    }

    /// The underlying graph.
    pub fn graph(&self) -> &RoadGraph {
        &self.graph
    }

    /// The contraction hierarchy (exposed for tests and benchmarks).
    pub fn hierarchy(&self) -> &ContractionHierarchy {
        &self.ch
    }

    /// The snap index.
    pub fn snap_index(&self) -> &SnapIndex {
        &self.snap
    }

    /// Snaps a position to the nearest road.
    pub fn snap(&self, p: LatLng) -> Result<Snapped, MapError> {
        self.snap.snap(&self.graph, p)
    }

    /// Travel-time multiplier for a departure at `secs_of_day`.
    pub fn time_factor(&self, secs_of_day: u32) -> f64 {
        rush_factor(&self.rush_hours, secs_of_day)
    }

    fn fraction(&self, s: &Snapped) -> f64 {
        let len = self.snap.edge_meters(&self.graph, s.edge);
        if len > 0.0 {
            (s.offset_meters / len).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// Graph nodes a trip from `s` can start at, with the cost to get there.
    pub fn source_seeds(&self, s: &Snapped) -> Vec<Seed> {
        let (e, f) = (&self.graph.edges[s.edge as usize], self.fraction(s));
        let mut seeds = Vec::with_capacity(2);
        if e.forward != NO_ARC {
            seeds.push(self.seed(e.forward, 1.0 - f, true));
        }
        if e.backward != NO_ARC {
            seeds.push(self.seed(e.backward, f, true));
        }
        seeds
    }

    /// Graph nodes a trip to `s` can end at, with the cost still to go.
    pub fn target_seeds(&self, s: &Snapped) -> Vec<Seed> {
        let (e, f) = (&self.graph.edges[s.edge as usize], self.fraction(s));
        let mut seeds = Vec::with_capacity(2);
        if e.forward != NO_ARC {
            seeds.push(self.seed(e.forward, f, false));
        }
        if e.backward != NO_ARC {
            seeds.push(self.seed(e.backward, 1.0 - f, false));
        }
        seeds
    }

    fn seed(&self, arc: u32, share: f64, at_head: bool) -> Seed {
        let a = &self.graph.arcs[arc as usize];
        Seed {
            node: if at_head { a.to } else { a.from },
            duration_ms: (a.duration_ms as f64 * share).round() as u32,
            meters: (a.meters as f64 * share).round() as u32,
        }
    }

    /// The trip along a single edge when both points lie on it and the
    /// edge runs the right way; CH seeds cannot express that case.
    fn same_edge(&self, a: &Snapped, b: &Snapped) -> Option<Leg> {
        if a.edge != b.edge {
            return None;
        }
        let e = &self.graph.edges[a.edge as usize];
        let (fa, fb) = (self.fraction(a), self.fraction(b));
        let (arc, share) = if fb >= fa && e.forward != NO_ARC {
            (e.forward, fb - fa)
        } else if fb <= fa && e.backward != NO_ARC {
            (e.backward, fa - fb)
        } else {
            return None;
        };
        let arc = &self.graph.arcs[arc as usize];
        Some(Leg {
            duration_ms: (arc.duration_ms as f64 * share).round() as u32,
            meters: (arc.meters as f64 * share).round() as u32,
        })
    }

    fn with_search<R>(&self, f: impl FnOnce(&mut ChSearch) -> R) -> R {
        let pooled = self.searches.lock().ok().and_then(|mut p| p.pop());
        let mut search = pooled.unwrap_or_else(|| ChSearch::new(&self.ch));
        let result = f(&mut search);
        if let Ok(mut pool) = self.searches.lock() {
            pool.push(search);
        }
        result
    }

    /// Free-flow trip between two snapped points, with the base arcs used
    /// when `with_path` (the endpoints' seeds are in `PathResult`).
    fn free_flow(
        &self,
        a: &Snapped,
        b: &Snapped,
        with_path: bool,
    ) -> Result<(Leg, Option<super::ch::PathResult>), MapError> {
        let (src, dst) = (self.source_seeds(a), self.target_seeds(b));
        let ch = self.with_search(|s| self.ch.query(s, &src, &dst, with_path));
        let via_ch = ch.as_ref().map(|r| Leg {
            duration_ms: r.duration_ms,
            meters: r.meters,
        });
        match (self.same_edge(a, b), via_ch) {
            (Some(direct), Some(c)) if direct.duration_ms <= c.duration_ms => Ok((direct, None)),
            (Some(direct), None) => Ok((direct, None)),
            (_, Some(c)) => Ok((c, ch)),
            (None, None) => Err(MapError::Unreachable),
        }
    }

    fn scaled(&self, leg: Leg, depart_secs_of_day: u32) -> Leg {
        let f = self.time_factor(depart_secs_of_day);
        Leg {
            duration_ms: (leg.duration_ms as f64 * f).round() as u32,
            ..leg
        }
    }

    /// The fastest route between two positions, with its geometry.
    pub fn route(&self, from: LatLng, to: LatLng, depart_secs_of_day: u32) -> Result<Route, MapError> {
        let (a, b) = (self.snap(from)?, self.snap(to)?);
        let (leg, path) = self.free_flow(&a, &b, true)?;
        let leg = self.scaled(leg, depart_secs_of_day);
        let path = match path {
            None => self
                .snap
                .partial(&self.graph, a.edge, a.offset_meters, b.offset_meters),
            Some(p) => self.geometry(&a, &b, &p),
        };
        Ok(Route {
            secs: leg.duration_ms as f64 / 1000.0,
            meters: leg.meters,
            duration_ms: leg.duration_ms,
            from: a,
            to: b,
            path,
        })
    }

    fn geometry(&self, a: &Snapped, b: &Snapped, p: &super::ch::PathResult) -> Vec<LatLng> {
        let (e_a, len_a) = (
            &self.graph.edges[a.edge as usize],
            self.snap.edge_meters(&self.graph, a.edge),
        );
        let (e_b, len_b) = (
            &self.graph.edges[b.edge as usize],
            self.snap.edge_meters(&self.graph, b.edge),
        );
        // Seeds were pushed forward-arc first, so seed index 0 means "via the forward arc" when it exists.
        let a_forward = e_a.forward != NO_ARC && p.source_seed == 0;
        let b_forward = e_b.forward != NO_ARC && p.target_seed == 0;
        let mut out = self.snap.partial(
            &self.graph,
            a.edge,
            a.offset_meters,
            if a_forward { len_a } else { 0.0 },
        );
        for &arc in &p.arcs {
            let arc = &self.graph.arcs[arc as usize];
            let pts = self.graph.edge_points(&self.graph.edges[arc.edge as usize]);
            if arc.reversed {
                out.extend(pts.iter().rev().skip(1));
            } else {
                out.extend(pts.iter().skip(1));
            }
        }
        let tail = self.snap.partial(
            &self.graph,
            b.edge,
            if b_forward { 0.0 } else { len_b },
            b.offset_meters,
        );
        out.extend(tail.into_iter().skip(1));
        out
    }

    fn raw_matrix(&self, from: &[Snapped], to: &[Snapped]) -> TravelMatrix {
        let sources: Vec<Vec<Seed>> = from.iter().map(|s| self.source_seeds(s)).collect();
        let targets: Vec<Vec<Seed>> = to.iter().map(|s| self.target_seeds(s)).collect();
        let raw = self.ch.matrix(&sources, &targets);
        let mut m = TravelMatrix {
            rows: raw.rows,
            cols: raw.cols,
            duration_ms: raw.duration_ms,
            meters: raw.meters,
        };
        let mut by_edge: HashMap<u32, Vec<usize>> = HashMap::new();
        for (j, t) in to.iter().enumerate() {
            by_edge.entry(t.edge).or_default().push(j);
        }
        for (i, s) in from.iter().enumerate() {
            for &j in by_edge.get(&s.edge).map_or(&[][..], |v| &v[..]) {
                if let Some(direct) = self.same_edge(s, &to[j]) {
                    let k = i * m.cols + j;
                    if direct.duration_ms <= m.duration_ms[k] {
                        m.duration_ms[k] = direct.duration_ms;
                        m.meters[k] = direct.meters;
                    }
                }
            }
        }
        m
    }
}

impl TravelTime for RoadNetwork {
    type Place = Snapped;

    fn leg(&self, from: &Snapped, to: &Snapped, depart_secs_of_day: u32) -> Result<Leg, MapError> {
        let (leg, _) = self.free_flow(from, to, false)?;
        Ok(self.scaled(leg, depart_secs_of_day))
    }

    fn planar_meters(&self, place: &Snapped) -> [f64; 2] {
        self.snap.to_xy(place.position)
    }

    fn matrix(
        &self,
        from: &[Snapped],
        to: &[Snapped],
        depart_secs_of_day: u32,
    ) -> Result<TravelMatrix, MapError> {
        let mut m = self.raw_matrix(from, to);
        if m.duration_ms.contains(&INF) {
            return Err(MapError::Unreachable);
        }
        let f = self.time_factor(depart_secs_of_day);
        if f != 1.0 {
            for d in &mut m.duration_ms {
                *d = (*d as f64 * f).round() as u32;
            }
        }
        Ok(m)
    }
}
