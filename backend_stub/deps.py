"""Request-scoped dependencies: DB session, clock, settings, SMS sender, API key check."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy import select
from sqlalchemy.orm import Session

from .clock import Clock
from .config import Settings
from .errors import ApiError
from .models import Customer
from .services.sms import SmsSender

_api_key_header = APIKeyHeader(
    name="X-Api-Key", auto_error=False, description="service-to-service key (env BACKEND_API_KEY)"
)


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


AGENCY_PATTERN = r"^[A-Z]{2}-[A-Z]{2}-\d{3,4}$"
StaffAgencyHeader = Annotated[
    str | None,
    Header(
        alias="X-Staff-Agency",
        pattern=AGENCY_PATTERN,
        description="set by the action server for staff sessions: only customers of this agency are visible",
    ),
]


def staff_agency_guard(request: Request, staff_agency: StaffAgencyHeader = None) -> None:
    """For staff calls, a customer of another agency is answered like an unknown one (404)."""
    raw_id = request.path_params.get("customer_id")
    if staff_agency is None or raw_id is None:
        return
    try:
        customer_id = int(raw_id)
    except ValueError:
        return  # the path validation reports it
    if not 1 <= customer_id < 2**31:
        return
    with request.app.state.session_factory() as session:
        agency = session.scalar(select(Customer.agency_code).where(Customer.id == customer_id))
    if agency is not None and agency != staff_agency:
        raise ApiError(404, "customer_not_found", "no such customer")


SessionDep = Annotated[Session, Depends(get_session)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SmsDep = Annotated[SmsSender, Depends(get_sms)]
