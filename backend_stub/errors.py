"""Machine-readable errors: every refusal is ``{"error": {"code", "message", ...}}`` with a 4xx.

Handlers also turn FastAPI's own validation and routing errors into that shape, and an
unexpected exception into a 500 of the same shape without internals (it is a bug).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("backend_stub.errors")


class ApiError(Exception):
    """A refusal with a stable ``code``; ``extra`` fields go into the error object."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


def not_found(code: str, message: str) -> ApiError:
    return ApiError(404, code, message)


def refused(code: str, message: str, **extra: Any) -> ApiError:
    """A business rule said no (HTTP 422)."""
    return ApiError(422, code, message, **extra)


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


_HTTP_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Never echo the input back: it may hold a fiscal code or an OTP.
        fields = [
            {"loc": [str(p) for p in err.get("loc", ())], "type": err.get("type", ""), "msg": err.get("msg", "")}
            for err in exc.errors()
        ]
        custom = next(
            (err["ctx"]["code"] for err in exc.errors() if isinstance(err.get("ctx"), dict) and "code" in err["ctx"]),
            None,
        )
        code = custom or "invalid_request"
        return error_response(422, code, "request is not valid", fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code
        return JSONResponse(
            {"error": {"code": code, "message": message}},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error: %s", type(exc).__name__, exc_info=exc)
        return error_response(500, "internal_error", "unexpected error")
