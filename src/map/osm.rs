//! Reading OpenStreetMap PBF extracts into the ways a profile may use.
//!
//! Only what routing needs survives this step: coordinates of nodes, and
//! for each usable way its node sequence, speed, allowed directions and
//! highway class. Turn restrictions are not read (a known simplification).

use std::collections::HashMap;
use std::path::Path;

use osmpbf::{Element, ElementReader};

use super::MapError;
use super::geo::LatLng;
use super::profile::{Profile, WayRule};

/// One OSM way a profile accepted.
#[derive(Debug, Clone)]
pub struct UsableWay {
    pub node_ids: Vec<i64>,
    pub rule: WayRule,
    /// The OSM `highway` value, kept so every arc knows its road class.
    pub highway: String,
}

/// The routable content of an extract for one profile.
#[derive(Debug, Default)]
pub struct OsmExtract {
    pub coords: HashMap<i64, LatLng>,
    pub ways: Vec<UsableWay>,
}

/// Reads `path` and keeps the ways `profile` may use.
pub fn read_extract(path: &Path, profile: &Profile) -> Result<OsmExtract, MapError> {
    if !path.exists() {
        return Err(MapError::MissingFile(path.to_path_buf()));
    }
    let corrupt = |e: osmpbf::Error| MapError::CorruptPbf {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let reader = ElementReader::from_path(path).map_err(corrupt)?;
    let mut extract = OsmExtract::default();
    reader
        .for_each(|element| match element {
            Element::Node(n) => {
                extract.coords.insert(
                    n.id(),
                    LatLng {
                        lat: n.lat(),
                        lng: n.lon(),
                    },
                );
            }
            Element::DenseNode(n) => {
                extract.coords.insert(
                    n.id(),
                    LatLng {
                        lat: n.lat(),
                        lng: n.lon(),
                    },
                );
            }
            Element::Way(w) => {
                let tags: Vec<(&str, &str)> = w.tags().collect();
                let lookup = |k: &str| tags.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
                if let Some(rule) = profile.way_rule(lookup) {
                    extract.ways.push(UsableWay {
                        node_ids: w.refs().collect(),
                        rule,
                        highway: lookup("highway").unwrap_or_default().to_string(),
                    });
                }
            }
            Element::Relation(_) => {}
        })
        .map_err(corrupt)?;
    if extract.ways.is_empty() {
        return Err(MapError::NoRoads(format!(
            "{} has no way this profile may use",
            path.display()
        )));
    }
    Ok(extract)
}
