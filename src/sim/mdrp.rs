//! MDRPLIB: reads an instance folder and writes the three solution files
//! the benchmark's evaluator reads (formats in ../shared/mdrp.md).

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use super::SimError;
use super::world::{Outcome, PlaceLabel};
use crate::base::Secs;
use crate::dispatch::online::ServiceSecs;
use crate::engine::{OrderId, OrderSpec, OrderStatus, RiderId, RiderSpec};
use crate::map::{EuclideanTravel, PlanarPoint};

/// One MDRPLIB instance, with times converted to seconds.
#[derive(Debug, Clone)]
pub struct MdrpInstance {
    pub name: String,
    pub meters_per_minute: f64,
    pub service: ServiceSecs,
    pub target_click_to_door_secs: Secs,
    pub pay_per_order: f64,
    pub pay_per_hour: f64,
    /// Names and positions; an order's `restaurant` indexes this.
    pub restaurants: Vec<(String, PlanarPoint)>,
    pub orders: Vec<(String, OrderSpec<PlanarPoint>)>,
    pub couriers: Vec<(String, RiderSpec<PlanarPoint>)>,
}

/// Rows of one tab-separated file, header skipped, each with its line
/// number, checked to have `columns` fields.
fn rows(dir: &Path, file: &str, columns: usize) -> Result<Vec<(usize, Vec<String>)>, SimError> {
    let path = dir.join(file);
    let text = fs::read_to_string(&path).map_err(|e| SimError::Io {
        path: path.clone(),
        source: e,
    })?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        if fields.len() < columns {
            return Err(SimError::BadLine {
                path: path.clone(),
                line: i + 1,
                reason: format!("expected {columns} columns, found {}", fields.len()),
            });
        }
        out.push((i + 1, fields));
    }
    Ok(out)
}

/// Parses a number of one field; errors name the file, line and column.
fn number(dir: &Path, file: &str, line: usize, field: &str, text: &str) -> Result<f64, SimError> {
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| SimError::BadLine {
            path: dir.join(file),
            line,
            reason: format!("{field}: {text:?} is not a number"),
        })
}

fn minutes_to_secs(m: f64) -> Secs {
    (m * 60.0).round() as Secs
}

impl MdrpInstance {
    /// Reads an instance folder.
    pub fn read(dir: &Path) -> Result<Self, SimError> {
        let name = dir
            .file_name()
            .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
        let params = rows(dir, "instance_parameters.txt", 7)?;
        let (pl, p) = params.first().ok_or_else(|| SimError::BadLine {
            path: dir.join("instance_parameters.txt"),
            line: 2,
            reason: "no parameter row".into(),
        })?;
        let num = |i: usize, field: &str| number(dir, "instance_parameters.txt", *pl, field, &p[i]);
        let meters_per_minute = num(0, "meters_per_minute")?;
        if meters_per_minute <= 0.0 {
            return Err(SimError::BadLine {
                path: dir.join("instance_parameters.txt"),
                line: *pl,
                reason: "meters_per_minute must be positive".into(),
            });
        }
        let service = ServiceSecs::split(
            minutes_to_secs(num(1, "pickup service minutes")?),
            minutes_to_secs(num(2, "dropoff service minutes")?),
        );
        let target = minutes_to_secs(num(3, "target click-to-door")?);
        let (pay_per_order, pay_per_hour) = (num(5, "pay per order")?, num(6, "guaranteed pay per hour")?);

        let mut restaurants = Vec::new();
        let mut index_of = std::collections::HashMap::new();
        for (line, f) in rows(dir, "restaurants.txt", 3)? {
            let n = |i: usize, field: &str| number(dir, "restaurants.txt", line, field, &f[i]);
            index_of.insert(f[0].clone(), restaurants.len() as u32);
            restaurants.push((
                f[0].clone(),
                PlanarPoint {
                    x: n(1, "x")?,
                    y: n(2, "y")?,
                },
            ));
        }
        let mut orders = Vec::new();
        for (line, f) in rows(dir, "orders.txt", 6)? {
            let n = |i: usize, field: &str| number(dir, "orders.txt", line, field, &f[i]);
            let restaurant = *index_of.get(&f[4]).ok_or_else(|| SimError::BadLine {
                path: dir.join("orders.txt"),
                line,
                reason: format!("restaurant: unknown {:?}", f[4]),
            })?;
            let spec = OrderSpec {
                id: OrderId(orders.len() as u64),
                restaurant,
                customer: PlanarPoint {
                    x: n(1, "x")?,
                    y: n(2, "y")?,
                },
                placed_secs: minutes_to_secs(n(3, "placement_time")?),
                ready_secs: minutes_to_secs(n(5, "ready_time")?),
            };
            orders.push((f[0].clone(), spec));
        }
        let mut couriers = Vec::new();
        for (line, f) in rows(dir, "couriers.txt", 5)? {
            let n = |i: usize, field: &str| number(dir, "couriers.txt", line, field, &f[i]);
            let spec = RiderSpec {
                id: RiderId(couriers.len() as u64),
                start: PlanarPoint {
                    x: n(1, "x")?,
                    y: n(2, "y")?,
                },
                on_secs: minutes_to_secs(n(3, "on_time")?),
                off_secs: minutes_to_secs(n(4, "off_time")?),
                vehicle: Default::default(),
                capacity_orders: None,
            };
            couriers.push((f[0].clone(), spec));
        }
        Ok(Self {
            name,
            meters_per_minute,
            service,
            target_click_to_door_secs: target,
            pay_per_order,
            pay_per_hour,
            restaurants,
            orders,
            couriers,
        })
    }

