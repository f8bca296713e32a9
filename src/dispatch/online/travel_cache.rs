//! Travel times kept from one tick to the next. Restaurants and customers
//! do not move, so their rows and columns are computed once; a tick asks
//! the road network only for new destinations, new places and riders whose
//! free place moved. What a tick gets is exactly the matrix a fresh
//! many-to-many query would give (tested), so plans do not change.
//!
//! Bounds: a row or column lives only while its place is in the tick's
//! snapshot; everything is dropped when the hour changes (rush-hour
//! factors are hourly).

use std::collections::{HashMap, HashSet};

use crate::map::{MapError, MatrixTravel, TravelMatrix, TravelTime, Vehicle, by_vehicle};

/// A place's identity across ticks (its position is checked too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Key {
    Restaurant(u32),
    /// An order's customer, by the caller's order id.
    Customer(u64),
    /// A rider's free place, by the caller's rider id.
    Rider(u64),
}

/// One origin's times to every destination slot.
struct Row<P> {
    place: P,
    ms: Vec<u32>,
    meters: Vec<u32>,
}

/// One vehicle's cache.
struct VehicleCache<P> {
    /// Destination slots (a column per slot); `None` is free.
    slots: Vec<Option<(Key, P)>>,
    slot_of: HashMap<Key, usize>,
    /// Free slots, reused before the row width grows.
    free: Vec<usize>,
    rows: HashMap<Key, Row<P>>,
}

impl<P> Default for VehicleCache<P> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            slot_of: HashMap::new(),
            free: Vec::new(),
            rows: HashMap::new(),
        }
    }
}

/// The travel times of past ticks, per vehicle.
pub struct TravelCache<P> {
    by_vehicle: HashMap<Vehicle, VehicleCache<P>>,
    hour: Option<i64>,
    /// Pairs computed by the road network, and pairs served from the
    /// cache, since the cache was made (for reports and tests).
    pub computed_pairs: u64,
    pub reused_pairs: u64,
}

impl<P> Default for TravelCache<P> {
    fn default() -> Self {
        Self {
            by_vehicle: HashMap::new(),
            hour: None,
            computed_pairs: 0,
            reused_pairs: 0,
        }
    }
}

impl<P: Clone + PartialEq> TravelCache<P> {
    /// Drops what a tick at `now_secs` may not reuse (another hour).
    pub(super) fn start_tick(&mut self, now_secs: i64) {
        let hour = now_secs.div_euclid(3600);
        if self.hour != Some(hour) {
            self.by_vehicle.clear();
            self.hour = Some(hour);
        }
    }

