#!/usr/bin/env bash
# Benchmark: the hub's peak memory (VmHWM) under 50 concurrent clients mixing resolve GETs of a
# 32 MiB LFS file, HEADs, tree listings of a 20,000-entry directory at 100 different revisions
# (first and later pages), repo info at those revisions and small commits, for 60 s. Target:
# VmHWM <= 256 MiB with the default cache_bytes (64 MiB). Not part of the test run.
# Usage: bench/bench_memory.sh [CLIENTS] [SECONDS]
#   BENCH_PG_URL=postgres://... for PostgreSQL; BENCH_KINDS=tree,info to send only those
#   requests; BENCH_BIN=path to measure another build.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${1:-50}
SECONDS_=${2:-60}
WORK=${BENCH_DIR:-$(mktemp -d /var/tmp/kohaku-bench-mem.XXXX)}
PORT=${BENCH_PORT:-28392}
mkdir -p "$WORK"

if [ -z "${BENCH_BIN:-}" ]; then cargo build --release --quiet; fi
KOHAKU=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release/kohaku}
PY=${BENCH_PYTHON:-$HOME/.cache/kohaku-ci/venv/bin/python}
export KOHAKU_HUB_DATA_DIR=$WORK/data KOHAKU_HUB_LISTEN=127.0.0.1:$PORT KOHAKU_HUB_LOG=warn
[ -n "${BENCH_PG_URL:-}" ] && export KOHAKU_HUB_DATABASE_URL=$BENCH_PG_URL
rm -rf "$WORK/data"
$KOHAKU user create bench --email bench@example.com --password bench-password >/dev/null 2>&1
TOKEN=$($KOHAKU token create --user bench)
start() {
  $KOHAKU serve >>"$WORK/serve.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
}
start
trap 'kill $PID 2>/dev/null; true' EXIT

echo "== kohaku $(git rev-parse --short HEAD), cache_bytes=${KOHAKU_HUB_CACHE_BYTES:-default}, $(nproc) cores"
"$PY" bench/mem_load.py setup "http://127.0.0.1:$PORT" "$TOKEN" "$PID" "$WORK/state.json"
# The load is measured on a hub started afresh on that data (as after a restart).
kill $PID; wait $PID 2>/dev/null || true
start
"$PY" bench/mem_load.py load "http://127.0.0.1:$PORT" "$TOKEN" "$PID" "$WORK/state.json" "$CLIENTS" "$SECONDS_"
