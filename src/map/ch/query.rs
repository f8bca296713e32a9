//! Point-to-point queries: bidirectional upward Dijkstra with stall-on-demand.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{ChArc, ContractionHierarchy, INF, NONE, Seed};

/// The answer to one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathResult {
    pub duration_ms: u32,
    pub meters: u32,
    /// Base graph arcs from the source seed's node to the target seed's
    /// node, filled only when a path was asked for.
    pub arcs: Vec<u32>,
    /// Which seeds the path starts and ends at (indices into the inputs).
    pub source_seed: usize,
    pub target_seed: usize,
}

/// One direction's labels. Reused across queries, reset via `touched`.
#[derive(Debug, Clone)]
pub(super) struct Side {
    pub dist: Vec<u32>,
    pub meters: Vec<u32>,
    /// (previous node, index of the arc in the upward arrays) or NONE.
    pub parent: Vec<(u32, u32)>,
    /// Which seed a label descends from.
    pub seed: Vec<u32>,
    pub touched: Vec<u32>,
    pub heap: BinaryHeap<Reverse<(u32, u32)>>,
}

impl Side {
    pub fn new(n: usize) -> Self {
        Self {
            dist: vec![INF; n],
            meters: vec![0; n],
            parent: vec![(NONE, NONE); n],
            seed: vec![0; n],
            touched: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    pub fn reset(&mut self, seeds: &[Seed]) {
        for &t in &self.touched {
            self.dist[t as usize] = INF;
        }
        self.touched.clear();
        self.heap.clear();
        for (i, s) in seeds.iter().enumerate() {
            if s.duration_ms < self.dist[s.node as usize] {
                if self.dist[s.node as usize] == INF {
                    self.touched.push(s.node);
                }
                self.dist[s.node as usize] = s.duration_ms;
                self.meters[s.node as usize] = s.meters;
                self.parent[s.node as usize] = (NONE, NONE);
                self.seed[s.node as usize] = i as u32;
                self.heap.push(Reverse((s.duration_ms, s.node)));
            }
        }
    }

    pub fn min_key(&self) -> u32 {
        self.heap.peek().map_or(INF, |Reverse((d, _))| *d)
    }

    /// Settles the next node: returns it unless its label is stale or it
    /// is stalled (a more important node reaches it faster).
    pub fn settle(&mut self, up: &[ChArc], first: &[u32], down: &[ChArc], first_down: &[u32]) -> Option<u32> {
        let Reverse((d, v)) = self.heap.pop()?;
        if d > self.dist[v as usize] {
            return None;
        }
        let (lo, hi) = (
            first_down[v as usize] as usize,
            first_down[v as usize + 1] as usize,
        );
        let stalled = down[lo..hi]
            .iter()
            .any(|a| self.dist[a.node as usize].saturating_add(a.duration_ms) < d);
        if stalled {
            return None;
        }
        let (lo, hi) = (first[v as usize] as usize, first[v as usize + 1] as usize);
        for (i, a) in up[lo..hi].iter().enumerate() {
            let nd = d.saturating_add(a.duration_ms);
            let w = a.node as usize;
            if nd < self.dist[w] {
                if self.dist[w] == INF {
                    self.touched.push(a.node);
                }
                self.dist[w] = nd;
                self.meters[w] = self.meters[v as usize].saturating_add(a.meters);
                self.parent[w] = (v, (lo + i) as u32);
                self.seed[w] = self.seed[v as usize];
                self.heap.push(Reverse((nd, a.node)));
            }
        }
        Some(v)
    }
}

/// Reusable per-thread query state for one hierarchy.
#[derive(Debug, Clone)]
pub struct ChSearch {
    pub(super) fwd: Side,
    pub(super) bwd: Side,
}

impl ChSearch {
    /// Scratch space sized for `ch`.
    pub fn new(ch: &ContractionHierarchy) -> Self {
        Self {
            fwd: Side::new(ch.node_count()),
            bwd: Side::new(ch.node_count()),
        }
    }
}

impl ContractionHierarchy {
    /// Fastest route from any source seed to any target seed; `None` when
    /// no seed pair is connected. Seeds must name nodes of this hierarchy.
    pub fn query(
        &self,
        search: &mut ChSearch,
        sources: &[Seed],
        targets: &[Seed],
        with_path: bool,
    ) -> Option<PathResult> {
        let (fwd, bwd) = (&mut search.fwd, &mut search.bwd);
        fwd.reset(sources);
        bwd.reset(targets);
        let (mut best, mut meet) = (INF, NONE);
        for &t in &bwd.touched {
            let d = fwd.dist[t as usize].saturating_add(bwd.dist[t as usize]);
            if d < best {
                (best, meet) = (d, t);
            }
        }
        loop {
            let (fk, bk) = (fwd.min_key(), bwd.min_key());
            if fk.min(bk) >= best {
                break;
            }
            let settled = if fk <= bk {
                fwd.settle(&self.up_fwd, &self.first_fwd, &self.up_bwd, &self.first_bwd)
            } else {
                bwd.settle(&self.up_bwd, &self.first_bwd, &self.up_fwd, &self.first_fwd)
            };
            if let Some(v) = settled {
                let d = fwd.dist[v as usize].saturating_add(bwd.dist[v as usize]);
                if d < best {
                    (best, meet) = (d, v);
                }
            }
        }
        if meet == NONE {
            return None;
        }
        let mut result = PathResult {
            duration_ms: best,
            meters: fwd.meters[meet as usize].saturating_add(bwd.meters[meet as usize]),
            arcs: Vec::new(),
            source_seed: fwd.seed[meet as usize] as usize,
            target_seed: bwd.seed[meet as usize] as usize,
        };
        if with_path {
            result.arcs = self.path_arcs(&search.fwd, &search.bwd, meet);
        }
        Some(result)
    }

    fn path_arcs(&self, fwd: &Side, bwd: &Side, meet: u32) -> Vec<u32> {
        let mut up_part = Vec::new();
        let mut v = meet;
        // Bounded by the node count: parents strictly decrease in rank.
        while fwd.parent[v as usize].0 != NONE && up_part.len() < self.node_count() {
            let (p, idx) = fwd.parent[v as usize];
            up_part.push((p, v, self.up_fwd[idx as usize]));
            v = p;
        }
        let mut arcs = Vec::new();
        for &(from, to, arc) in up_part.iter().rev() {
            self.unpack(from, to, arc, &mut arcs);
        }
        let mut v = meet;
        let mut steps = 0;
        while bwd.parent[v as usize].0 != NONE && steps < self.node_count() {
            let (p, idx) = bwd.parent[v as usize];
            self.unpack(v, p, self.up_bwd[idx as usize], &mut arcs);
            v = p;
            steps += 1;
        }
        arcs
    }
}
