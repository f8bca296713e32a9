//! Configuration: the embedded default (the repository's config.toml), an
//! optional operator file merged over it, then `WAIMAI_<SECTION>__<KEY>`
//! environment overrides.
//!
//! Owns: parsing and validating settings. May call: `map` (profile types),
//! `crm` and `sim` (their settings' types).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;
use toml::{Table, Value};

use crate::map::Profile;

/// The repository's config.toml, compiled in so the binary runs anywhere.
pub const DEFAULT_TOML: &str = include_str!("../../config.toml");
const ENV_PREFIX: &str = "WAIMAI_";

/// Errors reading or validating configuration.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Io {
        path: PathBuf,
        source: crate::base::IoCause,
    },
    #[error("config {source_name} is not valid TOML: {reason}")]
    Parse { source_name: String, reason: String },
    #[error("unknown config key {key} (from {origin})")]
    UnknownKey { key: String, origin: String },
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// All settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub city: CityConfig,
    pub map: MapConfig,
    pub index: IndexConfig,
    pub server: ServerConfig,
    pub crm: crate::crm::CrmConfig,
    /// The noisy world of `waimai simulate --world noisy`.
    pub world: crate::sim::noise::NoiseConfig,
    /// Zones of the city by name (none: one process serves all of it).
    pub zones: BTreeMap<String, ZoneConfig>,
    pub profiles: BTreeMap<String, Profile>,
}

/// One zone: which process serves it and which restaurants it owns.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// 1 to `ZONE_ID_MAX`, part of every order id the zone gives.
    pub id: u64,
    /// Where the zone's process answers (the 307 target).
    pub url: String,
    pub restaurants: Vec<String>,
}

/// Zone ids fit the top bits of an order id (see `base::zone_order_ids`).
pub const ZONE_ID_MAX: u64 = 4095;

/// The city the engine serves.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CityConfig {
    /// IANA time zone: meal times, birthdays, quota periods and report
    /// hours and days are local to it.
    pub time_zone: String,
}

/// `waimai serve`: network, store, clock and rider-link settings (each
/// documented in config.toml).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    pub restaurants: PathBuf,
    pub store: String,
    pub data_dir: PathBuf,
    pub redis_url: String,
    pub redis_key: String,
    /// A journal append is acknowledged once this many replicas hold it.
    pub redis_wait_replicas: u32,
    pub redis_wait_ms: u64,
    pub tick_secs: u64,
    pub clock_speed: f64,
    pub secret: String,
    pub heartbeat_secs: u64,
    pub rider_timeout_secs: u64,
    pub location_per_sec: f64,
    pub location_burst: u32,
    pub outbox_capacity: usize,
    pub shift_secs: u64,
    pub queue_capacity: usize,
    /// Vehicle profiles riders may ride besides `[map] profile` (the
    /// default): one road network each, built at start.
    pub vehicles: Vec<String>,
}

/// Which road network to load and how to snap to it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapConfig {
    pub path: PathBuf,
    pub profile: String,
    pub max_snap_meters: f64,
}

/// Spatial index settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexConfig {
    pub stale_after_secs: u64,
    pub shortlist: usize,
}

impl Config {
    /// The city's civil time (`[city] time_zone`).
    pub fn city_time(&self) -> Result<crate::base::CityTime, ConfigError> {
        crate::base::CityTime::new(&self.city.time_zone)
            .map_err(|e| ConfigError::Invalid(format!("city.time_zone: {e}")))
    }

