//! The search: construction, fleet minimisation, then distance
//! minimisation by ruin-and-recreate under simulated annealing; several
//! searches run on the rayon pool, adopt the best among them from time to
//! time (with a time budget), and the best one wins.
//!
//! Deterministic for a given seed, thread count and iteration budget; with
//! a time budget the iteration count (and so the result) depends on speed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;

use super::eject::insert_by_ejection;
use super::problem::Problem;
use super::recreate::{Limits, recreate, recreate_regret};
use super::ruin::{RuinShape, related_orders, ruin};
use super::solution::{Objective, Solution};

/// The search's knobs; the defaults are what the benchmarks measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Tuning {
    /// Share of the budget spent removing riders before minimising distance.
    pub fleet_share: f64,
    /// Simulated-annealing temperature at the start and end of the distance
    /// phase, in units of the mean arc length of the first solution.
    pub temperature_start: f64,
    pub temperature_end: f64,
    /// Average number of orders one ruin removes.
    pub removed_mean: f64,
    /// Longest string of stops removed from one route.
    pub string_stops_max: f64,
    /// The same two during distance minimisation, where larger ruins help
    /// long routes escape local optima.
    pub distance_removed_mean: f64,
    pub distance_string_stops_max: f64,
    /// With a time budget, searches adopt the best solution among them this
    /// often (share of the budget) during distance minimisation; 0 keeps
    /// them independent. Measured: 200-task at 10 s 0.85 -> 0.65 % mean gap.
    pub share_every: f64,
    /// Final share of the budget spent improving the best solution found
    /// at a near-zero temperature.
    pub polish_share: f64,
    /// Fleet minimisation also stops after this share of the budget without
    /// removing a rider (0: only `fleet_share` ends it).
    pub fleet_patience: f64,
    /// Share of string removals that keep a block in the middle (SISR's
    /// split string).
    pub split_share: f64,
    /// Share of pickup positions recreate skips at random (SISR's blinks),
    /// during fleet and during distance minimisation.
    pub blink_rate: f64,
    pub distance_blink_rate: f64,
    /// Share of recreates that use regret insertion instead of greedy,
    /// during fleet and during distance minimisation, and its k.
    pub regret_share: f64,
    pub distance_regret_share: f64,
    pub regret_k: f64,
    /// Distance minimisation moves to another basin (see `Search::rebuild`)
    /// after this share of the budget without a gain (0: never).
    pub stall_share: f64,
    /// Average number of related orders a rebuild removes (0: a whole
    /// route, which with a few long routes rarely refills in time).
    pub rebuild_removed: f64,
    /// Neighbours that leave at most this many orders unplaced try to
    /// place them by ejection (see `eject`), in fleet and distance phases.
    pub eject_unplaced_max: f64,
    pub distance_eject_unplaced_max: f64,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            fleet_share: 0.4,
            temperature_start: 50.0,
            temperature_end: 0.5,
            removed_mean: 10.0,
            string_stops_max: 10.0,
            distance_removed_mean: 10.0,
            distance_string_stops_max: 10.0,
            share_every: 0.1,
            polish_share: 0.0,
            fleet_patience: 0.0,
            split_share: 0.5,
            blink_rate: 0.05,
            distance_blink_rate: 0.05,
            regret_share: 0.0,
            distance_regret_share: 0.0,
            regret_k: 3.0,
            stall_share: 0.02,
            rebuild_removed: 30.0,
            eject_unplaced_max: 0.0,
            distance_eject_unplaced_max: 2.0,
        }
    }
}

