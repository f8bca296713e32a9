//! The small vocabulary every layer speaks: time in seconds, the one
//! clock that gives it (`clock`) and the city's civil time (`civil`), the ids of riders and orders, and the
//! checksum of map files, journal lines and ETags, and `IoCause`, an
//! io error kept as a comparable source.
//!
//! Calls nothing in the crate; everything may call it.

pub mod civil;
mod clock;
mod io_cause;

pub use civil::CityTime;
pub use clock::Clock;
pub use io_cause::IoCause;

use serde::{Deserialize, Serialize};

/// Seconds of the engine's day (simulated or real); signed, so that
/// differences and "before the start" need no casts.
pub type Secs = i64;

/// Identifies a rider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RiderId(pub u64);

/// Identifies an order. In a city split into zones its top bits are the
/// zone's id (see [`OrderId::first_of_zone`]), so ids are unique across
/// zones without asking anyone, and an id names the zone that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OrderId(pub u64);

/// Bits of an order id below the zone id: 2^40 orders per zone, and ids
/// stay below 2^52, exact in a JSON (f64) number.
const ZONE_SHIFT_BITS: u32 = 40;

impl OrderId {
    /// The first id zone `zone_id` gives (zone 0: no zones, ids from 1).
    pub fn first_of_zone(zone_id: u64) -> OrderId {
        OrderId((zone_id << ZONE_SHIFT_BITS) + 1)
    }

    /// The zone id this order's id carries (0: none).
    pub fn zone_id(self) -> u64 {
        self.0 >> ZONE_SHIFT_BITS
    }
}

/// JSON of our own plain data (derived `Serialize`, string map keys, no
/// serialiser that can refuse): serde_json cannot fail on it, so a failure
/// is a bug in this crate, asserted here rather than stored, journaled or
/// answered as an empty string.
pub fn json_string<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| panic!("plain data did not serialise: {e}"))
}

/// [`json_string`], indented for people.
pub fn json_pretty<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| panic!("plain data did not serialise: {e}"))
}

/// [`json_string`] as bytes.
pub fn json_bytes<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|e| panic!("plain data did not serialise: {e}"))
}

/// [`json_string`] as a value.
pub fn json_value<T: Serialize + ?Sized>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_else(|e| panic!("plain data did not serialise: {e}"))
}

/// FNV-1a, 64 bits: detects torn and flipped bytes in what we wrote
/// ourselves (not an adversary's changes: that is what seals are for).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        // From the FNV reference (Fowler, Noll, Vo): 64-bit FNV-1a.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
