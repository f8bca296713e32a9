//! `waimai map ...`: import, info, route, matrix.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Subcommand;
use serde_json::json;

use super::CliError;
use crate::config::Config;
use crate::map::{LatLng, RoadNetwork, Snapped, TravelTime, file, synth};

/// Road network commands.
#[derive(Debug, Subcommand)]
pub enum MapCommand {
    /// Import an OSM PBF extract into a compact .wmap file for one profile.
    Import {
        /// The .osm.pbf extract.
        pbf: PathBuf,
        /// Vehicle profile from config (ebike, scooter, car, walk).
        #[arg(long)]
        profile: Option<String>,
        /// Output file (default: next to the extract, `<name>.<profile>.wmap`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Make a synthetic city (a deterministic street grid with arterials,
    /// one-way streets and speeds by road class) as a .wmap file.
    Synth {
        /// About this many junctions (4 to 1,000,000).
        #[arg(long)]
        junctions: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output .wmap file.
        #[arg(long)]
        out: PathBuf,
        /// Vehicle profile from config (ebike, scooter, car, walk).
        #[arg(long)]
        profile: Option<String>,
        /// The city's centre as LAT,LNG.
        #[arg(long, default_value = "31.2304,121.4737", allow_hyphen_values = true)]
        center: String,
    },
    /// Print the size and extent of a map.
    Info {
        /// A .wmap file or an .osm.pbf (imported on the fly); default from config.
        #[arg(long)]
        map: Option<PathBuf>,
        #[arg(long)]
        profile: Option<String>,
    },
    /// Fastest route between two points, as JSON (secs, meters, path).
    Route {
        /// Start as LAT,LNG.
        #[arg(long, allow_hyphen_values = true)]
        from: String,
        /// Destination as LAT,LNG.
        #[arg(long, allow_hyphen_values = true)]
        to: String,
        #[arg(long)]
        map: Option<PathBuf>,
        #[arg(long)]
        profile: Option<String>,
        /// Departure time of day, HH:MM (rush-hour factors apply).
        #[arg(long, default_value = "00:00")]
        depart: String,
        /// Leave the path geometry out of the output.
        #[arg(long)]
        no_path: bool,
    },
    /// Travel-time matrix between points of a CSV (lat,lng per line).
    Matrix {
        /// Origins: CSV lines `lat,lng` (a header line is skipped).
        #[arg(long)]
        points: PathBuf,
        /// Destinations (default: the origins).
        #[arg(long)]
        to: Option<PathBuf>,
        #[arg(long)]
        map: Option<PathBuf>,
        #[arg(long)]
        profile: Option<String>,
        #[arg(long, default_value = "00:00")]
        depart: String,
    },
}

/// Runs one map command.
pub fn run(cmd: MapCommand, config: &Config) -> Result<(), CliError> {
    match cmd {
        MapCommand::Import { pbf, profile, out } => import(&pbf, profile, out, config),
        MapCommand::Synth {
            junctions,
            seed,
            out,
            profile,
            center,
        } => synth(junctions, seed, &out, profile, &center, config),
        MapCommand::Info { map, profile } => {
            let started = Instant::now();
            let net = load(config, map, profile)?;
            let info = net.graph().info();
            let out = json!({
                "graph": info,
                "hierarchy_arcs": net.hierarchy().arc_count(),
                "load_ms": started.elapsed().as_millis(),
            });
            print_json(&out);
            Ok(())
        }
        MapCommand::Route {
            from,
            to,
            map,
            profile,
            depart,
            no_path,
        } => {
            let (from, to) = (parse_point("from", &from)?, parse_point("to", &to)?);
            let depart = parse_depart(&depart)?;
            let net = load(config, map, profile)?;
            let mut route = net.route(from, to, depart)?;
            if no_path {
                route.path.clear();
            }
            print_json(&crate::base::json_value(&route));
            Ok(())
        }
        MapCommand::Matrix {
            points,
            to,
            map,
            profile,
            depart,
        } => {
            let depart = parse_depart(&depart)?;
            let origins = read_points(&points)?;
            let targets = match &to {
                Some(p) => read_points(p)?,
                None => origins.clone(),
            };
            let net = load(config, map, profile)?;
            let snap = |pts: &[LatLng]| {
                pts.iter()
                    .map(|&p| net.snap(p))
                    .collect::<Result<Vec<Snapped>, _>>()
            };
            let (a, b) = (snap(&origins)?, snap(&targets)?);
            let started = Instant::now();
            let m = net.matrix(&a, &b, depart)?;
            let rows = |v: &[u32]| v.chunks(m.cols.max(1)).map(|r| r.to_vec()).collect::<Vec<_>>();
            print_json(&json!({
                "rows": m.rows,
                "cols": m.cols,
                "duration_ms": rows(&m.duration_ms),
                "meters": rows(&m.meters),
                "compute_ms": started.elapsed().as_secs_f64() * 1000.0,
            }));
            Ok(())
        }
    }
}

fn import(
    pbf: &Path,
    profile: Option<String>,
    out: Option<PathBuf>,
    config: &Config,
) -> Result<(), CliError> {
    let name = profile.unwrap_or_else(|| config.map.profile.clone());
    let p = config.profile(&name)?;
    let started = Instant::now();
    let graph = RoadNetwork::import_pbf(pbf, &name, p)?;
    let out = out.unwrap_or_else(|| {
        let stem = pbf
            .file_name()
            .map(|s| s.to_string_lossy().replace(".osm.pbf", ""))
            .unwrap_or_default();
        pbf.with_file_name(format!("{stem}.{name}.wmap"))
    });
    file::write_graph(&graph, &out)?;
    print_json(&json!({
        "out": out,
        "profile": name,
        "nodes": graph.nodes.len(),
        "arcs": graph.arcs.len(),
        "import_ms": started.elapsed().as_millis(),
    }));
    Ok(())
}

fn synth(
    junctions: usize,
    seed: u64,
    out: &Path,
    profile: Option<String>,
    center: &str,
    config: &Config,
) -> Result<(), CliError> {
    if !(4..=synth::JUNCTIONS_MAX).contains(&junctions) {
        return Err(CliError::BadFlag {
            flag: "junctions",
            value: junctions.to_string(),
            reason: format!("between 4 and {}", synth::JUNCTIONS_MAX),
        });
    }
    let center = parse_point("center", center)?;
    let name = profile.unwrap_or_else(|| config.map.profile.clone());
    let p = config.profile(&name)?;
    let started = Instant::now();
    let options = synth::SynthOptions {
        junctions,
        seed,
        center,
    };
    let graph = synth::synth_graph(&options, p, &name)?;
    file::write_graph(&graph, out)?;
    print_json(&json!({
        "out": out,
        "profile": name,
        "seed": seed,
        "nodes": graph.nodes.len(),
        "arcs": graph.arcs.len(),
        "synth_ms": started.elapsed().as_millis(),
    }));
    Ok(())
}

fn load(config: &Config, map: Option<PathBuf>, profile: Option<String>) -> Result<RoadNetwork, CliError> {
    let path = map.unwrap_or_else(|| config.map.path.clone());
    let name = profile.unwrap_or_else(|| config.map.profile.clone());
    Ok(RoadNetwork::load(
        &path,
        &name,
        config.profile(&name)?,
        config.map.max_snap_meters,
    )?)
}

fn parse_point(flag: &'static str, text: &str) -> Result<LatLng, CliError> {
    LatLng::parse(text).map_err(|e| CliError::BadFlag {
        flag,
        value: text.to_string(),
        reason: e.to_string(),
    })
}

/// Parses `HH:MM` into seconds of the day.
fn parse_depart(text: &str) -> Result<u32, CliError> {
    let bad = |reason: &str| CliError::BadFlag {
        flag: "depart",
        value: text.to_string(),
        reason: reason.to_string(),
    };
    let (h, m) = text.split_once(':').ok_or_else(|| bad("expected HH:MM"))?;
    let h: u32 = h.parse().map_err(|_| bad("hour is not a number"))?;
    let m: u32 = m.parse().map_err(|_| bad("minute is not a number"))?;
    if h > 23 || m > 59 {
        return Err(bad("hour must be 0-23 and minute 0-59"));
    }
    Ok(h * 3600 + m * 60)
}

/// Reads `lat,lng` lines; a first line that does not parse is a header.
fn read_points(path: &Path) -> Result<Vec<LatLng>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut points = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match LatLng::parse(line) {
            Ok(p) => points.push(p),
            Err(_) if i == 0 => continue,
            Err(e) => {
                return Err(CliError::BadInputLine {
                    path: path.to_path_buf(),
                    line: i + 1,
                    reason: e.to_string(),
                });
            }
        }
    }
    if points.is_empty() {
        return Err(CliError::BadInputLine {
            path: path.to_path_buf(),
            line: 0,
            reason: "no points".into(),
        });
    }
    Ok(points)
}

fn print_json(v: &serde_json::Value) {
    println!("{}", crate::base::json_pretty(v));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depart_parsing() {
        assert_eq!(parse_depart("12:30").unwrap(), 45_000);
        assert!(parse_depart("24:00").is_err());
        assert!(parse_depart("noon").is_err());
    }
}
