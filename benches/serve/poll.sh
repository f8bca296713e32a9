#!/usr/bin/env bash
# ETA polling benchmark: wrk against GET /v1/orders/{id} on loopback, for a
# bounded time (DURATION, default 10s), once plain (200 with the card) and
# once with If-None-Match (304). Needs wrk (apt-get install -y wrk).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
PORT="${PORT:-18181}"
ORDERS=100
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 2; }
cargo build --release --quiet
DATA="$(mktemp -d)"
./target/release/waimai serve --listen "127.0.0.1:$PORT" --data-dir "$DATA" >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.2; done
TOKEN="$(./target/release/waimai token merchant r2 --data-dir "$DATA")"
for _ in $(seq 1 $ORDERS); do
  curl -sf -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d '{"restaurant":"r2","customer":{"lat":43.7311,"lng":7.4197},"ready_in_secs":3600}' \
    "http://127.0.0.1:$PORT/v1/orders" >/dev/null
done
ETAG="$(curl -sf -D - -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/v1/orders/1" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')"
cat > "$DATA/poll.lua" <<LUA
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/v1/orders/" .. (counter % $ORDERS + 1), {["Authorization"] = "Bearer $TOKEN"})
end
LUA
cat > "$DATA/poll304.lua" <<LUA
request = function()
  return wrk.format("GET", "/v1/orders/1", {["Authorization"] = "Bearer $TOKEN", ["If-None-Match"] = '$ETAG'})
end
LUA
echo "== GET /v1/orders/{id}: $ORDERS orders, $CONNECTIONS connections, $DURATION"
wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$DATA/poll.lua" "http://127.0.0.1:$PORT"
echo "== the same with If-None-Match (304)"
wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$DATA/poll304.lua" "http://127.0.0.1:$PORT"
