//! The integration tests, one binary (one link of the library instead of
//! twenty): each module is an area, and tests reach the app through its
//! public API, the real binary, real Redis servers and real HTTP and
//! WebSocket clients. `common` holds the shared fixtures and checkers.

mod common;

mod analytics_api;
mod architecture;
mod campaigns_api;
mod candidates;
mod cluster;
mod console;
mod crm_api;
mod crm_cli;
mod crm_model;
mod crm_store;
mod dispatch;
mod durability;
mod failover;
mod feedback_api;
mod map_file_and_cli;
mod map_routing;
mod noisy_world;
mod privacy;
mod profiles;
mod recorded_fixture;
mod restaurants;
mod rider_profiles;
mod serve;
mod simulation;
mod snap_and_index;
mod store;
mod synth_city;
mod teams_api;
mod token_secret;
mod zones;
