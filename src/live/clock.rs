//! Engine time for a real city: unix seconds, optionally running faster
//! than the wall clock (the demo fleet), never going backwards across a
//! restart.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::base::Secs;

/// Seconds since the epoch in engine time.
#[derive(Debug, Clone, Copy)]
pub struct EngineClock {
    origin: Instant,
    origin_secs: Secs,
    speed: f64,
}

impl EngineClock {
    /// A clock starting now at the unix time, or at `floor_secs` if the
    /// journal already holds later times (a fast clock before a restart).
    pub fn start(floor_secs: Secs, speed: f64) -> Self {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as Secs);
        Self {
            origin: Instant::now(),
            origin_secs: unix.max(floor_secs),
            speed,
        }
    }

    /// Engine seconds now.
    pub fn now_secs(&self) -> Secs {
        self.origin_secs + (self.origin.elapsed().as_secs_f64() * self.speed) as Secs
    }

    /// How long, in wall time, `engine_secs` of engine time take.
    pub fn wall(&self, engine_secs: Secs) -> std::time::Duration {
        std::time::Duration::from_secs_f64(engine_secs.max(0) as f64 / self.speed)
    }
}
