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

/// What one direction knows of a node besides its distance, in one record
/// (one cache miss per label written, not three). Distances stay an array
/// of their own: stalling reads them alone, many at a time.
#[derive(Debug, Clone, Copy)]
pub(super) struct Label {
    pub meters: u32,
    /// Previous node, or NONE at a seed.
    pub parent: u32,
    /// Index of the arc from `parent` in the upward arrays.
    pub parent_arc: u32,
    /// Which seed the label descends from.
    pub seed: u32,
}

const UNREACHED: Label = Label {
    meters: 0,
    parent: NONE,
    parent_arc: NONE,
    seed: 0,
};

/// One direction's labels. Reused across queries, reset via `touched`.
#[derive(Debug, Clone)]
pub(super) struct Side {
    pub dist: Vec<u32>,
    pub label: Vec<Label>,
    pub touched: Vec<u32>,
    pub heap: BinaryHeap<Reverse<(u32, u32)>>,
}

impl Side {
    pub fn new(n: usize) -> Self {
        Self {
            dist: vec![INF; n],
            label: vec![UNREACHED; n],
            touched: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    pub fn dist(&self, v: u32) -> u32 {
        self.dist[v as usize]
    }

    pub fn reset(&mut self, seeds: &[Seed]) {
        for &t in &self.touched {
            self.dist[t as usize] = INF;
            self.label[t as usize] = UNREACHED;
        }
        self.touched.clear();
        self.heap.clear();
        for (i, s) in seeds.iter().enumerate() {
            let d = &mut self.dist[s.node as usize];
            if s.duration_ms < *d {
                if *d == INF {
                    self.touched.push(s.node);
                }
                *d = s.duration_ms;
                self.label[s.node as usize] = Label {
                    meters: s.meters,
                    parent: NONE,
                    parent_arc: NONE,
                    seed: i as u32,
                };
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
        let here = self.label[v as usize];
        let (lo, hi) = (first[v as usize] as usize, first[v as usize + 1] as usize);
        for (i, a) in up[lo..hi].iter().enumerate() {
            let nd = d.saturating_add(a.duration_ms);
            let w = a.node as usize;
            if nd < self.dist[w] {
                if self.dist[w] == INF {
                    self.touched.push(a.node);
                }
                self.dist[w] = nd;
                self.label[w] = Label {
                    meters: here.meters.saturating_add(a.meters),
                    parent: v,
                    parent_arc: (lo + i) as u32,
                    seed: here.seed,
                };
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
        fwd.reset(&self.by_rank(sources));
        bwd.reset(&self.by_rank(targets));
        let (mut best, mut meet) = (INF, NONE);
        for &t in &bwd.touched {
            let d = fwd.dist(t).saturating_add(bwd.dist(t));
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
                let d = fwd.dist(v).saturating_add(bwd.dist(v));
                if d < best {
                    (best, meet) = (d, v);
                }
            }
        }
        if meet == NONE {
            return None;
        }
        let (f, b) = (fwd.label[meet as usize], bwd.label[meet as usize]);
        let mut result = PathResult {
            duration_ms: best,
            meters: f.meters.saturating_add(b.meters),
            arcs: Vec::new(),
            source_seed: f.seed as usize,
            target_seed: b.seed as usize,
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
        while fwd.label[v as usize].parent != NONE && up_part.len() < self.node_count() {
            let Label {
                parent: p,
                parent_arc: idx,
                ..
            } = fwd.label[v as usize];
            up_part.push((p, v, self.up_fwd[idx as usize]));
            v = p;
        }
        let mut arcs = Vec::new();
        for &(from, to, arc) in up_part.iter().rev() {
            self.unpack(from, to, arc, &mut arcs);
        }
        let mut v = meet;
        let mut steps = 0;
        while bwd.label[v as usize].parent != NONE && steps < self.node_count() {
            let Label {
                parent: p,
                parent_arc: idx,
                ..
            } = bwd.label[v as usize];
            self.unpack(v, p, self.up_bwd[idx as usize], &mut arcs);
            v = p;
            steps += 1;
        }
        arcs
    }
}
