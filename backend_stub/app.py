"""Application factory: settings, database (schema + demo data), SMS sender, routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from . import __version__
from .clock import Clock
from .config import DEFAULT_API_KEY, DEFAULT_OTP_SECRET, Settings
from .db import create_schema, make_engine, make_session_factory, transaction
from .deps import require_api_key, staff_agency_guard
from .errors import error_response, install_error_handlers
from .log import install_access_log
from .routes import customers, health, otp, pay_page, payments, registration, service_requests, staff, support
from .seed import seed_if_empty
from .services.sms import SmsSender, make_sms_sender

log = logging.getLogger("backend_stub")

DESCRIPTION = """Stand-in for the back-office systems of Alleanza and CA Vita, used by the
Rasa assistant's action server. Every `/v1` call needs the `X-Api-Key` header.
Errors are `{"error": {"code": "...", "message": "...", ...}}` with a 4xx status."""


def create_app(
    settings: Settings | None = None, clock: Clock | None = None, sms: SmsSender | None = None, seed: bool = True
) -> FastAPI:
    """Build the app; the schema is created and demo data seeded (when empty) right away."""
    settings = settings or Settings.from_env()
    engine = make_engine(settings.database_url)
    create_schema(engine)
    factory = make_session_factory(engine)
    clock = clock or Clock()
    if seed:
        with transaction(factory) as session:
            seeded = seed_if_empty(session, clock.today())
        if seeded:
            log.info("seeded %d demo customers", seeded)
    if settings.api_key == DEFAULT_API_KEY or settings.otp_secret == DEFAULT_OTP_SECRET:
        log.warning("using the development API key / OTP secret: set BACKEND_API_KEY and BACKEND_OTP_SECRET")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()  # closes SQLite cleanly (WAL checkpointed) on shutdown

    app = FastAPI(title="Insurer backend stub", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = factory
    app.state.clock = clock
    app.state.sms = sms or make_sms_sender(settings)

    install_error_handlers(app)

    @app.exception_handler(OperationalError)
    async def _db_unavailable(_request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database error: %s", type(exc.orig).__name__ if exc.orig else "OperationalError")
        return error_response(503, "database_unavailable", "the database is busy or unreachable: retry")

    install_access_log(app)
    app.include_router(health.router)
    app.include_router(pay_page.router)
    keyed = [Depends(require_api_key), Depends(staff_agency_guard)]
    for module in (customers, otp, payments, registration, service_requests, support, staff):
        app.include_router(module.router, dependencies=keyed)
    return app
