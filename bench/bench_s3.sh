#!/usr/bin/env bash
# Benchmark of S3 mode: a 1 GiB LFS upload and download through kohaku (presigned URLs, the
# hub only reads the object back once to verify its sha256) against the same transfers made
# straight to the S3 server with a plain client (curl, SigV4). Not part of the test run.
# Usage: bench/bench_s3.sh [SIZE_MIB]   (default 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-1024}
WORK=${BENCH_DIR:-$(mktemp -d /var/tmp/kohaku-bench-s3.XXXX)}
PORT=${BENCH_PORT:-28490}
S3_PORT=$((PORT + 1))
CACHE=${KOHAKU_CACHE:-$HOME/.cache/kohaku-ci}
S3S=$CACHE/s3s/bin/s3s-fs
[ -x "$S3S" ] || cargo install --quiet --locked s3s-fs --version 0.14.1 --features binary --root "$CACHE/s3s"
mkdir -p "$WORK/s3/bench"
AK=bench SK=bench-secret-key
"$S3S" --host 127.0.0.1 --port $S3_PORT --access-key $AK --secret-key $SK "$WORK/s3" >"$WORK/s3.log" 2>&1 &
S3_PID=$!

cargo build --release --quiet
KOHAKU=${CARGO_TARGET_DIR:-target}/release/kohaku
export KOHAKU_HUB_DATA_DIR=$WORK/data KOHAKU_HUB_LISTEN=127.0.0.1:$PORT KOHAKU_HUB_LOG=warn
export KOHAKU_HUB_STORAGE=s3 KOHAKU_HUB_S3_ENDPOINT=http://127.0.0.1:$S3_PORT KOHAKU_HUB_S3_BUCKET=bench
export KOHAKU_HUB_S3_ACCESS_KEY=$AK KOHAKU_HUB_S3_SECRET_KEY=$SK
export KOHAKU_HUB_LFS_MULTIPART_THRESHOLD_BYTES=$((8 << 30)) # one PUT, like the plain client
rm -rf "$WORK/data"
sleep 0.5
$KOHAKU user create bench --email bench@example.com --password bench-password >/dev/null 2>&1
TOKEN=$($KOHAKU token create --user bench)
$KOHAKU serve >"$WORK/serve.log" 2>&1 &
PID=$!
trap 'kill $PID $S3_PID 2>/dev/null; true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
AUTH="authorization: Bearer $TOKEN"
BASE=http://127.0.0.1:$PORT
S3=(curl -sf --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")

echo "== preparing a ${SIZE_MIB} MiB file"
FILE=$WORK/blob.bin
[ -f "$FILE" ] && [ "$(stat -c %s "$FILE")" = $((SIZE_MIB << 20)) ] || head -c $((SIZE_MIB << 20)) /dev/urandom >"$FILE"
SIZE=$(stat -c %s "$FILE")
OID=$(sha256sum "$FILE" | cut -d' ' -f1)
sync
rate() { python3 -c "import sys;print(f'{int(sys.argv[1])/float(sys.argv[2])/2**20:.0f}')" "$1" "$2"; }
timeit() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); python3 -c "print(f'{$e-$s:.2f}')"; }

echo "== plain client straight to S3"
PLAIN_UP=$(timeit "${S3[@]}" -T "$FILE" "http://127.0.0.1:$S3_PORT/bench/plain/blob.bin")
PLAIN_DOWN=$(timeit "${S3[@]}" -o /dev/null "http://127.0.0.1:$S3_PORT/bench/plain/blob.bin")

echo "== through kohaku: batch, presigned PUT, verify (hub reads the object back), commit"
curl -sf -H "$AUTH" -X POST "$BASE/api/repos/create" -d '{"name":"bench","organization":"bench"}' >/dev/null
BATCH=$(curl -sf -H "$AUTH" -X POST "$BASE/bench/bench.git/info/lfs/objects/batch" \
  -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[{\"oid\":\"$OID\",\"size\":$SIZE}]}")
HREF=$(echo "$BATCH" | python3 -c "import json,sys;print(json.load(sys.stdin)['objects'][0]['actions']['upload']['href'])")
VERIFY=$(echo "$BATCH" | python3 -c "import json,sys;print(json.load(sys.stdin)['objects'][0]['actions']['verify']['href'])")
HUB_PUT=$(timeit curl -sf -T "$FILE" "$HREF")
HUB_VERIFY=$(timeit curl -sf -X POST -H 'content-type: application/json' -d "{\"oid\":\"$OID\",\"size\":$SIZE}" "$VERIFY")
printf '{"key":"header","value":{"summary":"bench"}}\n{"key":"lfsFile","value":{"path":"blob.bin","algo":"sha256","oid":"%s","size":%s}}\n' "$OID" "$SIZE" |
  curl -sf -H "$AUTH" -H 'content-type: application/x-ndjson' --data-binary @- "$BASE/api/models/bench/bench/commit/main" >/dev/null
HUB_DOWN=$(timeit curl -sfL -o /dev/null "$BASE/bench/bench/resolve/main/blob.bin")
curl -sfL "$BASE/bench/bench/resolve/main/blob.bin" | sha256sum | grep -q "$OID" || { echo "download differs"; exit 1; }
RSS=$(grep VmHWM /proc/$PID/status | awk '{print $2}')
HUB_UP=$(python3 -c "print(f'{$HUB_PUT+$HUB_VERIFY:.2f}')")

echo
echo "| ${SIZE_MIB} MiB | plain S3 client | through kohaku | ratio (time) |"
echo "|---|---|---|---|"
echo "| upload | ${PLAIN_UP} s ($(rate "$SIZE" "$PLAIN_UP") MiB/s) | ${HUB_UP} s = PUT ${HUB_PUT} s + verify ${HUB_VERIFY} s ($(rate "$SIZE" "$HUB_UP") MiB/s) | $(python3 -c "print(f'{$HUB_UP/$PLAIN_UP:.2f}x')") |"
echo "| download | ${PLAIN_DOWN} s ($(rate "$SIZE" "$PLAIN_DOWN") MiB/s) | ${HUB_DOWN} s ($(rate "$SIZE" "$HUB_DOWN") MiB/s) | $(python3 -c "print(f'{$HUB_DOWN/$PLAIN_DOWN:.2f}x')") |"
echo "| hub peak RSS | | $((RSS / 1024)) MiB | |"
