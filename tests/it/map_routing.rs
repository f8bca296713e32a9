//! Contraction-hierarchy answers equal plain Dijkstra on all three maps.

use crate::common;

use common::{EBIKE, MAPS, dijkstra, oracle_ms, random_snapped};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use waimai::map::TravelTime;
use waimai::map::ch::{ChSearch, Seed};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Node to node: the CH time equals Dijkstra's, and the unpacked path is
    /// a contiguous chain of graph arcs whose times and lengths add up.
    #[test]
    fn ch_equals_dijkstra_node_to_node(map in 0..MAPS.len(), s in any::<u32>(), t in any::<u32>()) {
        let net = &EBIKE[map];
        let g = net.graph();
        let n = g.nodes.len() as u32;
        let (s, t) = (s % n, t % n);
        let expected = dijkstra(g, &[(s, 0)])[t as usize];
        let mut search = ChSearch::new(net.hierarchy());
        let seed = |node| [Seed { node, duration_ms: 0, meters: 0 }];
        let r = net.hierarchy().query(&mut search, &seed(s), &seed(t), true).expect("strongly connected");
        prop_assert_eq!(r.duration_ms as u64, expected);
        let (mut at, mut ms, mut m) = (s, 0u64, 0u64);
        for &arc in &r.arcs {
            let a = g.arcs[arc as usize];
            prop_assert_eq!(a.from, at);
            at = a.to;
            ms += a.duration_ms as u64;
            m += a.meters as u64;
        }
        prop_assert_eq!(at, t);
        prop_assert_eq!(ms, expected);
        prop_assert_eq!(m, r.meters as u64);
    }
}

/// Point to point (positions along roads): `leg` equals the oracle.
#[test]
fn legs_between_snapped_points_equal_oracle() {
    let mut rng = StdRng::seed_from_u64(7);
    for net in EBIKE.iter() {
        for _ in 0..150 {
            let (a, b) = (random_snapped(net, &mut rng), random_snapped(net, &mut rng));
            let leg = net.leg(&a, &b, 0).unwrap();
            assert_eq!(leg.duration_ms as u64, oracle_ms(net, &a, &b), "{a:?} -> {b:?}");
        }
    }
}

/// Points on one road: the direct drive along it is found (or the detour
/// when the road is one-way against us), exactly as the oracle says.
#[test]
fn same_edge_pairs_equal_oracle() {
    let mut rng = StdRng::seed_from_u64(11);
    for net in EBIKE.iter() {
        for _ in 0..100 {
            let a = random_snapped(net, &mut rng);
            let len = net.snap_index().edge_meters(net.graph(), a.edge);
            let mut b = a;
            b.offset_meters = (a.offset_meters + len * 0.37) % len.max(1e-9);
            assert_eq!(
                net.leg(&a, &b, 0).unwrap().duration_ms as u64,
                oracle_ms(net, &a, &b)
            );
            assert_eq!(
                net.leg(&b, &a, 0).unwrap().duration_ms as u64,
                oracle_ms(net, &b, &a)
            );
        }
    }
}

/// The bucket matrix equals one query per pair, cell by cell.
#[test]
fn matrix_equals_pairwise_legs() {
    let mut rng = StdRng::seed_from_u64(3);
    for net in EBIKE.iter() {
        let from: Vec<_> = (0..25).map(|_| random_snapped(net, &mut rng)).collect();
        let mut to: Vec<_> = (0..18).map(|_| random_snapped(net, &mut rng)).collect();
        to.push(from[0]); // a zero-length trip and a same-edge pair
        let m = net.matrix(&from, &to, 0).unwrap();
        for (i, a) in from.iter().enumerate() {
            for (j, b) in to.iter().enumerate() {
                let leg = net.leg(a, b, 0).unwrap();
                assert_eq!(m.leg(i, j).duration_ms, leg.duration_ms, "cell {i},{j}");
                assert_eq!(
                    m.leg(i, j).duration_ms as u64,
                    oracle_ms(net, a, b),
                    "cell {i},{j}"
                );
            }
        }
        assert_eq!(m.leg(0, to.len() - 1).duration_ms, 0);
    }
}

/// Rush hours scale times; free-flow lengths stay the same.
#[test]
fn rush_hour_factor_applies() {
    let net = &EBIKE[1];
    let mut rng = StdRng::seed_from_u64(5);
    let (a, b) = (random_snapped(net, &mut rng), random_snapped(net, &mut rng));
    let night = net.leg(&a, &b, 3 * 3600).unwrap();
    let lunch = net.leg(&a, &b, 12 * 3600).unwrap();
    let factor = net.time_factor(12 * 3600);
    assert!(factor > 1.0, "the default ebike profile has a lunch rush");
    assert_eq!(lunch.meters, night.meters);
    assert_eq!(
        lunch.duration_ms,
        (night.duration_ms as f64 * factor).round() as u32
    );
}

/// The route's geometry starts and ends at the snapped points and its
/// length agrees with the reported metres.
#[test]
fn route_geometry_is_consistent() {
    use waimai::map::geo::haversine_meters;
    let mut rng = StdRng::seed_from_u64(9);
    for net in EBIKE.iter() {
        for _ in 0..40 {
            let (a, b) = (random_snapped(net, &mut rng), random_snapped(net, &mut rng));
            let r = net.route(a.position, b.position, 0).unwrap();
            let (first, last) = (r.path[0], r.path[r.path.len() - 1]);
            assert!(haversine_meters(first, r.from.position) < 0.5);
            assert!(haversine_meters(last, r.to.position) < 0.5);
            let along: f64 = r.path.windows(2).map(|w| haversine_meters(w[0], w[1])).sum();
            assert!(
                (along - r.meters as f64).abs() <= 2.0 + 0.002 * along,
                "{along} vs {}",
                r.meters
            );
        }
    }
}
