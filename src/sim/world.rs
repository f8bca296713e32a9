//! The simulated world: a clock, a queue of timed events, and riders who
//! do exactly what the engine tells them, taking exactly the travel time.
//! It feeds the engine the same events a live city would, in time order,
//! and never shows it an event before its time.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde::Serialize;

use super::SimError;
use super::noise::{Answer, Noise, NoiseConfig};
use crate::base::Secs;
use crate::dispatch::online::{ServiceSecs, travel_secs};
use crate::engine::{Command, Engine, Event, OrderId, OrderStatus, Record, RiderId, TickStats};
use crate::map::TravelTime;

/// Where a rider is, named the way solution files name places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PlaceLabel {
    Start,
    Restaurant(u32),
    Customer(OrderId),
}

/// One move of one rider.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Move {
    pub rider: RiderId,
    pub depart_secs: Secs,
    pub origin: PlaceLabel,
    pub destination: PlaceLabel,
    pub travel_secs: Secs,
}

/// One bundle picked up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    pub decided_secs: Secs,
    pub pickup_secs: Secs,
    pub rider: RiderId,
    pub orders: Vec<OrderId>,
}

/// Everything a run produced.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub status: BTreeMap<OrderId, OrderStatus>,
    pub assignments: Vec<Assignment>,
    pub moves: Vec<Move>,
    pub ticks: Vec<TickStats>,
    /// Every command with the tick time that issued it: the decision log.
    pub decisions: Vec<(Secs, Command)>,
    /// Events the engine refused (e.g. a cancellation after pickup), with
    /// their time and the reason; the run goes on without them.
    pub refused: Vec<(Secs, String)>,
    pub wall_secs: f64,
}

/// How to run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub tick_secs: Secs,
    /// Check the engine's invariants after every event and tick (tests).
    pub check_invariants: bool,
    /// None: the exact world, riders and kitchens exactly as modelled
    /// (the engine seals pickups itself, `PickupRule::Timed`). Some: a
    /// noisy one; the engine must then wait for pickups to be confirmed
    /// (`PickupRule::Confirmed`), which this world does when a rider is
    /// really there and the food really ready.
    pub noise: Option<NoiseConfig>,
}

/// What the world has scheduled: an event for the engine, or a rider of
/// a noisy world picking up (valid while its trip is `generation`).
#[derive(Debug, Clone)]
enum Pending<P> {
    Event(Event<P>),
    PickUp {
        rider: RiderId,
        generation: u64,
    },
    /// A rider who dropped out of an assignment comes back online.
    Back {
        rider: RiderId,
    },
}

/// A noisy world's rider on its way to a restaurant for a trip.
#[derive(Debug, Clone)]
struct Heading {
    arrive_secs: Secs,
    generation: u64,
}

/// Timed inputs, sorted by time (stable: equal times keep their order).
pub type Timeline<P> = Vec<(Secs, Event<P>)>;

/// What the world shows its observer after each tick.
pub struct Observation<'a, T: TravelTime> {
    pub now_secs: Secs,
    pub engine: &'a Engine<T>,
    /// Events handled and decisions taken since the last observation, in
    /// order: what a journal appends.
    pub records: &'a [Record<T::Place>],
}

