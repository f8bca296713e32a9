//! The network edge: what rider apps and merchant consoles say to the
//! engine and hear from it.
//!
//! Owns, by context: `dispatch/` (merchants' orders, the rider
//! WebSocket, the console), `crm/` (customers, feedback and merchants'
//! alerts, account managers, campaigns, analytics), `ops/` (`/health`,
//! `/metrics`, `/openapi.json`); the router (`router`) and what handlers
//! share (`state`: the app state, the blocking-pool call for CRM store
//! work, the alert broadcast, the console's geometry); JSON errors naming
//! the field (`error`). Built by the composition root (`app`). Handlers
//! only parse, check and forward to the live engine (`live`) or the CRM,
//! or read the engine's read model; they never block on the engine.
//!
//! May call: `wire` (protocol, outboxes, tokens), `live`, `crm`, `engine`
//! (ids, errors), `map` (coordinates, geometry).

mod crm;
mod dispatch;
pub mod error;
mod extract;
mod ops;
mod params;
mod router;
mod state;
pub mod zones;

pub use ops::openapi::ApiDoc;
pub use router::router;
pub use state::{AppState, LinkSettings};
