//! A noisy world (`waimai simulate --world noisy`): riders slower or
//! faster than the model, legs that take longer (now and then much
//! longer), kitchens late or early against the ready time they announced.
//! The engine plans on the model as it would in a city; only the world
//! knows the truth, so what an ETA misses can be measured.
//!
//! Deterministic per seed: a rider's speed and a restaurant's bias come
//! from the seed and the id alone, and per-leg and per-order draws from
//! one generator consumed in the (deterministic) order of the run.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::base::Secs;
use crate::engine::RiderId;

/// The knobs (`[world]` in config.toml, documented there).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseConfig {
    pub seed: u64,
    /// Spread of a rider's speed: its travel times are the model's times
    /// `exp(N(0, sigma))`, fixed for the run.
    pub rider_speed_sigma: f64,
    /// Spread of one leg's travel time, the same way, drawn per leg.
    pub leg_sigma: f64,
    /// Chance that a leg meets a hold-up (a closed street, a long light),
    /// and the mean of its exponential extra seconds: the heavy tail.
    pub leg_delay_probability: f64,
    pub leg_delay_mean_secs: f64,
    /// A restaurant's bias against its announced ready times, fixed for
    /// the run: `N(mean, sigma)` seconds (positive: late).
    pub kitchen_bias_mean_secs: f64,
    pub kitchen_bias_sigma_secs: f64,
    /// Each order's own deviation on top, `N(0, sigma)` seconds.
    pub kitchen_noise_sigma_secs: f64,
    /// Chance that a rider turns an assignment down (it goes offline, its
    /// orders go back to dispatch, as a live rejection does), and chance
    /// that it does not answer at all (offline after `no_answer_secs`).
    pub reject_probability: f64,
    pub no_answer_probability: f64,
    pub no_answer_secs: i64,
    /// Such a rider is back online this long after it dropped out.
    pub back_online_secs: i64,
}

/// What a rider does with an assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    /// Drops out this many seconds after the assignment.
    DropOut {
        after_secs: i64,
    },
}

/// How soon a rider who turns an assignment down says so.
const REJECT_AFTER_SECS: i64 = 15;

impl NoiseConfig {
    /// Why the knobs cannot describe a world, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        let spreads = [
            self.rider_speed_sigma,
            self.leg_sigma,
            self.leg_delay_mean_secs,
            self.kitchen_bias_sigma_secs,
            self.kitchen_noise_sigma_secs,
        ];
        if spreads.iter().any(|v| !v.is_finite() || *v < 0.0) || !self.kitchen_bias_mean_secs.is_finite() {
            return Err("world: spreads and means are finite, spreads not negative".into());
        }
        let chances = [
            self.leg_delay_probability,
            self.reject_probability,
            self.no_answer_probability,
        ];
        if chances.iter().any(|p| !(0.0..=1.0).contains(p))
            || self.reject_probability + self.no_answer_probability > 1.0
        {
            return Err(
                "world: leg_delay_probability, reject_probability and no_answer_probability are \
                        chances (0 to 1; the last two add up to at most 1)"
                    .into(),
            );
        }
        if self.no_answer_secs <= 0 || self.back_online_secs <= 0 {
            return Err("world.no_answer_secs and back_online_secs are positive".into());
        }
        Ok(())
    }
}

/// The truth of one noisy run.
pub struct Noise {
    cfg: NoiseConfig,
    draws: StdRng,
    riders: HashMap<RiderId, f64>,
    kitchens: HashMap<u32, f64>,
}

/// Salts keeping a rider's and a restaurant's draws apart.
const RIDER_SALT: u64 = 0x9E37_79B9_7F4A_7C15;
const KITCHEN_SALT: u64 = 0xC2B2_AE3D_27D4_EB4F;

impl Noise {
    pub fn new(cfg: NoiseConfig) -> Self {
        Self {
            cfg,
            draws: StdRng::seed_from_u64(cfg.seed),
            riders: HashMap::new(),
            kitchens: HashMap::new(),
        }
    }

    /// How long a leg the model times at `model_secs` really takes `rider`.
    pub fn travel_secs(&mut self, rider: RiderId, model_secs: Secs) -> Secs {
        if model_secs <= 0 {
            return model_secs.max(0);
        }
        let cfg = self.cfg;
        let speed = *self.riders.entry(rider).or_insert_with(|| {
            (cfg.rider_speed_sigma * normal(&mut keyed(cfg.seed, rider.0, RIDER_SALT))).exp()
        });
        let leg = (cfg.leg_sigma * normal(&mut self.draws)).exp();
        let held_up = self.draws.random::<f64>() < cfg.leg_delay_probability;
        let extra = if held_up {
            -cfg.leg_delay_mean_secs * self.draws.random::<f64>().max(1e-12).ln()
        } else {
            0.0
        };
        (model_secs as f64 * speed * leg + extra).round().max(1.0) as Secs
    }

