//! Riders on different vehicles: one road network (and so one contraction
//! hierarchy, built once) per vehicle profile in use, and every place
//! snapped on each, so that a rider is timed on its own vehicle's roads
//! at its speeds (a car keeps off footways; a walker ignores one-ways).

use std::sync::Arc;

use super::travel::{TravelMatrix, Vehicle};
use super::{LatLng, Leg, MapError, MatrixTravel, RoadNetwork, Snapped, TravelTime};

/// Most vehicle profiles one server loads.
pub const VEHICLES_MAX: usize = 16;

/// The road networks of the vehicles in use; the first is the default
/// (riders without a record ride it, and it gives the console its roads).
pub struct VehicleNetworks {
    names: Vec<String>,
    networks: Vec<RoadNetwork>,
}

/// A place as each vehicle's roads reach it, in the networks' order.
#[derive(Debug, Clone, PartialEq)]
pub struct VehiclePlace(Arc<[Snapped]>);

impl VehiclePlace {
    /// Where it is on `vehicle`'s roads.
    pub fn on(&self, vehicle: Vehicle) -> Option<&Snapped> {
        self.0.get(usize::from(vehicle.0))
    }
}

impl VehicleNetworks {
    /// Networks by profile name, the default first. Names are unique.
    pub fn new(named: Vec<(String, RoadNetwork)>) -> Self {
        assert!(!named.is_empty(), "a server needs at least one vehicle");
        assert!(named.len() <= VEHICLES_MAX, "at most {VEHICLES_MAX} vehicles");
        let (names, networks) = named.into_iter().unzip();
        Self { names, networks }
    }

    /// One vehicle: the whole city on one network.
    pub fn single(name: &str, network: RoadNetwork) -> Self {
        Self::new(vec![(name.to_string(), network)])
    }

    /// The vehicle riding profile `name`, if it is loaded.
    pub fn vehicle(&self, name: &str) -> Option<Vehicle> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| Vehicle(i as u8))
    }

    /// The loaded profiles' names, the default first.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The default vehicle's network.
    pub fn default_network(&self) -> &RoadNetwork {
        &self.networks[0]
    }

    /// Snaps `at` on every vehicle's roads; a point that some vehicle
    /// cannot reach within the snap distance is refused (riders of every
    /// vehicle may be sent there).
    pub fn snap(&self, at: LatLng) -> Result<VehiclePlace, MapError> {
        let snapped = self
            .networks
            .iter()
            .map(|n| n.snap(at))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(VehiclePlace(snapped.into()))
    }

    fn network(&self, vehicle: Vehicle) -> Result<&RoadNetwork, MapError> {
        self.networks
            .get(usize::from(vehicle.0))
            .ok_or(MapError::UnknownPlace(u32::from(vehicle.0)))
    }

    fn on(place: &VehiclePlace, vehicle: Vehicle) -> Result<&Snapped, MapError> {
        place
            .on(vehicle)
            .ok_or(MapError::UnknownPlace(u32::from(vehicle.0)))
    }
}

impl TravelTime for VehicleNetworks {
    type Place = VehiclePlace;

    fn leg(&self, from: &VehiclePlace, to: &VehiclePlace, depart_secs_of_day: u32) -> Result<Leg, MapError> {
        self.leg_by(Vehicle::default(), from, to, depart_secs_of_day)
    }

    fn planar_meters(&self, place: &VehiclePlace) -> [f64; 2] {
        self.networks[0].planar_meters(&place.0[0])
    }

    fn matrix(
        &self,
        from: &[VehiclePlace],
        to: &[VehiclePlace],
        depart_secs_of_day: u32,
    ) -> Result<TravelMatrix, MapError> {
        self.matrix_by(Vehicle::default(), from, to, depart_secs_of_day)
    }

    fn leg_by(
        &self,
        vehicle: Vehicle,
        from: &VehiclePlace,
        to: &VehiclePlace,
        depart_secs_of_day: u32,
    ) -> Result<Leg, MapError> {
        self.network(vehicle)?.leg(
            Self::on(from, vehicle)?,
            Self::on(to, vehicle)?,
            depart_secs_of_day,
        )
    }

    fn matrix_by(
        &self,
        vehicle: Vehicle,
        from: &[VehiclePlace],
        to: &[VehiclePlace],
        depart_secs_of_day: u32,
    ) -> Result<TravelMatrix, MapError> {
        let on = |places: &[VehiclePlace]| {
            places
                .iter()
                .map(|p| Self::on(p, vehicle).copied())
                .collect::<Result<Vec<Snapped>, _>>()
        };
        self.network(vehicle)?
            .matrix(&on(from)?, &on(to)?, depart_secs_of_day)
    }
}

/// One matrix per vehicle in use over the same place indices: a tick's
/// travel times when riders ride different vehicles.
pub struct VehicleMatrices {
    by_vehicle: Vec<Option<MatrixTravel>>,
}

impl VehicleMatrices {
    /// `matrices` by vehicle; at least the default vehicle's.
    pub fn new(matrices: Vec<(Vehicle, MatrixTravel)>) -> Self {
        let len = matrices
            .iter()
            .map(|(v, _)| usize::from(v.0) + 1)
            .max()
            .unwrap_or(0);
        let mut by_vehicle: Vec<Option<MatrixTravel>> = (0..len).map(|_| None).collect();
        for (v, m) in matrices {
            by_vehicle[usize::from(v.0)] = Some(m);
        }
        Self { by_vehicle }
    }

    fn matrix(&self, vehicle: Vehicle) -> Result<&MatrixTravel, MapError> {
        self.by_vehicle
            .get(usize::from(vehicle.0))
            .and_then(Option::as_ref)
            .ok_or(MapError::UnknownPlace(u32::from(vehicle.0)))
    }

    fn any(&self) -> Option<&MatrixTravel> {
        self.by_vehicle.iter().flatten().next()
    }
}

impl TravelTime for VehicleMatrices {
    type Place = u32;

    /// The default vehicle's leg (any vehicle's when no rider rides it).
    fn leg(&self, from: &u32, to: &u32, depart_secs_of_day: u32) -> Result<Leg, MapError> {
        let m = self.matrix(Vehicle::default()).or_else(|e| self.any().ok_or(e))?;
        m.leg(from, to, depart_secs_of_day)
    }

    fn planar_meters(&self, place: &u32) -> [f64; 2] {
        self.any().map_or([0.0, 0.0], |m| m.planar_meters(place))
    }

    fn leg_by(
        &self,
        vehicle: Vehicle,
        from: &u32,
        to: &u32,
        depart_secs_of_day: u32,
    ) -> Result<Leg, MapError> {
        self.matrix(vehicle)?.leg(from, to, depart_secs_of_day)
    }
}
