//! The map file round-trips and refuses damage; the CLI answers with JSON
//! on success and with a clear message and exit code on bad input.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use waimai::map::{MapError, RoadNetwork, file};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("waimai-map-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn import(map: &str) -> waimai::map::RoadGraph {
    let c = common::config();
    RoadNetwork::import_pbf(&common::map_path(map), "ebike", c.profile("ebike").unwrap()).unwrap()
}

#[test]
fn map_file_round_trips_and_import_is_deterministic() {
    let dir = temp_dir("roundtrip");
    let g = import("helsinki");
    assert_eq!(g, import("helsinki"), "two imports of one extract differ");
    let path = dir.join("h.wmap");
    file::write_graph(&g, &path).unwrap();
    assert_eq!(file::read_graph(&path).unwrap(), g);
    // Folding degree-2 nodes keeps every geometry point but far fewer nodes.
    assert!(
        g.nodes.len() * 2 < g.points.len(),
        "{} nodes, {} points",
        g.nodes.len(),
        g.points.len()
    );
}

#[test]
fn damaged_files_are_refused() {
    let dir = temp_dir("damaged");
    let path = dir.join("m.wmap");
    file::write_graph(&import("helsinki"), &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x40;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("flipped", flipped),
        ("truncated", bytes[..bytes.len() - 100].to_vec()),
        ("empty", Vec::new()),
        ("text", b"hello, this is not a map".to_vec()),
    ];
    for (name, content) in cases {
        let p = dir.join(format!("{name}.wmap"));
        std::fs::write(&p, content).unwrap();
        assert!(
            matches!(file::read_graph(&p), Err(MapError::CorruptMap { .. })),
            "{name}"
        );
    }
    assert!(matches!(
        file::read_graph(&dir.join("absent.wmap")),
        Err(MapError::MissingFile(_))
    ));
    let bad_pbf = dir.join("bad.osm.pbf");
    std::fs::write(&bad_pbf, vec![7u8; 4096]).unwrap();
    let c = common::config();
    let err = RoadNetwork::import_pbf(&bad_pbf, "ebike", c.profile("ebike").unwrap()).unwrap_err();
    assert!(matches!(err, MapError::CorruptPbf { .. }), "{err:?}");
}

fn waimai(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_waimai"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (
        out.status.code().unwrap_or(-1),
        text(out.stdout),
        text(out.stderr),
    )
}

#[test]
fn cli_routes_across_monaco_with_the_embedded_default() {
    let (code, out, err) = waimai(&[
        "map",
        "route",
        "--from",
        "43.7384,7.4246",
        "--to",
        "43.7311,7.4197",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (secs, meters) = (v["secs"].as_f64().unwrap(), v["meters"].as_f64().unwrap());
    // Straight-line distance is ~930 m: the road route is longer, and an
    // e-bike at most 18 km/h needs at least meters / 5 seconds.
    assert!(meters > 930.0 && meters < 5000.0, "{meters}");
    assert!(secs >= meters / 5.0 - 1.0, "{secs} s for {meters} m");
    assert!(v["path"].as_array().unwrap().len() > 5);
}

#[test]
fn cli_import_info_and_matrix() {
    let dir = temp_dir("cli");
    let wmap = dir.join("monaco.car.wmap");
    let (code, _, err) = waimai(&[
        "map",
        "import",
        "maps/monaco.osm.pbf",
        "--profile",
        "car",
        "--out",
        wmap.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = waimai(&["map", "info", "--map", wmap.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["graph"]["profile"], "car");
    let csv = dir.join("points.csv");
    std::fs::write(&csv, "lat,lng\n43.7384,7.4246\n43.7311,7.4197\n43.7450,7.4300\n").unwrap();
    let (code, out, err) = waimai(&["map", "matrix", "--points", csv.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rows"], 3);
    for i in 0..3 {
        assert_eq!(v["duration_ms"][i][i], 0);
    }
}

#[test]
fn cli_bad_input_is_a_clear_error() {
    let dir = temp_dir("cli-bad");
    let csv = dir.join("bad.csv");
    std::fs::write(&csv, "43.7384,7.4246\n43.73;7.41\n").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["map", "route", "--from", "NaN,7.42", "--to", "43.73,7.42"],
            "--from",
        ),
        (
            vec!["map", "route", "--from", "43.73,7.42", "--to", "95,7.42"],
            "lat",
        ),
        (
            vec!["map", "route", "--from", "48.85,2.35", "--to", "43.73,7.42"],
            "outside the map",
        ),
        (
            vec![
                "map",
                "route",
                "--from",
                "43.73,7.42",
                "--to",
                "43.74,7.42",
                "--depart",
                "25:00",
            ],
            "--depart",
        ),
        (vec!["map", "info", "--map", "maps/nowhere.wmap"], "not found"),
        (vec!["map", "info", "--profile", "rocket"], "rocket"),
        (
            vec!["map", "matrix", "--points", csv.to_str().unwrap()],
            "bad.csv:2",
        ),
    ];
    for (args, needle) in cases {
        let (code, _, err) = waimai(&args);
        // A bad flag exits 2 (the operator's to fix); a missing map, an
        // unknown profile or a bad input line 1.
        let flag = args.iter().any(|a| err.contains(&format!("invalid {a} ")));
        let want = if flag { 2 } else { 1 };
        assert_eq!(code, want, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