/// Runs `engine` over `inputs` in simulated time. `places` gives the
/// position of every labelled place (restaurants, customers, starts).
/// `observe` sees the engine and its new records after every tick
/// (progress bars, journals, tests).
pub fn run<T: TravelTime>(
    mut engine: Engine<T>,
    travel: &T,
    places: &Places<T::Place>,
    mut inputs: Timeline<T::Place>,
    opts: RunOptions,
    observe: &mut dyn FnMut(Observation<'_, T>),
) -> Result<Outcome, SimError> {
    let started = Instant::now();
    inputs.sort_by_key(|(t, _)| *t);
    let tick = opts.tick_secs.max(1);
    let first = inputs.first().map_or(0, |(t, _)| *t);
    let last_input = inputs.last().map_or(0, |(t, _)| *t);
    // A day past the last input is more than any delivery can take.
    let horizon = last_input + 86_400;
    let mut world = World {
        places,
        travel,
        service: engine.service(),
        at: HashMap::new(),
        pending: BTreeMap::new(),
        seq: 0,
        outcome: Outcome::default(),
        noise: opts.noise.map(Noise::new),
        free_at: HashMap::new(),
        heading: HashMap::new(),
        ready: HashMap::new(),
        shifts: HashMap::new(),
    };
    let mut next_input = 0;
    let mut records = Vec::new();
    let mut now = first.div_euclid(tick) * tick;
    while now <= horizon {
        // World events (deliveries) and inputs due by now, in time order.
        loop {
            let input_t = inputs.get(next_input).map(|(t, _)| *t).filter(|&t| t <= now);
            let world_t = world.pending.keys().next().map(|k| k.0).filter(|&t| t <= now);
            let event = match (input_t, world_t) {
                (Some(a), Some(b)) if b < a => world.pop(),
                (Some(a), _) => {
                    next_input += 1;
                    Some((a, Pending::Event(inputs[next_input - 1].1.clone())))
                }
                (None, Some(_)) => world.pop(),
                (None, None) => None,
            };
            let Some((t, pending)) = event else { break };
            match pending {
                Pending::Event(event) => {
                    world.placed(t, &event);
                    records.push(Record::Event {
                        at_secs: t,
                        event: event.clone(),
                    });
                    if let Err(e) = engine.handle(t, event) {
                        world.outcome.refused.push((t, e.to_string()));
                    }
                }
                Pending::Back { rider } => {
                    if let Some(event) = world.back_online(t, rider) {
                        records.push(Record::Event {
                            at_secs: t,
                            event: event.clone(),
                        });
                        if let Err(e) = engine.handle(t, event) {
                            world.outcome.refused.push((t, e.to_string()));
                        }
                    }
                }
                Pending::PickUp { rider, generation } => {
                    if world
                        .heading
                        .get(&rider)
                        .is_some_and(|h| h.generation == generation)
                    {
                        world.heading.remove(&rider);
                        match engine.pick_up(t, rider) {
                            Ok(c) => {
                                world.outcome.decisions.push((t, c.clone()));
                                records.push(Record::Decision { command: c.clone() });
                                world.execute(c);
                            }
                            Err(e) => world.outcome.refused.push((t, e.to_string())),
                        }
                    }
                }
            }
            if opts.check_invariants {
                engine.check_invariants().map_err(|e| SimError::Invariant {
                    at_secs: t,
                    reason: e,
                })?;
            }
        }
        let (commands, stats) = engine.tick(now);
        world.outcome.ticks.push(stats);
        for c in commands {
            world.outcome.decisions.push((now, c.clone()));
            records.push(Record::Decision { command: c.clone() });
            world.execute(c);
        }
        if opts.check_invariants {
            engine.check_invariants().map_err(|e| SimError::Invariant {
                at_secs: now,
                reason: e,
            })?;
        }
        observe(Observation {
            now_secs: now,
            engine: &engine,
            records: &records,
        });
        records.clear();
        let settled = next_input == inputs.len() && world.pending.is_empty() && !engine.has_work(now);
        if settled {
            break;
        }
        now += tick;
    }
    world.outcome.status = engine.orders().map(|(s, st)| (s.id, st.clone())).collect();
    world.outcome.wall_secs = started.elapsed().as_secs_f64();
    Ok(world.outcome)
}

/// Positions of the labelled places of a run.
pub struct Places<P> {
    pub restaurants: Vec<P>,
    pub customers: HashMap<OrderId, P>,
    pub starts: HashMap<RiderId, P>,
}

impl<P> Places<P> {
    fn of(&self, rider: RiderId, label: PlaceLabel) -> Option<&P> {
        match label {
            PlaceLabel::Start => self.starts.get(&rider),
            PlaceLabel::Restaurant(r) => self.restaurants.get(r as usize),
            PlaceLabel::Customer(o) => self.customers.get(&o),
        }
    }
}

struct World<'a, T: TravelTime> {
    places: &'a Places<T::Place>,
    travel: &'a T,
    service: ServiceSecs,
    /// Where each rider last went.
    at: HashMap<RiderId, PlaceLabel>,
    pending: BTreeMap<(Secs, u64), Pending<T::Place>>,
    seq: u64,
    outcome: Outcome,
    /// The truth of a noisy world (None: exact).
    noise: Option<Noise>,
    /// When each rider really reaches where it last went (noisy world).
    free_at: HashMap<RiderId, Secs>,
    /// Riders on their way to a pickup (noisy world).
    heading: HashMap<RiderId, Heading>,
    /// When each order's food is really ready.
    ready: HashMap<OrderId, Secs>,
    /// Each rider's shift, for coming back after dropping out.
    shifts: HashMap<RiderId, crate::engine::RiderSpec<T::Place>>,
}

