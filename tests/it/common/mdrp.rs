//! The tests' own Meal Delivery Routing Problem instances and checker,
//! written from the benchmark's rules (Reyes et al. 2018: ceil-minute
//! Euclidean travel, 2 + 2 minute service split around pickups and
//! drop-offs, one restaurant per bundle), sharing no code with `waimai::sim`.
//!
//! MDRPLIB itself carries no licence, so it stays out of the repository:
//! tests generate an instance of the same shape (one day, 60 restaurants,
//! about 270 orders, 53 couriers, the benchmark's parameters) and check
//! solutions here. Where ../shared is present the shared verifier is run
//! as well.

use std::collections::HashMap;
use std::path::Path;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

pub const PARAMS: &str = "meters_per_minute\tpickup service minutes\tdropoff service minutes\ttarget click-to-door\tmaximum click-to-door\tpay per order\tguaranteed pay per hour\n320\t4\t4\t40\t90\t10\t15\n";

/// Writes a day like MDRPLIB's small variants into `dir`: orders placed
/// between minute 40 and 800 with a lunch and a dinner peak, drop-offs
/// within about 3 km of a skewed choice of restaurant, 10-25 minutes of
/// preparation, and couriers on 1-3 hour shifts spread over the day.
pub fn generate(dir: &Path, seed: u64) {
    const SIDE_M: f64 = 10_000.0;
    let mut rng = StdRng::seed_from_u64(seed);
    std::fs::create_dir_all(dir).unwrap();
    let restaurants: Vec<(f64, f64)> = (0..60)
        .map(|_| (rng.random_range(0.0..SIDE_M), rng.random_range(0.0..SIDE_M)))
        .collect();
    let mut text = String::from("restaurant\tx\ty\n");
    for (i, (x, y)) in restaurants.iter().enumerate() {
        text.push_str(&format!("r{}\t{x:.0}\t{y:.0}\n", i + 1));
    }
    std::fs::write(dir.join("restaurants.txt"), text).unwrap();

    let mut placed: Vec<u32> = (0..268)
        .map(|_| {
            let peak = if rng.random_bool(0.55) { 300.0 } else { 600.0 };
            let t =
                peak + 90.0 * (rng.random::<f64>() + rng.random::<f64>() + rng.random::<f64>() - 1.5) * 2.0;
            t.clamp(40.0, 800.0) as u32
        })
        .collect();
    placed.sort_unstable();
    let mut text = String::from("order\tx\ty\tplacement_time\trestaurant\tready_time\n");
    for (i, t) in placed.iter().enumerate() {
        // Popular restaurants: a squared uniform skews towards low ids.
        let r = (rng.random::<f64>().powi(2) * restaurants.len() as f64) as usize;
        let (rx, ry) = restaurants[r];
        let (dx, dy) = (
            rng.random_range(-3000.0..3000.0),
            rng.random_range(-3000.0..3000.0),
        );
        let (x, y) = ((rx + dx).clamp(0.0, SIDE_M), (ry + dy).clamp(0.0, SIDE_M));
        let ready = t + rng.random_range(10..=25);
        text.push_str(&format!("o{}\t{x:.0}\t{y:.0}\t{t}\tr{}\t{ready}\n", i + 1, r + 1));
    }
    std::fs::write(dir.join("orders.txt"), text).unwrap();

    let mut text = String::from("courier\tx\ty\ton_time\toff_time\n");
    for i in 0..53 {
        let on = [0, 150, 180, 240, 270, 300, 450, 510, 540, 570][i % 10];
        let len = [60, 120, 180, 180][i % 4];
        let (x, y) = (rng.random_range(0.0..SIDE_M), rng.random_range(0.0..SIDE_M));
        text.push_str(&format!("c{}\t{x:.0}\t{y:.0}\t{on}\t{}\n", i + 1, on + len));
    }
    std::fs::write(dir.join("couriers.txt"), text).unwrap();
    std::fs::write(dir.join("instance_parameters.txt"), PARAMS).unwrap();
}

fn rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

fn num(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| !v.is_nan())
}

struct Instance {
    /// order -> (placement, restaurant, ready)
    orders: HashMap<String, (f64, String, f64)>,
    /// courier -> (on, off)
    couriers: HashMap<String, (f64, f64)>,
    places: HashMap<String, (f64, f64)>,
    meters_per_min: f64,
    pickup_service: f64,
    dropoff_service: f64,
    pay_order: f64,
    pay_hour: f64,
}

