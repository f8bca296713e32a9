//! waimai: a real-time dispatch and delivery optimisation engine for food
//! delivery. See ARCHITECTURE.md for the map of subsystems.

pub mod api;
pub mod app;
pub mod base;
pub mod cli;
pub mod config;
pub mod crm;
pub mod dispatch;
pub mod engine;
pub mod fleet;
pub mod index;
pub mod kv;
pub mod live;
pub mod map;
pub mod sim;
pub mod store;
pub mod wire;
