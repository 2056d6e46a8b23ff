#!/usr/bin/env bash
# Benchmark: requests/s of HEAD resolve and of small commits (one 16-byte file per commit,
# NDJSON through the commit API), on SQLite with one process, and on PostgreSQL with one and
# with two `kohaku serve` processes sharing the database and the storage directory.
# Load from wrk on the same machine. Not part of the test run.
# Usage: bench/bench_db.sh [SECONDS] (default 10); PostgreSQL from BENCH_PG (default
# postgres://postgres@127.0.0.1:5432/test), extra URL parameters from BENCH_PG_PARAMS (e.g.
# sslmode=disable; without sslmode the connection is encrypted when the server offers TLS).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432/test}
export PGOPTIONS=--client-min-messages=warning
WORK=${BENCH_DIR:-$(mktemp -d /var/tmp/kohaku-bench-db.XXXX)}
PORT=${BENCH_PORT:-28490}
need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }; }
need wrk wrk
need ab apache2-utils
cargo build --release --quiet
KOHAKU=${CARGO_TARGET_DIR:-target}/release/kohaku
export KOHAKU_HUB_LOG=warn
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; true' EXIT

cat >"$WORK/commit.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-ndjson"
local n = 0
request = function()
  n = n + 1
  local body = '{"key":"header","value":{"summary":"bench"}}\n' ..
    '{"key":"file","value":{"path":"f.txt","encoding":"base64","content":"' ..
    string.format("%016d", n) .. '"}}\n'
  return wrk.format(nil, nil, nil, body)
end
LUA

# setup NAME DB_URL: a fresh hub with user, token and a repo holding one file.
setup() {
  local name=$1 url=$2
  export KOHAKU_HUB_DATA_DIR=$WORK/$name KOHAKU_HUB_DATABASE_URL=$url
  rm -rf "$WORK/$name"
  $KOHAKU user create bench --email bench@example.com --password bench-password >/dev/null
  TOKEN=$($KOHAKU token create --user bench)
}

start() { # start PORT
  KOHAKU_HUB_LISTEN=127.0.0.1:$1 $KOHAKU serve >>"$WORK/serve.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && return; sleep 0.1; done
  echo "hub on $1 did not start" >&2; exit 1
}

stop_all() { kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; PIDS=(); }

# load KIND PORTS...: run wrk against every port at once (8 connections in all), sum req/s.
load() {
  local kind=$1; shift
  local per=$((8 / $#)) out=() p
  for p in "$@"; do
    if [ "$kind" = commit ]; then
      wrk -t1 -c"$per" -d"${DUR}s" -s "$WORK/commit.lua" -H "Authorization: Bearer $TOKEN" \
        "http://127.0.0.1:$p/api/models/bench/r/commit/main" >"$WORK/load.$p.txt" 2>&1 &
    else # wrk does not handle HEAD responses; ab -i does
      ab -q -k -i -c "$per" -t "$DUR" -n 100000000 -H "Authorization: Bearer $TOKEN" \
        "http://127.0.0.1:$p/bench/r/resolve/main/f.txt" >"$WORK/load.$p.txt" 2>&1 &
    fi
    out+=($!)
  done
  wait "${out[@]}"
  local total=0 errs=0
  for p in "$@"; do
    r=$(awk '/Requests\/sec/ {print $2} /Requests per second/ {print $4}' "$WORK/load.$p.txt")
    e=$(awk '/Non-2xx or 3xx/ {print $5} /Non-2xx responses/ {print $3}' "$WORK/load.$p.txt")
    total=$(python3 -c "print($total + ${r:-0})")
    errs=$((errs + ${e:-0}))
  done
  printf '%-8s %10.0f req/s  (non-2xx: %s)\n' "$kind" "$total" "$errs"
}

run() { # run NAME URL NPROC
  local name=$1 url=$2 n=$3 ports=()
  setup "$name" "$url"
  for i in $(seq "$n"); do start $((PORT + i)); ports+=($((PORT + i))); done
  curl -sf -X POST "http://127.0.0.1:${ports[0]}/api/repos/create" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d '{"name":"r","type":"model"}' >/dev/null
  printf '{"key":"header","value":{"summary":"init"}}\n{"key":"file","value":{"path":"f.txt","encoding":"base64","content":"aGVsbG8="}}\n' |
    curl -sf -X POST "http://127.0.0.1:${ports[0]}/api/models/bench/r/commit/main" -H "Authorization: Bearer $TOKEN" \
      -H 'Content-Type: application/x-ndjson' --data-binary @- >/dev/null
  echo "== $name ($n process(es))"
  load head "${ports[@]}"
  load commit "${ports[@]}"
  local count
  count=$(curl -sf "http://127.0.0.1:${ports[0]}/api/models/bench/r/commits/main?limit=1" -H "Authorization: Bearer $TOKEN" -o /dev/null -w '%{http_code}')
  [ "$count" = 200 ] || echo "history not readable after the run" >&2
  stop_all
}

run sqlite "sqlite://$WORK/sqlite/kohaku.db" 1
SCHEMA=bench_$$_1
psql -X -q "$PG" -c "CREATE SCHEMA $SCHEMA"
run pg1 "$PG?options=-csearch_path%3D$SCHEMA${BENCH_PG_PARAMS:+&$BENCH_PG_PARAMS}" 1
SCHEMA2=bench_$$_2
psql -X -q "$PG" -c "CREATE SCHEMA $SCHEMA2"
run pg2 "$PG?options=-csearch_path%3D$SCHEMA2${BENCH_PG_PARAMS:+&$BENCH_PG_PARAMS}" 2
psql -X -q "$PG" -c "DROP SCHEMA $SCHEMA CASCADE; DROP SCHEMA $SCHEMA2 CASCADE"
