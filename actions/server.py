"""The action server: rasa_sdk's own app, answering only our Rasa server.

Why not ``rasa run actions``: that server answers ``/webhook`` and ``/actions`` to anyone
who can reach it, listens on every interface, and a failing call gets a 500 that echoes the
exception and the whole request body (tracker, slots, tokens). This module starts the same
app (:func:`rasa_sdk.endpoint.create_app`, so routes and action loading stay rasa_sdk's)
with three changes:

* a shared token (``ACTION_SERVER_TOKEN``) on every route but ``/health``: Rasa sends it as
  ``Authorization: Bearer <token>`` (rendered into its endpoints by bot/endpoints_config.py),
  compared in constant time, 401 otherwise;
* error responses are generic JSON (``{"error": "internal_error"}``); the log gets the
  exception's type, the action's name and where it was raised, never its message, the
  request body or a slot value;
* it binds to 127.0.0.1 unless ``ACTIONS_HOST`` (or ``--host``) says otherwise.

Production (``ASSISTANT_ENV=production``) refuses to start without a token of at least 32
characters, or with the development identity secrets, in one line on stderr (exit 2).
Development without a token logs one warning and stays open, so that the development stack
needs no set-up.

    .venv/bin/python -m actions.server --port 5055        # what scripts/run.sh does

The token is read once at start: rotating it means restarting both servers.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from identity import DEV_SECRETS, MIN_SECRET_BYTES
from identity.keys import OPERATOR_SECRET_ENV

# The operators' console token is verified by the Rasa process only: the action server
# never needs (and should not hold) its secret.
ACTION_SERVER_SECRETS = {k: v for k, v in DEV_SECRETS.items() if k != OPERATOR_SECRET_ENV}

if TYPE_CHECKING:  # sanic is imported when the app is built: bot/endpoints_config.py
    from sanic import Sanic  # imports this module only for the token rules
    from sanic.request import Request
    from sanic.response import HTTPResponse

log = logging.getLogger(__name__)

TOKEN_ENV = "ACTION_SERVER_TOKEN"
HOST_ENV = "ACTIONS_HOST"
DEFAULT_HOST = "127.0.0.1"
MIN_TOKEN_CHARS = 32
OPEN_PATHS = frozenset({"/health"})  # liveness probes carry no credentials
ENVIRONMENTS = ("development", "production")
# Visible ASCII only: safe in an HTTP header and nothing for a proxy to trim or re-encode.
_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")
_ACTION_NAME_RE = re.compile(r"^[A-Za-z0-9_]{1,100}$")
_GENERIC_ERRORS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


class UnsafeActionServer(RuntimeError):
    """A configuration the action server must not start with; the message is one line."""


# --- configuration -------------------------------------------------------------------


def is_production(env: Mapping[str, str]) -> bool:
    """``ASSISTANT_ENV``: development (default) or production; anything else is refused."""
    name = (env.get("ASSISTANT_ENV") or "development").strip().lower()
    if name not in ENVIRONMENTS:
        raise UnsafeActionServer(f"ASSISTANT_ENV={name!r} is not development or production")
    return name == "production"


def action_server_token(env: Mapping[str, str]) -> str | None:
    """The shared token, or None (development only: the server stays open).

    Shared with bot/endpoints_config.py so that Rasa and the action server accept and
    refuse exactly the same values.
    """
    token = (env.get(TOKEN_ENV) or "").strip()
    if token and not _TOKEN_RE.match(token):
        raise UnsafeActionServer(f"{TOKEN_ENV} must be printable ASCII without spaces")
    if is_production(env) and len(token) < MIN_TOKEN_CHARS:
        raise UnsafeActionServer(
            f"ASSISTANT_ENV=production needs {TOKEN_ENV} of at least {MIN_TOKEN_CHARS} "
            "characters (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return token or None


def identity_secret_problems(env: Mapping[str, str]) -> list[str]:
    """Identity-token secrets still unset, public (development) or too short."""
    weak = []
    for name, public in ACTION_SERVER_SECRETS.items():
        value = env.get(name) or ""
        if value == public or len(value.encode()) < MIN_SECRET_BYTES:
            weak.append(name)
    return weak


def check_startup(env: Mapping[str, str]) -> str | None:
    """The token to require; raises UnsafeActionServer where production must not start."""
    token = action_server_token(env)
    if is_production(env):
        weak = identity_secret_problems(env)
        if weak:
            raise UnsafeActionServer(
                "ASSISTANT_ENV=production refused: " + ", ".join(weak)
                + f" unset, the development value or shorter than {MIN_SECRET_BYTES} bytes"
            )
    return token


def auth_header(token: str) -> dict[str, str]:
    """The header Rasa sends with every action call."""
    return {"Authorization": f"Bearer {token}"}


def authorized(header: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time."""
    scheme, _, presented = (header or "").strip().partition(" ")
    matches = hmac.compare_digest(presented.strip().encode(), token.encode())
    return scheme.lower() == "bearer" and matches


# --- the app -------------------------------------------------------------------------