    /// The instance's travel rule.
    pub fn travel(&self) -> EuclideanTravel {
        EuclideanTravel::mdrp(self.meters_per_minute)
    }

    /// Writes the three solution files into `dir` (created if missing).
    pub fn write_solution(&self, outcome: &Outcome, dir: &Path) -> Result<(), SimError> {
        fs::create_dir_all(dir).map_err(|e| SimError::Io {
            path: dir.to_path_buf(),
            source: e,
        })?;
        let write = |file: &str, text: String| {
            let path = dir.join(file);
            fs::write(&path, text).map_err(|e| SimError::Io { path, source: e })
        };
        write("solution_info_assignments.txt", self.assignments_text(outcome))?;
        write("solution_info_orders.txt", self.orders_text(outcome))?;
        write("solution_info_couriers.txt", self.couriers_text(outcome))
    }

    fn order_name(&self, o: OrderId) -> &str {
        self.orders.get(o.0 as usize).map_or("?", |(n, _)| n)
    }

    fn courier_name(&self, r: RiderId) -> &str {
        self.couriers.get(r.0 as usize).map_or("?", |(n, _)| n)
    }

    fn assignments_text(&self, outcome: &Outcome) -> String {
        let mut s = String::from("assignment_time pickup_time courier orders\n");
        for a in &outcome.assignments {
            let _ = write!(
                s,
                "{} {} {}",
                minutes(a.decided_secs),
                minutes(a.pickup_secs),
                self.courier_name(a.rider)
            );
            for &o in &a.orders {
                let _ = write!(s, " {}", self.order_name(o));
            }
            s.push('\n');
        }
        s
    }

    fn orders_text(&self, outcome: &Outcome) -> String {
        let mut s = String::from("order placement_time ready_time pickup_time dropoff_time courier\n");
        for (name, spec) in &self.orders {
            let (placed, ready) = (minutes(spec.placed_secs), minutes(spec.ready_secs));
            match outcome.status.get(&spec.id) {
                Some(OrderStatus::Delivered {
                    rider,
                    pickup_secs,
                    dropoff_secs,
                }) => {
                    let _ = writeln!(
                        s,
                        "{name} {placed} {ready} {} {} {}",
                        minutes(*pickup_secs),
                        minutes(*dropoff_secs),
                        self.courier_name(*rider)
                    );
                }
                _ => {
                    let _ = writeln!(s, "{name} {placed} {ready} nan nan nan");
                }
            }
        }
        s
    }

    fn couriers_text(&self, outcome: &Outcome) -> String {
        let mut s = String::from("courier departure_time origin destination\n");
        for m in &outcome.moves {
            let label = |p: PlaceLabel| match p {
                PlaceLabel::Start => "0".to_owned(),
                PlaceLabel::Restaurant(r) => self
                    .restaurants
                    .get(r as usize)
                    .map_or("?".into(), |(n, _)| n.clone()),
                PlaceLabel::Customer(o) => self.order_name(o).to_owned(),
            };
            let _ = writeln!(
                s,
                "{} {} {} {}",
                self.courier_name(m.rider),
                minutes(m.depart_secs),
                label(m.origin),
                label(m.destination)
            );
        }
        s
    }
}

/// Seconds as minutes, exactly: whole numbers stay whole.
pub fn minutes(secs: Secs) -> String {
    if secs % 60 == 0 {
        (secs / 60).to_string()
    } else {
        format!("{:.4}", secs as f64 / 60.0)
    }
}
