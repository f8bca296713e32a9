//! The `TravelTime` abstraction every downstream subsystem uses, and its
//! Euclidean implementation for benchmark instances.
//!
//! The solver and the engine never ask *how* a travel time is computed:
//! a real road network and a planar benchmark look the same to them.

use serde::{Deserialize, Serialize};

use super::MapError;

/// Duration and length of one trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Leg {
    pub duration_ms: u32,
    pub meters: u32,
}

/// Row-major many-to-many travel times (rows = origins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TravelMatrix {
    pub rows: usize,
    pub cols: usize,
    pub duration_ms: Vec<u32>,
    pub meters: Vec<u32>,
}

impl TravelMatrix {
    /// The trip from origin `row` to destination `col`.
    pub fn leg(&self, row: usize, col: usize) -> Leg {
        let i = row * self.cols + col;
        Leg {
            duration_ms: self.duration_ms[i],
            meters: self.meters[i],
        }
    }
}

/// Which vehicle a leg is ridden on: an index into the source's vehicles
/// (0, its first, is the default). A source with one vehicle ignores it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Vehicle(pub u8);

/// Travel times between places, possibly depending on the time of day.
pub trait TravelTime: Send + Sync {
    /// A position this source can route from (e.g. a snapped road point).
    type Place: Clone + PartialEq + Send + Sync;

    /// The trip from `from` to `to`, leaving at `depart_secs_of_day`.
    fn leg(&self, from: &Self::Place, to: &Self::Place, depart_secs_of_day: u32) -> Result<Leg, MapError>;

    /// Where `place` is, in planar metres (any fixed local frame): what a
    /// spatial index of riders sorts by before travel times decide. Never
    /// longer than the road between two places, so a straight-line cut is
    /// a safe first filter.
    fn planar_meters(&self, place: &Self::Place) -> [f64; 2];

    /// Every trip from `from` to `to`; implementations override this with
    /// something faster than one query per pair.
    fn matrix(
        &self,
        from: &[Self::Place],
        to: &[Self::Place],
        depart_secs_of_day: u32,
    ) -> Result<TravelMatrix, MapError> {
        let mut m = TravelMatrix {
            rows: from.len(),
            cols: to.len(),
            duration_ms: Vec::with_capacity(from.len() * to.len()),
            meters: Vec::with_capacity(from.len() * to.len()),
        };
        for a in from {
            for b in to {
                let leg = self.leg(a, b, depart_secs_of_day)?;
                m.duration_ms.push(leg.duration_ms);
                m.meters.push(leg.meters);
            }
        }
        Ok(m)
    }

    /// The trip on `vehicle`'s roads at its speeds.
    fn leg_by(
        &self,
        vehicle: Vehicle,
        from: &Self::Place,
        to: &Self::Place,
        depart_secs_of_day: u32,
    ) -> Result<Leg, MapError> {
        let _ = vehicle;
        self.leg(from, to, depart_secs_of_day)
    }

    /// [`TravelTime::matrix`] on `vehicle`'s roads.
    fn matrix_by(
        &self,
        vehicle: Vehicle,
        from: &[Self::Place],
        to: &[Self::Place],
        depart_secs_of_day: u32,
    ) -> Result<TravelMatrix, MapError> {
        let _ = vehicle;
        self.matrix(from, to, depart_secs_of_day)
    }
}

/// One vehicle's view of a source: what a rider's trips are timed with.
#[derive(Debug, Clone, Copy)]
pub struct ByVehicle<'a, T: ?Sized> {
    pub travel: &'a T,
    pub vehicle: Vehicle,
}

/// `travel` as `vehicle` rides it.
pub fn by_vehicle<T: TravelTime + ?Sized>(travel: &T, vehicle: Vehicle) -> ByVehicle<'_, T> {
    ByVehicle { travel, vehicle }
}

impl<T: TravelTime + ?Sized> TravelTime for ByVehicle<'_, T> {
    type Place = T::Place;

    fn leg(&self, from: &T::Place, to: &T::Place, depart_secs_of_day: u32) -> Result<Leg, MapError> {
        self.travel.leg_by(self.vehicle, from, to, depart_secs_of_day)
    }

    fn planar_meters(&self, place: &T::Place) -> [f64; 2] {
        self.travel.planar_meters(place)
    }

    fn matrix(
        &self,
        from: &[T::Place],
        to: &[T::Place],
        depart_secs_of_day: u32,
    ) -> Result<TravelMatrix, MapError> {
        self.travel.matrix_by(self.vehicle, from, to, depart_secs_of_day)
    }
}