impl<T: TravelTime> World<'_, T> {
    fn pop(&mut self) -> Option<(Secs, Pending<T::Place>)> {
        let key = *self.pending.keys().next()?;
        self.pending.remove(&key).map(|e| (key.0, e))
    }

    fn schedule(&mut self, at: Secs, pending: Pending<T::Place>) {
        self.seq += 1;
        self.pending.insert((at, self.seq), pending);
    }

    /// A noisy world learns when a new order's food will really be ready,
    /// and each rider's shift.
    fn placed(&mut self, at: Secs, event: &Event<T::Place>) {
        let Some(noise) = &mut self.noise else { return };
        match event {
            Event::OrderPlaced(spec) => {
                let ready = noise.ready_secs(spec.restaurant, at, spec.ready_secs);
                self.ready.insert(spec.id, ready);
            }
            Event::RiderOnline(spec) => {
                self.shifts.entry(spec.id).or_insert_with(|| spec.clone());
            }
            _ => {}
        }
    }

    /// A rider who dropped out starts again where it is, if its shift is
    /// not over.
    fn back_online(&mut self, at: Secs, rider: RiderId) -> Option<Event<T::Place>> {
        let shift = self.shifts.get(&rider)?;
        if at >= shift.off_secs {
            return None;
        }
        let here = self.at.get(&rider).copied().unwrap_or(PlaceLabel::Start);
        let start = self.places.of(rider, here)?.clone();
        Some(Event::RiderOnline(crate::engine::RiderSpec {
            start,
            on_secs: at,
            ..shift.clone()
        }))
    }

    /// A noisy world's rider picks up when it is there and every order of
    /// its trip is really ready; a changed trip replaces the pickup.
    fn head_for_pickup(&mut self, rider: RiderId, arrive_secs: Secs, orders: &[OrderId]) {
        self.seq += 1;
        let generation = self.seq;
        let ready = orders.iter().filter_map(|o| self.ready.get(o)).copied().max();
        let at = ready.map_or(arrive_secs, |r| r.max(arrive_secs));
        self.heading.insert(
            rider,
            Heading {
                arrive_secs,
                generation,
            },
        );
        self.schedule(at, Pending::PickUp { rider, generation });
    }

    /// Moves `rider` and returns when it really arrives (the model's time
    /// in an exact world).
    fn go(&mut self, rider: RiderId, depart_secs: Secs, destination: PlaceLabel) -> Secs {
        let origin = self.at.get(&rider).copied().unwrap_or(PlaceLabel::Start);
        // A noisy rider leaves once it is really where it was going.
        let depart_secs = depart_secs.max(self.free_at.get(&rider).copied().unwrap_or(Secs::MIN));
        let model = match (self.places.of(rider, origin), self.places.of(rider, destination)) {
            (Some(a), Some(b)) => travel_secs(self.travel, a, b, depart_secs),
            _ => 0,
        };
        let travel = match &mut self.noise {
            Some(noise) => noise.travel_secs(rider, model),
            None => model,
        };
        self.outcome.moves.push(Move {
            rider,
            depart_secs,
            origin,
            destination,
            travel_secs: travel,
        });
        self.at.insert(rider, destination);
        if self.noise.is_some() {
            self.free_at.insert(rider, depart_secs + travel);
        }
        depart_secs + travel
    }

    fn execute(&mut self, command: Command) {
        if self.noise.is_some() {
            return self.execute_noisy(command);
        }
        match command {
            Command::Depart {
                rider,
                restaurant,
                depart_secs,
                ..
            }
            | Command::Reposition {
                rider,
                restaurant,
                depart_secs,
                ..
            } => {
                self.go(rider, depart_secs, PlaceLabel::Restaurant(restaurant));
            }
            // The rider is already on its way or where it is: no move.
            Command::Join { .. } | Command::Release { .. } => {}
            Command::PickUp {
                rider,
                trip,
                pickup_secs,
                dropoff_secs,
            } => {
                let mut leave = pickup_secs + self.service.pickup_after;
                for (&o, &drop) in trip.orders.iter().zip(&dropoff_secs) {
                    self.go(rider, leave, PlaceLabel::Customer(o));
                    self.schedule(drop, Pending::Event(Event::Delivered { rider, order: o }));
                    leave = drop + self.service.dropoff_after;
                }
                self.record_pickup(rider, trip, pickup_secs);
            }
        }
    }

    /// The same decisions in a noisy world: times are the world's own.
    fn execute_noisy(&mut self, command: Command) {
        match command {
            Command::Depart {
                rider,
                restaurant,
                orders,
                depart_secs,
                ..
            } => {
                let answer = self.noise.as_mut().map_or(Answer::Accept, Noise::answer);
                if let Answer::DropOut { after_secs } = answer {
                    // It stays where it is; dispatch hears it is gone.
                    let gone = depart_secs + after_secs;
                    self.schedule(gone, Pending::Event(Event::RiderOffline { rider }));
                    let back = self.noise.as_ref().map_or(0, Noise::back_online_secs);
                    self.schedule(gone + back, Pending::Back { rider });
                    return;
                }
                let arrive = self.go(rider, depart_secs, PlaceLabel::Restaurant(restaurant));
                self.head_for_pickup(rider, arrive, &orders);
            }
            Command::Reposition {
                rider,
                restaurant,
                depart_secs,
                ..
            } => {
                self.go(rider, depart_secs, PlaceLabel::Restaurant(restaurant));
            }
            Command::Join { rider, orders, .. } => {
                if let Some(arrive) = self.heading.get(&rider).map(|h| h.arrive_secs) {
                    self.head_for_pickup(rider, arrive, &orders);
                }
            }
            Command::Release { rider, .. } => {
                self.heading.remove(&rider);
            }
            Command::PickUp {
                rider,
                trip,
                pickup_secs,
                ..
            } => {
                let mut leave = pickup_secs + self.service.pickup_after;
                for &o in &trip.orders {
                    let drop = self.go(rider, leave, PlaceLabel::Customer(o));
                    self.schedule(drop, Pending::Event(Event::Delivered { rider, order: o }));
                    leave = drop + self.service.dropoff_after;
                }
                self.record_pickup(rider, trip, pickup_secs);
            }
        }
    }

    fn record_pickup(&mut self, rider: RiderId, trip: crate::engine::Trip, pickup_secs: Secs) {
        self.outcome.assignments.push(Assignment {
            decided_secs: trip.decided_secs,
            pickup_secs,
            rider,
            orders: trip.orders,
        });
    }
}
