#!/usr/bin/env bash
# Benchmark: one-file API commits on a repo of 100,000 small files (issue 15: a commit's cost
# must grow with the change, not with the repo). Release build, SQLite + local storage.
# The repo is built by `git fast-import` and one push (1,000 folders of 100 files), then
# N one-file commits (NDJSON, curl, one at a time) are timed; prints median and p95.
# Not part of the test run. Usage: bench/bench_commit.sh [FILES] [COMMITS]  (100000, 20)
# KOHAKU_BIN=path uses a given binary instead of building (for a before/after comparison).
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${1:-100000}
COMMITS=${2:-20}
WORK=${BENCH_DIR:-$(mktemp -d /var/tmp/kohaku-bench-commit.XXXX)}
PORT=${BENCH_PORT:-28395}
mkdir -p "$WORK"

if [ -z "${KOHAKU_BIN:-}" ]; then
  cargo build --release --quiet
  KOHAKU_BIN=${CARGO_TARGET_DIR:-target}/release/kohaku
fi
export KOHAKU_HUB_DATA_DIR=$WORK/data KOHAKU_HUB_LISTEN=127.0.0.1:$PORT KOHAKU_HUB_LOG=warn
rm -rf "$WORK/data" "$WORK/src"
$KOHAKU_BIN init >/dev/null 2>&1
$KOHAKU_BIN user create bench --email bench@example.com --password bench-password >/dev/null 2>&1
TOKEN=$($KOHAKU_BIN token create --user bench)
$KOHAKU_BIN serve >"$WORK/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
AUTH="authorization: Bearer $TOKEN"
BASE=http://127.0.0.1:$PORT
curl -sf -H "$AUTH" -X POST "$BASE/api/repos/create" -d '{"name":"big","organization":"bench"}' >/dev/null

echo "== building a $FILES-file repo with git fast-import, then one push"
git init -q "$WORK/src"
git -C "$WORK/src" fetch -q "http://bench:$TOKEN@127.0.0.1:$PORT/bench/big" main
python3 - "$FILES" >"$WORK/stream" <<'PY'
import sys, time
n = int(sys.argv[1])
out = sys.stdout.buffer
out.write(b"commit refs/heads/main\n")
out.write(f"committer bench <bench@example.com> {int(time.time())} +0000\n".encode())
out.write(b"data 9\nbig tree\nfrom FETCH_HEAD\n")
for i in range(n):
    body = f"small file {i}\n".encode()
    out.write(f"M 100644 inline d{i // 100:04d}/f{i:06d}.txt\ndata {len(body)}\n".encode() + body + b"\n")
PY
sed -i "s/^from FETCH_HEAD$/from $(git -C "$WORK/src" rev-parse FETCH_HEAD)/" "$WORK/stream"
git -C "$WORK/src" fast-import --quiet <"$WORK/stream"
s=$(date +%s.%N)
git -C "$WORK/src" push -q "http://bench:$TOKEN@127.0.0.1:$PORT/bench/big" main
e=$(date +%s.%N)
echo "push of $FILES files: $(python3 -c "print(f'{$e-$s:.1f}')") s"

echo "== $COMMITS one-file commits through the HTTP API (NDJSON, curl)"
TIMES=$WORK/times
: >"$TIMES"
for i in $(seq "$COMMITS"); do
  b64=$(printf 'edit %s\n' "$i" | base64)
  printf '{"key":"header","value":{"summary":"edit %s"}}\n{"key":"file","value":{"path":"d%04d/f%06d.txt","content":"%s","encoding":"base64"}}\n' \
    "$i" $((i % 1000)) $((i * 100 % FILES)) "$b64" >"$WORK/commit.ndjson"
  curl -sf -o /dev/null -w '%{time_total}\n' -H "$AUTH" -H 'content-type: application/x-ndjson' \
    --data-binary @"$WORK/commit.ndjson" "$BASE/api/models/bench/big/commit/main" >>"$TIMES"
done
python3 - "$TIMES" <<'PY'
import sys, statistics
t = sorted(float(x) * 1000 for x in open(sys.argv[1]) if x.strip())
p95 = t[min(len(t) - 1, int(round(0.95 * (len(t) - 1))))]
print(f"one-file commit: median {statistics.median(t):.1f} ms, p95 {p95:.1f} ms, min {t[0]:.1f}, max {t[-1]:.1f} (n={len(t)})")
PY
USED=$(curl -sf -H "$AUTH" "$BASE/api/quota/repo/model/bench/big" | python3 -c "import json,sys;print(json.load(sys.stdin)['used_bytes'])")
kill $PID; wait $PID 2>/dev/null || true
trap - EXIT
s=$(date +%s.%N)
FULL=$($KOHAKU_BIN quota recalculate bench --json | python3 -c "import json,sys;print(json.load(sys.stdin)['used_bytes'])")
e=$(date +%s.%N)
echo "used_bytes after the commits: $USED; kohaku quota recalculate (full walk, $(python3 -c "print(f'{$e-$s:.2f}')") s): $FULL"