/// A source behind a pointer is a source: a simulation's engine borrows
/// the fixture's travel times instead of copying them (`&T`), and the live
/// server shares one road network between the engine and its planning
/// workers (`Arc<T>`).
macro_rules! forward_travel_time {
    ($($pointer:ty),*) => {$(
        impl<T: TravelTime + ?Sized> TravelTime for $pointer {
            type Place = T::Place;

            fn leg(&self, from: &T::Place, to: &T::Place, depart_secs_of_day: u32) -> Result<Leg, MapError> {
                (**self).leg(from, to, depart_secs_of_day)
            }

            fn planar_meters(&self, place: &T::Place) -> [f64; 2] {
                (**self).planar_meters(place)
            }

            fn matrix(
                &self,
                from: &[T::Place],
                to: &[T::Place],
                depart_secs_of_day: u32,
            ) -> Result<TravelMatrix, MapError> {
                (**self).matrix(from, to, depart_secs_of_day)
            }

            fn leg_by(
                &self,
                vehicle: Vehicle,
                from: &T::Place,
                to: &T::Place,
                depart_secs_of_day: u32,
            ) -> Result<Leg, MapError> {
                (**self).leg_by(vehicle, from, to, depart_secs_of_day)
            }

            fn matrix_by(
                &self,
                vehicle: Vehicle,
                from: &[T::Place],
                to: &[T::Place],
                depart_secs_of_day: u32,
            ) -> Result<TravelMatrix, MapError> {
                (**self).matrix_by(vehicle, from, to, depart_secs_of_day)
            }
        }
    )*};
}

forward_travel_time!(&T, std::sync::Arc<T>);

/// Travel among a fixed set of places (restaurants, customers, rider
/// starts), computed once with one many-to-many query: a simulation then
/// asks millions of legs at the cost of an array lookup. Places are
/// indices into the set it was built from; times are those of one
/// departure time (the rush-hour factor at that time).
#[derive(Debug, Clone)]
pub struct MatrixTravel {
    matrix: TravelMatrix,
    /// Each place's planar position, from the source it was built from.
    planar: Vec<[f64; 2]>,
}

impl MatrixTravel {
    /// The matrix of every pair of `places` under `source`.
    pub fn build<T: TravelTime>(
        source: &T,
        places: &[T::Place],
        depart_secs_of_day: u32,
    ) -> Result<Self, MapError> {
        Ok(Self {
            matrix: source.matrix(places, places, depart_secs_of_day)?,
            planar: places.iter().map(|p| source.planar_meters(p)).collect(),
        })
    }
}

impl MatrixTravel {
    /// A matrix made elsewhere (kept across ticks), with each origin's
    /// planar position; its destinations are its first `matrix.cols`
    /// origins.
    pub fn from_parts(matrix: TravelMatrix, planar: Vec<[f64; 2]>) -> Self {
        debug_assert_eq!(matrix.rows, planar.len());
        Self { matrix, planar }
    }

    /// The trips from every place to each of the first `destinations`
    /// places: when the rest (riders' positions) are only ever left, never
    /// reached, this is `destinations` columns instead of all.
    pub fn build_to_first<T: TravelTime>(
        source: &T,
        places: &[T::Place],
        destinations: usize,
        depart_secs_of_day: u32,
    ) -> Result<Self, MapError> {
        let to = &places[..destinations.min(places.len())];
        Ok(Self {
            matrix: source.matrix(places, to, depart_secs_of_day)?,
            planar: places.iter().map(|p| source.planar_meters(p)).collect(),
        })
    }
}

impl TravelTime for MatrixTravel {
    type Place = u32;

    fn leg(&self, from: &u32, to: &u32, _depart: u32) -> Result<Leg, MapError> {
        if *from >= self.matrix.rows as u32 {
            return Err(MapError::UnknownPlace(*from));
        }
        if *to >= self.matrix.cols as u32 {
            return Err(MapError::UnknownPlace(*to));
        }
        Ok(self.matrix.leg(*from as usize, *to as usize))
    }

