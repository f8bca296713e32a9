//! What crosses the wire between the engine and the apps, independent of
//! the transport: the rider protocol (`protocol`: versioned JSON messages,
//! typed errors), one rider's outbox (`outbox`: sequence numbers, acks,
//! replay after a reconnect) and who is calling (`auth`: signed tokens and
//! roles).
//!
//! It sits below both `live` (which fills outboxes) and `api` (which
//! carries them over WebSockets), so neither needs the other's insides.
//!
//! May call: `engine` (ids), `map` (coordinates). Never does I/O.

pub mod auth;
pub mod outbox;
pub mod protocol;
