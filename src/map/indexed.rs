//! A road network over a fixed list of snapped places, named by index:
//! what a simulation of a city too large for an all-pairs matrix routes
//! through (each leg a hierarchy query; a tick's matrix one many-to-many
//! query over the places it names).

use std::sync::Arc;

use super::{Leg, MapError, RoadNetwork, Snapped, TravelMatrix, TravelTime};

pub struct IndexedNetwork {
    network: Arc<RoadNetwork>,
    places: Vec<Snapped>,
}

impl IndexedNetwork {
    pub fn new(network: Arc<RoadNetwork>, places: Vec<Snapped>) -> Self {
        Self { network, places }
    }

    fn place(&self, i: u32) -> Result<&Snapped, MapError> {
        self.places.get(i as usize).ok_or(MapError::UnknownPlace(i))
    }

    fn all(&self, indices: &[u32]) -> Result<Vec<Snapped>, MapError> {
        indices.iter().map(|&i| self.place(i).copied()).collect()
    }
}

impl TravelTime for IndexedNetwork {
    type Place = u32;

    fn leg(&self, from: &u32, to: &u32, depart_secs_of_day: u32) -> Result<Leg, MapError> {
        self.network
            .leg(self.place(*from)?, self.place(*to)?, depart_secs_of_day)
    }

    fn planar_meters(&self, place: &u32) -> [f64; 2] {
        self.place(*place)
            .map_or([0.0, 0.0], |p| self.network.planar_meters(p))
    }

    fn matrix(&self, from: &[u32], to: &[u32], depart_secs_of_day: u32) -> Result<TravelMatrix, MapError> {
        self.network
            .matrix(&self.all(from)?, &self.all(to)?, depart_secs_of_day)
    }
}
