//! The network edge: what rider apps and merchant consoles say to the
//! engine and hear from it.
//!
//! Owns: the router (`server`: every route, `/health`, `/metrics`) and
//! the state handlers share (`state`), built by the composition root
//! (`app`). Handlers: the merchant HTTP API (`merchant`), the rider
//! WebSocket (`rider_ws`), the web console (`console`), the CRM API
//! (`crm`: customers, ledgers, coupons, with role checks), feedback
//! (`feedback`: reviews, statistics, merchants' alerts polled or pushed
//! over `/v1/merchants/ws`), account managers (`teams`: ownership rules,
//! hand-over, audit), marketing (`campaigns`: segments, campaigns, their
//! effect, the merchant's message outbox), analytics (`analytics`:
//! merchant reports, zone demand forecast) and `/openapi.json`. Handlers
//! only parse, check and forward to the live engine (`live`), or read its
//! read model; they never block on the engine (CRM store calls run on the
//! blocking pool).
//!
//! May call: `wire` (protocol, outboxes, tokens), `live`, `crm`, `engine`
//! (ids, errors), `map` (coordinates, geometry).

mod analytics;
mod campaigns;
mod console;
mod crm;
pub mod error;
mod feedback;
mod merchant;
mod openapi;
mod rider_ws;
mod server;
mod state;
mod teams;

pub use openapi::ApiDoc;
pub use server::router;
pub use state::{AppState, LinkSettings};
