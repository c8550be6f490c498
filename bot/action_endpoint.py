"""Rasa's action endpoint with a short time-out, one connection pool, and the session start
answered in the Rasa process.

Why: Rasa 3.6 calls the action server with a fixed 5-minute time-out (``RemoteAction`` passes
``DEFAULT_REQUEST_TIMEOUT`` to every call; no endpoints.yml option changes it) and opens a new
HTTP session per call. ``action_session_start`` is a custom action (actions/session.py: the
brand from the channel's metadata), so with the action server hung (process stopped, not
dead) every new conversation waited minutes, even for a plain FAQ answer.

:class:`BoundedActionEndpoint` is an ``EndpointConfig`` (what Rasa's ``RemoteAction`` and
``FormAction`` call) that

* runs ``action_session_start`` in process, with the very action class the action server
  runs (``actions.session.ActionSessionStart``, through rasa_sdk's own ``Tracker``): no round
  trip for a new conversation, and a session that starts whatever state the action server is
  in. ``ACTION_SESSION_START_REMOTE=1`` sends it to the action server again;
* bounds every other call to ``ACTION_TIMEOUT_SECONDS`` (default 10: above the actions' own
  5 s backend time-out, so «non riesco a raggiungere i sistemi» still arrives first when the
  backend hangs);
* answers for the action server when it cannot: a call that times out, finds nobody
  listening or fails with a server error gets that same apology (a form asks its question
  again). Rasa's own endpoint raises there, Rasa drops the action's events and the customer
  gets silence;
* keeps one aiohttp session (keep-alive connections) per event loop instead of one per call.

:func:`install` puts it in place of the agent's endpoint; bot/channels/ops.py calls it once
the model is loaded (and again after a model reload).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from typing import Any

import aiohttp
from rasa.utils.endpoints import ClientResponseError, EndpointConfig, concat_url

log = logging.getLogger(__name__)

TIMEOUT_ENV = "ACTION_TIMEOUT_SECONDS"
DEFAULT_TIMEOUT_SECONDS = 10.0
REMOTE_SESSION_START_ENV = "ACTION_SESSION_START_REMOTE"
SESSION_START = "action_session_start"
# What the customer reads when an action cannot run (domain/core.yml): the same words as
# when the backend is down.
UNAVAILABLE_RESPONSE = "utter_backend_non_disponibile"
# An idle pooled connection is dropped before the action server (Sanic) closes it after
# 5 s: with 30 s, a turn a few seconds after the last one could be sent on a connection the
# server was closing, got «connection reset» and the form's validation was lost (seen in
# suite A as a support form answering its e-mail with the apology).
KEEPALIVE_SECONDS = 4.0


def timeout_seconds(env: Mapping[str, str] | None = None) -> float:
    env = os.environ if env is None else env
    raw = (env.get(TIMEOUT_ENV) or "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value <= 600:
        raise ValueError(f"{TIMEOUT_ENV}={raw!r} must be a number of seconds in (0, 600]")
    return value


async def session_start_events(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the action server would answer to ``action_session_start`` (same class)."""
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.session import ActionSessionStart

    tracker = Tracker.from_dict(body["tracker"])
    dispatcher = CollectingDispatcher()
    events = await ActionSessionStart().run(dispatcher, tracker, body.get("domain") or {})
    return {"events": list(events), "responses": dispatcher.messages}


def _action_of(body: Any) -> str:
    return str(body.get("next_action") or "-") if isinstance(body, Mapping) else "-"


def unavailable_answer(body: Any) -> dict[str, Any]:
    """What Rasa gets instead of an error when the action server cannot answer: the apology
    the actions give when the backend is down. A form's validation also leaves the requested
    slot empty, as a refused answer does: the form asks it again (a rejected form would
    drop the apology with the rest of its events, and the customer would get nothing)."""
    events: list[dict[str, Any]] = []
    if _action_of(body).startswith("validate_"):
        slots = (body.get("tracker") or {}).get("slots") or {}
        requested = slots.get("requested_slot")
        if requested:
            events.append({"event": "slot", "name": requested, "value": None})
    return {"events": events, "responses": [{"response": UNAVAILABLE_RESPONSE}]}


