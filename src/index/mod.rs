//! In-memory spatial index of riders and orders (rstar), updated on every
//! GPS ping and queried by the dispatcher for candidates.
//!
//! Owns: current positions and last-seen times of indexed things. Knows
//! nothing of order or rider state beyond that. May call: `map` (for
//! coordinates, and travel times to refine straight-line candidates).
//!
//! **Invariant:** a rider whose last ping is older than `stale_after_secs`
//! is never returned as a candidate, but stays indexed until removed, so a
//! late ping revives it without loss.

mod planar;

use std::collections::HashMap;
use std::hash::Hash;

use serde::Serialize;
use thiserror::Error;

pub use planar::PlanarIndex;

use crate::base::{OrderId, RiderId};
use crate::map::geo::LocalProjection;
use crate::map::{LatLng, MapError, TravelTime};

/// Errors of the spatial index.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum IndexError {
    #[error(transparent)]
    Map(#[from] MapError),
    #[error("timestamp {now_secs} is before the last ping {last_secs} of this id")]
    TimeWentBackwards { now_secs: u64, last_secs: u64 },
}

/// A candidate returned by a query.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Nearby<Id> {
    pub id: Id,
    pub position: LatLng,
    /// Straight-line distance to the query point.
    pub meters: f64,
}

/// Points that move, by GPS: riders (which go stale) or orders (which do
/// not).
#[derive(Debug, Clone)]
pub struct PointIndex<Id: Copy + Eq + Hash> {
    projection: LocalProjection,
    points: PlanarIndex<Id>,
    positions: HashMap<Id, LatLng>,
}

/// Riders, who go stale without pings.
pub type RiderIndex = PointIndex<RiderId>;
/// Orders' pickup or drop-off points.
pub type OrderIndex = PointIndex<OrderId>;

impl<Id: Copy + Eq + Hash + PartialEq> PointIndex<Id> {
    /// An empty index projecting around `center` (the city's centre).
    pub fn new(center: LatLng, stale_after_secs: Option<u64>) -> Self {
        Self {
            projection: LocalProjection::new(center),
            points: PlanarIndex::new(stale_after_secs.map(|s| s.min(i64::MAX as u64) as i64)),
            positions: HashMap::new(),
        }
    }

    /// Number of indexed ids, stale or not.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Records a position for `id` at `now_secs` (a GPS ping).
    pub fn update(&mut self, id: Id, position: LatLng, now_secs: u64) -> Result<(), IndexError> {
        let position = LatLng::new(position.lat, position.lng)?;
        let now = now_secs.min(i64::MAX as u64) as i64;
        if let Some((_, last)) = self.points.get(id)
            && now < last
        {
            return Err(IndexError::TimeWentBackwards {
                now_secs,
                last_secs: last as u64,
            });
        }
        self.points.put(id, self.projection.to_xy(position), now);
        self.positions.insert(id, position);
        Ok(())
    }

    /// Drops `id` (rider offline, order picked up); false if it was absent.
    pub fn remove(&mut self, id: Id) -> bool {
        self.positions.remove(&id);
        self.points.remove(id)
    }

    /// Last known position and ping time of `id`.
    pub fn position(&self, id: Id) -> Option<(LatLng, u64)> {
        let (_, seen) = self.points.get(id)?;
        Some((*self.positions.get(&id)?, seen as u64))
    }

    fn nearby(&self, id: Id, d2: f64) -> Nearby<Id> {
        // Every point has a position: update/remove keep them in step.
        let position = self
            .positions
            .get(&id)
            .copied()
            .unwrap_or(LatLng { lat: 0.0, lng: 0.0 });
        Nearby {
            id,
            position,
            meters: d2.sqrt(),
        }
    }

    /// The `k` nearest fresh ids to `at`, nearest first.
    pub fn nearest(&self, at: LatLng, k: usize, now_secs: u64) -> Result<Vec<Nearby<Id>>, IndexError> {
        let at = LatLng::new(at.lat, at.lng)?;
        let xy = self.projection.to_xy(at);
        let now = now_secs.min(i64::MAX as u64) as i64;
        Ok(self
            .points
            .nearest_iter(xy, now)
            .take(k)
            .map(|(id, d2)| self.nearby(id, d2))
            .collect())
    }

