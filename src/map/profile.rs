//! Vehicle profiles: which OSM ways a rider may use, how fast, in which
//! direction, and how traffic slows them by hour of day.
//!
//! Profiles are data (config.toml), not code, so an operator can tune a
//! city's speeds without a rebuild. The rules here only interpret tags.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How one vehicle type moves through the road network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Free-flow speed per OSM `highway` value; a value missing here is a
    /// way this vehicle may not use.
    pub highway_kmh: BTreeMap<String, f64>,
    /// Whether `oneway` tags bind this vehicle (walkers ignore them).
    #[serde(default = "yes")]
    pub honours_oneway: bool,
    /// Tags whose value `no` lifts a oneway for this vehicle
    /// (e.g. `oneway:bicycle`).
    #[serde(default)]
    pub oneway_exemption_tags: Vec<String>,
    /// Access tags from most general to most specific; the most specific
    /// one present decides (e.g. `access`, `vehicle`, `bicycle`).
    #[serde(default = "default_access_tags")]
    pub access_tags: Vec<String>,
    /// Slow-downs by hour of day, applied to travel times at query time.
    #[serde(default)]
    pub rush_hours: Vec<RushHour>,
}

/// A period of the day in which every travel time is multiplied by `factor`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RushHour {
    /// First hour (0-23) of the period, inclusive.
    pub from_hour: u8,
    /// Last hour of the period, exclusive (may be 24).
    pub to_hour: u8,
    /// Travel-time multiplier, at least 1 for a slow-down.
    pub factor: f64,
}

fn yes() -> bool {
    true
}

fn default_access_tags() -> Vec<String> {
    vec!["access".into()]
}

/// What a profile makes of one OSM way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WayRule {
    pub speed_kmh: f64,
    /// Travel allowed in the way's node order.
    pub forward: bool,
    /// Travel allowed against the way's node order.
    pub backward: bool,
}

const DENY: &[&str] = &["no", "private", "agricultural", "forestry", "military"];
const ONEWAY_YES: &[&str] = &["yes", "true", "1"];
const ONEWAY_REVERSE: &[&str] = &["-1", "reverse"];

impl Profile {
    /// Interprets a way's tags; `None` when this vehicle may not use it.
    pub fn way_rule<'a>(&self, tag: impl Fn(&str) -> Option<&'a str>) -> Option<WayRule> {
        let highway = tag("highway")?;
        let speed_kmh = *self.highway_kmh.get(highway)?;
        if speed_kmh <= 0.0 || tag("area") == Some("yes") || !self.access_allowed(&tag) {
            return None;
        }
        let (forward, backward) = self.directions(highway, &tag);
        Some(WayRule {
            speed_kmh,
            forward,
            backward,
        })
    }

    fn access_allowed<'a>(&self, tag: &impl Fn(&str) -> Option<&'a str>) -> bool {
        let mut allowed = true;
        for key in &self.access_tags {
            if let Some(value) = tag(key) {
                allowed = !DENY.contains(&value);
            }
        }
        allowed
    }

    fn directions<'a>(&self, highway: &str, tag: &impl Fn(&str) -> Option<&'a str>) -> (bool, bool) {
        if !self.honours_oneway {
            return (true, true);
        }
        let exempt = self
            .oneway_exemption_tags
            .iter()
            .any(|key| tag(key) == Some("no"));
        if exempt {
            return (true, true);
        }
        match tag("oneway") {
            Some(v) if ONEWAY_YES.contains(&v) => (true, false),
            Some(v) if ONEWAY_REVERSE.contains(&v) => (false, true),
            Some("no") => (true, true),
            _ => {
                let implied = matches!(tag("junction"), Some("roundabout" | "circular"))
                    || matches!(highway, "motorway" | "motorway_link");
                (true, !implied)
            }
        }
    }
}

/// The multiplier of the first period covering `secs_of_day`, else 1.
pub fn rush_factor(rush_hours: &[RushHour], secs_of_day: u32) -> f64 {
    let hour = ((secs_of_day / 3600) % 24) as u8;
    rush_hours
        .iter()
        .find(|r| r.from_hour <= hour && hour < r.to_hour)
        .map_or(1.0, |r| r.factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bike() -> Profile {
        Profile {
            highway_kmh: [("residential".to_string(), 18.0), ("motorway".to_string(), 18.0)]
                .into_iter()
                .collect(),
            honours_oneway: true,
            oneway_exemption_tags: vec!["oneway:bicycle".into()],
            access_tags: vec!["access".into(), "bicycle".into()],
            rush_hours: vec![RushHour {
                from_hour: 11,
                to_hour: 14,
                factor: 1.25,
            }],
        }
    }

    fn tags<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |k| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| *v)
    }

    #[test]
    fn unknown_highway_is_not_routable() {
        assert!(bike().way_rule(tags(&[("highway", "footway")])).is_none());
        assert!(bike().way_rule(tags(&[("building", "yes")])).is_none());
    }

    #[test]
    fn oneway_variants() {
        let p = bike();
        let r = p
            .way_rule(tags(&[("highway", "residential"), ("oneway", "yes")]))
            .unwrap();
        assert!(r.forward && !r.backward);
        let r = p
            .way_rule(tags(&[("highway", "residential"), ("oneway", "-1")]))
            .unwrap();
        assert!(!r.forward && r.backward);
        let r = p
            .way_rule(tags(&[("highway", "residential"), ("junction", "roundabout")]))
            .unwrap();
        assert!(r.forward && !r.backward);
        let r = p.way_rule(tags(&[("highway", "motorway")])).unwrap();
        assert!(r.forward && !r.backward);
        let r = p
            .way_rule(tags(&[
                ("highway", "residential"),
                ("oneway", "yes"),
                ("oneway:bicycle", "no"),
            ]))
            .unwrap();
        assert!(r.forward && r.backward);
    }

    #[test]
    fn most_specific_access_tag_decides() {
        let p = bike();
        let denied = tags(&[("highway", "residential"), ("access", "private")]);
        assert!(p.way_rule(denied).is_none());
        let allowed = tags(&[("highway", "residential"), ("access", "no"), ("bicycle", "yes")]);
        assert!(p.way_rule(allowed).is_some());
    }

    #[test]
    fn rush_hour_factor_by_hour() {
        let p = bike();
        assert_eq!(rush_factor(&p.rush_hours, 10 * 3600 + 3599), 1.0);
        assert_eq!(rush_factor(&p.rush_hours, 11 * 3600), 1.25);
        assert_eq!(rush_factor(&p.rush_hours, 14 * 3600), 1.0);
    }
}
