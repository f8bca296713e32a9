//! Coordinates and the small amount of spherical geometry the map needs.
//!
//! Routing works in WGS84 degrees at the edges (what phones and OSM speak)
//! and in a local planar projection in metres inside (what rstar and the
//! snapping maths want). A city is small enough that an equirectangular
//! projection around its centre is accurate to well under a metre per km.

use serde::{Deserialize, Serialize};

use super::MapError;

/// Mean Earth radius used for haversine distances.
pub const EARTH_RADIUS_METERS: f64 = 6_371_008.8;

/// A WGS84 position in degrees; validated on construction from user input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLng {
    pub lat: f64,
    pub lng: f64,
}

impl LatLng {
    /// Builds a position, rejecting NaN, infinities and out-of-range degrees
    /// so that nothing downstream ever sees a nonsensical coordinate.
    pub fn new(lat: f64, lng: f64) -> Result<Self, MapError> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(MapError::InvalidCoordinate {
                field: "lat",
                value: lat.to_string(),
            });
        }
        if !lng.is_finite() || !(-180.0..=180.0).contains(&lng) {
            return Err(MapError::InvalidCoordinate {
                field: "lng",
                value: lng.to_string(),
            });
        }
        Ok(Self { lat, lng })
    }

    /// Parses `"LAT,LNG"` as typed on a command line.
    pub fn parse(text: &str) -> Result<Self, MapError> {
        let invalid = || MapError::InvalidCoordinate {
            field: "lat,lng",
            value: text.to_string(),
        };
        let (lat, lng) = text.split_once(',').ok_or_else(invalid)?;
        let lat: f64 = lat.trim().parse().map_err(|_| invalid())?;
        let lng: f64 = lng.trim().parse().map_err(|_| invalid())?;
        Self::new(lat, lng)
    }
}

/// Great-circle distance between two positions.
pub fn haversine_meters(a: LatLng, b: LatLng) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = lat2 - lat1;
    let dlng = (b.lng - a.lng).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlng / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_METERS * h.sqrt().asin()
}

/// Equirectangular projection around a reference latitude: cheap, and
/// accurate at city scale, which is all the spatial structures need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalProjection {
    origin: LatLng,
    meters_per_deg_lat: f64,
    meters_per_deg_lng: f64,
}

impl LocalProjection {
    /// A projection centred on `origin`.
    pub fn new(origin: LatLng) -> Self {
        let meters_per_deg_lat = EARTH_RADIUS_METERS.to_radians();
        Self {
            origin,
            meters_per_deg_lat,
            meters_per_deg_lng: meters_per_deg_lat * origin.lat.to_radians().cos(),
        }
    }

    /// Planar metres east and north of the origin.
    pub fn to_xy(&self, p: LatLng) -> [f64; 2] {
        [
            (p.lng - self.origin.lng) * self.meters_per_deg_lng,
            (p.lat - self.origin.lat) * self.meters_per_deg_lat,
        ]
    }

    /// Inverse of [`Self::to_xy`].
    pub fn to_latlng(&self, xy: [f64; 2]) -> LatLng {
        LatLng {
            lat: self.origin.lat + xy[1] / self.meters_per_deg_lat,
            lng: self.origin.lng + xy[0] / self.meters_per_deg_lng,
        }
    }
}

/// An axis-aligned box in degrees; used to say whether a point is on the map.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox {
    pub min: LatLng,
    pub max: LatLng,
}

impl BoundingBox {
    /// The smallest box holding every point; `None` for no points.
    pub fn around(points: impl IntoIterator<Item = LatLng>) -> Option<Self> {
        let mut it = points.into_iter();
        let first = it.next()?;
        let mut b = Self {
            min: first,
            max: first,
        };
        for p in it {
            b.min.lat = b.min.lat.min(p.lat);
            b.min.lng = b.min.lng.min(p.lng);
            b.max.lat = b.max.lat.max(p.lat);
            b.max.lng = b.max.lng.max(p.lng);
        }
        Some(b)
    }

    /// The box's centre, a natural projection origin.
    pub fn center(&self) -> LatLng {
        LatLng {
            lat: (self.min.lat + self.max.lat) / 2.0,
            lng: (self.min.lng + self.max.lng) / 2.0,
        }
    }

    /// Whether `p` lies inside the box grown by `margin_meters` on every side.
    pub fn contains_with_margin(&self, p: LatLng, margin_meters: f64) -> bool {
        let dlat = margin_meters / EARTH_RADIUS_METERS.to_radians();
        let dlng = dlat / self.center().lat.to_radians().cos().max(1e-6);
        p.lat >= self.min.lat - dlat
            && p.lat <= self.max.lat + dlat
            && p.lng >= self.min.lng - dlng
            && p.lng <= self.max.lng + dlng
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_nan_and_out_of_range() {
        assert!(LatLng::new(f64::NAN, 7.0).is_err());
        assert!(LatLng::new(43.0, f64::INFINITY).is_err());
        assert!(LatLng::new(91.0, 7.0).is_err());
        assert!(LatLng::new(43.0, -180.5).is_err());
        assert!(LatLng::parse("43.7,7.4").is_ok());
        assert!(LatLng::parse("43.7;7.4").is_err());
        assert!(LatLng::parse("north,7.4").is_err());
    }

    #[test]
    fn haversine_matches_known_distance() {
        // One degree of latitude is ~111.2 km on the mean sphere.
        let d = haversine_meters(LatLng { lat: 0.0, lng: 0.0 }, LatLng { lat: 1.0, lng: 0.0 });
        assert!((d - 111_195.0).abs() < 5.0, "{d}");
    }

    #[test]
    fn projection_round_trips_and_agrees_with_haversine() {
        let origin = LatLng {
            lat: 43.74,
            lng: 7.42,
        };
        let proj = LocalProjection::new(origin);
        let p = LatLng {
            lat: 43.75,
            lng: 7.44,
        };
        let back = proj.to_latlng(proj.to_xy(p));
        assert!((back.lat - p.lat).abs() < 1e-12 && (back.lng - p.lng).abs() < 1e-12);
        let xy = proj.to_xy(p);
        let planar = (xy[0] * xy[0] + xy[1] * xy[1]).sqrt();
        let sphere = haversine_meters(origin, p);
        assert!((planar - sphere).abs() / sphere < 1e-3);
    }
}
