//! The JSON problem format the engine speaks to the solver (documented in
//! docs/problem-format.md): riders with positions and committed stops,
//! orders with pickup and drop-off points and time windows.
//!
//! Coordinates become a travel matrix through the [`TravelTime`] trait, so
//! the same file works on a road network or in the plane.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::DispatchError;
use super::problem::{NO_ORDER, Order, Problem, Rider, Stop};
use super::solution::Solution;
use crate::map::{TravelMatrix, TravelTime};

/// "No deadline": far beyond any shift, finite so arithmetic stays exact.
const OPEN_SECS: f64 = 1e12;

/// A problem as written in JSON.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemSpec {
    pub travel: TravelSpec,
    /// Planning time: no rider leaves before it.
    #[serde(default)]
    pub now_secs: f64,
    pub riders: Vec<RiderSpec>,
    pub orders: Vec<OrderSpec>,
}

/// How travel times are computed.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum TravelSpec {
    /// Straight lines in metres at a fixed speed; points are `{x, y}`.
    Euclidean {
        meters_per_minute: f64,
        /// Round every trip up to whole minutes (the MDRPLIB rule).
        #[serde(default)]
        ceil_minutes: bool,
    },
    /// The road network; points are `{lat, lng}`. Map and profile default
    /// to the config's.
    Road {
        #[serde(default)]
        map: Option<PathBuf>,
        #[serde(default)]
        profile: Option<String>,
        #[serde(default)]
        depart_secs_of_day: u32,
    },
}

/// A position: planar metres or WGS84 degrees, depending on the travel mode.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Point {
    Planar { x: f64, y: f64 },
    Geo { lat: f64, lng: f64 },
}

/// A rider as written in JSON.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RiderSpec {
    pub id: String,
    pub position: Point,
    pub capacity: i32,
    /// The route must end by this time (default: open).
    #[serde(default)]
    pub available_until_secs: Option<f64>,
    /// Where the route must end (default: wherever the last drop-off is).
    #[serde(default)]
    pub return_to: Option<Point>,
    /// Stops already promised to this rider, in visiting order.
    #[serde(default)]
    pub committed: Vec<CommittedStop>,
}

/// Which stop of an order.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    Pickup,
    Delivery,
}

/// One committed stop.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommittedStop {
    pub order: String,
    pub stop: StopKind,
}

/// An order as written in JSON.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrderSpec {
    pub id: String,
    pub pickup: Point,
    pub delivery: Point,
    #[serde(default = "one")]
    pub size: i32,
    /// Food ready: pickup not before this.
    #[serde(default)]
    pub ready_secs: f64,
    /// Pickup must start by this (default: open).
    #[serde(default)]
    pub pickup_by_secs: Option<f64>,
    /// Promised delivery time; a hard deadline for now.
    #[serde(default)]
    pub deliver_by_secs: Option<f64>,
    #[serde(default)]
    pub pickup_service_secs: f64,
    #[serde(default)]
    pub delivery_service_secs: f64,
    /// Id of the rider already carrying it (its pickup is done).
    #[serde(default)]
    pub on_board: Option<String>,
}

fn one() -> i32 {
    1
}

/// Parses JSON text; syntax errors name the line.
pub fn parse_spec(text: &str) -> Result<ProblemSpec, DispatchError> {
    serde_json::from_str(text).map_err(|e| DispatchError::Parse {
        line: e.line(),
        reason: e.to_string(),
    })
}

fn invalid(m: String) -> DispatchError {
    DispatchError::InvalidProblem(m)
}

/// Everything placed in the matrix, in the order of `places`.
struct Layout {
    points: Vec<(Point, String)>,
}

impl Layout {
    fn add(&mut self, p: Point, field: String) -> u32 {
        self.points.push((p, field));
        (self.points.len() - 1) as u32
    }
}

