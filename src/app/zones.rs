//! A process that serves one zone of a split city (`serve --zone Z`):
//! its journal key, its first order id, the restaurants it seeds and the
//! zone table the API redirects by (docs/cluster.md).

use std::collections::HashSet;

use super::AppError;
use crate::api::zones::{Zone, ZoneMap};
use crate::config::Config;
use crate::engine::OrderId;

/// What serving zone `name` (or the whole city) changes at start.
pub(super) struct ZonePlan {
    pub map: Option<ZoneMap>,
    pub first_order: OrderId,
    /// The Redis journal's key.
    pub journal_key: String,
    /// Seed restaurants this process may add (None: all).
    pub owned: Option<HashSet<String>>,
    /// Where the zone table says this process answers (`host:port` of its
    /// url): the listen address unless `--listen` says otherwise.
    pub listen: Option<String>,
}

/// The plan for `zone`, which must be in `[zones]`; no zone serves the
/// whole city, and is refused when the city is split (two processes would
/// otherwise serve the same restaurants).
pub(super) fn plan(config: &Config, zone: Option<&str>) -> Result<ZonePlan, AppError> {
    let Some(name) = zone else {
        if !config.zones.is_empty() {
            return Err(AppError::Zone(format!(
                "the city is split into zones ({}): start with --zone NAME",
                config.zone_names()
            )));
        }
        return Ok(ZonePlan {
            map: None,
            first_order: OrderId::first_of_zone(0),
            journal_key: config.server.redis_key.clone(),
            owned: None,
            listen: None,
        });
    };
    let own = config.zones.get(name).ok_or_else(|| {
        let names: Vec<&str> = config.zones.keys().map(String::as_str).collect();
        AppError::Zone(format!(
            "--zone {name:?} is not in [zones] ({})",
            names.join(", ")
        ))
    })?;
    // Zones share the CRM and keep their journals where any machine can
    // rebuild them: a file in one machine's data dir would be neither.
    for (what, store) in [
        ("server.store", &config.server.store),
        ("crm.store", &config.crm.store),
    ] {
        if store != "redis" {
            return Err(AppError::Zone(format!(
                "--zone {name} needs {what} = \"redis\" (it is {store:?}): zones journal to and share the CRM on Redis"
            )));
        }
    }
    // A token is good in every zone (a merchant's redirect, a rider moving
    // zone between shifts): every zone signs with the same secret.
    if let Some(weak) = super::secret::weakness(&config.server.secret) {
        return Err(AppError::Zone(format!(
            "zones share one token secret: set {} ({weak})",
            super::secret::SECRET_VARIABLE
        )));
    }
    let table = config
        .zones
        .iter()
        .map(|(n, z)| {
            let zone = Zone {
                name: n.clone(),
                id: z.id,
                url: z.url.clone(),
            };
            (zone, z.restaurants.clone())
        })
        .collect();
    Ok(ZonePlan {
        map: ZoneMap::new(name, table),
        first_order: OrderId::first_of_zone(own.id),
        journal_key: format!("{}:{{journal:{name}}}", config.server.redis_key),
        owned: Some(own.restaurants.iter().cloned().collect()),
        listen: own
            .url
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or(rest).to_string()),
    })
}
