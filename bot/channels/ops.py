"""Operations endpoints of a Rasa process: readiness and Prometheus metrics.

A custom channel only for its routes (it takes no messages), named in credentials.yml as

    bot.channels.ops.OpsInput: {}

(scripts/run.sh adds it to the credentials it renders when credentials.yml does not name
it: bot/credentials_config.py). Routes, under ``/webhooks/ops/``:

* ``GET /webhooks/ops/ready``: 200 when this process can answer a turn end to end, 503
  otherwise; the body says which check failed, never a URL, password or exception message:
  ``model`` (loaded), ``tracker_store`` (``SELECT 1``), ``lock_store`` (Redis ``PING``; the
  in-memory store is always ready), ``action_server`` and ``backend`` (their ``/health``).
  Each check has ``READY_TIMEOUT_SECONDS`` (default 2). A load balancer should use it
  (HAProxy in scripts/run.sh does); a liveness probe should use ``GET /`` (Rasa's own).
  ``?only=model,lock_store`` runs only those (the load balancer's check is ``?only=model``:
  a backend or action server that is down must not take every replica out).
* ``GET /webhooks/ops/metrics``: bot/ops_metrics.py's counters, Prometheus text format.
  With ``OPS_METRICS_TOKEN`` set, it needs ``Authorization: Bearer <token>``.

It also puts :class:`bot.action_endpoint.BoundedActionEndpoint` in place of the agent's
action endpoint once the model is loaded, and keeps it there after a model reload (a
check every few seconds): short action time-outs and the session start in process; and
bot/rasa_speedups.py's schema check of action answers (70-100 ms less per action call).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import time
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import action_endpoint, ops_metrics, rasa_speedups

log = logging.getLogger(__name__)

READY_TIMEOUT_ENV = "READY_TIMEOUT_SECONDS"
METRICS_TOKEN_ENV = "OPS_METRICS_TOKEN"
REINSTALL_SECONDS = 5.0
CHECKS = ("model", "tracker_store", "lock_store", "action_server", "backend")


def _health_url(url: str | None) -> str | None:
    """``http://host:5055/webhook`` -> ``http://host:5055/health``."""
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/health", "", ""))


def _sql_ping(store: Any) -> None:
    import sqlalchemy as sa

    with store.engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


async def _in_thread(function: Callable[..., Any], *args: Any, timeout: float) -> None:
    await asyncio.wait_for(asyncio.to_thread(function, *args), timeout)


async def _http_ok(url: str | None, timeout: float, headers: dict[str, str] | None = None
                   ) -> None:
    if not url:
        raise LookupError("not configured")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async with session.get(url, headers=headers or {}) as reply:
            if reply.status != 200:
                raise RuntimeError(f"HTTP {reply.status}")


async def readiness(agent: Any, timeout: float | None = None,
                    backend_url: str | None = None,
                    only: tuple[str, ...] = CHECKS) -> dict[str, str]:
    """Each check's outcome: ``ok``, ``not configured`` or ``failed (<kind>)``."""
    timeout = timeout or float(os.environ.get(READY_TIMEOUT_ENV) or 2)
    backend_url = backend_url if backend_url is not None else os.environ.get("BACKEND_URL")

    async def model() -> None:
        if agent is None or not agent.is_ready():
            raise RuntimeError("no model")
        keep_bounded_endpoint(agent)

    async def tracker_store() -> None:
        store = getattr(agent, "tracker_store", None)
        if store is None:
            raise RuntimeError("no store")
        store = getattr(store, "_tracker_store", store)  # Rasa's FailSafeTrackerStore
        if hasattr(store, "engine"):
            await _in_thread(_sql_ping, store, timeout=timeout)

    async def lock_store() -> None:
        store = getattr(agent, "lock_store", None)
        red = getattr(store, "red", None)
        if red is not None:
            await _in_thread(red.ping, timeout=timeout)

    async def action_server() -> None:
        endpoint = getattr(agent, "action_endpoint", None)
        await _http_ok(_health_url(getattr(endpoint, "url", None)), timeout)

    async def backend() -> None:
        if not backend_url:
            raise LookupError("not configured")
        await _http_ok(backend_url.rstrip("/") + "/health", timeout)

    checks = {"model": model, "tracker_store": tracker_store, "lock_store": lock_store,
              "action_server": action_server, "backend": backend}

    async def run(name: str) -> tuple[str, str]:
        try:
            await asyncio.wait_for(checks[name](), timeout + 0.5)
            return name, "ok"
        except LookupError:
            return name, "not configured"
        except Exception as exc:  # noqa: BLE001 - the kind only, never the message
            return name, f"failed ({type(exc).__name__})"

    return dict(await asyncio.gather(*(run(name) for name in CHECKS if name in only)))


def is_ready(results: dict[str, str]) -> bool:
    return bool(results) and all(value in ("ok", "not configured")
                                 for value in results.values())


def _authorized(request: Request) -> bool:
    token = os.environ.get(METRICS_TOKEN_ENV, "").strip()
    if not token:
        return True
    scheme, _, presented = (request.headers.get("Authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(),
                                                              token.encode())


def keep_bounded_endpoint(agent: Any) -> None:
    if agent is not None and action_endpoint.install(agent):
        endpoint = agent.action_endpoint
        log.info("action endpoint: %g s time-out, session start %s", endpoint.timeout,
                 "in process" if endpoint.local_session_start else "on the action server")


class OpsInput(InputChannel):
    """Readiness and metrics routes (module docstring); takes no messages."""

    @classmethod
    def name(cls) -> str:
        return "ops"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        ops = Blueprint("ops_webhook", __name__)

        @ops.listener("after_server_start")
        async def bound_action_calls(app: Any, _loop: Any) -> None:
            ops_metrics.install_error_counter()
            rasa_speedups.install()

            async def watch() -> None:
                while True:
                    keep_bounded_endpoint(getattr(app.ctx, "agent", None))
                    await asyncio.sleep(REINSTALL_SECONDS)

            app.ctx.ops_watch = asyncio.get_running_loop().create_task(watch())

        @ops.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @ops.route("/ready", methods=["GET"])
        async def ready(request: Request) -> HTTPResponse:
            agent = getattr(request.app.ctx, "agent", None)
            started = time.perf_counter()
            wanted = request.args.get("only")
            only = tuple(n for n in (wanted or "").split(",") if n in CHECKS) or CHECKS
            results = await readiness(agent, only=only)
            body = {"ready": is_ready(results), "checks": results,
                    "seconds": round(time.perf_counter() - started, 3)}
            return response.json(body, status=200 if body["ready"] else 503)

        @ops.route("/metrics", methods=["GET"])
        async def metrics(request: Request) -> HTTPResponse:
            if not _authorized(request):
                return response.json({"error": "unauthorized"}, status=401)
            return response.text(ops_metrics.REGISTRY.exposition(),
                                 content_type="text/plain; version=0.0.4; charset=utf-8")

        return ops