impl Tuning {
    /// Applies `key=value,key=value` overrides (the CLI's `--tune`).
    pub fn with_overrides(mut self, text: &str) -> Result<Self, String> {
        for (k, v) in super::parse_knobs(text)? {
            let slot = match k {
                "fleet_share" => &mut self.fleet_share,
                "temperature_start" => &mut self.temperature_start,
                "temperature_end" => &mut self.temperature_end,
                "removed_mean" => &mut self.removed_mean,
                "string_stops_max" => &mut self.string_stops_max,
                "distance_removed_mean" => &mut self.distance_removed_mean,
                "distance_string_stops_max" => &mut self.distance_string_stops_max,
                "share_every" => &mut self.share_every,
                "polish_share" => &mut self.polish_share,
                "fleet_patience" => &mut self.fleet_patience,
                "split_share" => &mut self.split_share,
                "blink_rate" => &mut self.blink_rate,
                "distance_blink_rate" => &mut self.distance_blink_rate,
                "regret_share" => &mut self.regret_share,
                "distance_regret_share" => &mut self.distance_regret_share,
                "regret_k" => &mut self.regret_k,
                "stall_share" => &mut self.stall_share,
                "rebuild_removed" => &mut self.rebuild_removed,
                "eject_unplaced_max" => &mut self.eject_unplaced_max,
                "distance_eject_unplaced_max" => &mut self.distance_eject_unplaced_max,
                other => return Err(format!("unknown tuning key {other:?}")),
            };
            *slot = v;
        }
        Ok(self)
    }
}

/// How long and how to search.
#[derive(Debug, Clone, Copy)]
pub struct SearchOptions {
    pub time_limit: Duration,
    /// Optional bound on iterations per search (for reproducible runs).
    pub iterations_max: Option<u64>,
    pub seed: u64,
    /// Independent searches run in parallel (default: one per core).
    pub searches: usize,
    pub tuning: Tuning,
}

/// Figures about a finished search.
#[derive(Debug, Clone, Serialize)]
pub struct SearchStats {
    pub iterations: u64,
    pub fleet_iterations: u64,
    pub elapsed_ms: f64,
    pub best_search: usize,
}

/// Solves `p`; returns the best solution found and statistics.
pub fn solve(p: &Problem, opts: SearchOptions) -> (Solution, SearchStats) {
    let started = Instant::now();
    let related = related_orders(p);
    // Leave a little of the budget for output.
    let deadline = started + opts.time_limit.mul_f64(0.98);
    let shared = Mutex::new(None);
    let runs: Vec<(Solution, u64, u64)> = (0..opts.searches.max(1))
        .into_par_iter()
        .map(|k| {
            let seed = opts
                .seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(k as u64);
            let sharing = (opts.iterations_max.is_none() && opts.tuning.share_every > 0.0).then_some(&shared);
            let mut search = Search::new(p, &related, seed, deadline, opts.iterations_max, opts.tuning);
            search.shared = sharing;
            search.run()
        })
        .collect();
    let mut best = 0;
    for (k, run) in runs.iter().enumerate() {
        if run.0.objective().rank(&runs[best].0.objective()).is_lt() {
            best = k;
        }
    }
    let stats = SearchStats {
        iterations: runs.iter().map(|r| r.1).sum(),
        fleet_iterations: runs.iter().map(|r| r.2).sum(),
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        best_search: best,
    };
    let solution = runs
        .into_iter()
        .nth(best)
        .map(|r| r.0)
        .unwrap_or_else(|| Solution::empty(p));
    (solution, stats)
}

/// One search's state.
struct Search<'a> {
    p: &'a Problem,
    related: &'a [Vec<u32>],
    rng: SmallRng,
    started: Instant,
    deadline: Instant,
    iterations_max: Option<u64>,
    iterations: u64,
    tuning: Tuning,
    /// The best solution among searches, when they share.
    shared: Option<&'a Mutex<Option<Solution>>>,
    /// Whether fleet minimisation is over.
    distance_phase: bool,
    /// Share of the budget at which fleet minimisation ended.
    fleet_end: f64,
    /// A rejected neighbour, kept so the next one reuses its buffers.
    scratch: Solution,
}

