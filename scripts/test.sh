#!/usr/bin/env bash
# Runs every check and test of kohaku: formatting, clippy, Rust tests, and the end-to-end
# suite that drives a real `kohaku serve` with the pinned huggingface_hub client.
# Installs what it needs (Python venv and node packages, pinned) into a cache directory so that
# later runs are fast. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CACHE=${KOHAKU_CACHE:-$HOME/.cache/kohaku-ci}
mkdir -p "$CACHE"
# Share compiled dependencies between clones (CI runs on a fresh clone each time).
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

step "python venv (pinned huggingface_hub)"
VENV=$CACHE/venv
REQ_HASH=$(sha256sum tests/requirements.txt | cut -c1-16)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.req-hash" 2>/dev/null)" != "$REQ_HASH" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
  echo "$REQ_HASH" > "$VENV/.req-hash"
fi
"$VENV/bin/python" -c "import huggingface_hub; assert huggingface_hub.__version__ == '2.4.0', huggingface_hub.__version__"

step "node packages (pinned @huggingface/hub, for test_js_client.py)"
NODE_DIR=$CACHE/node
if ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm) >/dev/null || true
fi
if command -v npm >/dev/null 2>&1; then
  LOCK_HASH=$(sha256sum tests/package-lock.json | cut -c1-16)
  if [ ! -d "$NODE_DIR/node_modules" ] || [ "$(cat "$NODE_DIR/.lock-hash" 2>/dev/null)" != "$LOCK_HASH" ]; then
    rm -rf "$NODE_DIR"
    mkdir -p "$NODE_DIR"
    cp tests/package.json tests/package-lock.json "$NODE_DIR/"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$LOCK_HASH" > "$NODE_DIR/.lock-hash"
  fi
  export KOHAKU_TEST_NODE_MODULES=$NODE_DIR/node_modules
  echo "node $(node --version)"
else
  echo "node/npm not installed: test_js_client.py will be skipped"
fi

step "git, git-lfs and ssh-keygen"
missing=()
git lfs version >/dev/null 2>&1 || missing+=(git-lfs)
command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null
fi
git --version && git lfs version && command -v ssh-keygen

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo build"
cargo build --workspace --quiet
export KOHAKU_BIN=$CARGO_TARGET_DIR/debug/kohaku

step "PostgreSQL (the one on 127.0.0.1:5432 when it runs, else a private server)"
PG_PRIVATE=""
PG_DB=""
AS_PG=()
cleanup_pg() {
  [ -n "${PG_DB:-}" ] && psql -X -q "postgres://postgres@$PG_HOSTPORT/postgres" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  if [ -n "$PG_PRIVATE" ]; then
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -s -D "$PG_PRIVATE/data" -m immediate stop || true
    rm -rf "$PG_PRIVATE"
  fi
}
trap cleanup_pg EXIT
# KOHAKU_TEST_PRIVATE_PG=1 forces the private server (to try that path on a machine that has one).
if [ -n "${KOHAKU_TEST_PRIVATE_PG:-}" ] || ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$PG_BIN" ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
  fi
  PG_PRIVATE=$(mktemp -d /tmp/kohaku-pg-XXXXXX)
  PG_PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  chown postgres "$PG_PRIVATE" 2>/dev/null || true
  [ "$(id -u)" = 0 ] && AS_PG=(runuser -u postgres --)
  "${AS_PG[@]}" "$PG_BIN/initdb" -D "$PG_PRIVATE/data" -U postgres --auth=trust >/dev/null
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -s -D "$PG_PRIVATE/data" -l "$PG_PRIVATE/log" -w \
    -o "-p $PG_PORT -k $PG_PRIVATE -c listen_addresses=127.0.0.1 -c max_connections=400" start
  PG_HOSTPORT=127.0.0.1:$PG_PORT
else
  PG_HOSTPORT=127.0.0.1:5432
fi
# A database of this run's own, dropped at the end; each hub gets a schema in it.
PG_DB=kohaku_ci_$(date +%s)_$$
psql -X -q "postgres://postgres@$PG_HOSTPORT/postgres" -c "CREATE DATABASE $PG_DB"
export KOHAKU_TEST_PG_URL=postgres://postgres@$PG_HOSTPORT/$PG_DB

step "cargo test"
cargo test --workspace --quiet

step "S3-compatible server (s3s-fs 0.14.1, SigV4 on)"
S3S=$CACHE/s3s/bin/s3s-fs
if [ ! -x "$S3S" ]; then
  # Its own target dir: the project's cache must not be invalidated by an unrelated build.
  CARGO_TARGET_DIR=$CACHE/s3s-target cargo install --quiet --locked s3s-fs --version 0.14.1 \
    --features binary --root "$CACHE/s3s"
  rm -rf "$CACHE/s3s-target"
fi
S3_ROOT=$(mktemp -d /tmp/kohaku-s3-XXXXXX)
S3_PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export KOHAKU_TEST_S3_ACCESS_KEY=kohaku-test KOHAKU_TEST_S3_SECRET_KEY=kohaku-test-secret-$RANDOM$RANDOM
"$S3S" --host 127.0.0.1 --port "$S3_PORT" --access-key "$KOHAKU_TEST_S3_ACCESS_KEY" \
  --secret-key "$KOHAKU_TEST_S3_SECRET_KEY" "$S3_ROOT" >"$S3_ROOT.log" 2>&1 &
S3_PID=$!
trap 'kill $S3_PID 2>/dev/null; rm -rf "$S3_ROOT" "$S3_ROOT.log"; cleanup_pg' EXIT
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" && break
  sleep 0.1
done

# Two passes side by side: the embedded default (SQLite + local directory) and the scale-out
# setup (PostgreSQL + S3-compatible bucket); each runs the whole suite.
step "end-to-end suites (real kohaku serve + huggingface_hub 2.4.0): SQLite+local and PostgreSQL+S3, in parallel"
cd "$ROOT/tests/e2e"
PYTEST=("$VENV/bin/python" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning)
LOGS=$(mktemp -d)
env -u KOHAKU_TEST_PG_URL "${PYTEST[@]}" "$@" >"$LOGS/local.log" 2>&1 &
LOCAL_PID=$!
KOHAKU_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT KOHAKU_TEST_S3_ROOT=$S3_ROOT \
  "${PYTEST[@]}" "$@" >"$LOGS/s3.log" 2>&1 &
S3_TEST_PID=$!
status=0
wait $LOCAL_PID || status=1
wait $S3_TEST_PID || status=1
for mode in local s3; do
  printf '\n--- e2e: %s ---\n' "$([ $mode = local ] && echo 'SQLite + local storage' || echo 'PostgreSQL + S3')"
  if [ $status -ne 0 ]; then cat "$LOGS/$mode.log"; else tail -n 3 "$LOGS/$mode.log"; fi
done
rm -rf "$LOGS"
exit $status
