//! What each rider rides and carries, as operators record it: a vehicle
//! profile (one of the loaded road networks), a capacity in orders and a
//! home zone. Journaled like orders; a rider without a record rides the
//! default vehicle with the policy's bundle limit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::map::{Vehicle, VehicleNetworks};

/// Most orders a rider's capacity may name.
pub const CAPACITY_ORDERS_MAX: u32 = 20;
/// Most rider records one server keeps.
pub const RIDER_PROFILES_MAX: usize = 200_000;
const ZONE_LEN_MAX: usize = 64;

/// A rider's record. Named `Rider` in the OpenAPI document, the resource
/// `/v1/riders/{id}` names, so that schemathesis links a rider's id only
/// from riders (under another name it also fed restaurant ids into it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Rider)]
pub struct RiderProfile {
    pub id: u64,
    /// A vehicle profile name (`ebike`, `scooter`, `walk`, `car`, ...).
    pub vehicle: String,
    pub capacity_orders: u32,
    /// The zone the rider works from (zones are served by their own
    /// processes once a city is split, issue 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_zone: Option<String>,
}

impl RiderProfile {
    /// Checks the fields against what this server can time.
    pub fn check(&self, networks: &VehicleNetworks) -> Result<(), (&'static str, String)> {
        if networks.vehicle(&self.vehicle).is_none() {
            return Err((
                "vehicle",
                format!(
                    "{:?} is not loaded here; loaded: {:?} ([map] profile and [server] vehicles)",
                    self.vehicle,
                    networks.names()
                ),
            ));
        }
        if !(1..=CAPACITY_ORDERS_MAX).contains(&self.capacity_orders) {
            return Err((
                "capacity_orders",
                format!("must be within 1..={CAPACITY_ORDERS_MAX}"),
            ));
        }
        if let Some(zone) = &self.home_zone
            && !super::is_slug(zone, ZONE_LEN_MAX)
        {
            return Err(("home_zone", format!("1 to {ZONE_LEN_MAX} of A-Z a-z 0-9 _ -")));
        }
        Ok(())
    }
}

/// Every rider's record, by id.
#[derive(Debug, Clone, Default)]
pub(crate) struct RiderDirectory {
    by_id: BTreeMap<u64, RiderProfile>,
}

impl RiderDirectory {
    pub fn get(&self, id: u64) -> Option<&RiderProfile> {
        self.by_id.get(&id)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn all(&self) -> impl Iterator<Item = &RiderProfile> {
        self.by_id.values()
    }

    /// Records `profile`; the record it replaces, if any.
    pub fn put(&mut self, profile: RiderProfile) -> Option<RiderProfile> {
        self.by_id.insert(profile.id, profile)
    }

    /// What rider `id` rides on `networks` and most orders it carries. A
    /// vehicle no longer loaded (the config changed) is the default.
    pub fn kit(&self, id: u64, networks: &VehicleNetworks) -> (Vehicle, Option<u32>) {
        match self.by_id.get(&id) {
            Some(p) => (
                networks.vehicle(&p.vehicle).unwrap_or_default(),
                Some(p.capacity_orders),
            ),
            None => (Vehicle::default(), None),
        }
    }
}
