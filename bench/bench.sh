#!/usr/bin/env bash
# Benchmark: 1 GiB LFS upload and download through kohaku, HEAD-resolve requests/s, and the
# server's peak memory, side by side with nginx serving the same file from the same disk.
# Not part of the test run. Usage: bench/bench.sh [SIZE_MIB]   (default 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${1:-1024}
WORK=${BENCH_DIR:-$(mktemp -d /var/tmp/kohaku-bench.XXXX)}
PORT=${BENCH_PORT:-28390}
NGINX_PORT=$((PORT + 1))
mkdir -p "$WORK"

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }; }
need nginx nginx
need ab apache2-utils

cargo build --release --quiet
KOHAKU=${CARGO_TARGET_DIR:-target}/release/kohaku
export KOHAKU_HUB_DATA_DIR=$WORK/data KOHAKU_HUB_LISTEN=127.0.0.1:$PORT KOHAKU_HUB_LOG=warn
export KOHAKU_HUB_LFS_MULTIPART_THRESHOLD_BYTES=$((4 << 30))
rm -rf "$WORK/data"
$KOHAKU init >/dev/null
$KOHAKU user create bench --email bench@example.com --password bench-password >/dev/null 2>&1
TOKEN=$($KOHAKU token create --user bench)
$KOHAKU serve >"$WORK/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null; true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
AUTH="authorization: Bearer $TOKEN"
BASE=http://127.0.0.1:$PORT

echo "== preparing a ${SIZE_MIB} MiB file"
FILE=$WORK/blob.bin
[ -f "$FILE" ] && [ "$(stat -c %s "$FILE")" = $((SIZE_MIB << 20)) ] || head -c $((SIZE_MIB << 20)) /dev/urandom >"$FILE"
SIZE=$(stat -c %s "$FILE")
sync

secs() { python3 -c "import sys;print(f'{float(sys.argv[1]):.2f}')" "$1"; }
rate() { python3 -c "import sys;print(f'{int(sys.argv[1])/float(sys.argv[2])/2**20:.0f}')" "$1" "$2"; }
timeit() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); python3 -c "print($e-$s)"; }

echo "== baseline: sha256 of the file (openssl, the fastest hasher here), then writing a copy with fsync (what an upload must do)"
cat "$FILE" >/dev/null
HASH_T=$(timeit openssl dgst -sha256 "$FILE")
WRITE_T=$(timeit dd if="$FILE" of="$WORK/copy.bin" bs=1M conv=fsync status=none)
BASE_T=$(python3 -c "print($HASH_T+$WRITE_T)")
OID=$(sha256sum "$FILE" | cut -d' ' -f1)
rm -f "$WORK/copy.bin"

curl -sf -H "$AUTH" -X POST "$BASE/api/repos/create" -d '{"name":"bench","organization":"bench"}' >/dev/null
HREF=$(curl -sf -H "$AUTH" -X POST "$BASE/bench/bench.git/info/lfs/objects/batch" \
  -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[{\"oid\":\"$OID\",\"size\":$SIZE}]}" |
  python3 -c "import json,sys;print(json.load(sys.stdin)['objects'][0]['actions']['upload']['href'])")

echo "== upload through kohaku (LFS basic PUT, hashed and verified while streamed)"
UP_T=$(timeit curl -sf -T "$FILE" "$HREF")
printf '{"key":"header","value":{"summary":"bench"}}\n{"key":"lfsFile","value":{"path":"blob.bin","algo":"sha256","oid":"%s","size":%s}}\n' "$OID" "$SIZE" |
  curl -sf -H "$AUTH" -H 'content-type: application/x-ndjson' --data-binary @- "$BASE/api/models/bench/bench/commit/main" >/dev/null
RSS_UP=$(grep VmHWM /proc/$PID/status | awk '{print $2}')

STORED=$WORK/data/storage/lfs/${OID:0:2}/${OID:2:2}/$OID
cat >"$WORK/nginx.conf" <<NGX
user root;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location = /blob.bin { alias $STORED; }
  }
}
NGX
nginx -c "$WORK/nginx.conf"
sleep 0.3

