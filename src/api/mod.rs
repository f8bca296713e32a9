//! The network edge: what rider apps and merchant consoles say to the
//! engine and hear from it.
//!
//! Today: the rider protocol (`protocol`: versioned JSON messages, typed
//! errors) and the per-rider outbox (`outbox`: sequence numbers, acks,
//! replay after a reconnect). Both are pure; the axum server that carries
//! them over WebSocket and HTTP comes next (issue 5). May call: `engine`
//! (ids), `map` (coordinate validation).

pub mod auth;
pub mod outbox;
pub mod protocol;