    fn planar_meters(&self, place: &u32) -> [f64; 2] {
        // An unknown place is nowhere near anything (legs to it fail).
        self.planar
            .get(*place as usize)
            .copied()
            .unwrap_or([f64::INFINITY; 2])
    }
}

/// A point in a planar benchmark instance, in metres (or instance units).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlanarPoint {
    pub x: f64,
    pub y: f64,
}

impl PlanarPoint {
    /// Straight-line distance.
    pub fn distance(&self, other: &PlanarPoint) -> f64 {
        (self.x - other.x).hypot(self.y - other.y)
    }
}

/// How straight-line travel time is rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// To the nearest millisecond.
    Millis,
    /// Up to whole minutes, the MDRPLIB rule: ceil(metres / metres_per_minute).
    CeilMinutes,
}

/// Straight lines at a fixed speed (MDRPLIB, Li & Lim).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EuclideanTravel {
    pub meters_per_minute: f64,
    pub rounding: Rounding,
}

impl EuclideanTravel {
    /// The MDRPLIB travel rule at the instance's speed.
    pub fn mdrp(meters_per_minute: f64) -> Self {
        Self {
            meters_per_minute,
            rounding: Rounding::CeilMinutes,
        }
    }

    /// Travel time in (possibly fractional) minutes before unit conversion.
    pub fn minutes(&self, meters: f64) -> f64 {
        let exact = meters / self.meters_per_minute;
        match self.rounding {
            Rounding::Millis => exact,
            Rounding::CeilMinutes => exact.ceil(),
        }
    }
}

impl TravelTime for EuclideanTravel {
    type Place = PlanarPoint;

    fn leg(&self, from: &PlanarPoint, to: &PlanarPoint, _depart: u32) -> Result<Leg, MapError> {
        let meters = from.distance(to);
        if !meters.is_finite() {
            return Err(MapError::InvalidCoordinate {
                field: "x,y",
                value: format!("{from:?}→{to:?}"),
            });
        }
        let duration_ms = (self.minutes(meters) * 60_000.0).round();
        Ok(Leg {
            duration_ms: duration_ms.min(u32::MAX as f64) as u32,
            meters: meters.round() as u32,
        })
    }

    fn planar_meters(&self, place: &PlanarPoint) -> [f64; 2] {
        [place.x, place.y]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdrp_rounds_up_to_whole_minutes() {
        let t = EuclideanTravel::mdrp(320.0);
        let o = PlanarPoint { x: 0.0, y: 0.0 };
        // 3-4-5 triangle scaled: exactly 640 m is exactly 2 minutes.
        let leg = t.leg(&o, &PlanarPoint { x: 384.0, y: 512.0 }, 0).unwrap();
        assert_eq!(leg.duration_ms, 120_000);
        let leg = t.leg(&o, &PlanarPoint { x: 384.0, y: 513.0 }, 0).unwrap();
        assert_eq!(leg.duration_ms, 180_000);
        assert_eq!(t.leg(&o, &o, 0).unwrap().duration_ms, 0);
    }

    #[test]
    fn matrix_travel_looks_up_what_the_source_says() {
        let t = EuclideanTravel::mdrp(100.0);
        let pts = [PlanarPoint { x: 0.0, y: 0.0 }, PlanarPoint { x: 250.0, y: 0.0 }];
        let m = MatrixTravel::build(&t, &pts, 0).unwrap();
        assert_eq!(m.leg(&0, &1, 0).unwrap(), t.leg(&pts[0], &pts[1], 0).unwrap());
        assert_eq!(m.leg(&1, &1, 0).unwrap().duration_ms, 0);
        assert_eq!(m.leg(&0, &2, 0), Err(MapError::UnknownPlace(2)));
    }

    #[test]
    fn default_matrix_agrees_with_legs() {
        let t = EuclideanTravel {
            meters_per_minute: 300.0,
            rounding: Rounding::Millis,
        };
        let pts: Vec<PlanarPoint> = (0..4)
            .map(|i| PlanarPoint {
                x: i as f64 * 70.0,
                y: 5.0,
            })
            .collect();
        let m = t.matrix(&pts, &pts, 0).unwrap();
        for i in 0..4 {
            for j in 0..4 {
                assert_eq!(m.leg(i, j), t.leg(&pts[i], &pts[j], 0).unwrap());
            }
        }
        assert_eq!(m.leg(0, 3).duration_ms, 42_000); // 210 m at 300 m/min
    }
}
