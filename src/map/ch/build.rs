//! Node contraction with lazy priority updates and bounded witness searches.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{ChArc, ContractionHierarchy, INF, NONE};
use crate::map::graph::RoadGraph;

/// Settled-node bound of a witness search when estimating a priority.
const WITNESS_SETTLED_MAX_ESTIMATE: usize = 60;
/// Settled-node bound of a witness search when really contracting; a missed
/// witness only costs an unneeded shortcut, never a wrong answer.
const WITNESS_SETTLED_MAX_CONTRACT: usize = 400;

/// The graph still to be contracted.
struct Remaining {
    out: Vec<Vec<ChArc>>,
    inn: Vec<Vec<ChArc>>,
    contracted: Vec<bool>,
}

impl Remaining {
    /// Adds `u→w`, keeping only the fastest arc between any two nodes.
    fn add(&mut self, u: u32, w: u32, mut arc: ChArc) {
        if let Some(old) = self.out[u as usize].iter_mut().find(|a| a.node == w) {
            if old.duration_ms <= arc.duration_ms {
                return;
            }
            arc.node = w;
            *old = arc;
            let back = self.inn[w as usize].iter_mut().find(|a| a.node == u);
            if let Some(back) = back {
                *back = ChArc { node: u, ..arc };
            }
            return;
        }
        self.out[u as usize].push(ChArc { node: w, ..arc });
        self.inn[w as usize].push(ChArc { node: u, ..arc });
    }
}

/// Scratch space for witness searches, reset through `touched`.
struct Witness {
    dist: Vec<u32>,
    touched: Vec<u32>,
    heap: BinaryHeap<Reverse<(u32, u32)>>,
}

