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
from .services import staff_audit
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


STAFF_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
StaffIdHeader = Annotated[
    str | None,
    Header(
        alias="X-Staff-Id",
        pattern=STAFF_ID_PATTERN,
        description="the staff member (from the verified staff token), recorded in the lookup audit; "
        "only together with X-Staff-Agency",
    ),
]


def require_staff_agency_with_id(staff_agency: str | None, staff_id: str | None) -> None:
    """An id without an agency would be a staff call without its scope: refuse it."""
    if staff_id is not None and staff_agency is None:
        raise ApiError(422, "staff_agency_required", "X-Staff-Id needs X-Staff-Agency")


def staff_agency_guard(
    request: Request, staff_agency: StaffAgencyHeader = None, staff_id: StaffIdHeader = None
) -> None:
    """For staff calls, a customer of another agency is answered like an unknown one (404).

    Every staff call on a customer's path is also written to the lookup audit (who, which
    customer, which endpoint, found / not_found / other_agency) before the handler runs.
    """
    require_staff_agency_with_id(staff_agency, staff_id)
    raw_id = request.path_params.get("customer_id")
    if staff_agency is None or raw_id is None:
        return
    try:
        customer_id = int(raw_id)
    except ValueError:
        return  # the path validation reports it
    if not 1 <= customer_id < 2**31:
        return
    state = request.app.state
    route = request.scope.get("route")
    with state.session_factory() as session:
        agency = session.scalar(select(Customer.agency_code).where(Customer.id == customer_id))
        outcome = staff_audit.outcome_for(agency, staff_agency)
        staff_audit.record(
            session,
            now=state.clock.now(),
            secret=state.settings.otp_secret,
            staff_id=staff_id,
            agency=staff_agency,
            endpoint=getattr(route, "path", None) or "/v1/customers/{customer_id}",
            key=staff_audit.SearchKey("customer_id", str(customer_id)),
            outcomes=[(customer_id if agency is not None else None, outcome)],
        )
    if outcome == "other_agency":
        raise ApiError(404, "customer_not_found", "no such customer")


SessionDep = Annotated[Session, Depends(get_session)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SmsDep = Annotated[SmsSender, Depends(get_sms)]
