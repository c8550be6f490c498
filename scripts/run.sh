#!/usr/bin/env bash
# Starts the whole stack in the foreground and stops all of it on Ctrl-C:
#   backend stub :8000 (when set up), action server :5055, Rasa server :5005
#   (REST /webhooks/rest/webhook and socket.io channels, see credentials.yml).
# Ports and the tracker database can be moved with RASA_PORT, ACTIONS_PORT, BACKEND_PORT
# and RASA_TRACKER_DB (the tests run a private stack that way). Several replicas:
# RASA_TRACKER_URL (PostgreSQL tracker) and REDIS_URL (Redis lock store, WhatsApp memory),
# then RASA_REPLICAS=N (N Rasa processes) and ACTIONS_REPLICAS=M (M action servers) behind
# HAProxy on RASA_PORT and ACTIONS_PORT (scripts/haproxy_config.py; replicas on free ports,
# one TensorFlow thread each unless TF_INTRA_OP_PARALLELISM_THREADS says otherwise).
# LOG_FORMAT=json: Rasa logs one JSON object per line, personal data masked.
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
RASA_REPLICAS="${RASA_REPLICAS:-1}"
ACTIONS_REPLICAS="${ACTIONS_REPLICAS:-1}"
mkdir -p var

if (( RASA_REPLICAS > 1 )) && [[ -z "${RASA_TRACKER_URL:-}" || -z "${REDIS_URL:-}" ]]; then
  echo "RASA_REPLICAS=$RASA_REPLICAS needs RASA_TRACKER_URL (PostgreSQL) and REDIS_URL (Redis):" \
       "replicas must share the tracker and the conversation locks." >&2
  exit 2
fi
balanced=0
if (( RASA_REPLICAS > 1 || ACTIONS_REPLICAS > 1 )); then
  balanced=1
  if ! command -v haproxy >/dev/null 2>&1; then
    echo "RASA_REPLICAS/ACTIONS_REPLICAS need haproxy: run 'make setup'." >&2
    exit 2
  fi
  # Several processes on few cores: one TensorFlow thread pool each, small; a conversation
  # lock left by a replica that died expires after TICKET_LOCK_LIFETIME seconds.
  export TF_INTRA_OP_PARALLELISM_THREADS="${TF_INTRA_OP_PARALLELISM_THREADS:-1}"
  export TF_INTER_OP_PARALLELISM_THREADS="${TF_INTER_OP_PARALLELISM_THREADS:-1}"
  export TICKET_LOCK_LIFETIME="${TICKET_LOCK_LIFETIME:-20}"
fi
free_ports() {  # N free loopback ports
  .venv/bin/python - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

RASA_MODEL="${RASA_MODEL:-models/area-clienti.tar.gz}"  # benchmarks: another model
if [[ ! -f "$RASA_MODEL" ]]; then
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
# credentials.yml plus the operations channel (readiness, metrics: bot/channels/ops.py).
credentials="$(mktemp "${TMPDIR:-/tmp}/credentials.XXXXXX.yml")"
.venv/bin/python -m bot.credentials_config > "$credentials"
haproxy_cfg="$(mktemp "${TMPDIR:-/tmp}/haproxy.XXXXXX.cfg")"
logging_args=()
if [[ "${LOG_FORMAT:-}" == json ]]; then
  logging_args=(--logging-config-file scripts/configs/logging_json.yml)
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
  rm -f "$endpoints" "$credentials" "$haproxy_cfg"
  echo "stopped"
  exit 0
}
trap stop INT TERM EXIT

if [[ -x backend_stub/.venv/bin/python ]]; then
  echo "backend stub   -> http://127.0.0.1:${BACKEND_PORT:-8000}"
  backend_stub/.venv/bin/python -m backend_stub & pids+=($!)
fi

rasa_server() {  # port
  .venv/bin/rasa run --model "$RASA_MODEL" --endpoints "$endpoints" \
    --credentials "$credentials" -i "${RASA_HOST:-127.0.0.1}" --port "$1" \
    ${logging_args[@]+"${logging_args[@]}"} \
    --cors ${RASA_CORS[@]+"${RASA_CORS[@]}"} & pids+=($!)
}

if (( balanced )); then
  read -r -a rasa_ports <<< "$( (( RASA_REPLICAS > 1 )) && free_ports "$RASA_REPLICAS" || true)"
  read -r -a action_ports <<< "$( (( ACTIONS_REPLICAS > 1 )) && free_ports "$ACTIONS_REPLICAS" || true)"
  lb_args=()
  if (( RASA_REPLICAS > 1 )); then
    lb_args+=(--rasa-port "$RASA_PORT" --rasa "${rasa_ports[@]}")
  else
    rasa_ports=("$RASA_PORT")
  fi
  if (( ACTIONS_REPLICAS > 1 )); then
    lb_args+=(--actions-port "$ACTIONS_PORT" --actions "${action_ports[@]}")
  else
    action_ports=("$ACTIONS_PORT")
  fi
  # HAProxy listens where a single Rasa would (RASA_HOST); the replicas on loopback only.
  .venv/bin/python scripts/haproxy_config.py "${lb_args[@]}" --bind "${RASA_HOST:-127.0.0.1}" \
    ${HAPROXY_STATS_PORT:+--stats-port "$HAPROXY_STATS_PORT"} > "$haproxy_cfg"
  echo "haproxy        -> rasa :${RASA_PORT} -> ${rasa_ports[*]}; actions :${ACTIONS_PORT} -> ${action_ports[*]}"
  haproxy -W -db -f "$haproxy_cfg" & pids+=($!)
  for port in "${action_ports[@]}"; do
    echo "action server  -> http://127.0.0.1:${port}"
    .venv/bin/python -m actions.server --port "$port" & pids+=($!)
  done
  for port in "${rasa_ports[@]}"; do
    echo "rasa replica   -> http://127.0.0.1:${port} (metrics: /webhooks/ops/metrics)"
    if (( RASA_REPLICAS > 1 )); then RASA_HOST=127.0.0.1 rasa_server "$port"; else rasa_server "$port"; fi
  done
else
  echo "action server  -> http://127.0.0.1:${ACTIONS_PORT}"
  .venv/bin/python -m actions.server --port "$ACTIONS_PORT" & pids+=($!)

  echo "rasa server    -> http://127.0.0.1:${RASA_PORT} (default brand: $ASSISTANT_DEFAULT_BRAND)"
  rasa_server "$RASA_PORT"
fi

if [[ "${RUN_SURVIVE_REPLICA_EXIT:-0}" == 1 ]]; then
  # Tests that kill a replica on purpose: stop only on Ctrl-C (or when all are gone).
  while true; do
    wait -n "${pids[@]}" || sleep 1
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    (( alive )) || exit 1
  done
fi

# Returns as soon as any of them exits (Ctrl-C lands in the trap instead).
wait -n "${pids[@]}"
echo "a process exited; stopping the others" >&2
exit 1