impl Witness {
    fn new(n: usize) -> Self {
        Self {
            dist: vec![INF; n],
            touched: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    /// Dijkstra from `source` in the remaining graph, never through `skip`.
    fn run(&mut self, g: &Remaining, source: u32, skip: u32, limit_ms: u32, settled_max: usize) {
        for &t in &self.touched {
            self.dist[t as usize] = INF;
        }
        self.touched.clear();
        self.heap.clear();
        self.dist[source as usize] = 0;
        self.touched.push(source);
        self.heap.push(Reverse((0, source)));
        let mut settled = 0;
        while let Some(Reverse((d, v))) = self.heap.pop() {
            if d > self.dist[v as usize] {
                continue;
            }
            settled += 1;
            if d > limit_ms || settled > settled_max {
                break;
            }
            for a in &g.out[v as usize] {
                if a.node == skip {
                    continue;
                }
                let nd = d.saturating_add(a.duration_ms);
                if nd < self.dist[a.node as usize] {
                    if self.dist[a.node as usize] == INF {
                        self.touched.push(a.node);
                    }
                    self.dist[a.node as usize] = nd;
                    self.heap.push(Reverse((nd, a.node)));
                }
            }
        }
    }
}

/// Shortcuts needed to contract `v`: `(from, to, arc)` triples.
fn shortcuts(g: &Remaining, w: &mut Witness, v: u32, settled_max: usize) -> Vec<(u32, u32, ChArc)> {
    let mut found = Vec::new();
    let outs = &g.out[v as usize];
    for inn in &g.inn[v as usize] {
        let u = inn.node;
        let limit = outs
            .iter()
            .filter(|o| o.node != u)
            .map(|o| inn.duration_ms.saturating_add(o.duration_ms))
            .max();
        let Some(limit) = limit else { continue };
        w.run(g, u, v, limit, settled_max);
        for o in outs.iter().filter(|o| o.node != u) {
            let via = inn.duration_ms.saturating_add(o.duration_ms);
            if w.dist[o.node as usize] > via {
                let arc = ChArc {
                    node: o.node,
                    duration_ms: via,
                    meters: inn.meters.saturating_add(o.meters),
                    arc: NONE,
                    middle: v,
                };
                found.push((u, o.node, arc));
            }
        }
    }
    found
}

/// Contracts every node of `graph`; see the module doc of `ch`.
pub fn build_hierarchy(graph: &RoadGraph) -> ContractionHierarchy {
    let n = graph.nodes.len();
    let mut g = Remaining {
        out: vec![Vec::new(); n],
        inn: vec![Vec::new(); n],
        contracted: vec![false; n],
    };
    for (id, a) in graph.arcs.iter().enumerate() {
        if a.from != a.to {
            let arc = ChArc {
                node: a.to,
                duration_ms: a.duration_ms,
                meters: a.meters,
                arc: id as u32,
                middle: NONE,
            };
            g.add(a.from, a.to, arc);
        }
    }
    let mut witness = Witness::new(n);
    let (mut deleted, mut level) = (vec![0i32; n], vec![0i32; n]);
    let priority = |g: &Remaining, w: &mut Witness, v: u32, deleted: &[i32], level: &[i32]| {
        let added = shortcuts(g, w, v, WITNESS_SETTLED_MAX_ESTIMATE).len() as i32;
        let removed = (g.out[v as usize].len() + g.inn[v as usize].len()) as i32;
        2 * (added - removed) + deleted[v as usize] + level[v as usize]
    };
    let mut heap: BinaryHeap<Reverse<(i32, u32)>> = (0..n as u32)
        .map(|v| Reverse((priority(&g, &mut witness, v, &deleted, &level), v)))
        .collect();
    let mut rank = vec![0u32; n];
    let (mut up_fwd, mut up_bwd) = (vec![Vec::new(); n], vec![Vec::new(); n]);
    let mut next_rank = 0u32;
    while let Some(Reverse((_, v))) = heap.pop() {
        if g.contracted[v as usize] {
            continue;
        }
        let p = priority(&g, &mut witness, v, &deleted, &level);
        if heap.peek().is_some_and(|Reverse((top, _))| p > *top) {
            heap.push(Reverse((p, v)));
            continue;
        }
        for (u, w, arc) in shortcuts(&g, &mut witness, v, WITNESS_SETTLED_MAX_CONTRACT) {
            g.add(u, w, arc);
        }
        rank[v as usize] = next_rank;
        next_rank += 1;
        g.contracted[v as usize] = true;
        let outs = std::mem::take(&mut g.out[v as usize]);
        let inns = std::mem::take(&mut g.inn[v as usize]);
        for a in &outs {
            g.inn[a.node as usize].retain(|x| x.node != v);
        }
        for a in &inns {
            g.out[a.node as usize].retain(|x| x.node != v);
        }
        for nb in outs.iter().chain(&inns).map(|a| a.node as usize) {
            deleted[nb] += 1;
            level[nb] = level[nb].max(level[v as usize] + 1);
        }
        up_fwd[v as usize] = outs;
        up_bwd[v as usize] = inns;
    }
    let (first_fwd, up_fwd) = flatten(by_rank(up_fwd, &rank));
    let (first_bwd, up_bwd) = flatten(by_rank(up_bwd, &rank));
    ContractionHierarchy {
        rank,
        first_fwd,
        up_fwd,
        first_bwd,
        up_bwd,
    }
}

/// The upward lists renumbered so that a node's id is its rank: the
/// important nodes every query reaches then sit together in memory (at
/// a million junctions this halves a point-to-point query).
fn by_rank(mut lists: Vec<Vec<ChArc>>, rank: &[u32]) -> Vec<Vec<ChArc>> {
    let mut out = vec![Vec::new(); lists.len()];
    for (v, list) in lists.iter_mut().enumerate() {
        for a in list.iter_mut() {
            a.node = rank[a.node as usize];
            if a.middle != NONE {
                a.middle = rank[a.middle as usize];
            }
        }
        out[rank[v] as usize] = std::mem::take(list);
    }
    out
}

fn flatten(lists: Vec<Vec<ChArc>>) -> (Vec<u32>, Vec<ChArc>) {
    let mut first = Vec::with_capacity(lists.len() + 1);
    let mut flat = Vec::new();
    first.push(0);
    for l in lists {
        flat.extend(l);
        first.push(flat.len() as u32);
    }
    (first, flat)
}
