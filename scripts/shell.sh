#!/usr/bin/env bash
# Chat with the assistant in the terminal. BRAND=cavita selects CA Vita's answers.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export TF_CPP_MIN_LOG_LEVEL=3 RASA_TELEMETRY_ENABLED=false
export ASSISTANT_DEFAULT_BRAND="${BRAND:-${ASSISTANT_DEFAULT_BRAND:-alleanza}}"
mkdir -p var
.venv/bin/rasa run actions --actions actions --port "${ACTIONS_PORT:-5055}" >var/actions-shell.log 2>&1 &
actions=$!
trap 'kill $actions 2>/dev/null || true' EXIT
.venv/bin/rasa shell --model models/area-clienti.tar.gz --endpoints endpoints.yml
