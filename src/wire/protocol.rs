//! The rider WebSocket protocol, version 1: JSON text frames in an
//! envelope `{"v": 1, "type": ..., ...}`. Every server message carries a
//! per-rider sequence number `seq`; the rider acknowledges with
//! `{"v":1,"type":"ack","seq":N}` (cumulative: everything up to N).
//!
//! Parsing never panics and never guesses: a frame that is not JSON, has
//! another version, an unknown type, a missing or out-of-range field gets
//! a [`ProtocolError`] naming the field, which the server sends back as an
//! `error` message while the connection stays up.

use serde::{Deserialize, Serialize};

use crate::map::LatLng;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// What a rider can be doing, as the app reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiderStatus {
    Online,
    Break,
    Offline,
}

/// A message from a rider's app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RiderMessage {
    Location {
        lat: f64,
        lng: f64,
        heading_deg: Option<f64>,
        speed_mps: Option<f64>,
        /// When the phone took the fix (milliseconds since the epoch).
        at_ms: i64,
    },
    Accept {
        assignment: u64,
    },
    Reject {
        assignment: u64,
        reason: String,
    },
    PickedUp {
        order: String,
    },
    Delivered {
        order: String,
    },
    Ack {
        seq: u64,
    },
    Status {
        status: RiderStatus,
    },
}

/// One stop of an assignment, with its ETA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopView {
    pub order: String,
    /// `pickup` or `dropoff`.
    pub kind: String,
    pub lat: f64,
    pub lng: f64,
    pub eta_secs: i64,
}

/// A message to a rider's app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Assignment { assignment: u64, stops: Vec<StopView> },
    RouteUpdate { assignment: u64, stops: Vec<StopView> },
    OrderCancelled { order: String, reason: String },
    EtaRefresh { assignment: u64, stops: Vec<StopView> },
    Error(ProtocolError),
}

/// A typed complaint about a frame, sent back to the rider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ProtocolError {
    /// Stable, machine-readable: `not_json`, `bad_version`, `bad_message`,
    /// `bad_field`, `rate_limited`, `bad_ack`.
    pub code: String,
    /// The offending field, when there is one.
    pub field: Option<String>,
    pub message: String,
}

impl ProtocolError {
    pub fn new(code: &str, field: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }
}

/// A server message as sent: version, sequence number, body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outgoing {
    pub v: u32,
    pub seq: u64,
    #[serde(flatten)]
    pub message: ServerMessage,
}

/// Parses one text frame from a rider.
pub fn parse_rider_message(text: &str) -> Result<RiderMessage, ProtocolError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ProtocolError::new("not_json", None, e.to_string()))?;
    let Some(obj) = value.as_object() else {
        return Err(ProtocolError::new("bad_message", None, "expected a JSON object"));
    };
    match obj.get("v").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(PROTOCOL_VERSION) => {}
        Some(v) => {
            return Err(ProtocolError::new(
                "bad_version",
                Some("v"),
                format!("version {v}; this server speaks {PROTOCOL_VERSION}"),
            ));
        }
        None => {
            return Err(ProtocolError::new(
                "bad_version",
                Some("v"),
                "missing protocol version",
            ));
        }
    }
    let mut body = obj.clone();
    body.remove("v");
    let message: RiderMessage = serde_json::from_value(serde_json::Value::Object(body)).map_err(|e| {
        let text = e.to_string();
        let field = if text.starts_with("unknown variant") {
            Some("type".to_owned())
        } else {
            text.split('`')
                .nth(1)
                .filter(|f| !f.contains(' '))
                .map(str::to_owned)
        };
        ProtocolError {
            code: "bad_message".into(),
            field,
            message: text,
        }
    })?;
    if let RiderMessage::Location {
        lat,
        lng,
        heading_deg,
        speed_mps,
        ..
    } = &message
    {
        LatLng::new(*lat, *lng)
            .map_err(|e| ProtocolError::new("bad_field", Some("lat,lng"), e.to_string()))?;
        if heading_deg.is_some_and(|h| !(0.0..=360.0).contains(&h)) {
            return Err(ProtocolError::new(
                "bad_field",
                Some("heading_deg"),
                "must be in [0, 360]",
            ));
        }
        if speed_mps.is_some_and(|s| !(0.0..=100.0).contains(&s)) {
            return Err(ProtocolError::new(
                "bad_field",
                Some("speed_mps"),
                "must be in [0, 100]",
            ));
        }
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_frames_parse() {
        let m = parse_rider_message(r#"{"v":1,"type":"location","lat":43.73,"lng":7.42,"at_ms":1}"#).unwrap();
        assert!(matches!(
            m,
            RiderMessage::Location {
                heading_deg: None,
                ..
            }
        ));
        let m = parse_rider_message(r#"{"v":1,"type":"ack","seq":7}"#).unwrap();
        assert_eq!(m, RiderMessage::Ack { seq: 7 });
        let m = parse_rider_message(r#"{"v":1,"type":"status","status":"break"}"#).unwrap();
        assert_eq!(
            m,
            RiderMessage::Status {
                status: RiderStatus::Break
            }
        );
    }

    #[test]
    fn bad_frames_get_typed_errors_naming_the_field() {
        let e = |t: &str| parse_rider_message(t).unwrap_err();
        assert_eq!(e("{nope").code, "not_json");
        assert_eq!(e("[1]").code, "bad_message");
        assert_eq!(e(r#"{"type":"ack","seq":1}"#).field.as_deref(), Some("v"));
        assert_eq!(e(r#"{"v":2,"type":"ack","seq":1}"#).code, "bad_version");
        let unknown = e(r#"{"v":1,"type":"teleport"}"#);
        assert_eq!(unknown.code, "bad_message");
        assert!(unknown.message.contains("teleport"), "{unknown:?}");
        let missing = e(r#"{"v":1,"type":"ack"}"#);
        assert_eq!(missing.field.as_deref(), Some("seq"), "{missing:?}");
        let far = e(r#"{"v":1,"type":"location","lat":91,"lng":7,"at_ms":1}"#);
        assert_eq!(
            (far.code.as_str(), far.field.as_deref()),
            ("bad_field", Some("lat,lng"))
        );
        let nan = e(r#"{"v":1,"type":"location","lat":43,"lng":7,"at_ms":1,"speed_mps":-3}"#);
        assert_eq!(nan.field.as_deref(), Some("speed_mps"));
        let extra = e(r#"{"v":1,"type":"ack","seq":1,"sneaky":true}"#);
        assert_eq!(extra.code, "bad_message");
    }

    #[test]
    fn outgoing_frames_carry_version_and_seq() {
        let out = Outgoing {
            v: PROTOCOL_VERSION,
            seq: 3,
            message: ServerMessage::OrderCancelled {
                order: "o1".into(),
                reason: "customer".into(),
            },
        };
        let text = serde_json::to_string(&out).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!((v["v"].as_u64(), v["seq"].as_u64()), (Some(1), Some(3)));
        assert_eq!(v["type"], "order_cancelled");
        assert_eq!(serde_json::from_str::<Outgoing>(&text).unwrap(), out);
    }
}
