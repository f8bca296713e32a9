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

impl Key {
    fn is_restaurant(&self) -> bool {
        matches!(self, Key::Restaurant(_))
    }

    fn is_rider(&self) -> bool {
        matches!(self, Key::Rider(_))
    }
}

/// `keys` split into places' keys and riders' keys.
fn split_riders(keys: &[Key]) -> (Vec<Key>, Vec<Key>) {
    keys.iter().partition(|k| !k.is_rider())
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

impl<P: Clone + PartialEq> VehicleCache<P> {
    /// Drops the columns and rows of places that left the snapshot or
    /// moved.
    fn evict(&mut self, sources: &[(Key, &P)], dests: &[(Key, &P)]) {
        let live_dests: HashMap<Key, &P> = dests.iter().map(|(k, p)| (*k, *p)).collect();
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let gone = slot
                .as_ref()
                .is_some_and(|(k, p)| live_dests.get(k).is_none_or(|q| *q != p));
            if gone && let Some((k, _)) = slot.take() {
                self.slot_of.remove(&k);
                self.free.push(i);
            }
        }
        let live_sources: HashMap<Key, &P> = sources.iter().map(|(k, p)| (*k, *p)).collect();
        self.rows
            .retain(|k, row| live_sources.get(k).is_some_and(|p| **p == row.place));
    }

    /// Gives new destinations slots (free ones first) and widens every
    /// row to them; returns the new ones.
    fn assign_slots(&mut self, dests: &[(Key, &P)]) -> Vec<(Key, usize, P)> {
        let mut new_dests = Vec::new();
        for (k, p) in dests {
            if self.slot_of.contains_key(k) {
                continue;
            }
            let slot = self.free.pop().unwrap_or_else(|| {
                self.slots.push(None);
                self.slots.len() - 1
            });
            self.slots[slot] = Some((*k, (*p).clone()));
            self.slot_of.insert(*k, slot);
            new_dests.push((*k, slot, (*p).clone()));
        }
        let width = self.slots.len();
        for row in self.rows.values_mut() {
            row.ms.resize(width, u32::MAX);
            row.meters.resize(width, u32::MAX);
        }
        new_dests
    }

    /// Sources' keys, those with a kept row and those given a new one.
    fn rows_for(&mut self, sources: &[(Key, &P)]) -> (Vec<Key>, Vec<Key>) {
        let width = self.slots.len();
        let (mut kept, mut fresh) = (Vec::new(), Vec::new());
        for (k, p) in sources {
            if self.rows.contains_key(k) {
                kept.push(*k);
                continue;
            }
            let row = Row {
                place: (*p).clone(),
                ms: vec![u32::MAX; width],
                meters: vec![u32::MAX; width],
            };
            self.rows.insert(*k, row);
            fresh.push(*k);
        }
        (kept, fresh)
    }

    /// Asks `travel` for the rows of `keys` to the slots `to`; returns the
    /// pairs computed.
    fn fill<T: TravelTime<Place = P>>(
        &mut self,
        travel: &T,
        keys: &[Key],
        to: &[(usize, P)],
        depart_secs_of_day: u32,
    ) -> Result<u64, MapError> {
        if keys.is_empty() || to.is_empty() {
            return Ok(0);
        }
        let from: Vec<P> = keys.iter().map(|k| self.rows[k].place.clone()).collect();
        let to_places: Vec<P> = to.iter().map(|(_, p)| p.clone()).collect();
        let m = travel.matrix(&from, &to_places, depart_secs_of_day)?;
        for (i, k) in keys.iter().enumerate() {
            let Some(row) = self.rows.get_mut(k) else {
                continue;
            };
            for (j, (slot, _)) in to.iter().enumerate() {
                let leg = m.leg(i, j);
                row.ms[*slot] = leg.duration_ms;
                row.meters[*slot] = leg.meters;
            }
        }
        Ok((from.len() * to.len()) as u64)
    }

    /// The tick's matrix, in the callers' order; a rider's cell to a
    /// customer is never read and says so (unreachable).
    fn assemble(&self, sources: &[(Key, &P)], dests: &[(Key, usize, P)]) -> TravelMatrix {
        let mut out = TravelMatrix {
            rows: sources.len(),
            cols: dests.len(),
            duration_ms: Vec::with_capacity(sources.len() * dests.len()),
            meters: Vec::with_capacity(sources.len() * dests.len()),
        };
        for (k, _) in sources {
            let row = &self.rows[k];
            for (dk, c, _) in dests {
                let read = !k.is_rider() || dk.is_restaurant();
                debug_assert!(!read || row.ms[*c] != u32::MAX, "a pair was never computed");
                out.duration_ms.push(if read { row.ms[*c] } else { u32::MAX });
                out.meters.push(if read { row.meters[*c] } else { u32::MAX });
            }
        }
        out
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
        cache.evict(sources, dests);
        let new_dests = cache.assign_slots(dests);
        let keyed_all: Vec<(Key, usize, P)> = dests
            .iter()
            .map(|(k, p)| (*k, cache.slot_of[k], (*p).clone()))
            .collect();
        let (kept, fresh) = cache.rows_for(sources);
        // Riders only ever ride to restaurants (a trip starts there), so
        // their rows hold restaurant columns only.
        let columns = |d: &[(Key, usize, P)], restaurants_only: bool| -> Vec<(usize, P)> {
            d.iter()
                .filter(|(k, _, _)| !restaurants_only || k.is_restaurant())
                .map(|(_, s, p)| (*s, p.clone()))
                .collect()
        };
        let (new_every, all_dests) = (columns(&new_dests, false), columns(&keyed_all, false));
        let (new_restaurants, all_restaurants) = (columns(&new_dests, true), columns(&keyed_all, true));
        let (kept_places, kept_riders) = split_riders(&kept);
        let (fresh_places, fresh_riders) = split_riders(&fresh);
        self.reused_pairs += (kept_places.len() * (all_dests.len() - new_every.len())
            + kept_riders.len() * (all_restaurants.len() - new_restaurants.len()))
            as u64;
        let by = by_vehicle(travel, vehicle);
        for (keys, to) in [
            (kept_places, new_every),
            (kept_riders, new_restaurants),
            (fresh_places, all_dests),
            (fresh_riders, all_restaurants),
        ] {
            self.computed_pairs += cache.fill(&by, &keys, &to, depart_secs_of_day)?;
        }
        let out = cache.assemble(sources, &keyed_all);
        let planar = sources.iter().map(|(_, p)| travel.planar_meters(p)).collect();
        Ok(MatrixTravel::from_parts(out, planar))
    }

    /// Drops every vehicle not in `in_use` (riders changed vehicle).
    pub(super) fn keep_vehicles(&mut self, in_use: &[Vehicle]) {
        let keep: HashSet<Vehicle> = in_use.iter().copied().collect();
        self.by_vehicle.retain(|v, _| keep.contains(v));
    }
}
