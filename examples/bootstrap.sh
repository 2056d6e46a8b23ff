#!/usr/bin/env bash
# Scripted bootstrap of a fresh hub: an admin user and a token, no web page needed.
set -euo pipefail
kohaku user create admin --email admin@example.org --password "${ADMIN_PASSWORD:?set ADMIN_PASSWORD}" --admin
TOKEN=$(kohaku token create --user admin --name bootstrap)
echo "export HF_ENDPOINT=${KOHAKU_HUB_BASE_URL:-http://127.0.0.1:28080} HF_TOKEN=$TOKEN"
