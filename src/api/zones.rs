//! Which zone's process owns a restaurant or an order, for a city split
//! into zones (docs/cluster.md): a request for another zone's is answered
//! 307 to that zone's URL, with the same path, so a merchant's client
//! follows it with its method and body.

use std::collections::HashMap;

use super::error::ApiError;
use crate::engine::OrderId;

/// One zone as the table names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub name: String,
    pub id: u64,
    /// Its process's base URL, e.g. `http://10.0.0.7:8080`.
    pub url: String,
}

/// The zone table as this process sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneMap {
    own: Zone,
    zones: Vec<Zone>,
    /// Restaurant id to its zone's index in `zones`.
    restaurants: HashMap<String, usize>,
}

impl ZoneMap {
    /// The table (each zone with its restaurants) and this process's zone.
    pub fn new(own: &str, table: Vec<(Zone, Vec<String>)>) -> Option<Self> {
        let mut zones = Vec::with_capacity(table.len());
        let mut restaurants = HashMap::new();
        for (i, (zone, owned)) in table.into_iter().enumerate() {
            for r in owned {
                restaurants.insert(r, i);
            }
            zones.push(zone);
        }
        let own = zones.iter().find(|z| z.name == own)?.clone();
        Some(Self {
            own,
            zones,
            restaurants,
        })
    }

    /// This process's zone.
    pub fn own(&self) -> &Zone {
        &self.own
    }

    /// Ok when this zone owns `restaurant`; a 307 to its owner, or a 422
    /// naming `field` when no zone lists it.
    pub fn restaurant(&self, restaurant: &str, field: &str, path: &str) -> Result<(), ApiError> {
        match self.restaurants.get(restaurant).map(|&i| &self.zones[i]) {
            Some(z) if z.name == self.own.name => Ok(()),
            Some(z) => Err(moved(field, z, path, &format!("restaurant {restaurant}"))),
            None => Err(ApiError::refused(
                field,
                format!("restaurant {restaurant} is in no zone of the zone table ([zones])"),
            )),
        }
    }

    /// Ok when this zone gave `order`'s id; else a 307 to the zone that
    /// did, or a 404 when no zone has its id.
    pub fn order(&self, order: u64, path: &str) -> Result<(), ApiError> {
        let zone_id = OrderId(order).zone_id();
        if zone_id == self.own.id {
            return Ok(());
        }
        match self.zones.iter().find(|z| z.id == zone_id) {
            Some(z) => Err(moved("id", z, path, &format!("order {order}"))),
            None => Err(ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                Some("id"),
                format!("order {order}: no zone gives ids like it"),
            )),
        }
    }
}

fn moved(field: &str, zone: &Zone, path: &str, what: &str) -> ApiError {
    ApiError::elsewhere(
        field,
        format!("{}{path}", zone.url.trim_end_matches('/')),
        format!("{what} is served by zone {} at {}", zone.name, zone.url),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> ZoneMap {
        let zone = |name: &str, id| Zone {
            name: name.into(),
            id,
            url: format!("http://{name}.example:8080/"),
        };
        ZoneMap::new(
            "north",
            vec![
                (zone("north", 1), vec!["r1".into()]),
                (zone("south", 2), vec!["r2".into()]),
            ],
        )
        .unwrap()
    }

    #[test]
    fn another_zones_restaurant_or_order_is_a_redirect_to_it() {
        let zones = table();
        assert!(zones.restaurant("r1", "restaurant", "/v1/orders").is_ok());
        let e = zones.restaurant("r2", "restaurant", "/v1/orders").unwrap_err();
        assert_eq!(e.status.as_u16(), 307);
        assert_eq!(e.location.as_deref(), Some("http://south.example:8080/v1/orders"));
        assert_eq!(
            zones
                .restaurant("r9", "restaurant", "/")
                .unwrap_err()
                .status
                .as_u16(),
            422
        );
        let south_order = OrderId::first_of_zone(2).0 + 41;
        assert!(zones.order(OrderId::first_of_zone(1).0, "/x").is_ok());
        let e = zones
            .order(south_order, &format!("/v1/orders/{south_order}"))
            .unwrap_err();
        assert_eq!(
            e.location,
            Some(format!("http://south.example:8080/v1/orders/{south_order}"))
        );
        assert_eq!(
            zones
                .order(OrderId::first_of_zone(7).0, "/x")
                .unwrap_err()
                .status
                .as_u16(),
            404
        );
        assert!(ZoneMap::new("west", vec![]).is_none());
    }
}
