#!/usr/bin/env bash
# Benchmark of Xet against LFS on the same hub (release build, SQLite, local storage unless
# BENCH_S3=1): upload and download of a SIZE_MIB file with the default huggingface_hub client
# (Xet) and with HF_HUB_DISABLE_XET=1 (LFS), then a near-duplicate (1 MiB changed in the middle)
# uploaded through Xet by a client with an empty cache: bytes it sent and the hub stored.
# Also the hub's peak resident memory. Not part of the test run.
# Usage: bench/bench_xet.sh [SIZE_MIB]   (default 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-1024}
WORK=${BENCH_DIR:-$(mktemp -d /var/tmp/kohaku-bench-xet.XXXX)}
PORT=${BENCH_PORT:-28590}
CACHE=${KOHAKU_CACHE:-$HOME/.cache/kohaku-ci}
PY=${BENCH_PYTHON:-$CACHE/venv/bin/python}
[ -x "$PY" ] || { echo "needs the test venv (scripts/test.sh makes it) or BENCH_PYTHON" >&2; exit 2; }

cargo build --release --quiet
KOHAKU=${CARGO_TARGET_DIR:-target}/release/kohaku
export KOHAKU_HUB_DATA_DIR=$WORK/data KOHAKU_HUB_LISTEN=127.0.0.1:$PORT KOHAKU_HUB_LOG=warn
rm -rf "$WORK/data"
PIDS=()
if [ "${BENCH_S3:-0}" = 1 ]; then
  S3S=$CACHE/s3s/bin/s3s-fs
  mkdir -p "$WORK/s3/bench"
  "$S3S" --host 127.0.0.1 --port $((PORT + 1)) --access-key bench --secret-key bench-secret-key "$WORK/s3" >"$WORK/s3.log" 2>&1 &
  PIDS+=($!)
  export KOHAKU_HUB_STORAGE=s3 KOHAKU_HUB_S3_ENDPOINT=http://127.0.0.1:$((PORT + 1)) KOHAKU_HUB_S3_BUCKET=bench
  export KOHAKU_HUB_S3_ACCESS_KEY=bench KOHAKU_HUB_S3_SECRET_KEY=bench-secret-key
  sleep 0.5
fi
$KOHAKU user create bench --email bench@example.com --password bench-password >/dev/null 2>&1
TOKEN=$($KOHAKU token create --user bench)
$KOHAKU serve >"$WORK/serve.log" 2>&1 &
PID=$!
PIDS+=($PID)
trap 'kill ${PIDS[*]} 2>/dev/null; true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done

echo "== preparing a ${SIZE_MIB} MiB file and its near-duplicate"
FILE=$WORK/blob.bin
[ -f "$FILE" ] && [ "$(stat -c %s "$FILE")" = $((SIZE_MIB << 20)) ] || head -c $((SIZE_MIB << 20)) /dev/urandom >"$FILE"
# LFS gets bytes of its own: the same bytes would already be stored (through Xet) and skipped.
FILE2=$WORK/blob2.bin
[ -f "$FILE2" ] && [ "$(stat -c %s "$FILE2")" = $((SIZE_MIB << 20)) ] || head -c $((SIZE_MIB << 20)) /dev/urandom >"$FILE2"
cp "$FILE" "$WORK/tuned.bin"
head -c $((1 << 20)) /dev/urandom | dd of="$WORK/tuned.bin" bs=1M seek=$((SIZE_MIB / 2)) conv=notrunc status=none

run() { # MODE(xet|lfs) PYTHON-CODE -> seconds
  local home
  home=$(mktemp -d "$WORK/home.XXXX")
  if [ "$1" = lfs ]; then export HF_HUB_DISABLE_XET=1; else unset HF_HUB_DISABLE_XET; fi
  HF_ENDPOINT=http://127.0.0.1:$PORT HF_HOME=$home HF_HUB_DISABLE_PROGRESS_BARS=1 HF_HUB_DISABLE_TELEMETRY=1 "$PY" - "$2" <<EOF
import sys, time
from huggingface_hub import HfApi, hf_hub_download
api = HfApi(endpoint="http://127.0.0.1:$PORT", token="$TOKEN")
t = time.time()
exec(sys.argv[1])
print(f"{time.time() - t:.2f}")
EOF
  rm -rf "$home"
}
hwm() { echo "   hub peak RSS after $1: $(( $(grep VmHWM /proc/$PID/status | awk '{print $2}') / 1024 )) MiB" >&2; }
stored() { "$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COALESCE(SUM(stored_bytes),0) FROM xet_xorbs').fetchone()[0])" "$WORK/data/kohaku.db"; }
mibs() { "$PY" -c "print(f'{$SIZE_MIB / float(\"$1\"):.0f}')"; }

"$PY" -c "from huggingface_hub import HfApi; a=HfApi(endpoint='http://127.0.0.1:$PORT', token='$TOKEN'); a.create_repo('bench/x'); a.create_repo('bench/l')"
XU=$(run xet "api.upload_file(path_or_fileobj='$FILE', path_in_repo='blob.bin', repo_id='bench/x')")
hwm "xet upload"
XD=$(run xet "hf_hub_download('bench/x', 'blob.bin', local_dir='$WORK/dx')")
hwm "xet download"
cmp "$FILE" "$WORK/dx/blob.bin"
LU=$(run lfs "api.upload_file(path_or_fileobj='$FILE2', path_in_repo='blob.bin', repo_id='bench/l')")
hwm "lfs upload"
LD=$(run lfs "hf_hub_download('bench/l', 'blob.bin', local_dir='$WORK/dl')")
hwm "lfs download"
cmp "$FILE2" "$WORK/dl/blob.bin"
# A plain GET of the Xet file: the hub rebuilds it from chunks (git lfs, curl, clients without hf_xet).
T0=$(date +%s.%N)
curl -sf -H "authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/bench/x/resolve/main/blob.bin" -o "$WORK/rebuilt.bin"
RD=$("$PY" -c "import time; print(f'{time.time() - $T0:.2f}')")
hwm "plain GET"
cmp "$FILE" "$WORK/rebuilt.bin"
rm -rf "$WORK/dx" "$WORK/dl" "$WORK/rebuilt.bin"
BEFORE=$(stored)
NU=$(run xet "api.upload_file(path_or_fileobj='$WORK/tuned.bin', path_in_repo='tuned.bin', repo_id='bench/x')")
hwm "near-duplicate"
AFTER=$(stored)
RSS=$(grep VmHWM /proc/$PID/status | awk '{print $2}')

echo
echo "| ${SIZE_MIB} MiB file | Xet | LFS |"
echo "|---|---|---|"
echo "| upload (huggingface_hub 2.4.0) | ${XU} s ($(mibs "$XU") MiB/s) | ${LU} s ($(mibs "$LU") MiB/s) |"
echo "| download (hf_hub_download) | ${XD} s ($(mibs "$XD") MiB/s) | ${LD} s ($(mibs "$LD") MiB/s) |"
echo "| plain GET of the Xet file (rebuilt by the hub) | ${RD} s ($(mibs "$RD") MiB/s) | |"
echo
echo "near-duplicate (1 MiB changed), fresh client cache: ${NU} s, $((AFTER - BEFORE)) bytes sent and stored (of $((SIZE_MIB << 20)))"
echo "hub peak RSS: $((RSS / 1024)) MiB"
