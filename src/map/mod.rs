//! Road networks: OpenStreetMap import, the compact map file, contraction
//! hierarchies, snapping, and the [`TravelTime`] trait every other
//! subsystem routes through.
//!
//! Owns: everything about roads and travel times. Knows nothing of orders,
//! riders or dispatch. May call: nothing else in the crate.

pub mod build;
pub mod ch;
pub mod file;
pub mod geo;
pub mod graph;
pub mod indexed;
pub mod network;
pub mod osm;
pub mod profile;
pub mod snap;
pub mod synth;
pub mod travel;
pub mod vehicles;

use std::path::PathBuf;

use thiserror::Error;

pub use geo::LatLng;
pub use graph::RoadGraph;
pub use indexed::IndexedNetwork;
pub use network::{NetworkOptions, RoadNetwork, Route};
pub use profile::Profile;
pub use snap::Snapped;
pub use travel::{
    ByVehicle, EuclideanTravel, Leg, MatrixTravel, PlanarPoint, Rounding, TravelMatrix, TravelTime, Vehicle,
    by_vehicle,
};
pub use vehicles::{VehicleMatrices, VehicleNetworks, VehiclePlace};

/// Everything that can go wrong loading maps or answering travel queries.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum MapError {
    #[error("map file not found: {0}")]
    MissingFile(PathBuf),
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: crate::base::IoCause,
    },
    #[error("{path} is not a readable OSM PBF file: {reason}")]
    CorruptPbf { path: PathBuf, reason: String },
    #[error("{path} is not a valid waimai map file: {reason}")]
    CorruptMap { path: PathBuf, reason: String },
    #[error("no routable roads: {0}")]
    NoRoads(String),
    #[error("invalid coordinate {field}={value}: need finite degrees, lat in [-90, 90], lng in [-180, 180]")]
    InvalidCoordinate { field: &'static str, value: String },
    #[error(
        "point {lat},{lng} is outside the map: nearest road {nearest_road_meters:.0} m away (max {max_snap_meters} m)"
    )]
    OutsideMap {
        lat: f64,
        lng: f64,
        max_snap_meters: f64,
        nearest_road_meters: f64,
    },
    #[error("unknown profile {0:?}")]
    UnknownProfile(String),
    #[error("place {0} is not in the travel matrix")]
    UnknownPlace(u32),
    #[error("no route between the two points")]
    Unreachable,
}