    /// When an order `restaurant` announced ready at `announced_secs` is
    /// really ready (never before it was placed at `placed_secs`).
    pub fn ready_secs(&mut self, restaurant: u32, placed_secs: Secs, announced_secs: Secs) -> Secs {
        let cfg = self.cfg;
        let bias = *self.kitchens.entry(restaurant).or_insert_with(|| {
            let mut rng = keyed(cfg.seed, u64::from(restaurant), KITCHEN_SALT);
            cfg.kitchen_bias_mean_secs + cfg.kitchen_bias_sigma_secs * normal(&mut rng)
        });
        let own = cfg.kitchen_noise_sigma_secs * normal(&mut self.draws);
        (announced_secs + (bias + own).round() as Secs).max(placed_secs)
    }
}

impl Noise {
    /// Whether a rider takes the assignment it was just given.
    pub fn answer(&mut self) -> Answer {
        let u = self.draws.random::<f64>();
        if u < self.cfg.reject_probability {
            Answer::DropOut {
                after_secs: REJECT_AFTER_SECS,
            }
        } else if u < self.cfg.reject_probability + self.cfg.no_answer_probability {
            Answer::DropOut {
                after_secs: self.cfg.no_answer_secs,
            }
        } else {
            Answer::Accept
        }
    }

    /// How long a rider who dropped out stays away.
    pub fn back_online_secs(&self) -> i64 {
        self.cfg.back_online_secs
    }
}

/// A generator for one id: the same draws whatever else the run did.
fn keyed(seed: u64, id: u64, salt: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ id.wrapping_add(1).wrapping_mul(salt))
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut StdRng) -> f64 {
    let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> NoiseConfig {
        NoiseConfig {
            seed: 7,
            rider_speed_sigma: 0.15,
            leg_sigma: 0.2,
            leg_delay_probability: 0.05,
            leg_delay_mean_secs: 180.0,
            kitchen_bias_mean_secs: 60.0,
            kitchen_bias_sigma_secs: 120.0,
            kitchen_noise_sigma_secs: 90.0,
            reject_probability: 0.05,
            no_answer_probability: 0.02,
            no_answer_secs: 120,
            back_online_secs: 600,
        }
    }

    #[test]
    fn the_same_seed_is_the_same_world_and_the_spread_is_the_one_asked_for() {
        let (mut a, mut b) = (Noise::new(cfg()), Noise::new(cfg()));
        let draws = |n: &mut Noise| {
            (0..2000)
                .map(|i| n.travel_secs(RiderId(i % 50), 600))
                .collect::<Vec<_>>()
        };
        let (da, db) = (draws(&mut a), draws(&mut b));
        assert_eq!(da, db);
        // Without hold-ups the log of the ratio has variance
        // rider_speed_sigma^2 + leg_sigma^2 (independent normals).
        let mut plain = Noise::new(NoiseConfig {
            leg_delay_probability: 0.0,
            ..cfg()
        });
        let logs: Vec<f64> = (0..20_000)
            .map(|i| (plain.travel_secs(RiderId(i % 2000), 10_000) as f64 / 10_000.0).ln())
            .collect();
        let mean = logs.iter().sum::<f64>() / logs.len() as f64;
        let var = logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / logs.len() as f64;
        let expected = 0.15f64.powi(2) + 0.2f64.powi(2);
        assert!(
            (var - expected).abs() < 0.1 * expected,
            "variance {var} vs {expected}"
        );
        assert!(mean.abs() < 0.02, "median factor off: {mean}");
    }

    #[test]
    fn kitchens_keep_their_bias_and_are_never_ready_before_the_order() {
        let mut n = Noise::new(NoiseConfig {
            kitchen_noise_sigma_secs: 0.0,
            ..cfg()
        });
        let first = n.ready_secs(3, 0, 1_000);
        assert_eq!(
            n.ready_secs(3, 0, 2_000) - 2_000,
            first - 1_000,
            "one bias per kitchen"
        );
        for r in 0..200 {
            assert!(n.ready_secs(r, 900, 900) >= 900);
        }
        let exact = NoiseConfig {
            rider_speed_sigma: 0.0,
            leg_sigma: 0.0,
            leg_delay_probability: 0.0,
            kitchen_bias_mean_secs: 0.0,
            kitchen_bias_sigma_secs: 0.0,
            kitchen_noise_sigma_secs: 0.0,
            ..cfg()
        };
        let mut none = Noise::new(exact);
        assert_eq!(
            (none.travel_secs(RiderId(1), 600), none.ready_secs(1, 0, 500)),
            (600, 500)
        );
    }
}