echo "== download: kohaku vs nginx (same file, same disk, warm cache, 3 runs each, best)"
best() { local b=999999 t; for _ in 1 2 3; do t=$(timeit "$@"); b=$(python3 -c "print(min($b,$t))"); done; echo "$b"; }
DL_K=$(best curl -sf -o /dev/null "$BASE/bench/bench/resolve/main/blob.bin")
DL_N=$(best curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/blob.bin")
RSS_DL=$(grep VmHWM /proc/$PID/status | awk '{print $2}')

echo "== HEAD resolve requests/s (ab, keep-alive, 32 concurrent, 20000 requests)"
hps() { ab -q -k -i -c 32 -n 20000 "$1" 2>/dev/null | awk '/Requests per second/{print $4}'; }
HEAD_K=$(hps "$BASE/bench/bench/resolve/main/blob.bin")
HEAD_N=$(hps "http://127.0.0.1:$NGINX_PORT/blob.bin")
curl -sfI "$BASE/bench/bench/resolve/main/blob.bin" | grep -qi "^x-repo-commit" || { echo "resolve HEAD failed"; exit 1; }
curl -sfI "http://127.0.0.1:$NGINX_PORT/blob.bin" >/dev/null || { echo "nginx HEAD failed"; exit 1; }

echo "== git clone of 2000 small files in 20 commits: kohaku vs git daemon (same repo, 5 runs each, best)"
curl -sf -H "$AUTH" -X POST "$BASE/api/repos/create" -d '{"name":"many","organization":"bench"}' >/dev/null
python3 - "$BASE" "$TOKEN" <<'PY'
import base64, json, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
for c in range(20):
    lines = [json.dumps({"key": "header", "value": {"summary": f"commit {c}"}})]
    for i in range(100):
        content = f"file {c}-{i}\n".encode() * (1 + (i % 7))
        lines.append(json.dumps({"key": "file", "value": {"path": f"d{c % 5}/f{c:02d}-{i:03d}.txt", "content": base64.b64encode(content).decode(), "encoding": "base64"}}))
    req = urllib.request.Request(f"{base}/api/models/bench/many/commit/main", data=("\n".join(lines) + "\n").encode(),
                                 headers={"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"})
    urllib.request.urlopen(req).read()
PY
rm -rf "$WORK/mirror.git" "$WORK/clone-"*
git clone -q --mirror "$BASE/bench/many" "$WORK/mirror.git"
GIT_DAEMON_PORT=$((PORT + 2))
git daemon --reuseaddr --export-all --base-path="$WORK" --port=$GIT_DAEMON_PORT --listen=127.0.0.1 "$WORK" &
DPID=$!
trap 'kill $PID $DPID 2>/dev/null; [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null; true' EXIT
sleep 0.5
# Clones land in memory when possible, and runs alternate, so disk writeback from the 1 GiB
# transfers above weighs on both sides alike.
CLONES=$WORK
[ -d /dev/shm ] && CLONES=$(mktemp -d /dev/shm/kohaku-clones.XXXX)
sync
clone_k() { git clone -q "$BASE/bench/many" "$(mktemp -d -u "$CLONES/clone-k.XXXXXX")"; }
clone_d() { git clone -q "git://127.0.0.1:$GIT_DAEMON_PORT/mirror.git" "$(mktemp -d -u "$CLONES/clone-d.XXXXXX")"; }
CLONE_K=999999
CLONE_D=999999
for _ in 1 2 3 4 5; do
  CLONE_K=$(python3 -c "print(min($CLONE_K, $(timeit clone_k)))")
  CLONE_D=$(python3 -c "print(min($CLONE_D, $(timeit clone_d)))")
done
[ "$(git -C "$(ls -d "$CLONES"/clone-k.* | head -1)" ls-files | wc -l)" -ge 2000 ] || { echo "kohaku clone incomplete"; exit 1; }
[ "$CLONES" != "$WORK" ] && rm -rf "$CLONES"

echo "== operator commands: gc over 10,000 LFS objects in 100 repos, stats rollup over 1,000,000 sessions"
command -v /usr/bin/time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
ADMIN=$(python3 bench/bench_admin.py "$KOHAKU" "$WORK" | tail -1)
adm() { python3 -c "import json,sys;print(json.loads(sys.argv[1])[sys.argv[2]])" "$ADMIN" "$1"; }

cat <<OUT | tee bench/RESULTS.md
# Benchmark results

$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, file of ${SIZE_MIB} MiB, release build, local storage.

| measure | kohaku | reference | ratio |
|---|---|---|---|
| upload (LFS PUT, sha256 verified) | $(rate $SIZE $UP_T) MiB/s | sha256 by openssl ($(rate $SIZE $HASH_T) MiB/s) then write+fsync ($(rate $SIZE $WRITE_T) MiB/s): $(rate $SIZE $BASE_T) MiB/s | $(python3 -c "print(f'{$BASE_T/$UP_T:.2f}')")× |
| download (resolve GET) | $(rate $SIZE $DL_K) MiB/s | nginx $(rate $SIZE $DL_N) MiB/s | $(python3 -c "print(f'{$DL_N/$DL_K:.2f}')")× |
| HEAD resolve | ${HEAD_K} req/s | nginx ${HEAD_N} req/s | $(python3 -c "print(f'{$HEAD_K/$HEAD_N:.2f}')")× |
| git clone, 2000 files / 20 commits | $(secs $CLONE_K) s | git daemon $(secs $CLONE_D) s | $(python3 -c "print(f'{$CLONE_K/$CLONE_D:.2f}')")× the time |
| \`kohaku gc\`, 10,000 LFS objects / 100 repos (34 repos deleted) | $(adm gc_seconds) s, peak RSS $(adm gc_peak_rss_mib) MiB, freed $(adm gc_freed_lfs_objects) LFS objects | | |
| \`kohaku stats rollup\`, 1,000,000 sessions | $(adm rollup_seconds) s, peak RSS $(adm rollup_peak_rss_mib) MiB; second run $(adm rollup_again_seconds) s | | |
| server peak RSS (VmHWM) | after upload $((RSS_UP / 1024)) MiB, after downloads $((RSS_DL / 1024)) MiB | | |

Targets: download ≥ 0.8× nginx, upload ≥ 0.7× sha256+write, RSS < 100 MB during the transfers,
clone ≤ 1.5× the time of git daemon.
OUT
