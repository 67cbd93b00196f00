#!/usr/bin/env bash
# What the cluster's relay costs a client: two hosts of one cluster (a Redis from Debian's
# redis-server, moto's S3 server from .ci/setup), one client on the episode's host, one relayed
# through the other; tests/e2e/relay-bench.mjs prints the table (docs/BENCHMARKS.md, "Cluster
# relay"). Run from the checkout after a build:
#
#   cargo build --release && host/benches/cluster/relay.sh
#
# VOICE_STUDIO_BIN picks another binary (default target/release/voice-studio); ROUND_TRIPS the
# number of request-state round trips per client (default 200).
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
bin="$(realpath "${VOICE_STUDIO_BIN:-$target/release/voice-studio}")"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP_WORK:-}" ] && echo "kept $work" >&2 && return
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  return 1
}

redis_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
s3_port="$(free_port)"
"$target/tools/s3/bin/moto_server" -H 127.0.0.1 -p "$s3_port" >"$work/s3.log" 2>&1 &
pids+=($!)
wait_port "$redis_port"
wait_port "$s3_port"
curl -sf -X PUT "http://127.0.0.1:$s3_port/bench" >/dev/null

urls=()
for name in direct relay; do
  port="$(free_port)"
  mkdir -p "$work/$name"
  (cd "$work/$name" && env -i PATH="$PATH" HOST=127.0.0.1 PORT="$port" \
    PLUGINS_TOML="$root/plugins.toml" RECORDING_DIR="$work/$name/recordings" \
    CLUSTER_REDIS_URL="redis://127.0.0.1:$redis_port/" \
    CLUSTER_ADVERTISE_URL="http://127.0.0.1:$port" \
    RECORDING_BUCKET=s3://bench AWS_ENDPOINT_URL="http://127.0.0.1:$s3_port" \
    AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench RUST_LOG=warn \
    "$bin" >"$work/$name.log" 2>&1) &
  pids+=($!)
  wait_port "$port"
  urls+=("http://127.0.0.1:$port")
done

(cd "$root/tests/e2e" && [ -d node_modules/socket.io-client ] || npm ci --no-audit --no-fund >/dev/null)
cd "$root/tests/e2e"
DIRECT_URL="${urls[0]}" RELAY_URL="${urls[1]}" EPISODE="relay-bench-$$" \
  LINE="Claude, what do you make of today's topic?" ROUND_TRIPS="${ROUND_TRIPS:-200}" \
  node relay-bench.mjs
