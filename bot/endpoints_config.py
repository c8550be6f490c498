"""The endpoints Rasa runs with, from the environment: embedded by default, scale-out by URL.

endpoints.yml is the embedded default (SQLite tracker under var/, in-memory lock store).
For several Rasa replicas serving the same conversations (../shared/design.md) the tracker
goes to PostgreSQL and the lock store to Redis, chosen by two URLs rather than by editing
YAML per environment:

    ACTION_SERVER_URL=http://actions:5055/webhook             (default: 127.0.0.1, ACTIONS_PORT)
    ACTION_SERVER_TOKEN=<32+ random characters>               (sent as a bearer header; the
                                                              same value on the action server)
    RASA_TRACKER_URL=postgresql://rasa:secret@db:5432/rasa   (created at start if missing)
    REDIS_URL=redis://:secret@cache:6379/0                    (the WhatsApp channel's memory
                                                              too: bot/channels/channel_state.py)

    OPS_METRICS=0                                             (no metrics broker)

    python -m bot.endpoints_config > /tmp/endpoints.yml       # what scripts/run.sh does

Unless endpoints.yml names an event broker of its own, the event broker is
bot/ops_metrics.py's ``MetricsBroker``: it only counts turns, fallbacks, handoffs and
latency for ``GET /webhooks/ops/metrics`` (bot/channels/ops.py); nothing leaves the process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

from actions.server import UnsafeActionServer, action_server_token, auth_header

ROOT = Path(__file__).resolve().parent.parent
BASE_ENDPOINTS = ROOT / "endpoints.yml"
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg2")
REDIS_SCHEMES = ("redis", "rediss")
LOCK_DB_DEFAULT = 1  # Rasa's own default: keeps locks apart from the channel keys in db 0
# Rasa's Redis lock store uses the blocking client on the event loop: a Redis that stops
# answering must not freeze the server for Rasa's default 10 s per call.
LOCK_SOCKET_TIMEOUT_SECONDS = 2
PG_CONNECT_TIMEOUT_SECONDS = 3
# Rasa's SQL store that writes no token or personal data in clear (bot/tracker_store.py).
TRACKER_STORE_TYPE = "bot.tracker_store.RedactingSQLTrackerStore"
# Rasa's Redis lock store that takes a process-local lock while Redis is away (bot/lock_store.py).
LOCK_STORE_TYPE = "bot.lock_store.ResilientRedisLockStore"
METRICS_BROKER_TYPE = "bot.ops_metrics.MetricsBroker"
OFF = ("0", "false", "no", "off")


class EndpointsConfigError(ValueError):
    """A URL in the environment that cannot configure a store (said before anything starts)."""


def _port(parts: Any, default: int, name: str) -> int:
    try:
        return parts.port or default
    except ValueError as exc:
        raise EndpointsConfigError(f"{name}: the port is not a number") from exc


def _credentials(parts: Any) -> dict[str, str]:
    """User name and password of a URL, percent-decoded, when it has them."""
    found = {"username": parts.username, "password": parts.password}
    return {key: unquote(value) for key, value in found.items() if value}


def tracker_store(env: Mapping[str, str]) -> dict[str, Any]:
    url = env.get("RASA_TRACKER_URL", "").strip()
    if not url:
        return {"type": TRACKER_STORE_TYPE, "dialect": "sqlite",
                "db": env.get("RASA_TRACKER_DB") or "var/rasa_tracker.sqlite3"}
    parts = urlsplit(url)
    database = parts.path.lstrip("/")
    if parts.scheme not in POSTGRES_SCHEMES or not parts.hostname or not database:
        raise EndpointsConfigError(
            "RASA_TRACKER_URL must look like postgresql://user:password@host:5432/database"
        )
    store: dict[str, Any] = {
        "type": TRACKER_STORE_TYPE,
        "dialect": "postgresql",
        "url": parts.hostname,
        "port": _port(parts, 5432, "RASA_TRACKER_URL"),
        "db": unquote(database),
    }
    # Rasa connects to `login_db` first and creates `db` when it does not exist yet; where
    # the role may not connect there (managed PostgreSQL, PgBouncer) RASA_TRACKER_LOGIN_DB=""
    # skips that (the database must then exist).
    login_db = env.get("RASA_TRACKER_LOGIN_DB", "postgres").strip()
    if login_db:
        store["login_db"] = login_db
    query = dict(parse_qsl(parts.query))
    # A PostgreSQL that stops answering must not hold a turn (and, the driver being
    # synchronous, the whole process) for the operating system's TCP time-out.
    query.setdefault("connect_timeout", str(PG_CONNECT_TIMEOUT_SECONDS))
    store["query"] = query  # e.g. sslmode=verify-full
    return {**store, **_credentials(parts)}


def lock_store(env: Mapping[str, str]) -> dict[str, Any] | None:
    url = env.get("REDIS_URL", "").strip()
    if not url:
        return None  # Rasa's in-memory lock store: one replica
    parts = urlsplit(url)
    if parts.scheme not in REDIS_SCHEMES or not parts.hostname:
        raise EndpointsConfigError("REDIS_URL must look like redis://[:password@]host:6379/0")
    store: dict[str, Any] = {
        "type": LOCK_STORE_TYPE,
        "url": parts.hostname,
        "port": _port(parts, 6379, "REDIS_URL"),
        "db": int(env.get("RASA_LOCK_REDIS_DB") or LOCK_DB_DEFAULT),
        "use_ssl": parts.scheme == "rediss",
        "socket_timeout": LOCK_SOCKET_TIMEOUT_SECONDS,
    }
    # Deployments sharing one Redis keep their locks apart too (Rasa wants alphanumerics).
    prefix = "".join(ch for ch in env.get("REDIS_KEY_PREFIX", "") if ch.isalnum())
    if prefix:
        store["key_prefix"] = prefix
    return {**store, **_credentials(parts)}


def action_endpoint(env: Mapping[str, str], base: Mapping[str, Any]) -> dict[str, Any]:
    """Where Rasa calls the actions, and the shared token it presents (actions/server.py).

    Rasa's EndpointConfig sends its ``headers`` with every call; its ``token`` option would
    put the secret in the URL's query string (and so in access logs), hence a bearer
    header. The token is written into the rendered file, which scripts/run.sh creates with
    mktemp (mode 0600) and deletes at exit. Production without a usable token stops here,
    as the action server itself would.
    """
    endpoint = dict(base)
    action_server, port = env.get("ACTION_SERVER_URL", "").strip(), env.get("ACTIONS_PORT")
    if action_server:  # another host (one action server for several Rasa replicas)
        endpoint["url"] = action_server
    elif port:
        endpoint["url"] = f"http://127.0.0.1:{int(port)}/webhook"
    try:
        token = action_server_token(env)
    except UnsafeActionServer as exc:
        raise EndpointsConfigError(str(exc)) from exc
    if token:
        endpoint["headers"] = {**(base.get("headers") or {}), **auth_header(token)}
    return endpoint


def render(env: Mapping[str, str] | None = None, base: Path = BASE_ENDPOINTS) -> dict[str, Any]:
    """endpoints.yml with this environment's action-server port, tracker and lock stores."""
    env = os.environ if env is None else env
    endpoints = yaml.safe_load(base.read_text(encoding="utf-8"))
    endpoints["action_endpoint"] = action_endpoint(env, endpoints["action_endpoint"])
    endpoints["tracker_store"] = tracker_store(env)
    lock = lock_store(env)
    if lock:
        endpoints["lock_store"] = lock
    if not endpoints.get("event_broker") and env.get("OPS_METRICS", "1").lower() not in OFF:
        endpoints["event_broker"] = {"type": METRICS_BROKER_TYPE}
    return endpoints


def main() -> int:
    try:
        endpoints = render()
    except (EndpointsConfigError, ValueError) as exc:
        print(f"endpoints: {exc}", file=sys.stderr)
        return 2
    # Every string quoted: a password such as 1e3 or 0o17 must stay a string. (Rasa also
    # expands ${VAR} in this file, so a password must not contain "${".)
    sys.stdout.write(yaml.safe_dump(endpoints, sort_keys=False, allow_unicode=True,
                                    default_style='"'))
    return 0


if __name__ == "__main__":
    sys.exit(main())
