#!/usr/bin/env bash
# Runs every check and test of kohaku: formatting, clippy, Rust tests, and the end-to-end
# suite that drives a real `kohaku serve` with the pinned huggingface_hub client.
# Installs what it needs (Python venv with pinned packages) into a cache directory so that
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

step "cargo test"
cargo test --workspace --quiet

step "end-to-end suite (real kohaku serve + huggingface_hub 2.4.0)"
cd "$ROOT/tests/e2e"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning "$@"
