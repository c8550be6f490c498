#!/usr/bin/env bash
# Starts the whole stack in the foreground and stops all of it on Ctrl-C:
#   backend stub :8000 (when set up), action server :5055, Rasa server :5005
#   (REST /webhooks/rest/webhook and socket.io channels, see credentials.yml).
# Ports and the tracker database can be moved with RASA_PORT, ACTIONS_PORT, BACKEND_PORT
# and RASA_TRACKER_DB (the tests run a private stack that way). Several replicas:
# RASA_TRACKER_URL (PostgreSQL tracker) and REDIS_URL (Redis lock store, WhatsApp memory).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export TF_CPP_MIN_LOG_LEVEL=3 RASA_TELEMETRY_ENABLED=false
export ASSISTANT_DEFAULT_BRAND="${ASSISTANT_DEFAULT_BRAND:-alleanza}"
# Development unless ASSISTANT_ENV=production (bot/settings.py: production refuses unsafe
# settings). Demo host pages (widget with demo customers, staff demo login) default to on
# in development only; CORS: any origin in development, CHAT_ALLOWED_ORIGINS in production.
export ASSISTANT_ENV="${ASSISTANT_ENV:-development}"
if [[ "$ASSISTANT_ENV" == production ]]; then
  export DEMO_PAGES="${DEMO_PAGES:-0}"
  origins="${CHAT_ALLOWED_ORIGINS:-}"
  read -r -a RASA_CORS <<< "${origins//,/ }"
else
  export DEMO_PAGES="${DEMO_PAGES:-1}"
  RASA_CORS=("*")
  # A fresh shared secret per run: the action server answers only this Rasa.
  export ACTION_SERVER_TOKEN="${ACTION_SERVER_TOKEN:-$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))')}"
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"  # bot.channels.* named in credentials.yml
RASA_PORT="${RASA_PORT:-5005}"
ACTIONS_PORT="${ACTIONS_PORT:-5055}"
# The action server reaches the backend stub started below (same port).
export BACKEND_URL="${BACKEND_URL:-http://127.0.0.1:${BACKEND_PORT:-8000}}"
RASA_TRACKER_DB="${RASA_TRACKER_DB:-var/rasa_tracker.sqlite3}"
mkdir -p var

if [[ ! -f models/area-clienti.tar.gz ]]; then
  echo "No trained model: run 'make setup' first." >&2
  exit 1
fi

# endpoints.yml with this run's action-server port, tracker and lock store
# (RASA_TRACKER_URL: PostgreSQL tracker, REDIS_URL: Redis lock store; bot/endpoints_config.py).
endpoints="$(mktemp "${TMPDIR:-/tmp}/endpoints.XXXXXX.yml")"
if ! ACTIONS_PORT="$ACTIONS_PORT" RASA_TRACKER_DB="$RASA_TRACKER_DB" \
    .venv/bin/python -m bot.endpoints_config > "$endpoints"; then
  rm -f "$endpoints"
  exit 2
fi

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "stopping..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # Give each server up to 30 s to finish what it is doing, then force it.
  for _ in $(seq 30); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive -eq 0 ]] && break
    sleep 1
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$endpoints"
  echo "stopped"
  exit 0
}
trap stop INT TERM EXIT

if [[ -x backend_stub/.venv/bin/python ]]; then
  echo "backend stub   -> http://127.0.0.1:${BACKEND_PORT:-8000}"
  backend_stub/.venv/bin/python -m backend_stub & pids+=($!)
fi

echo "action server  -> http://127.0.0.1:${ACTIONS_PORT}"
.venv/bin/python -m actions.server --port "$ACTIONS_PORT" & pids+=($!)

echo "rasa server    -> http://127.0.0.1:${RASA_PORT} (default brand: $ASSISTANT_DEFAULT_BRAND)"
.venv/bin/rasa run --model models/area-clienti.tar.gz --endpoints "$endpoints" \
  --credentials credentials.yml -i "${RASA_HOST:-127.0.0.1}" --port "$RASA_PORT" \
  --cors ${RASA_CORS[@]+"${RASA_CORS[@]}"} & pids+=($!)

# Returns as soon as any of them exits (Ctrl-C lands in the trap instead).
wait -n "${pids[@]}"
echo "a process exited; stopping the others" >&2
exit 1