    /// Loads the embedded default, merges `file` over it, then applies the
    /// process environment's `WAIMAI_*` overrides.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// [`Config::load`] with an explicit environment (for tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = parse(DEFAULT_TOML, "embedded default")?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
                path: path.to_path_buf(),
                source: e.into(),
            })?;
            let overlay = parse(&text, &path.display().to_string())?;
            merge(&mut table, overlay, &path.display().to_string(), "")?;
        }
        for (name, raw) in env {
            if let Some(key) = name.strip_prefix(ENV_PREFIX) {
                apply_env(&mut table, key, &raw, &name)?;
            }
        }
        let config: Config = Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.message().to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The profile named `name`.
    pub fn profile(&self, name: &str) -> Result<&Profile, crate::map::MapError> {
        self.profiles
            .get(name)
            .ok_or_else(|| crate::map::MapError::UnknownProfile(name.to_string()))
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if !self.profiles.contains_key(&self.map.profile) {
            return invalid(format!(
                "map.profile {:?} is not among [profiles]",
                self.map.profile
            ));
        }
        if self.map.max_snap_meters.is_nan() || self.map.max_snap_meters <= 0.0 {
            return invalid("map.max_snap_meters must be positive".into());
        }
        let sv = &self.server;
        if sv.tick_secs == 0 || sv.heartbeat_secs == 0 || sv.rider_timeout_secs == 0 {
            return invalid(
                "server.tick_secs, heartbeat_secs and rider_timeout_secs must be positive".into(),
            );
        }
        if !sv.clock_speed.is_finite() || sv.clock_speed <= 0.0 {
            return invalid("server.clock_speed must be a positive number".into());
        }
        if !sv.location_per_sec.is_finite() || sv.location_per_sec <= 0.0 || sv.location_burst == 0 {
            return invalid("server.location_per_sec and location_burst must be positive".into());
        }
        if sv.outbox_capacity == 0 || sv.queue_capacity == 0 || sv.shift_secs == 0 {
            return invalid("server.outbox_capacity, queue_capacity and shift_secs must be positive".into());
        }
        if sv.store != "embedded" && sv.store != "redis" {
            return invalid(format!("server.store {:?}: \"embedded\" or \"redis\"", sv.store));
        }
        if sv.redis_wait_replicas > 0 && sv.redis_wait_ms == 0 {
            return invalid(
                "server.redis_wait_ms must be positive when server.redis_wait_replicas is".into(),
            );
        }
        if sv.secret.len() < 16 {
            return invalid("server.secret must be at least 16 characters".into());
        }
        self.crm.check().map_err(ConfigError::Invalid)?;
        self.check_zones()?;
        self.world.check().map_err(ConfigError::Invalid)?;
        self.city_time()?;
        for (name, p) in &self.profiles {
            if let Some((k, v)) = p.highway_kmh.iter().find(|(_, v)| !v.is_finite() || **v <= 0.0) {
                return invalid(format!("profiles.{name}.highway_kmh.{k} = {v}: must be positive"));
            }
            for r in &p.rush_hours {
                if r.from_hour >= r.to_hour || r.to_hour > 24 || r.factor.is_nan() || r.factor <= 0.0 {
                    return invalid(format!("profiles.{name}.rush_hours: bad period {r:?}"));
                }
            }
        }
        Ok(())
    }
}