class BoundedActionEndpoint(EndpointConfig):
    """``EndpointConfig`` for the action server; see the module docstring."""

    def __init__(self, *args: Any, timeout: float | None = None,
                 local_session_start: bool | None = None, apologise: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout = timeout_seconds() if timeout is None else timeout
        self.apologise = apologise
        if local_session_start is None:
            local_session_start = os.environ.get(REMOTE_SESSION_START_ENV, "") not in {
                "1", "true", "yes"}
        self.local_session_start = local_session_start
        self._sessions: dict[int, aiohttp.ClientSession] = {}

    @classmethod
    def wrapping(cls, endpoint: EndpointConfig, **options: Any) -> BoundedActionEndpoint:
        if isinstance(endpoint, BoundedActionEndpoint):
            return endpoint
        return cls(url=endpoint.url, params=endpoint.params, headers=endpoint.headers,
                   basic_auth=endpoint.basic_auth, token=endpoint.token,
                   token_name=endpoint.token_name, cafile=endpoint.cafile,
                   **{**endpoint.kwargs, **options})

    def _pooled_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(id(loop))
        if session is None or session.closed:
            auth = None
            if self.basic_auth:
                auth = aiohttp.BasicAuth(self.basic_auth["username"],
                                         self.basic_auth["password"])
            session = aiohttp.ClientSession(
                headers=self.headers, auth=auth,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=100,
                                               keepalive_timeout=KEEPALIVE_SECONDS),
            )
            self._sessions[id(loop)] = session
        return session

    async def request(
        self,
        method: str = "post",
        subpath: str | None = None,
        content_type: str | None = "application/json",
        compress: bool = False,
        **kwargs: Any,
    ) -> Any:
        body = kwargs.get("json")
        if (self.local_session_start and subpath is None and isinstance(body, Mapping)
                and body.get("next_action") == SESSION_START):
            return await session_start_events(body)
        kwargs.pop("timeout", None)  # Rasa's 5 minutes
        headers = {"Content-Type": content_type} if content_type else {}
        headers.update(kwargs.pop("headers", None) or {})
        params = self.combine_parameters(kwargs)
        ssl_context = None
        if self.cafile:
            import ssl

            ssl_context = ssl.create_default_context(cafile=self.cafile)
        url = concat_url(self.url, subpath)
        try:
            async with self._pooled_session().request(
                method, url, headers=headers, params=params, compress=compress,
                ssl=ssl_context, timeout=aiohttp.ClientTimeout(total=self.timeout), **kwargs,
            ) as response:
                if response.status == 400 or (response.status >= 400 and not self.apologise):
                    # Rasa's own error type: RemoteAction reads a form's rejection from it.
                    raise ClientResponseError(response.status, response.reason or "",
                                              await response.content.read())
                if response.status >= 400:
                    log.error("action server: HTTP %s (%s)", response.status, _action_of(body))
                    return await self._instead(body)
                try:
                    return await response.json()
                except aiohttp.ContentTypeError:
                    return None
        except asyncio.TimeoutError as exc:
            from bot.ops_metrics import REGISTRY

            REGISTRY.inc("assistant_action_timeouts_total")
            log.error("action server: no answer within %g s (%s)", self.timeout,
                      _action_of(body))
            if self.apologise:
                return await self._instead(body)
            # What Rasa's RemoteAction handles as an unreachable action server.
            raise aiohttp.ServerTimeoutError(f"no answer within {self.timeout:g} s") from exc
        except aiohttp.ClientConnectionError as exc:
            log.error("action server: unreachable, %s (%s)", type(exc).__name__,
                      _action_of(body))
            if self.apologise:
                return await self._instead(body)
            raise

    @staticmethod
    async def _instead(body: Any) -> dict[str, Any]:
        """The answer in place of the action server's: a session starts in process anyway."""
        if _action_of(body) == SESSION_START:
            return await session_start_events(body)
        return unavailable_answer(body)

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()


def install(agent: Any) -> bool:
    """Put a :class:`BoundedActionEndpoint` in place of the agent's (and its processor's)
    action endpoint. Returns whether anything changed."""
    endpoint = getattr(agent, "action_endpoint", None)
    if endpoint is None:
        return False
    bounded = BoundedActionEndpoint.wrapping(endpoint)
    changed = bounded is not endpoint
    agent.action_endpoint = bounded
    processor = getattr(agent, "processor", None)
    if processor is not None and getattr(processor, "action_endpoint", None) is not bounded:
        processor.action_endpoint = bounded
        changed = True
    return changed
