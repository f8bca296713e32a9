//! The one clock: engine time in Unix seconds, injected everywhere a
//! "now" is needed (the actor, the CRM's stamps, its jobs, the API), so a
//! city running ten times faster for the demo has its sale hours, birthdays
//! and reports in that same time, and tests set the time instead of
//! sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::Secs;

/// How often a manual clock's readers look again (it moves only when a
/// test advances it).
const MANUAL_POLL: Duration = Duration::from_millis(5);

/// Engine seconds since the Unix epoch; cheap to clone.
#[derive(Debug, Clone)]
pub struct Clock {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// Follows the wall clock from `origin`, `speed` times faster.
    Running {
        origin: Instant,
        origin_secs: Secs,
        speed: f64,
    },
    /// Moves only when told.
    Manual(Arc<AtomicI64>),
}

/// The wall clock in Unix seconds.
fn unix_now_secs() -> Secs {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as Secs)
}

impl Clock {
    /// A clock starting now at the Unix time, or at `floor_secs` if that
    /// is later (a journal written by a faster clock before a restart:
    /// engine time never goes backwards), running `speed` times faster
    /// than the wall.
    pub fn start(floor_secs: Secs, speed: f64) -> Self {
        assert!(speed.is_finite() && speed > 0.0, "clock speed {speed}");
        Self {
            kind: Kind::Running {
                origin: Instant::now(),
                origin_secs: unix_now_secs().max(floor_secs),
                speed,
            },
        }
    }

    /// The wall clock itself.
    pub fn wall() -> Self {
        Self::start(0, 1.0)
    }

    /// A clock standing at `at_secs` until [`Clock::advance`] moves it.
    pub fn manual(at_secs: Secs) -> Self {
        Self {
            kind: Kind::Manual(Arc::new(AtomicI64::new(at_secs))),
        }
    }

    /// Engine seconds now.
    pub fn now_secs(&self) -> Secs {
        match &self.kind {
            Kind::Running {
                origin,
                origin_secs,
                speed,
            } => origin_secs + (origin.elapsed().as_secs_f64() * speed) as Secs,
            Kind::Manual(at) => at.load(Ordering::SeqCst),
        }
    }

    /// How long, in wall time, to wait for `engine_secs` of engine time
    /// to pass (a manual clock: a short poll, it moves when told).
    pub fn wall_wait(&self, engine_secs: Secs) -> Duration {
        match &self.kind {
            Kind::Running { speed, .. } => Duration::from_secs_f64(engine_secs.max(0) as f64 / speed),
            Kind::Manual(_) => MANUAL_POLL,
        }
    }

    /// Engine seconds per wall second.
    pub fn speed(&self) -> f64 {
        match &self.kind {
            Kind::Running { speed, .. } => *speed,
            Kind::Manual(_) => 1.0,
        }
    }

    /// A manual clock moves `secs` forward (never back); false, and no
    /// change, on a running clock.
    pub fn advance(&self, secs: Secs) -> bool {
        match &self.kind {
            Kind::Manual(at) => {
                at.fetch_add(secs.max(0), Ordering::SeqCst);
                true
            }
            Kind::Running { .. } => false,
        }
    }

    /// This clock, but never before `floor_secs`: a running clock starts
    /// again from the floor if it is later; a manual one jumps to it.
    pub fn not_before(self, floor_secs: Secs) -> Self {
        match &self.kind {
            Kind::Running { speed, .. } if self.now_secs() < floor_secs => Self::start(floor_secs, *speed),
            Kind::Manual(at) => {
                at.fetch_max(floor_secs, Ordering::SeqCst);
                self
            }
            Kind::Running { .. } => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_forward_and_only_when_told() {
        let c = Clock::manual(1_000);
        let seen_by_another = c.clone();
        assert_eq!(c.now_secs(), 1_000);
        assert!(c.advance(60));
        assert!(c.advance(-5), "a negative step is no step");
        assert_eq!(seen_by_another.now_secs(), 1_060, "clones share the time");
        let c = c.not_before(500);
        assert_eq!(c.now_secs(), 1_060);
        c.not_before(2_000);
        assert_eq!(seen_by_another.now_secs(), 2_000);
    }

    #[test]
    fn a_running_clock_starts_at_the_later_of_now_and_the_floor() {
        let now = unix_now_secs();
        let c = Clock::start(now + 3_600, 10.0);
        assert!(c.now_secs() >= now + 3_600);
        assert!(!c.advance(1), "only manual clocks are moved by hand");
        let w = Clock::wall();
        assert!((w.now_secs() - now).abs() <= 2);
        assert_eq!(Clock::start(0, 4.0).wall_wait(8), Duration::from_secs(2));
        let late = Clock::wall().not_before(now + 100);
        assert!(late.now_secs() >= now + 100);
    }
}
