//! Synthetic cities: no city-sized OpenStreetMap extract can ship with the
//! project, so a deterministic one stands in for scale tests and
//! benchmarks. A jittered grid of blocks: every tenth street an arterial
//! (`primary`, two-way), every fifth a `secondary`, the rest `residential`
//! streets, a quarter of them one-way (alternating directions, as in a
//! planned city), and a few block sides missing. It goes through the same
//! pipeline as an imported extract (the profile's speeds and oneway rules,
//! largest strongly connected component, degree-2 folding), so what comes
//! out is what `map import` would make of such a city.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::build::build_graph;
use super::geo::LocalProjection;
use super::osm::{OsmExtract, UsableWay};
use super::{LatLng, MapError, Profile, RoadGraph};

/// Most junctions a synthetic city may have.
pub const JUNCTIONS_MAX: usize = 1_000_000;
/// Metres between parallel streets.
const BLOCK_METERS: f64 = 110.0;
/// Share of residential block sides left out (cul-de-sacs, parks).
const MISSING_SHARE: f64 = 0.04;
/// Share of residential streets that are one-way.
const ONE_WAY_SHARE: f64 = 0.25;

/// What city to make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SynthOptions {
    /// About this many junctions (a square grid of them).
    pub junctions: usize,
    pub seed: u64,
    /// The city's centre.
    pub center: LatLng,
}

/// The city of `options` for `profile` (named `profile_name`), as a graph.
pub fn synth_graph(
    options: &SynthOptions,
    profile: &Profile,
    profile_name: &str,
) -> Result<RoadGraph, MapError> {
    build_graph(&synth_extract(options, profile)?, profile_name)
}

/// The city of `options` as the ways `profile` may use.
pub fn synth_extract(options: &SynthOptions, profile: &Profile) -> Result<OsmExtract, MapError> {
    if !(4..=JUNCTIONS_MAX).contains(&options.junctions) {
        return Err(MapError::NoRoads(format!(
            "a synthetic city has 4 to {JUNCTIONS_MAX} junctions, not {}",
            options.junctions
        )));
    }
    let side = (options.junctions as f64).sqrt().ceil() as usize;
    let mut rng = StdRng::seed_from_u64(options.seed);
    let projection = LocalProjection::new(options.center);
    let half = side as f64 * BLOCK_METERS / 2.0;
    let id = |row: usize, col: usize| (row * side + col) as i64;
    let mut coords = HashMap::with_capacity(side * side);
    for row in 0..side {
        for col in 0..side {
            let jitter = |rng: &mut StdRng| rng.random_range(-0.2..0.2) * BLOCK_METERS;
            let x = col as f64 * BLOCK_METERS - half + jitter(&mut rng);
            let y = row as f64 * BLOCK_METERS - half + jitter(&mut rng);
            coords.insert(id(row, col), projection.to_latlng([x, y]));
        }
    }
    let mut ways = Vec::with_capacity(2 * side * side);
    for line in 0..side {
        let class = match line {
            l if l % 10 == 0 => "primary",
            l if l % 5 == 0 => "secondary",
            _ => "residential",
        };
        for horizontal in [true, false] {
            let one_way = class == "residential" && rng.random_bool(ONE_WAY_SHARE);
            let oneway = one_way.then_some("yes");
            let Some(rule) = profile.way_rule(|k| match k {
                "highway" => Some(class),
                "oneway" => oneway,
                _ => None,
            }) else {
                continue;
            };
            // Alternate directions: even lines run east (north), odd west (south).
            let reversed = one_way && line % 2 == 1;
            for step in 0..side - 1 {
                if class == "residential" && rng.random_bool(MISSING_SHARE) {
                    continue;
                }
                let (a, b) = if horizontal {
                    (id(line, step), id(line, step + 1))
                } else {
                    (id(step, line), id(step + 1, line))
                };
                let node_ids = if reversed { vec![b, a] } else { vec![a, b] };
                ways.push(UsableWay {
                    node_ids,
                    rule,
                    highway: class.to_string(),
                });
            }
        }
    }
    Ok(OsmExtract { coords, ways })
}
