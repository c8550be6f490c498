#!/usr/bin/env bash
# Chat with the assistant in the terminal. BRAND=cavita selects CA Vita's answers.
# The backend stub and the action server run in the background (their logs, and Rasa's own
# warnings, go to var/shell-*.log): the terminal shows only the conversation.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export TF_CPP_MIN_LOG_LEVEL=3 RASA_TELEMETRY_ENABLED=false PYTHONWARNINGS=ignore
export ASSISTANT_DEFAULT_BRAND="${BRAND:-${ASSISTANT_DEFAULT_BRAND:-alleanza}}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
ACTIONS_PORT="${ACTIONS_PORT:-5055}"
BACKEND_PORT="${BACKEND_PORT:-8000}"
export BACKEND_URL="${BACKEND_URL:-http://127.0.0.1:${BACKEND_PORT}}"
mkdir -p var
if [[ ! -f models/area-clienti.tar.gz ]]; then
  echo "No trained model: run 'make setup' first." >&2
  exit 1
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pids=()
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT
if [[ -x backend_stub/.venv/bin/python ]] && port_free "$BACKEND_PORT"; then
  BACKEND_PORT="$BACKEND_PORT" backend_stub/.venv/bin/python -m backend_stub \
    >var/shell-backend.log 2>&1 & pids+=($!)
fi
if port_free "$ACTIONS_PORT"; then
  # A fresh shared secret for this terminal chat (actions/server.py checks it).
  export ACTION_SERVER_TOKEN="${ACTION_SERVER_TOKEN:-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')}"
  .venv/bin/python -m actions.server --port "$ACTIONS_PORT" \
    >var/shell-actions.log 2>&1 & pids+=($!)
fi
endpoints="$(mktemp "${TMPDIR:-/tmp}/endpoints.XXXXXX.yml")"
trap 'rm -f "$endpoints"; for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT
ACTIONS_PORT="$ACTIONS_PORT" .venv/bin/python -m bot.endpoints_config > "$endpoints"
echo "Un attimo: carico l'assistente ($ASSISTANT_DEFAULT_BRAND)..."
for _ in $(seq 60); do
  (exec 3<>"/dev/tcp/127.0.0.1/$ACTIONS_PORT") 2>/dev/null && break
  sleep 1
done
.venv/bin/rasa shell --model models/area-clienti.tar.gz --endpoints "$endpoints" --quiet \
  2>>var/shell-rasa.log
