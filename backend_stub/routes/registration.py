"""Registration eligibility to the Area Clienti, per brand."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import ClockDep, SessionDep
from ..schemas import RegistrationCheck, RegistrationOut
from ..services.registration import eligibility

router = APIRouter(prefix="/v1", tags=["registration"])


@router.post("/registration/eligibility", response_model=RegistrationOut)
def check_registration(body: RegistrationCheck, session: SessionDep, clock: ClockDep) -> RegistrationOut:
    """May this person or company register? Alleanza: an active policy and a mobile contact;
    CA Vita: the given policy in force or ended less than 24 months ago."""
    eligible, reason = eligibility(
        session, body.brand, body.fiscal_code, body.vat_number, body.policy_number, clock.today()
    )
    return RegistrationOut(brand=body.brand, eligible=eligible, reason=reason)