fn instance(dir: &Path) -> Instance {
    let mut places = HashMap::new();
    let mut orders = HashMap::new();
    for r in rows(&dir.join("orders.txt")) {
        places.insert(r[0].clone(), (num(&r[1]).unwrap(), num(&r[2]).unwrap()));
        orders.insert(
            r[0].clone(),
            (num(&r[3]).unwrap(), r[4].clone(), num(&r[5]).unwrap()),
        );
    }
    for r in rows(&dir.join("restaurants.txt")) {
        places.insert(r[0].clone(), (num(&r[1]).unwrap(), num(&r[2]).unwrap()));
    }
    let mut couriers = HashMap::new();
    for r in rows(&dir.join("couriers.txt")) {
        places.insert(r[0].clone(), (num(&r[1]).unwrap(), num(&r[2]).unwrap()));
        couriers.insert(r[0].clone(), (num(&r[3]).unwrap(), num(&r[4]).unwrap()));
    }
    let p: Vec<f64> = rows(&dir.join("instance_parameters.txt"))[0]
        .iter()
        .map(|v| num(v).unwrap())
        .collect();
    Instance {
        orders,
        couriers,
        places,
        meters_per_min: p[0],
        pickup_service: p[1],
        dropoff_service: p[2],
        pay_order: p[5],
        pay_hour: p[6],
    }
}

/// Where a courier is: stays at `places[i]` from `times[i]` until the next
/// departure (`times[i + 1]`); odd entries are "on the road".
struct Timeline {
    times: Vec<f64>,
    places: Vec<String>,
}

