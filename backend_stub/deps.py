"""Request-scoped dependencies: DB session, clock, settings, SMS sender, API key check."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from .clock import Clock
from .config import Settings
from .errors import ApiError
from .services.sms import SmsSender

_api_key_header = APIKeyHeader(name="X-Api-Key", auto_error=False,
                               description="service-to-service key (env BACKEND_API_KEY)")


def get_session(request: Request) -> Iterator[Session]:
    """A session per request. Handlers commit explicitly; anything uncommitted is rolled back."""
    with request.app.state.session_factory() as session:
        yield session


def get_clock(request: Request) -> Clock:
    return request.app.state.clock  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_sms(request: Request) -> SmsSender:
    return request.app.state.sms  # type: ignore[no-any-return]


def require_api_key(request: Request, key: Annotated[str | None, Security(_api_key_header)]) -> None:
    expected: str = request.app.state.settings.api_key
    if not key or not hmac.compare_digest(key.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "missing or wrong X-Api-Key")


SessionDep = Annotated[Session, Depends(get_session)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SmsDep = Annotated[SmsSender, Depends(get_sms)]