impl<'a> Search<'a> {
    fn new(
        p: &'a Problem,
        related: &'a [Vec<u32>],
        seed: u64,
        deadline: Instant,
        iterations_max: Option<u64>,
        tuning: Tuning,
    ) -> Self {
        Self {
            p,
            related,
            rng: SmallRng::seed_from_u64(seed),
            started: Instant::now(),
            deadline,
            iterations_max,
            iterations: 0,
            tuning,
            shared: None,
            distance_phase: false,
            fleet_end: 0.0,
            scratch: Solution {
                routes: Vec::new(),
                unassigned: Vec::new(),
            },
        }
    }

    /// Share of the budget used so far, in [0, 1].
    fn progress(&self) -> f64 {
        let by_iter = self
            .iterations_max
            .map_or(0.0, |m| self.iterations as f64 / m.max(1) as f64);
        let total = self
            .deadline
            .saturating_duration_since(self.started)
            .as_secs_f64()
            .max(1e-9);
        let by_time = self.started.elapsed().as_secs_f64() / total;
        by_iter.max(by_time).min(1.0)
    }

    fn run(mut self) -> (Solution, u64, u64) {
        let mut s = Solution::empty(self.p);
        let all = std::mem::take(&mut s.unassigned);
        // Construction is plain greedy: blinks diversify later rebuilds, but
        // here they only cost riders (lr101 needs more than its fleet).
        recreate(self.p, &mut s, all, Limits::new(usize::MAX, 0.0), &mut self.rng);
        let s = self.minimise_fleet(s);
        let fleet_iterations = self.iterations;
        let s = self.minimise_distance(s);
        (s, self.iterations, fleet_iterations)
    }

    /// Ruin-and-recreate step that keeps at most `vehicles_max` riders busy.
    /// With a `threshold`, the caller accepts only complete neighbours
    /// shorter than it (or with fewer riders), so one that cannot be is
    /// abandoned half-built. Returns the neighbour in `self.scratch`'s
    /// buffers (swapped out).
    fn neighbour(&mut self, s: &Solution, vehicles_max: usize, threshold: Option<f64>) -> Solution {
        let hollow = Solution {
            routes: Vec::new(),
            unassigned: Vec::new(),
        };
        let mut next = std::mem::replace(&mut self.scratch, hollow);
        next.clone_from(s);
        let t = &self.tuning;
        let (mean, string_max) = if self.distance_phase {
            (t.distance_removed_mean, t.distance_string_stops_max)
        } else {
            (t.removed_mean, t.string_stops_max)
        };
        let shape = RuinShape {
            removed_mean: mean,
            string_stops_max: string_max,
            split_share: t.split_share,
        };
        let mut removed = ruin(self.p, &mut next, self.related, shape, &mut self.rng);
        removed.append(&mut next.unassigned);
        let (blink_rate, regret_share) = if self.distance_phase {
            (t.distance_blink_rate, t.distance_regret_share)
        } else {
            (t.blink_rate, t.regret_share)
        };
        let eject_max = if self.distance_phase {
            t.distance_eject_unplaced_max
        } else {
            t.eject_unplaced_max
        };
        let mut limits = Limits::new(vehicles_max, blink_rate);
        if let Some(threshold) = threshold {
            limits.unplaced_max = eject_max as usize;
            // A ruin that emptied a route may win on riders, however long.
            if next.vehicles() >= vehicles_max {
                limits.distance_max = threshold;
            }
        }
        let regret = regret_share > 0.0 && self.rng.random::<f64>() < regret_share;
        let (p, rng, k) = (self.p, &mut self.rng, t.regret_k.max(2.0) as usize);
        let finished = if regret {
            recreate_regret(p, &mut next, removed, limits, k, rng)
        } else {
            recreate(p, &mut next, removed, limits, rng)
        };
        if finished && !next.unassigned.is_empty() && next.unassigned.len() as f64 <= eject_max {
            for o in next.unassigned.clone() {
                let room = limits.distance_max - next.distance();
                insert_by_ejection(p, &mut next, o, &self.related[o as usize], room);
            }
        }
        self.iterations += 1;
        next
    }

