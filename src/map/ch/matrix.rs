//! Many-to-many travel times with the bucket method (Knopp et al. 2007):
//! one backward upward search per target fills buckets at the nodes it
//! settles, one forward upward search per source scans them. Both phases
//! run on the rayon pool.

use rayon::prelude::*;

use super::query::Side;
use super::{ContractionHierarchy, INF, Seed};

/// One bucket entry: a target reaches this node's bucket at this cost.
#[derive(Debug, Clone, Copy)]
struct Entry {
    target: u32,
    duration_ms: u32,
    meters: u32,
}

/// Row-major matrices of durations and lengths; [`INF`] where unreachable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMatrix {
    pub rows: usize,
    pub cols: usize,
    pub duration_ms: Vec<u32>,
    pub meters: Vec<u32>,
}

impl ContractionHierarchy {
    /// All-pairs fastest routes between seed groups (one group = one place).
    pub fn matrix(&self, sources: &[Vec<Seed>], targets: &[Vec<Seed>]) -> RawMatrix {
        let n = self.node_count();
        let spaces: Vec<Vec<(u32, u32, u32)>> = targets
            .par_iter()
            .map_init(
                || Side::new(n),
                |side, seeds| self.upward_space(side, seeds, false),
            )
            .collect();
        let (first, bucket) = buckets(n, &spaces);
        let cols = targets.len();
        let mut duration_ms = vec![INF; sources.len() * cols];
        let mut meters = vec![INF; sources.len() * cols];
        duration_ms
            .par_chunks_mut(cols.max(1))
            .zip(meters.par_chunks_mut(cols.max(1)))
            .zip(sources.par_iter())
            .for_each_init(
                || Side::new(n),
                |side, ((row_ms, row_m), seeds)| {
                    for (v, d, m) in self.upward_space(side, seeds, true) {
                        let (lo, hi) = (first[v as usize] as usize, first[v as usize + 1] as usize);
                        for e in &bucket[lo..hi] {
                            let total = d.saturating_add(e.duration_ms);
                            let t = e.target as usize;
                            if total < row_ms[t] {
                                row_ms[t] = total;
                                row_m[t] = m.saturating_add(e.meters);
                            }
                        }
                    }
                },
            );
        RawMatrix {
            rows: sources.len(),
            cols,
            duration_ms,
            meters,
        }
    }

    /// Every node an upward search from `seeds` settles without stalling,
    /// with its (duration, meters) label.
    fn upward_space(&self, side: &mut Side, seeds: &[Seed], forward: bool) -> Vec<(u32, u32, u32)> {
        side.reset(&self.by_rank(seeds));
        let mut out = Vec::with_capacity(side.touched.len() * 16);
        // Bounded: each node is settled at most once per label improvement.
        while side.min_key() != INF {
            let settled = if forward {
                side.settle(&self.up_fwd, &self.first_fwd, &self.up_bwd, &self.first_bwd)
            } else {
                side.settle(&self.up_bwd, &self.first_bwd, &self.up_fwd, &self.first_fwd)
            };
            if let Some(v) = settled {
                out.push((v, side.dist[v as usize], side.label[v as usize].meters));
            }
        }
        out
    }
}

/// Groups the targets' search spaces by node (CSR), targets in order.
fn buckets(n: usize, spaces: &[Vec<(u32, u32, u32)>]) -> (Vec<u32>, Vec<Entry>) {
    let mut first = vec![0u32; n + 1];
    for space in spaces {
        for &(v, _, _) in space {
            first[v as usize + 1] += 1;
        }
    }
    for i in 0..n {
        first[i + 1] += first[i];
    }
    let mut fill = first.clone();
    let empty = Entry {
        target: 0,
        duration_ms: 0,
        meters: 0,
    };
    let mut bucket = vec![empty; first[n] as usize];
    for (t, space) in spaces.iter().enumerate() {
        for &(v, duration_ms, meters) in space {
            let slot = &mut fill[v as usize];
            bucket[*slot as usize] = Entry {
                target: t as u32,
                duration_ms,
                meters,
            };
            *slot += 1;
        }
    }
    (first, bucket)
}
