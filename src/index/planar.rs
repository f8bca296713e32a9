//! Points in a planar frame (metres), each with the time it was last seen:
//! the one tree under both the GPS-facing [`PointIndex`](super::PointIndex)
//! and the engine's index of where riders will be free.

use std::collections::HashMap;
use std::hash::Hash;

use rstar::RTree;
use rstar::primitives::GeomWithData;

type Point<Id> = GeomWithData<[f64; 2], Id>;

#[derive(Debug, Clone, Copy)]
struct Entry {
    xy: [f64; 2],
    last_seen_secs: i64,
}

/// Ids at planar positions. With `stale_after_secs`, an id not seen for
/// longer is skipped by queries but stays indexed, so the next sighting
/// revives it.
#[derive(Debug, Clone)]
pub struct PlanarIndex<Id: Copy + Eq + Hash> {
    tree: RTree<Point<Id>>,
    entries: HashMap<Id, Entry>,
    stale_after_secs: Option<i64>,
}

impl<Id: Copy + Eq + Hash> PlanarIndex<Id> {
    pub fn new(stale_after_secs: Option<i64>) -> Self {
        Self {
            tree: RTree::new(),
            entries: HashMap::new(),
            stale_after_secs,
        }
    }

    /// `id` is at `xy`, seen at `seen_secs`; the tree only changes when the
    /// point moves.
    pub fn put(&mut self, id: Id, xy: [f64; 2], seen_secs: i64) {
        debug_assert!(xy.iter().all(|c| c.is_finite()), "planar point not finite");
        let new = Entry {
            xy,
            last_seen_secs: seen_secs,
        };
        match self.entries.insert(id, new) {
            Some(old) if old.xy == xy => {}
            Some(old) => {
                self.tree.remove(&GeomWithData::new(old.xy, id));
                self.tree.insert(GeomWithData::new(xy, id));
            }
            None => self.tree.insert(GeomWithData::new(xy, id)),
        }
    }

    /// Drops `id`; false if it was absent.
    pub fn remove(&mut self, id: Id) -> bool {
        match self.entries.remove(&id) {
            Some(e) => self.tree.remove(&GeomWithData::new(e.xy, id)).is_some(),
            None => false,
        }
    }

    /// Where `id` is and when it was last seen.
    pub fn get(&self, id: Id) -> Option<([f64; 2], i64)> {
        self.entries.get(&id).map(|e| (e.xy, e.last_seen_secs))
    }

    /// Whether `id` is indexed and not stale at `now_secs`.
    pub fn is_fresh(&self, id: Id, now_secs: i64) -> bool {
        self.entries.get(&id).is_some_and(|e| self.fresh(e, now_secs))
    }

    fn fresh(&self, e: &Entry, now_secs: i64) -> bool {
        self.stale_after_secs
            .is_none_or(|s| now_secs.saturating_sub(e.last_seen_secs) <= s)
    }

    /// Fresh ids nearest to `xy` first, with squared distances, as long as
    /// the caller keeps taking.
    pub fn nearest_iter(&self, xy: [f64; 2], now_secs: i64) -> impl Iterator<Item = (Id, f64)> + '_ {
        self.tree
            .nearest_neighbor_iter_with_distance_2(xy)
            .filter(move |(p, _)| self.is_fresh(p.data, now_secs))
            .map(|(p, d2)| (p.data, d2))
    }

    /// Every fresh id within `radius_meters` of `xy`, with squared
    /// distances, in no particular order.
    pub fn within(&self, xy: [f64; 2], radius_meters: f64, now_secs: i64) -> Vec<(Id, f64)> {
        self.tree
            .locate_within_distance(xy, radius_meters * radius_meters)
            .filter(|p| self.is_fresh(p.data, now_secs))
            .map(|p| {
                let (dx, dy) = (p.geom()[0] - xy[0], p.geom()[1] - xy[1]);
                (p.data, dx * dx + dy * dy)
            })
            .collect()
    }

    /// The tree's size (tests: tree and map stay in step).
    #[cfg(test)]
    pub(super) fn tree_size(&self) -> usize {
        self.tree.size()
    }
}
