//! The compact, versioned binary map file (`*.wmap`).
//!
//! Layout (little-endian): magic `WAIMAIRG`, format version (u32), body
//! length (u64), body, FNV-1a 64 checksum of the body. Coordinates are
//! stored as 1e-7 degree integers. Reading validates everything, so a
//! truncated or tampered file is an error, never a panic or a bad route.

use crate::base::fnv1a;
use std::path::Path;

use super::MapError;
use super::geo::LatLng;
use super::graph::{Arc, NO_ARC, RoadEdge, RoadGraph};

const MAGIC: &[u8; 8] = b"WAIMAIRG";
/// Bumped whenever the body layout changes.
pub const FORMAT_VERSION: u32 = 1;
/// Bound on any count read from a file, so a corrupt length cannot make us
/// allocate without limit.
const COUNT_MAX: u64 = 1 << 28;

/// Writes `graph` to `path`.
pub fn write_graph(graph: &RoadGraph, path: &Path) -> Result<(), MapError> {
    let body = encode(graph);
    let mut out = Vec::with_capacity(body.len() + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&fnv1a(&body).to_le_bytes());
    std::fs::write(path, out).map_err(|e| MapError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    })
}

/// Reads a graph written by [`write_graph`].
pub fn read_graph(path: &Path) -> Result<RoadGraph, MapError> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => MapError::MissingFile(path.to_path_buf()),
        _ => MapError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        },
    })?;
    decode_file(&bytes).map_err(|reason| MapError::CorruptMap {
        path: path.to_path_buf(),
        reason,
    })
}

fn decode_file(bytes: &[u8]) -> Result<RoadGraph, String> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(8)? != MAGIC {
        return Err("not a waimai map file (bad magic)".into());
    }
    let version = r.u32()?;
    if version != FORMAT_VERSION {
        return Err(format!(
            "format version {version}, this build reads {FORMAT_VERSION}: re-import the map"
        ));
    }
    let len = r.u64()? as usize;
    let body = r.take(len)?;
    let checksum = r.u64()?;
    if checksum != fnv1a(body) {
        return Err("checksum mismatch".into());
    }
    let graph = decode(&mut Reader { bytes: body, at: 0 })?;
    validate(&graph)?;
    Ok(graph)
}

fn encode(g: &RoadGraph) -> Vec<u8> {
    let mut w = Vec::new();
    put_str(&mut w, &g.profile);
    put_u64(&mut w, g.road_classes.len() as u64);
    for c in &g.road_classes {
        put_str(&mut w, c);
    }
    put_points(&mut w, &g.nodes);
    put_u64(&mut w, g.arcs.len() as u64);
    for a in &g.arcs {
        for x in [a.from, a.to, a.duration_ms, a.meters, a.edge] {
            w.extend_from_slice(&x.to_le_bytes());
        }
        w.push(a.reversed as u8);
    }
    put_u64(&mut w, g.edges.len() as u64);
    for e in &g.edges {
        for x in [e.first_point, e.point_count, e.forward, e.backward] {
            w.extend_from_slice(&x.to_le_bytes());
        }
        w.extend_from_slice(&e.class.to_le_bytes());
    }
    put_points(&mut w, &g.points);
    w
}

fn decode(r: &mut Reader) -> Result<RoadGraph, String> {
    let profile = r.string()?;
    let class_count = r.count()?;
    let road_classes = (0..class_count).map(|_| r.string()).collect::<Result<_, _>>()?;
    let nodes = r.points()?;
    let arc_count = r.count()?;
    let mut arcs = Vec::with_capacity(arc_count);
    for _ in 0..arc_count {
        let (from, to, duration_ms, meters, edge) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?, r.u32()?);
        let reversed = r.take(1)?[0] != 0;
        arcs.push(Arc {
            from,
            to,
            duration_ms,
            meters,
            edge,
            reversed,
        });
    }
    let edge_count = r.count()?;
    let mut edges = Vec::with_capacity(edge_count);
    for _ in 0..edge_count {
        let (first_point, point_count, forward, backward) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
        let class = u16::from_le_bytes(r.array()?);
        edges.push(RoadEdge {
            first_point,
            point_count,
            class,
            forward,
            backward,
        });
    }
    let points = r.points()?;
    if r.at != r.bytes.len() {
        return Err("trailing bytes after the body".into());
    }
    Ok(RoadGraph::from_parts(
        profile,
        nodes,
        arcs,
        edges,
        points,
        road_classes,
    ))
}

/// Checks every index so that queries can trust the graph.
fn validate(g: &RoadGraph) -> Result<(), String> {
    let n = g.nodes.len() as u32;
    if n < 2 {
        return Err("fewer than two nodes".into());
    }
    for (i, a) in g.arcs.iter().enumerate() {
        if a.from >= n || a.to >= n || a.edge as usize >= g.edges.len() {
            return Err(format!("arc {i} refers outside the graph"));
        }
        let e = &g.edges[a.edge as usize];
        let expected = if a.reversed { e.backward } else { e.forward };
        if expected != i as u32 {
            return Err(format!("arc {i} and edge {} disagree", a.edge));
        }
    }
    for (i, e) in g.edges.iter().enumerate() {
        let end = e.first_point as u64 + e.point_count as u64;
        if e.point_count < 2 || end > g.points.len() as u64 {
            return Err(format!("edge {i} geometry out of range"));
        }
        if e.class as usize >= g.road_classes.len() {
            return Err(format!("edge {i} has an unknown road class"));
        }
        if e.forward == NO_ARC && e.backward == NO_ARC {
            return Err(format!("edge {i} has no arc"));
        }
    }
    Ok(())
}

fn put_u64(w: &mut Vec<u8>, x: u64) {
    w.extend_from_slice(&x.to_le_bytes());
}

fn put_str(w: &mut Vec<u8>, s: &str) {
    put_u64(w, s.len() as u64);
    w.extend_from_slice(s.as_bytes());
}

fn put_points(w: &mut Vec<u8>, points: &[LatLng]) {
    put_u64(w, points.len() as u64);
    for p in points {
        w.extend_from_slice(&((p.lat * 1e7).round() as i32).to_le_bytes());
        w.extend_from_slice(&((p.lng * 1e7).round() as i32).to_le_bytes());
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| format!("truncated at byte {}", self.at))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn count(&mut self) -> Result<usize, String> {
        let n = self.u64()?;
        if n > COUNT_MAX {
            return Err(format!("implausible count {n}"));
        }
        Ok(n as usize)
    }

    fn string(&mut self) -> Result<String, String> {
        let n = self.count()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| "invalid UTF-8 string".to_string())
    }

    fn points(&mut self) -> Result<Vec<LatLng>, String> {
        let n = self.count()?;
        let mut out = Vec::with_capacity(n.min(self.bytes.len() / 8));
        for _ in 0..n {
            let lat = i32::from_le_bytes(self.array()?) as f64 / 1e7;
            let lng = i32::from_le_bytes(self.array()?) as f64 / 1e7;
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lng) {
                return Err(format!("coordinate out of range: {lat},{lng}"));
            }
            out.push(LatLng { lat, lng });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_rejected_not_panicking() {
        assert!(decode_file(b"").is_err());
        assert!(decode_file(b"WAIMAIRG").is_err());
        let mut bad = MAGIC.to_vec();
        bad.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bad.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_file(&bad).is_err());
    }
}