    /// Every fresh id within `radius_meters` of `at`, nearest first.
    pub fn within(
        &self,
        at: LatLng,
        radius_meters: f64,
        now_secs: u64,
    ) -> Result<Vec<Nearby<Id>>, IndexError> {
        let at = LatLng::new(at.lat, at.lng)?;
        let xy = self.projection.to_xy(at);
        let now = now_secs.min(i64::MAX as u64) as i64;
        let mut out: Vec<Nearby<Id>> = self
            .points
            .within(xy, radius_meters, now)
            .into_iter()
            .map(|(id, d2)| self.nearby(id, d2))
            .collect();
        out.sort_by(|a, b| a.meters.total_cmp(&b.meters));
        Ok(out)
    }

    /// The `k` fresh ids that can reach `at` soonest, chosen among the
    /// `shortlist` nearest by straight line: straight-line distance is a
    /// cheap filter, travel time the real criterion.
    pub fn nearest_by_travel_time<T: TravelTime>(
        &self,
        travel: &T,
        place: impl Fn(LatLng) -> Result<T::Place, MapError>,
        at: LatLng,
        shortlist: usize,
        k: usize,
        now_secs: u64,
    ) -> Result<Vec<(Nearby<Id>, u32)>, IndexError> {
        let near = self.nearest(at, shortlist.max(k), now_secs)?;
        let target = [place(at)?];
        let sources = near
            .iter()
            .map(|n| place(n.position))
            .collect::<Result<Vec<_>, _>>()?;
        let m = travel.matrix(&sources, &target, (now_secs % 86_400) as u32)?;
        let mut ranked: Vec<(Nearby<Id>, u32)> = near
            .into_iter()
            .enumerate()
            .map(|(i, n)| (n, m.leg(i, 0).duration_ms))
            .collect();
        ranked.sort_by_key(|(_, ms)| *ms);
        ranked.truncate(k);
        Ok(ranked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CENTER: LatLng = LatLng {
        lat: 43.73,
        lng: 7.42,
    };

    #[test]
    fn stale_riders_drop_out_and_revive() {
        let mut idx = RiderIndex::new(CENTER, Some(30));
        idx.update(RiderId(1), CENTER, 100).unwrap();
        idx.update(
            RiderId(2),
            LatLng {
                lat: 43.731,
                lng: 7.42,
            },
            120,
        )
        .unwrap();
        let ids = |v: Vec<Nearby<RiderId>>| v.into_iter().map(|n| n.id.0).collect::<Vec<_>>();
        assert_eq!(ids(idx.nearest(CENTER, 5, 130).unwrap()), vec![1, 2]);
        assert_eq!(ids(idx.nearest(CENTER, 5, 131).unwrap()), vec![2]);
        assert_eq!(ids(idx.within(CENTER, 10_000.0, 131).unwrap()), vec![2]);
        idx.update(RiderId(1), CENTER, 140).unwrap();
        assert_eq!(ids(idx.nearest(CENTER, 5, 140).unwrap()), vec![1, 2]);
    }

    #[test]
    fn rejects_bad_input() {
        let mut idx = RiderIndex::new(CENTER, None);
        assert!(
            idx.update(
                RiderId(1),
                LatLng {
                    lat: f64::NAN,
                    lng: 7.0
                },
                0
            )
            .is_err()
        );
        assert!(idx.nearest(LatLng { lat: 100.0, lng: 7.0 }, 1, 0).is_err());
        idx.update(RiderId(1), CENTER, 50).unwrap();
        assert!(matches!(
            idx.update(RiderId(1), CENTER, 49),
            Err(IndexError::TimeWentBackwards { .. })
        ));
        assert!(!idx.is_empty() && idx.len() == 1);
    }

    #[test]
    fn moving_and_removing_keeps_tree_and_map_in_step() {
        let mut idx = OrderIndex::new(CENTER, None);
        idx.update(OrderId(7), CENTER, 0).unwrap();
        idx.update(
            OrderId(7),
            LatLng {
                lat: 43.74,
                lng: 7.43,
            },
            1,
        )
        .unwrap();
        assert_eq!(idx.points.tree_size(), 1);
        assert!(idx.remove(OrderId(7)));
        assert!(!idx.remove(OrderId(7)));
        assert_eq!(idx.points.tree_size(), 0);
    }
}
