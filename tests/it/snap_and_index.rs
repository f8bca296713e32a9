//! Snapping and spatial-index queries equal brute force on random points.

use crate::common;

use common::EBIKE;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use waimai::base::RiderId;
use waimai::index::RiderIndex;
use waimai::map::LatLng;
use waimai::map::geo::LocalProjection;

fn point_segment_distance(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (x, y) = (a[0] + t * dx, a[1] + t * dy);
    ((p[0] - x).powi(2) + (p[1] - y).powi(2)).sqrt()
}

#[test]
fn snap_finds_the_nearest_segment() {
    let mut rng = StdRng::seed_from_u64(21);
    for net in EBIKE.iter() {
        let g = net.graph();
        let bbox = net.snap_index().bbox();
        let proj = LocalProjection::new(bbox.center());
        let segments: Vec<([f64; 2], [f64; 2])> = g
            .edges
            .iter()
            .flat_map(|e| {
                g.edge_points(e)
                    .windows(2)
                    .map(|w| (proj.to_xy(w[0]), proj.to_xy(w[1])))
            })
            .collect();
        for _ in 0..200 {
            let p = LatLng {
                lat: rng.random_range(bbox.min.lat..bbox.max.lat),
                lng: rng.random_range(bbox.min.lng..bbox.max.lng),
            };
            let xy = proj.to_xy(p);
            let brute = segments
                .iter()
                .map(|&(a, b)| point_segment_distance(xy, a, b))
                .fold(f64::MAX, f64::min);
            match net.snap(p) {
                Ok(s) => {
                    let q = proj.to_xy(s.position);
                    let got = ((xy[0] - q[0]).powi(2) + (xy[1] - q[1]).powi(2)).sqrt();
                    assert!((got - brute).abs() < 1e-6, "snap {got} vs brute force {brute}");
                    let on_edge = net.snap_index().point_at(g, s.edge, s.offset_meters);
                    let back = proj.to_xy(on_edge);
                    assert!(
                        (back[0] - q[0]).hypot(back[1] - q[1]) < 0.05,
                        "offset disagrees with position"
                    );
                }
                Err(e) => assert!(brute > 499.0, "refused a point {brute} m from a road: {e}"),
            }
        }
    }
}

#[test]
fn points_off_the_map_are_refused_with_a_reason() {
    let net = &EBIKE[1];
    let err = net
        .snap(LatLng {
            lat: 48.85,
            lng: 2.35,
        })
        .unwrap_err(); // Paris
    assert!(err.to_string().contains("outside the map"), "{err}");
    assert!(
        net.snap(LatLng {
            lat: f64::NAN,
            lng: 7.42
        })
        .is_err()
    );
    assert!(
        net.snap(LatLng {
            lat: 43.73,
            lng: 200.0
        })
        .is_err()
    );
    assert!(
        net.route(
            LatLng {
                lat: 43.73,
                lng: 7.42
            },
            LatLng { lat: 0.0, lng: 0.0 },
            0
        )
        .is_err()
    );
}

#[test]
fn index_queries_equal_brute_force() {
    let mut rng = StdRng::seed_from_u64(33);
    let center = LatLng {
        lat: 43.735,
        lng: 7.42,
    };
    let proj = LocalProjection::new(center);
    let mut idx = RiderIndex::new(center, Some(60));
    let mut riders: Vec<(LatLng, u64)> = Vec::new();
    let random_point = |rng: &mut StdRng| LatLng {
        lat: center.lat + rng.random_range(-0.02..0.02),
        lng: center.lng + rng.random_range(-0.03..0.03),
    };
    for i in 0..2000u64 {
        let p = random_point(&mut rng);
        let t = rng.random_range(0..200);
        idx.update(RiderId(i), p, t).unwrap();
        riders.push((p, t));
    }
    // Move half of them again, later, as GPS pings do.
    for i in (0..2000u64).step_by(2) {
        let p = random_point(&mut rng);
        let t = riders[i as usize].1 + rng.random_range(0..100);
        idx.update(RiderId(i), p, t).unwrap();
        riders[i as usize] = (p, t);
    }
    for _ in 0..100 {
        let q = random_point(&mut rng);
        let now = rng.random_range(150..320);
        let qxy = proj.to_xy(q);
        let mut brute: Vec<(f64, u64)> = riders
            .iter()
            .enumerate()
            .filter(|(_, (_, t))| now - t.min(&now) <= 60)
            .map(|(i, (p, _))| {
                let xy = proj.to_xy(*p);
                ((xy[0] - qxy[0]).hypot(xy[1] - qxy[1]), i as u64)
            })
            .collect();
        brute.sort_by(|a, b| a.0.total_cmp(&b.0));
        let got: Vec<u64> = idx.nearest(q, 10, now).unwrap().iter().map(|n| n.id.0).collect();
        let want: Vec<u64> = brute.iter().take(10).map(|x| x.1).collect();
        assert_eq!(got, want);
        let radius = rng.random_range(50.0..800.0);
        let got: Vec<u64> = idx
            .within(q, radius, now)
            .unwrap()
            .iter()
            .map(|n| n.id.0)
            .collect();
        let want: Vec<u64> = brute.iter().filter(|x| x.0 <= radius).map(|x| x.1).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn candidates_are_ranked_by_travel_time() {
    use waimai::map::TravelTime;
    let net = &EBIKE[1];
    let mut rng = StdRng::seed_from_u64(44);
    let center = net.snap_index().bbox().center();
    let mut idx = RiderIndex::new(center, Some(60));
    for i in 0..300u64 {
        let s = common::random_snapped(net, &mut rng);
        idx.update(RiderId(i), s.position, 1000).unwrap();
    }
    let target = common::random_snapped(net, &mut rng).position;
    let ranked = idx
        .nearest_by_travel_time(net, |p| net.snap(p), target, 40, 5, 1000)
        .unwrap();
    assert_eq!(ranked.len(), 5);
    let shortlist = idx.nearest(target, 40, 1000).unwrap();
    let t = net.snap(target).unwrap();
    let mut times: Vec<u32> = shortlist
        .iter()
        .map(|n| {
            net.leg(&net.snap(n.position).unwrap(), &t, 1000)
                .unwrap()
                .duration_ms
        })
        .collect();
    times.sort_unstable();
    let got: Vec<u32> = ranked.iter().map(|(_, ms)| *ms).collect();
    assert_eq!(got, times[..5].to_vec());
}
