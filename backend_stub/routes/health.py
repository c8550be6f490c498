"""Liveness and database reachability (no API key: used by ``make run`` and monitors)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from ..deps import SessionDep, SettingsDep
from ..errors import ApiError
from ..schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut)
def health(session: SessionDep, settings: SettingsDep) -> HealthOut:
    try:
        session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001  (any driver error means "not healthy")
        raise ApiError(503, "database_unavailable", "the database does not answer") from None
    backend = session.get_bind().dialect.name
    return HealthOut(status="ok", database=backend, sms_mode=settings.sms_mode)