impl Config {
    /// The zones' names, `a, b`, for messages.
    pub fn zone_names(&self) -> String {
        self.zones
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Zone names and restaurant ids are plain words, zone ids unique and
    /// in range, and a restaurant belongs to one zone at most.
    fn check_zones(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        let word = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        let mut ids = std::collections::BTreeSet::new();
        let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
        for (name, zone) in &self.zones {
            if !word(name) {
                return invalid(format!(
                    "zones.{name}: a zone name is letters, digits, '-' and '_'"
                ));
            }
            if zone.id == 0 || zone.id > ZONE_ID_MAX || !ids.insert(zone.id) {
                return invalid(format!(
                    "zones.{name}.id = {}: unique, 1 to {ZONE_ID_MAX}",
                    zone.id
                ));
            }
            if !zone.url.starts_with("http://") && !zone.url.starts_with("https://") {
                return invalid(format!("zones.{name}.url {:?}: an http(s) URL", zone.url));
            }
            for r in &zone.restaurants {
                if let Some(other) = owner.insert(r, name) {
                    return invalid(format!("zones: restaurant {r} is in both {other} and {name}"));
                }
            }
        }
        Ok(())
    }
}

fn parse(text: &str, source_name: &str) -> Result<Table, ConfigError> {
    text.parse::<Table>().map_err(|e| ConfigError::Parse {
        source_name: source_name.to_string(),
        reason: e.message().to_string(),
    })
}

/// Merges `overlay` into `base`, refusing keys the default does not know
/// (except inside `profiles`, where operators may add vehicles).
fn merge(base: &mut Table, overlay: Table, origin: &str, prefix: &str) -> Result<(), ConfigError> {
    for (k, v) in overlay {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (base.get_mut(&k), v) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o, origin, &key)?,
            (Some(slot), v) => *slot = v,
            (None, v) if ["profiles", "zones"].contains(&prefix) || prefix.starts_with("profiles.") => {
                base.insert(k, v);
            }
            (None, _) => {
                return Err(ConfigError::UnknownKey {
                    key,
                    origin: origin.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Applies `MAP__PATH=value` style overrides; the existing value's type
/// decides how the text is read.
fn apply_env(table: &mut Table, key: &str, raw: &str, var: &str) -> Result<(), ConfigError> {
    let path: Vec<String> = key.split("__").map(|s| s.to_ascii_lowercase()).collect();
    let unknown = || ConfigError::UnknownKey {
        key: path.join("."),
        origin: var.to_string(),
    };
    let (last, parents) = path.split_last().ok_or_else(unknown)?;
    let mut t = table;
    for p in parents {
        t = t.get_mut(p).and_then(Value::as_table_mut).ok_or_else(unknown)?;
    }
    let slot = t.get_mut(last).ok_or_else(unknown)?;
    *slot = match slot {
        Value::String(_) => Value::String(raw.to_string()),
        _ => {
            let doc = format!("v = {raw}");
            let parsed: Table = doc
                .parse()
                .map_err(|_| ConfigError::Invalid(format!("{var}={raw:?} is not a valid value")))?;
            parsed.get("v").cloned().ok_or_else(unknown)?
        }
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn embedded_default_is_valid() {
        let c = Config::load_with_env(None, env(&[])).unwrap();
        assert_eq!(c.map.profile, "ebike");
        for p in ["ebike", "scooter", "car", "walk"] {
            assert!(c.profiles.contains_key(p), "{p}");
        }
        assert!(!c.profiles["car"].highway_kmh.contains_key("footway"));
        assert!(!c.profiles["walk"].honours_oneway);
    }

    #[test]
    fn env_overrides_keep_types() {
        let vars = env(&[
            ("WAIMAI_MAP__PROFILE", "car"),
            ("WAIMAI_INDEX__STALE_AFTER_SECS", "15"),
            ("WAIMAI_PROFILES__EBIKE__HIGHWAY_KMH__PRIMARY", "20.5"),
            ("UNRELATED", "x"),
        ]);
        let c = Config::load_with_env(None, vars).unwrap();
        assert_eq!(c.map.profile, "car");
        assert_eq!(c.index.stale_after_secs, 15);
        assert_eq!(c.profiles["ebike"].highway_kmh["primary"], 20.5);
    }

    #[test]
    fn unknown_or_bad_keys_are_named() {
        let e = Config::load_with_env(None, env(&[("WAIMAI_MAP__PATHH", "x")])).unwrap_err();
        assert!(e.to_string().contains("map.pathh"), "{e}");
        let e = Config::load_with_env(None, env(&[("WAIMAI_INDEX__SHORTLIST", "many")])).unwrap_err();
        assert!(e.to_string().contains("WAIMAI_INDEX__SHORTLIST"), "{e}");
        let e = Config::load_with_env(None, env(&[("WAIMAI_MAP__PROFILE", "rocket")])).unwrap_err();
        assert!(e.to_string().contains("rocket"), "{e}");
    }

    #[test]
    fn file_overlay_merges_and_rejects_typos() {
        let dir = std::env::temp_dir().join(format!("waimai-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.toml");
        std::fs::write(
            &good,
            "[index]\nshortlist = 4\n[profiles.cargo_bike.highway_kmh]\nresidential = 12.0\n",
        )
        .unwrap();
        let c = Config::load_with_env(Some(&good), env(&[])).unwrap();
        assert_eq!(c.index.shortlist, 4);
        assert_eq!(c.index.stale_after_secs, 60);
        assert!(c.profiles.contains_key("cargo_bike"));
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[indx]\nshortlist = 4\n").unwrap();
        assert!(matches!(
            Config::load_with_env(Some(&bad), env(&[])),
            Err(ConfigError::UnknownKey { .. })
        ));
        assert!(matches!(
            Config::load_with_env(Some(&dir.join("none.toml")), env(&[])),
            Err(ConfigError::Io { .. })
        ));
    }
}