/// Builds a solver [`Problem`] from a spec. `place` turns a point into the
/// travel source's place, naming the field on error.
pub fn build_problem<T: TravelTime>(
    spec: &ProblemSpec,
    travel: &T,
    place: impl Fn(&Point) -> Result<T::Place, String>,
) -> Result<Problem, DispatchError> {
    let rider_index: HashMap<&str, usize> = spec
        .riders
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let order_index: HashMap<&str, usize> = spec
        .orders
        .iter()
        .enumerate()
        .map(|(i, o)| (o.id.as_str(), i))
        .collect();
    if rider_index.len() != spec.riders.len() || order_index.len() != spec.orders.len() {
        return Err(invalid("rider and order ids must be unique".into()));
    }
    let mut layout = Layout { points: Vec::new() };
    let mut stops: Vec<Stop> = Vec::new();
    let mut orders: Vec<Order> = Vec::new();
    let now = spec.now_secs;
    let stop = |location, earliest_secs, latest_secs: Option<f64>, service_secs, load_change, order| Stop {
        location,
        earliest_secs,
        latest_secs: latest_secs.unwrap_or(OPEN_SECS),
        service_secs,
        load_change,
        order,
    };
    for (k, o) in spec.orders.iter().enumerate() {
        let f = format!("orders[{k}]");
        if o.size < 0 || o.ready_secs.is_nan() {
            return Err(invalid(format!("{f}: size must be >= 0 and times numbers")));
        }
        let pickup_at = match &o.on_board {
            None => layout.add(o.pickup, format!("{f}.pickup")),
            Some(r) => {
                let ri = *rider_index
                    .get(r.as_str())
                    .ok_or_else(|| invalid(format!("{f}.on_board: unknown rider {r:?}")))?;
                layout.add(spec.riders[ri].position, format!("riders[{ri}].position"))
            }
        };
        let (ready, by) = if o.on_board.is_some() {
            (now, None)
        } else {
            (o.ready_secs, o.pickup_by_secs)
        };
        let service = if o.on_board.is_some() {
            0.0
        } else {
            o.pickup_service_secs
        };
        stops.push(stop(pickup_at, ready, by, service, o.size, k as u32));
        let drop_at = layout.add(o.delivery, format!("{f}.delivery"));
        stops.push(stop(
            drop_at,
            0.0,
            o.deliver_by_secs,
            o.delivery_service_secs,
            -o.size,
            k as u32,
        ));
        orders.push(Order {
            pickup: (2 * k) as u32,
            delivery: (2 * k + 1) as u32,
            external_id: k as u32,
        });
    }
    let anywhere = u32::MAX; // patched to the extra "anywhere" location below
    let mut riders = Vec::new();
    for (i, r) in spec.riders.iter().enumerate() {
        let f = format!("riders[{i}]");
        let start_at = layout.add(r.position, format!("{f}.position"));
        stops.push(stop(start_at, now, r.available_until_secs, 0.0, 0, NO_ORDER));
        let end_at = match r.return_to {
            Some(p) => layout.add(p, format!("{f}.return_to")),
            None => anywhere,
        };
        stops.push(stop(end_at, 0.0, r.available_until_secs, 0.0, 0, NO_ORDER));
        let mut committed = Vec::new();
        for (k, o) in spec.orders.iter().enumerate() {
            if o.on_board.as_deref() == Some(r.id.as_str()) {
                committed.push(orders[k].pickup);
            }
        }
        for (c, cs) in r.committed.iter().enumerate() {
            let k = *order_index
                .get(cs.order.as_str())
                .ok_or_else(|| invalid(format!("{f}.committed[{c}].order: unknown order {:?}", cs.order)))?;
            committed.push(if cs.stop == StopKind::Pickup {
                orders[k].pickup
            } else {
                orders[k].delivery
            });
        }
        for (k, o) in spec.orders.iter().enumerate() {
            let on_board_here = o.on_board.as_deref() == Some(r.id.as_str());
            if on_board_here && !committed.contains(&orders[k].delivery) {
                committed.push(orders[k].delivery); // the rider must drop what it carries
            }
        }
        let n = stops.len() as u32;
        riders.push(Rider {
            start: n - 2,
            end: n - 1,
            capacity: r.capacity,
            committed,
        });
    }
    let locations = layout.points.len();
    for s in &mut stops {
        if s.location == anywhere {
            s.location = locations as u32;
        }
    }
    let places: Vec<T::Place> = layout
        .points
        .iter()
        .map(|(p, field)| place(p).map_err(|e| invalid(format!("{field}: {e}"))))
        .collect::<Result<_, _>>()?;
    let depart = match &spec.travel {
        TravelSpec::Road {
            depart_secs_of_day, ..
        } => *depart_secs_of_day,
        TravelSpec::Euclidean { .. } => 0,
    };
    let m = travel
        .matrix(&places, &places, depart)
        .map_err(|e| invalid(e.to_string()))?;
    let (travel_secs, distance_meters) = with_anywhere(&m);
    Problem::new(stops, orders, riders, travel_secs, distance_meters)
}

/// The matrix plus one extra "anywhere" location at zero cost from and to
/// everything, where open-ended routes end.
fn with_anywhere(m: &TravelMatrix) -> (Vec<f64>, Vec<f64>) {
    let n = m.rows + 1;
    let (mut secs, mut meters) = (vec![0.0; n * n], vec![0.0; n * n]);
    for i in 0..m.rows {
        for j in 0..m.cols {
            let leg = m.leg(i, j);
            secs[i * n + j] = leg.duration_ms as f64 / 1000.0;
            meters[i * n + j] = leg.meters as f64;
        }
    }
    (secs, meters)
}

/// One stop of a solved route, for output.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStop {
    pub order: String,
    pub kind: StopKind,
    /// When service starts there.
    pub start_secs: f64,
}

/// A rider's planned route, for output.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedRoute {
    pub rider: String,
    pub stops: Vec<PlannedStop>,
    pub distance_meters: f64,
}

/// Solver output in the spec's own ids.
pub fn planned_routes(spec: &ProblemSpec, p: &Problem, sol: &Solution) -> (Vec<PlannedRoute>, Vec<String>) {
    let routes = sol
        .routes
        .iter()
        .filter(|r| !r.is_empty())
        .map(|r| PlannedRoute {
            rider: spec.riders[r.rider as usize].id.clone(),
            distance_meters: r.distance(),
            stops: r
                .visits()
                .iter()
                .enumerate()
                .map(|(k, &s)| {
                    let o = p.stop(s).order as usize;
                    let kind = if p.orders[o].pickup == s {
                        StopKind::Pickup
                    } else {
                        StopKind::Delivery
                    };
                    PlannedStop {
                        order: spec.orders[o].id.clone(),
                        kind,
                        start_secs: r.start_secs()[k + 1],
                    }
                })
                .collect(),
        })
        .collect();
    let unassigned = sol
        .unassigned
        .iter()
        .map(|&o| spec.orders[o as usize].id.clone())
        .collect();
    (routes, unassigned)
}
