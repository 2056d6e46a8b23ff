#!/usr/bin/env bash
# Scripted bootstrap of a fresh hub: an admin user (hubadmin; `admin` is a reserved name) and a
# token, no web page needed.
# ADMIN_PASSWORD goes in on standard input, not on the command line (where `ps` shows it).
set -euo pipefail
kohaku init
printf '%s\n' "${ADMIN_PASSWORD:?set ADMIN_PASSWORD}" |
  kohaku user create hubadmin --email admin@example.org --password-stdin --admin
TOKEN=$(kohaku token create --user hubadmin --name bootstrap)
echo "export HF_ENDPOINT=${KOHAKU_HUB_BASE_URL:-http://127.0.0.1:28080} HF_TOKEN=$TOKEN"
