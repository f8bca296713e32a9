//! Dispatch over the wire: merchants' orders (`merchant`), restaurants
//! onboarded by operators (`restaurants`), riders' records
//! (`rider_profiles`), the rider WebSocket
//! (`rider_ws`) and the operator's console (`console`).

pub(super) mod console;
pub(super) mod merchant;
pub(super) mod restaurants;
pub(super) mod rider_profiles;
pub(super) mod rider_ws;
