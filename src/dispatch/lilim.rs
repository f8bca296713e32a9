//! Reader for Li & Lim PDPTW instances (the standard benchmark).
//!
//! Format: first line `vehicles capacity speed`; then per node
//! `id x y demand earliest latest service pickup_id delivery_id`; node 0 is
//! the depot. Distances are unrounded Euclidean and travel time equals
//! distance. Stop `i` of the problem is node `i` of the file, so routes
//! print as the file's task ids.

use super::DispatchError;
use super::problem::{NO_ORDER, Order, Problem, Rider, Stop};

/// One parsed node line.
#[derive(Debug, Clone, Copy)]
struct Node {
    x: f64,
    y: f64,
    demand: i32,
    earliest: f64,
    latest: f64,
    service: f64,
    pickup: usize,
    delivery: usize,
    /// Line of the file, for error messages.
    line: usize,
}

/// Parses instance text; errors name the line.
pub fn parse(text: &str) -> Result<Problem, DispatchError> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (first_no, first) = lines.next().ok_or(DispatchError::Parse {
        line: 1,
        reason: "empty file".into(),
    })?;
    let head = numbers(first, first_no + 1, 3)?;
    let (vehicles, capacity) = (head[0] as usize, head[1] as i32);
    if head[0] < 1.0 || head[0].fract() != 0.0 || head[1] < 0.0 || head[1].fract() != 0.0 {
        return Err(DispatchError::Parse {
            line: first_no + 1,
            reason: "vehicles and capacity must be whole numbers >= 0".into(),
        });
    }
    let mut nodes: Vec<Node> = Vec::new();
    for (no, line) in lines {
        let v = numbers(line, no + 1, 9)?;
        if v[0] as usize != nodes.len() {
            return Err(DispatchError::Parse {
                line: no + 1,
                reason: format!("expected node id {}, found {}", nodes.len(), v[0]),
            });
        }
        nodes.push(Node {
            x: v[1],
            y: v[2],
            demand: v[3] as i32,
            earliest: v[4],
            latest: v[5],
            service: v[6],
            pickup: v[7] as usize,
            delivery: v[8] as usize,
            line: no + 1,
        });
    }
    build(&nodes, vehicles, capacity)
}

fn numbers(line: &str, line_no: usize, expected: usize) -> Result<Vec<f64>, DispatchError> {
    let v: Vec<f64> = line
        .split_whitespace()
        .map(|w| w.parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect::<Option<_>>()
        .ok_or_else(|| DispatchError::Parse {
            line: line_no,
            reason: format!("not a number in {line:?}"),
        })?;
    if v.len() != expected {
        return Err(DispatchError::Parse {
            line: line_no,
            reason: format!("expected {expected} columns, found {}", v.len()),
        });
    }
    if v.iter().any(|x| *x < 0.0 && v[3] != *x) {
        return Err(DispatchError::Parse {
            line: line_no,
            reason: "negative value outside the demand column".into(),
        });
    }
    Ok(v)
}

fn build(nodes: &[Node], vehicles: usize, capacity: i32) -> Result<Problem, DispatchError> {
    if nodes.len() < 3 {
        return Err(DispatchError::Parse {
            line: 2,
            reason: "need a depot and at least one pickup-delivery pair".into(),
        });
    }
    let n = nodes.len();
    let mut orders = Vec::new();
    for (i, node) in nodes.iter().enumerate().skip(1) {
        let line = node.line;
        if node.demand > 0 {
            let d = node.delivery;
            if d == 0 || d >= n || nodes[d].pickup != i || nodes[d].demand != -node.demand {
                return Err(DispatchError::Parse {
                    line,
                    reason: format!("pickup {i} names delivery {d}, which does not name it back"),
                });
            }
            orders.push(Order {
                pickup: i as u32,
                delivery: d as u32,
                external_id: i as u32,
            });
        } else if node.demand < 0 {
            let p = node.pickup;
            if p == 0 || p >= n || nodes[p].delivery != i {
                return Err(DispatchError::Parse {
                    line,
                    reason: format!("delivery {i} names pickup {p}, which does not name it back"),
                });
            }
        } else {
            return Err(DispatchError::Parse {
                line,
                reason: format!("task {i} has zero demand"),
            });
        }
        if node.earliest > node.latest {
            return Err(DispatchError::Parse {
                line,
                reason: format!("task {i} has earliest > latest"),
            });
        }
    }
    let order_of: Vec<u32> = {
        let mut v = vec![NO_ORDER; n];
        for (k, o) in orders.iter().enumerate() {
            v[o.pickup as usize] = k as u32;
            v[o.delivery as usize] = k as u32;
        }
        v
    };
    let stops = nodes
        .iter()
        .enumerate()
        .map(|(i, nd)| Stop {
            location: i as u32,
            earliest_secs: nd.earliest,
            latest_secs: nd.latest,
            service_secs: nd.service,
            load_change: if i == 0 { 0 } else { nd.demand },
            order: order_of[i],
        })
        .collect();
    let mut dist = vec![0.0; n * n];
    for (a, na) in nodes.iter().enumerate() {
        for (b, nb) in nodes.iter().enumerate() {
            dist[a * n + b] = (na.x - nb.x).hypot(na.y - nb.y);
        }
    }
    let riders = vec![
        Rider {
            start: 0,
            end: 0,
            capacity,
            committed: Vec::new()
        };
        vehicles
    ];
    Problem::new(stops, orders, riders, dist.clone(), dist)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = "2 10 1\n0 0 0 0 0 100 0 0 0\n1 3 4 5 0 50 1 0 2\n2 6 8 -5 0 60 1 1 0\n";

    #[test]
    fn parses_a_tiny_instance() {
        let p = parse(TINY).unwrap();
        assert_eq!(p.riders.len(), 2);
        assert_eq!(p.orders.len(), 1);
        assert_eq!(p.distance(0, 1), 5.0);
        assert_eq!(p.travel(1, 2), 5.0);
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("", 1),
            ("2 10 1\n0 0 0 0 0 100 0 0 0\n1 3 4 5 0 50 1 0\n", 3),
            ("2 10 1\n0 0 0 0 0 100 0 0 0\n1 3 x 5 0 50 1 0 2\n", 3),
            (
                "2 10 1\n0 0 0 0 0 100 0 0 0\n1 3 4 5 0 50 1 0 2\n2 6 8 -5 0 60 1 3 0\n",
                3,
            ),
            (
                "2 10 1\n0 0 0 0 0 100 0 0 0\n1 3 4 5 0 50 1 0 2\n3 6 8 -5 0 60 1 1 0\n",
                4,
            ),
        ];
        for (text, line) in cases {
            match parse(text) {
                Err(DispatchError::Parse { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