    /// SISR fleet minimisation: drop a route, then accept changes that
    /// leave fewer (or less often left out) orders unplaced.
    fn minimise_fleet(&mut self, start: Solution) -> Solution {
        let mut best = start.clone();
        let mut s = start;
        let mut absences = vec![0u64; self.p.orders.len()];
        let patience = self.tuning.fleet_patience;
        let mut last_gain = self.progress();
        let mut vehicles_max = s.vehicles();
        loop {
            let progress = self.progress();
            if progress >= self.tuning.fleet_share || (patience > 0.0 && progress - last_gain > patience) {
                break;
            }
            if s.unassigned.is_empty() {
                if s.objective().rank(&best.objective()).is_lt() {
                    if s.vehicles() < best.vehicles() {
                        last_gain = progress;
                    }
                    best = s.clone();
                }
                if s.vehicles() <= 1 || !self.drop_route(&mut s) {
                    break;
                }
                // Hold this fleet: a ruin that empties a route may refill it.
                vehicles_max = s.vehicles();
            }
            self.fleet_step(&mut s, vehicles_max, &mut absences);
        }
        if s.objective().rank(&best.objective()).is_lt() {
            best = s;
        }
        self.fleet_end = self.progress().min(self.tuning.fleet_share);
        best
    }

    /// One step of SISR's fleet minimisation: a neighbour replaces `s` when
    /// it leaves fewer orders unplaced, or orders that were left out less
    /// often (`absences` counts how often each was).
    fn fleet_step(&mut self, s: &mut Solution, vehicles_max: usize, absences: &mut [u64]) {
        let absent = |sol: &Solution| sol.unassigned.iter().map(|&o| absences[o as usize]).sum::<u64>();
        let next = self.neighbour(s, vehicles_max, None);
        let better = next.unassigned.len() < s.unassigned.len() || absent(&next) < absent(s);
        for &o in &next.unassigned {
            absences[o as usize] += 1;
        }
        if better {
            self.scratch = std::mem::replace(s, next);
        } else {
            self.scratch = next;
        }
    }

    /// Moves the search to another basin of the same fleet: removes a large
    /// set of related orders from `from` (or a whole route) and refills,
    /// the fleet-minimisation way, until every order is placed again with
    /// at most as many riders, or `until` (share of the budget) passes.
    fn rebuild(&mut self, from: &Solution, until: f64) -> Option<Solution> {
        let vehicles_max = from.vehicles();
        let mut s = from.clone();
        if self.tuning.rebuild_removed > 0.0 {
            let t = &self.tuning;
            let shape = RuinShape {
                removed_mean: t.rebuild_removed,
                string_stops_max: t.distance_string_stops_max,
                split_share: t.split_share,
            };
            let mut removed = ruin(self.p, &mut s, self.related, shape, &mut self.rng);
            s.unassigned.append(&mut removed);
        } else if !self.drop_route(&mut s) {
            return None;
        }
        let mut absences = vec![0u64; self.p.orders.len()];
        while !s.unassigned.is_empty() {
            if self.progress() >= until {
                return None;
            }
            self.fleet_step(&mut s, vehicles_max, &mut absences);
        }
        Some(s)
    }

    /// Empties one route (the smaller of two picked at random).
    fn drop_route(&mut self, s: &mut Solution) -> bool {
        let used: Vec<usize> = (0..s.routes.len())
            .filter(|&r| !s.routes[r].is_empty() && !s.routes[r].has_commitments())
            .collect();
        if used.is_empty() {
            return false;
        }
        let (a, b) = (
            used[self.rng.random_range(0..used.len())],
            used[self.rng.random_range(0..used.len())],
        );
        let r = if s.routes[a].visits().len() <= s.routes[b].visits().len() {
            a
        } else {
            b
        };
        let orders: Vec<u32> = s.routes[r]
            .visits()
            .iter()
            .map(|&st| self.p.stop(st).order)
            .collect();
        s.routes[r].remove_orders(self.p, |_| true);
        for o in orders {
            if !s.unassigned.contains(&o) {
                s.unassigned.push(o);
            }
        }
        true
    }