impl Timeline {
    fn at(&self, t: f64) -> Option<(&str, f64, Option<f64>)> {
        let i = self.times.partition_point(|&x| x <= t).checked_sub(1)?;
        Some((&self.places[i], self.times[i], self.times.get(i + 1).copied()))
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Linear interpolation between closest ranks, as numpy's default.
fn percentile(v: &[f64], q: f64) -> Option<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let k = (s.len().checked_sub(1)? as f64) * q;
    let (f, c) = (k.floor() as usize, k.ceil() as usize);
    Some(s[f] + (s[c] - s[f]) * (k - f as f64))
}

/// Checks the three solution files in `out` against the instance in
/// `dir` and computes the benchmark's metrics: `{feasible, errors,
/// delivered, ctd_mean, ctd_p90, rtp_mean, utilization_mean,
/// cost_per_order}`.
pub fn check(dir: &Path, out: &Path) -> Value {
    let inst = instance(dir);
    let mut errors: Vec<String> = Vec::new();
    let travel = |a: &str, b: &str| {
        let ((x1, y1), (x2, y2)) = (inst.places[a], inst.places[b]);
        ((x2 - x1).hypot(y2 - y1) / inst.meters_per_min).ceil()
    };
    // Bundles: (assigned at, pickup at, courier, orders in drop-off order).
    let mut assigned: HashMap<String, (String, f64)> = HashMap::new();
    let mut bundles = Vec::new();
    for r in rows(&out.join("solution_info_assignments.txt")) {
        let (at, pickup, courier) = (num(&r[0]).unwrap(), num(&r[1]).unwrap(), r[2].clone());
        let Some(&(_, off)) = inst.couriers.get(&courier) else {
            errors.push(format!("unknown courier {courier}"));
            continue;
        };
        let orders = r[3..].to_vec();
        let restaurant = inst.orders.get(&orders[0]).map(|o| o.1.clone());
        for o in &orders {
            let Some((placed, rest, ready)) = inst.orders.get(o) else {
                errors.push(format!("unknown order {o}"));
                continue;
            };
            if assigned.insert(o.clone(), (courier.clone(), pickup)).is_some() {
                errors.push(format!("order {o} in two bundles"));
            }
            if at < *placed || pickup < *ready || Some(rest) != restaurant.as_ref() {
                errors.push(format!(
                    "order {o}: assigned before placed, picked before ready, or mixed"
                ));
            }
        }
        if pickup > off || pickup < at {
            errors.push(format!(
                "bundle {orders:?}: pickup {pickup} after shift or before assignment"
            ));
        }
        bundles.push((pickup, courier, orders, restaurant.unwrap_or_default()));
    }
    let mut dropped: HashMap<String, (Option<f64>, Option<f64>, String)> = HashMap::new();
    for r in rows(&out.join("solution_info_orders.txt")) {
        dropped.insert(r[0].clone(), (num(&r[3]), num(&r[4]), r[5].clone()));
    }
    let mut timelines: HashMap<String, Timeline> = HashMap::new();
    let mut driving: HashMap<String, f64> = HashMap::new();
    for r in rows(&out.join("solution_info_couriers.txt")) {
        let (c, dep, dst) = (r[0].clone(), num(&r[1]).unwrap(), r[3].clone());
        let on = inst.couriers[&c].0;
        let line = timelines.entry(c.clone()).or_insert_with(|| Timeline {
            times: vec![on],
            places: vec![c.clone()],
        });
        let (here, since) = (line.places.last().unwrap().clone(), *line.times.last().unwrap());
        let from = if r[2] == "0" { c.clone() } else { r[2].clone() };
        if from != here || dep < since || !inst.places.contains_key(&dst) {
            errors.push(format!(
                "courier {c}: departs {from} at {dep} while at {here} since {since}"
            ));
            continue;
        }
        let d = travel(&from, &dst);
        line.times.extend([dep, dep + d]);
        line.places.extend([String::new(), dst]);
        *driving.entry(c).or_default() += d;
    }
    let (half_pick, half_drop) = (inst.pickup_service / 2.0, inst.dropoff_service / 2.0);
    let stay_ok = |c: &str, place: &str, t: f64, half: f64| match timelines.get(c).and_then(|l| l.at(t)) {
        Some((p, since, leave)) => p == place && t >= since + half && leave.is_none_or(|l| l >= t + half),
        None => false,
    };
    for (pickup, courier, orders, rest) in &bundles {
        if !stay_ok(courier, rest, *pickup, half_pick) {
            errors.push(format!("courier {courier} not at {rest} around pickup {pickup}"));
        }
        let mut previous: Option<f64> = None;
        for o in orders {
            let Some((p, Some(drop), c)) = dropped.get(o) else {
                errors.push(format!("assigned order {o} has no drop-off"));
                continue;
            };
            let pickup_differs = p.is_some_and(|p| (p - pickup).abs() > 1e-9);
            if c != courier || pickup_differs || *drop < *pickup {
                errors.push(format!("order {o}: courier, pickup or drop-off time disagree"));
            }
            if previous.is_some_and(|prev| *drop < prev + inst.dropoff_service) {
                errors.push(format!("order {o} dropped too soon after the previous"));
            }
            previous = Some(*drop);
            if !stay_ok(courier, o, *drop, half_drop) {
                errors.push(format!("courier {courier} not at customer {o} around {drop}"));
            }
        }
    }
    for (o, (_, drop, _)) in &dropped {
        if drop.is_some() && !assigned.contains_key(o) {
            errors.push(format!("order {o} delivered without an assignment"));
        }
    }
    let (mut ctd, mut rtp) = (Vec::new(), Vec::new());
    let mut per_courier: HashMap<&str, f64> = HashMap::new();
    for (o, (placed, _, ready)) in &inst.orders {
        if let (Some((c, pickup)), Some((_, Some(drop), _))) = (assigned.get(o), dropped.get(o)) {
            ctd.push(drop - placed);
            rtp.push(pickup - ready);
            *per_courier.entry(c).or_default() += 1.0;
        }
    }
    let mut bundles_of: HashMap<&str, f64> = HashMap::new();
    for (_, c, _, _) in &bundles {
        *bundles_of.entry(c).or_default() += 1.0;
    }
    let (mut pay, mut utilization) = (0.0, Vec::new());
    for (c, (on, off)) in &inst.couriers {
        let shift = off - on;
        let delivered = per_courier.get(c.as_str()).copied().unwrap_or(0.0);
        pay += (delivered * inst.pay_order).max(shift * inst.pay_hour / 60.0);
        let busy = driving.get(c).copied().unwrap_or(0.0)
            + bundles_of.get(c.as_str()).copied().unwrap_or(0.0) * inst.pickup_service
            + delivered * inst.dropoff_service;
        utilization.push(if shift > 0.0 { busy / shift } else { 0.0 });
    }
    json!({
        "feasible": errors.is_empty(),
        "errors": errors.iter().take(30).collect::<Vec<_>>(),
        "delivered": ctd.len(),
        "ctd_mean": mean(&ctd),
        "ctd_p90": percentile(&ctd, 0.9),
        "rtp_mean": mean(&rtp),
        "utilization_mean": mean(&utilization),
        "cost_per_order": (!ctd.is_empty()).then(|| pay / ctd.len() as f64),
    })
}