    /// The matrix from every one of `sources` to each of `dests` on
    /// `vehicle`'s roads, as a fresh `matrix_by` would give it. Keys are
    /// unique within each list; a destination is also a source.
    pub(super) fn matrix<T: TravelTime<Place = P>>(
        &mut self,
        travel: &T,
        vehicle: Vehicle,
        sources: &[(Key, &P)],
        dests: &[(Key, &P)],
        depart_secs_of_day: u32,
    ) -> Result<MatrixTravel, MapError> {
        let cache = self.by_vehicle.entry(vehicle).or_default();
        let by = by_vehicle(travel, vehicle);
        // Evict what left the snapshot or moved.
        let live_dests: HashMap<Key, &P> = dests.iter().map(|(k, p)| (*k, *p)).collect();
        for (i, slot) in cache.slots.iter_mut().enumerate() {
            let gone = slot
                .as_ref()
                .is_some_and(|(k, p)| live_dests.get(k).is_none_or(|q| *q != p));
            if gone && let Some((k, _)) = slot.take() {
                cache.slot_of.remove(&k);
                cache.free.push(i);
            }
        }
        let live_sources: HashMap<Key, &P> = sources.iter().map(|(k, p)| (*k, *p)).collect();
        cache
            .rows
            .retain(|k, row| live_sources.get(k).is_some_and(|p| **p == row.place));
        // New destinations get slots; kept rows learn their columns.
        let mut new_dests = Vec::new();
        for (k, p) in dests {
            if cache.slot_of.contains_key(k) {
                continue;
            }
            let slot = match cache.free.pop() {
                Some(s) => s,
                None => {
                    cache.slots.push(None);
                    cache.slots.len() - 1
                }
            };
            cache.slots[slot] = Some((*k, (*p).clone()));
            cache.slot_of.insert(*k, slot);
            new_dests.push((*k, slot, *p));
        }
        let width = cache.slots.len();
        for row in cache.rows.values_mut() {
            row.ms.resize(width, u32::MAX);
            row.meters.resize(width, u32::MAX);
        }
        // New and moved origins get rows, filled below like kept ones.
        let (kept, fresh): (Vec<Key>, Vec<Key>) = sources
            .iter()
            .map(|(k, _)| *k)
            .partition(|k| cache.rows.contains_key(k));
        let is_fresh: HashSet<Key> = fresh.iter().copied().collect();
        for (k, p) in sources.iter().filter(|(k, _)| is_fresh.contains(k)) {
            let row = Row {
                place: (*p).clone(),
                ms: vec![u32::MAX; width],
                meters: vec![u32::MAX; width],
            };
            cache.rows.insert(*k, row);
        }
        let all_dests: Vec<(Key, usize, &P)> =
            dests.iter().map(|(k, p)| (*k, cache.slot_of[k], *p)).collect();
        let restaurants = |d: &[(Key, usize, &P)]| -> Vec<(usize, P)> {
            d.iter()
                .filter(|(k, _, _)| matches!(k, Key::Restaurant(_)))
                .map(|(_, s, p)| (*s, (*p).clone()))
                .collect()
        };
        let every = |d: &[(Key, usize, &P)]| -> Vec<(usize, P)> {
            d.iter().map(|(_, s, p)| (*s, (*p).clone())).collect()
        };
        let is_rider = |k: &Key| matches!(k, Key::Rider(_));
        let split = |keys: &[Key]| -> (Vec<Key>, Vec<Key>) { keys.iter().partition(|k| !is_rider(k)) };
        let (kept_places, kept_riders) = split(&kept);
        let restaurant_cols = |d: &[(Key, usize, &P)]| {
            d.iter()
                .filter(|(k, _, _)| matches!(k, Key::Restaurant(_)))
                .count()
        };
        // A rider's row holds restaurant columns only.
        self.reused_pairs += (kept_places.len() * (dests.len() - new_dests.len())
            + kept_riders.len() * (restaurant_cols(&all_dests) - restaurant_cols(&new_dests)))
            as u64;
        let (fresh_places, fresh_riders) = split(&fresh);
        // Riders only ever ride to restaurants (a trip starts there), so
        // their rows hold restaurant columns only.
        let groups = [
            (kept_places, every(&new_dests)),
            (kept_riders, restaurants(&new_dests)),
            (fresh_places, every(&all_dests)),
            (fresh_riders, restaurants(&all_dests)),
        ];
        for (keys, to) in groups {
            if keys.is_empty() || to.is_empty() {
                continue;
            }
            let from: Vec<P> = keys.iter().map(|k| cache.rows[k].place.clone()).collect();
            let to_places: Vec<P> = to.iter().map(|(_, p)| p.clone()).collect();
            let m = by.matrix(&from, &to_places, depart_secs_of_day)?;
            self.computed_pairs += (from.len() * to.len()) as u64;
            for (i, k) in keys.iter().enumerate() {
                let Some(row) = cache.rows.get_mut(k) else {
                    continue;
                };
                for (j, (slot, _)) in to.iter().enumerate() {
                    let leg = m.leg(i, j);
                    row.ms[*slot] = leg.duration_ms;
                    row.meters[*slot] = leg.meters;
                }
            }
        }
        // The tick's matrix, in the callers' order; a rider's cell to a
        // customer is never read and says so (unreachable).
        let mut out = TravelMatrix {
            rows: sources.len(),
            cols: dests.len(),
            duration_ms: Vec::with_capacity(sources.len() * dests.len()),
            meters: Vec::with_capacity(sources.len() * dests.len()),
        };
        for (k, _) in sources {
            let row = &cache.rows[k];
            for (dk, c, _) in &all_dests {
                let read = !is_rider(k) || matches!(dk, Key::Restaurant(_));
                debug_assert!(!read || row.ms[*c] != u32::MAX, "a pair was never computed");
                out.duration_ms.push(if read { row.ms[*c] } else { u32::MAX });
                out.meters.push(if read { row.meters[*c] } else { u32::MAX });
            }
        }
        let planar = sources.iter().map(|(_, p)| travel.planar_meters(p)).collect();
        Ok(MatrixTravel::from_parts(out, planar))
    }

    /// Drops every vehicle not in `in_use` (riders changed vehicle).
    pub(super) fn keep_vehicles(&mut self, in_use: &[Vehicle]) {
        let keep: HashSet<Vehicle> = in_use.iter().copied().collect();
        self.by_vehicle.retain(|v, _| keep.contains(v));
    }
}
