//! The tests' own Li & Lim checker, written from the benchmark's
//! definition and sharing no code with `waimai::dispatch`: Euclidean,
//! unrounded distances; travel time = distance; service starts at
//! max(arrival, earliest); every task once, each pickup before its
//! delivery on one route, load within [0, capacity], back at the depot
//! before it closes.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Value, json};

/// (x, y, demand, earliest, latest, service, delivery of a pickup or 0)
type Task = (f64, f64, f64, f64, f64, f64, usize);

fn tasks(text: &str) -> (f64, HashMap<usize, Task>) {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let head: Vec<f64> = lines
        .next()
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let mut tasks = HashMap::new();
    for line in lines {
        let v: Vec<f64> = line.split_whitespace().map(|v| v.parse().unwrap()).collect();
        tasks.insert(v[0] as usize, (v[1], v[2], v[3], v[4], v[5], v[6], v[8] as usize));
    }
    (head[1], tasks)
}

/// `{feasible, errors, vehicles, distance}` of `routes` (task ids in
/// visiting order, depot excluded) on the instance at `path`.
pub fn check(path: &Path, routes: &[Vec<u32>]) -> Value {
    let (capacity, t) = tasks(&std::fs::read_to_string(path).unwrap());
    let dist = |a: usize, b: usize| (t[&a].0 - t[&b].0).hypot(t[&a].1 - t[&b].1);
    let mut errors = Vec::new();
    let mut seen: HashMap<usize, usize> = HashMap::new();
    let mut total = 0.0;
    for (ri, route) in routes.iter().enumerate().filter(|(_, r)| !r.is_empty()) {
        let (mut time, mut load, mut prev) = (0.0, 0.0, 0usize);
        let mut position = HashMap::new();
        for (k, &task) in route.iter().enumerate() {
            let i = task as usize;
            let Some(&(_, _, demand, earliest, latest, service, _)) = t.get(&i).filter(|_| i != 0) else {
                errors.push(format!("route {ri}: unknown task {i}"));
                break;
            };
            if seen.insert(i, ri).is_some() {
                errors.push(format!("task {i} visited twice"));
            }
            position.insert(i, k);
            let arrive = time + dist(prev, i);
            total += dist(prev, i);
            if arrive > latest + 1e-6 {
                errors.push(format!(
                    "route {ri}: task {i} reached at {arrive:.3} after {latest}"
                ));
            }
            time = arrive.max(earliest) + service;
            load += demand;
            if !(-1e-9..=capacity + 1e-9).contains(&load) {
                errors.push(format!("route {ri}: load {load} at task {i}"));
            }
            prev = i;
        }
        total += dist(prev, 0);
        if time + dist(prev, 0) > t[&0].4 + 1e-6 {
            errors.push(format!("route {ri}: back at the depot too late"));
        }
        for &task in route {
            let delivery = t.get(&(task as usize)).map_or(0, |x| x.6);
            if delivery > 0
                && position
                    .get(&delivery)
                    .is_none_or(|&d| d < position[&(task as usize)])
            {
                errors.push(format!(
                    "route {ri}: delivery {delivery} of {task} missing or before it"
                ));
            }
        }
    }
    let missing = t.keys().filter(|&&i| i != 0 && !seen.contains_key(&i)).count();
    if missing > 0 {
        errors.push(format!("{missing} tasks never visited"));
    }
    json!({
        "feasible": errors.is_empty(),
        "errors": errors.iter().take(20).collect::<Vec<_>>(),
        "vehicles": routes.iter().filter(|r| !r.is_empty()).count(),
        "distance": total,
    })
}
