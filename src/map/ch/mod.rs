//! Contraction hierarchies: our own, so that every shortcut carries both
//! its travel time and its length, and many-to-many matrices can use the
//! bucket method over the same upward graphs.
//!
//! Nodes are contracted one by one in order of importance (edge difference,
//! contracted neighbours and level), adding a shortcut `u→w` only when no
//! witness path avoiding `v` is as fast. A query then only ever climbs
//! to more important nodes, from both ends, and meets in the middle.
//!
//! **Invariant:** a CH query returns exactly the Dijkstra travel time on the
//! graph it was built from (tests check this on all three maps).

mod build;
mod matrix;
mod query;

pub use build::build_hierarchy;
pub use query::{ChSearch, PathResult};

/// Marks "none" in [`ChArc::arc`] and [`ChArc::middle`].
pub const NONE: u32 = u32::MAX;
/// Unreached distance.
pub const INF: u32 = u32::MAX;

/// An arc of the search graph: original (`arc` set) or shortcut (`middle` set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChArc {
    /// The other end: head for upward-forward arcs, tail for upward-backward.
    pub node: u32,
    pub duration_ms: u32,
    pub meters: u32,
    /// Base graph arc id for an original arc.
    pub arc: u32,
    /// The contracted node a shortcut bypasses.
    pub middle: u32,
}

/// A start or end of a query: a graph node and the cost already spent
/// reaching it (non-zero when the true position lies along a road).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seed {
    pub node: u32,
    pub duration_ms: u32,
    pub meters: u32,
}

/// Upward search graphs in compressed sparse rows.
#[derive(Debug, Clone)]
pub struct ContractionHierarchy {
    /// Contraction order position of every graph node (higher = more
    /// important), which is also its id inside the hierarchy: every arc,
    /// label and bucket below is indexed by rank, never by graph node.
    rank: Vec<u32>,
    first_fwd: Vec<u32>,
    up_fwd: Vec<ChArc>,
    first_bwd: Vec<u32>,
    up_bwd: Vec<ChArc>,
}

impl ContractionHierarchy {
    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.rank.len()
    }

    /// Number of arcs in both upward graphs together (originals + shortcuts).
    pub fn arc_count(&self) -> usize {
        self.up_fwd.len() + self.up_bwd.len()
    }

    /// `seeds` with their graph nodes as the hierarchy's own ids.
    fn by_rank(&self, seeds: &[Seed]) -> Vec<Seed> {
        seeds
            .iter()
            .map(|s| Seed {
                node: self.rank[s.node as usize],
                ..*s
            })
            .collect()
    }

    /// Arcs `v→w` with `w` more important than `v`.
    fn up_forward(&self, v: u32) -> &[ChArc] {
        &self.up_fwd[self.first_fwd[v as usize] as usize..self.first_fwd[v as usize + 1] as usize]
    }

    /// Arcs `w→v` with `w` more important than `v` (stored with `node = w`).
    fn up_backward(&self, v: u32) -> &[ChArc] {
        &self.up_bwd[self.first_bwd[v as usize] as usize..self.first_bwd[v as usize + 1] as usize]
    }

    /// Expands a search-graph arc `from→to` into base graph arc ids, in order.
    fn unpack(&self, from: u32, to: u32, arc: ChArc, out: &mut Vec<u32>) {
        let mut stack = vec![(from, to, arc)];
        // Bounded: every shortcut expands into strictly fewer-level halves.
        while let Some((u, w, a)) = stack.pop() {
            if a.middle == NONE {
                out.push(a.arc);
                continue;
            }
            let m = a.middle;
            let first = self.up_backward(m).iter().find(|x| x.node == u);
            let second = self.up_forward(m).iter().find(|x| x.node == w);
            // Both halves exist by construction: a shortcut is only added
            // from the two arcs that were incident to `m` when it was contracted.
            if let (Some(&first), Some(&second)) = (first, second) {
                stack.push((m, w, second));
                stack.push((u, m, first));
            }
        }
    }
}