def generic_error(status: int, action_name: str | None = None) -> dict[str, Any]:
    """The body of every error response: the status in words, never request data.

    A 400 keeps ``action_name`` (a registered action's name, as rasa_sdk reports a form's
    rejection): Rasa reads that key to turn the answer into an ActionExecutionRejection.
    """
    body: dict[str, Any] = {"error": _GENERIC_ERRORS.get(status, "internal_error")}
    if status == 400 and action_name and _ACTION_NAME_RE.match(action_name):
        body = {"error": "action_rejected", "action_name": action_name}
    return body


def _called_action(request: Request) -> str:
    """The action named in the call, for the log; ``-`` when unreadable or odd."""
    try:
        call = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return "-"
    name = call.get("next_action") if isinstance(call, dict) else None
    return name if isinstance(name, str) and _ACTION_NAME_RE.match(name) else "-"


def _where(exception: BaseException) -> str:
    """File, line and function of the innermost frames: enough to find the bug, no values."""
    frames = traceback.extract_tb(exception.__traceback__)[-4:]
    return " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames))


def _action_name_in(body: bytes) -> str | None:
    try:
        parsed = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    name = parsed.get("action_name") if isinstance(parsed, dict) else None
    return name if isinstance(name, str) else None


def build_app(
    token: str | None,
    actions_package: str = "actions",
    cors_origins: str | list[str] | None = None,
    auto_reload: bool = False,
) -> Sanic:
    """rasa_sdk's app with the token check and generic errors (module docstring)."""
    from rasa_sdk.endpoint import create_app
    from sanic import response
    from sanic.exceptions import SanicException

    # No CORS by default: browsers have no business calling the action server.
    app = create_app(actions_package, cors_origins=cors_origins or "", auto_reload=auto_reload)

    @app.middleware("request")
    async def require_token(request: Request) -> HTTPResponse | None:
        if token is None or request.path in OPEN_PATHS:
            return None
        if authorized(request.headers.get("Authorization"), token):
            return None
        log.warning("action server: call without the shared token refused (%s)", request.method)
        return response.json(
            generic_error(401), status=401, headers={"WWW-Authenticate": "Bearer"}
        )

    async def on_exception(request: Request, exception: Exception) -> HTTPResponse:
        status = exception.status_code if isinstance(exception, SanicException) else 500
        if status >= 500:
            log.error(
                "action call failed: %s in action %s at %s",
                type(exception).__name__, _called_action(request), _where(exception),
            )
        return response.json(generic_error(status), status=status)

    # Replaces rasa_sdk's handler for Exception (the one that echoes the body).
    app.error_handler.add(Exception, on_exception)

    @app.middleware("response")
    async def no_echo(request: Request, outgoing: HTTPResponse) -> HTTPResponse | None:
        # rasa_sdk builds its own 400/404 bodies (the rejection's text, the unknown name);
        # every error leaves with the generic body whatever produced it.
        if outgoing.status < 400:
            return None
        name = _action_name_in(outgoing.body) if outgoing.status == 400 else None
        return response.json(
            generic_error(outgoing.status, name), status=outgoing.status,
            headers={k: v for k, v in outgoing.headers.items() if k.lower() == "www-authenticate"},
        )

    return app


# --- command line --------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Check the configuration, then serve (rasa_sdk's arguments, plus ``--host``)."""
    from rasa_sdk import utils
    from rasa_sdk.cli.arguments import add_endpoint_arguments
    from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME

    # rasa_sdk's own arguments (as rasa_sdk.endpoint.create_argument_parser), plus --host.
    parser = argparse.ArgumentParser(
        description="Starts the action server (token-protected, loopback by default)."
    )
    add_endpoint_arguments(parser)
    utils.add_logging_level_option_arguments(parser)
    utils.add_logging_file_arguments(parser)
    parser.add_argument(
        "--host", default=os.environ.get(HOST_ENV) or DEFAULT_HOST,
        help=f"interface to listen on ({HOST_ENV}, default {DEFAULT_HOST})",
    )
    parser.set_defaults(actions="actions")
    args = parser.parse_args(argv)
    try:
        token = check_startup(os.environ)
    except UnsafeActionServer as exc:
        print(f"action server: {exc}", file=sys.stderr)
        return 2

    from rasa_sdk.endpoint import create_ssl_context
    from rasa_sdk.plugin import plugin_manager

    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME),
        args.log_file, args.loglevel, args.logging_config_file,
    )
    utils.update_sanic_log_level()
    if token is None:
        log.warning(
            "%s not set: the action server answers anyone who reaches %s:%s (development only)",
            TOKEN_ENV, args.host, args.port,
        )
    app = build_app(token, args.actions, args.cors, args.auto_reload)
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    ssl = create_ssl_context(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    log.info("action server on %s://%s:%s", "https" if ssl else "http", args.host, args.port)
    app.run(args.host, args.port, ssl=ssl, workers=utils.number_of_sanic_workers())
    return 0


if __name__ == "__main__":
    sys.exit(main())
