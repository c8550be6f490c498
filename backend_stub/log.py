"""Logging: one format, a redacting filter, and our own access log.

Uvicorn's access log would print paths with query strings and payment tokens; we turn
it off and log method, redacted path, status and duration instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

from .masking import redact_text

access_log = logging.getLogger("backend_stub.access")


class RedactingFilter(logging.Filter):
    """Scrub fiscal codes, OTP-like digit runs and payment tokens from every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(level: str = "INFO") -> None:
    """Root handler with the redacting filter (idempotent)."""
    root = logging.getLogger()
    if not any(isinstance(f, RedactingFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    root.setLevel(level)


def install_access_log(app: FastAPI) -> None:
    @app.middleware("http")
    async def _access(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        elapsed_ms = (time.perf_counter() - started) * 1000
        access_log.info(
            "%s %s -> %s (%.1f ms)", request.method, redact_text(request.url.path), response.status_code, elapsed_ms
        )
        return response
