//! The rider WebSocket, `/v1/riders/ws`: one task per connection that
//! parses frames (typed errors, the connection stays up), rate-limits
//! location fixes, pings, drops silent riders, and writes what the live
//! engine queues for the rider.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};

use crate::api::extract::Query;
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;
use tracing::debug;

use crate::api::error::ApiError;
use crate::api::state::AppState;
use crate::engine::RiderId;
use crate::live::Frame;
use crate::wire::auth::Role;
use crate::wire::protocol::{ProtocolError, RiderMessage, parse_rider_message};

/// Frames queued for one socket before the rider counts as too slow.
const FRAMES_QUEUED_MAX: usize = 256;
/// Socket read buffer: rider frames are a few hundred bytes.
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// Largest frame or message a rider may send.
const MESSAGE_BYTES_MAX: usize = 16 * 1024;
/// Close codes (RFC 6455).
const CLOSE_NORMAL: u16 = 1000;
const CLOSE_GOING_AWAY: u16 = 1001;
const CLOSE_POLICY: u16 = 1008;

/// `GET /v1/riders/ws` query.
#[derive(Debug, Deserialize)]
pub struct WsQuery {
    /// The rider token (browsers cannot set headers on WebSockets); or
    /// send `Authorization: Bearer`.
    pub token: Option<String>,
    /// The last server `seq` the app processed: everything after it is
    /// sent again.
    #[serde(default)]
    pub last_seq: u64,
}

/// Upgrades an authenticated rider.
pub async fn upgrade(
    State(state): State<AppState>,
    Query(q): Query<WsQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let (rider, zone) = match state.role_in_zone(&headers, q.token.as_deref())? {
        (Role::Rider(id), zone) => (id, zone),
        _ => return Err(ApiError::forbidden("only rider tokens open the rider WebSocket")),
    };
    // A rider works in one zone per shift: its token names it.
    let serving = state.zones.as_ref().map(|z| z.own().name.as_str());
    if zone.as_deref() != serving {
        let message = match (zone, serving) {
            (Some(z), Some(s)) => format!("this rider token is for zone {z}; this process serves zone {s}"),
            (Some(z), None) => format!("this rider token is for zone {z}; this server has no zones"),
            (None, Some(s)) => format!("this process serves zone {s}: the rider token must name it"),
            (None, None) => String::new(),
        };
        return Err(ApiError::forbidden(message).with_field("token"));
    }
    // Small buffers (10k sockets) and a bound on what a rider may send.
    let ws = ws
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(MESSAGE_BYTES_MAX)
        .max_frame_size(MESSAGE_BYTES_MAX);
    Ok(ws.on_upgrade(move |socket| run(socket, state, rider, q.last_seq)))
}

/// A token bucket: `per_sec` sustained, `burst` at once.
struct Bucket {
    tokens: f64,
    per_sec: f64,
    burst: f64,
    at: Instant,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.per_sec).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

async fn run(socket: WebSocket, state: AppState, rider: RiderId, last_seq: u64) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel(FRAMES_QUEUED_MAX);
    let conn = match state.live.connect(rider, last_seq, tx).await {
        Ok(conn) => conn,
        Err(e) => {
            let error = ProtocolError::new("bad_field", Some("last_seq"), e.to_string());
            let text = serde_json::json!({"v": 1, "seq": 0, "type": "error", "code": error.code,
                "field": error.field, "message": error.message});
            let _ = sink.send(Message::Text(text.to_string().into())).await;
            let _ = sink.send(close(CLOSE_POLICY, "cannot resume")).await;
            return;
        }
    };
    let metrics = state.live.metrics().clone();
    metrics
        .riders_connected
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let link = &state.links;
    let mut bucket = Bucket {
        tokens: link.location_burst,
        per_sec: link.location_per_sec,
        burst: link.location_burst,
        at: Instant::now(),
    };
    let mut last_limited: Option<Instant> = None;
    let mut heartbeat = tokio::time::interval(link.heartbeat);
    heartbeat.tick().await;
    let mut last_heard = Instant::now();
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            incoming = stream.next() => {
                let Some(Ok(message)) = incoming else { break };
                last_heard = Instant::now();
                match message {
                    Message::Text(text) => {
                        metrics.ws_messages_in.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        on_text(&state, rider, text.as_str(), &mut bucket, &mut last_limited);
                    }
                    Message::Binary(_) => {
                        let e = ProtocolError::new("not_json", None, "binary frames are not part of the protocol");
                        let _ = state.live.rider_error(rider, e);
                    }
                    Message::Close(_) => break,
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
            frame = rx.recv() => match frame {
                Some(Frame::Text { json, decided }) => {
                    if sink.send(Message::Text(Utf8Bytes::from(json.as_ref()))).await.is_err() {
                        break;
                    }
                    metrics.ws_messages_out.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if let Some(at) = decided {
                        metrics.assignment_push.observe_micros(at.elapsed().as_micros() as u64);
                    }
                }
                Some(Frame::Close) | None => {
                    let _ = sink.send(close(CLOSE_NORMAL, "replaced by a newer connection")).await;
                    break;
                }
            },
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > link.timeout {
                    let _ = sink.send(close(CLOSE_GOING_AWAY, "silent past the timeout")).await;
                    break;
                }
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
            _ = shutdown.changed() => {
                let _ = sink.send(close(CLOSE_GOING_AWAY, "server shutting down")).await;
                break;
            }
        }
    }
    metrics
        .riders_connected
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    let _ = state.live.disconnected(rider, conn);
    debug!(rider = rider.0, conn, "rider socket closed");
}

fn on_text(
    state: &AppState,
    rider: RiderId,
    text: &str,
    bucket: &mut Bucket,
    last_limited: &mut Option<Instant>,
) {
    let result = match parse_rider_message(text) {
        Ok(m @ RiderMessage::Location { .. }) => {
            if bucket.take() {
                state.live.rider_says(rider, m)
            } else {
                // One complaint a second is enough; the fixes are dropped.
                if last_limited.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    *last_limited = Some(Instant::now());
                    let e =
                        ProtocolError::new("rate_limited", Some("location"), "too many location messages");
                    let _ = state.live.rider_error(rider, e);
                }
                Ok(())
            }
        }
        Ok(m) => state.live.rider_says(rider, m),
        Err(e) => state.live.rider_error(rider, e),
    };
    if let Err(e) = result {
        debug!(rider = rider.0, error = %e, "rider frame not taken");
    }
}