    /// Simulated annealing on distance, never giving up a rider or an order.
    fn minimise_distance(&mut self, start: Solution) -> Solution {
        self.distance_phase = true;
        let mut best = start.clone();
        let mut s = start;
        let mut current: Objective = s.objective();
        let share = self.fleet_end.min(0.99);
        // Temperatures scale with the mean arc length, so one setting fits
        // instances of any size and unit.
        let arcs = self.p.orders.len() * 2 + current.vehicles.max(1);
        let unit = current.distance / arcs as f64;
        let (t0, t1) = (
            self.tuning.temperature_start * unit,
            self.tuning.temperature_end * unit,
        );
        let mut next_share = share + self.tuning.share_every;
        let polish_from = 1.0 - self.tuning.polish_share.clamp(0.0, 1.0);
        let mut polishing = false;
        let mut last_gain = share;
        loop {
            let progress = self.progress();
            if progress >= 1.0 {
                break;
            }
            if !polishing && progress >= polish_from {
                // Last stretch: back to the best solution, nearly greedy.
                polishing = true;
                s = best.clone();
                current = s.objective();
            }
            if self.shared.is_some() && progress >= next_share {
                next_share += self.tuning.share_every;
                if let Some(better) = self.exchange(&best) {
                    (s, best) = (better.clone(), better);
                    current = s.objective();
                }
            }
            let frac = ((progress - share) / (polish_from - share).max(1e-9)).clamp(0.0, 1.0);
            let temperature = if polishing {
                t1 * 0.01
            } else {
                t0 * (t1 / t0.max(1e-12)).powf(frac)
            };
            if !polishing && self.stalled(progress, last_gain, polish_from) {
                last_gain = progress;
                // From the best: rebuilding from the current solution measured no better.
                if let Some(fresh) = self.rebuild(&best, progress + self.tuning.stall_share) {
                    s = fresh;
                    current = s.objective();
                    if current.rank(&best.objective()).is_lt() {
                        best.clone_from(&s);
                    }
                }
                continue;
            }
            // Drawn first, so the neighbour can be abandoned once it cannot pass.
            let threshold = current.distance - temperature * self.rng.random::<f64>().ln();
            // With orders out, fewer out wins however long: no bound then.
            let bound = (current.unassigned == 0).then_some(threshold);
            let next = self.neighbour(&s, current.vehicles, bound);
            let o = next.objective();
            if (o.unassigned, o.vehicles) > (current.unassigned, current.vehicles) {
                self.scratch = next;
                continue;
            }
            if (o.unassigned, o.vehicles) < (current.unassigned, current.vehicles) || o.distance < threshold {
                self.scratch = std::mem::replace(&mut s, next);
                current = o;
                if current.rank(&best.objective()).is_lt() {
                    if current.distance < best.objective().distance - 1e-6 * unit {
                        last_gain = progress;
                    }
                    best.clone_from(&s);
                }
            } else {
                self.scratch = next;
            }
        }
        best
    }

    /// Whether distance minimisation should leave its basin: no gain for
    /// `stall_share` of the budget, and time left to explore another.
    fn stalled(&self, progress: f64, last_gain: f64, polish_from: f64) -> bool {
        let stall = self.tuning.stall_share;
        stall > 0.0 && progress - last_gain > stall && progress + 2.0 * stall < polish_from
    }

    /// Publishes `mine` if it beats the shared best; returns the shared best
    /// if it beats `mine`.
    fn exchange(&self, mine: &Solution) -> Option<Solution> {
        let mut shared = self.shared?.lock().ok()?;
        match shared.as_ref() {
            Some(theirs) if theirs.objective().rank(&mine.objective()).is_lt() => Some(theirs.clone()),
            _ => {
                *shared = Some(mine.clone());
                None
            }
        }
    }
}
