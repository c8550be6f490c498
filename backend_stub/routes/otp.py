"""OTP challenges: send a code to the dispositive mobile, check it, read its state."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path

from ..config import rules_for
from ..deps import ClockDep, SessionDep, SettingsDep, SmsDep
from ..masking import mask_phone
from ..models import OtpChallenge
from ..schemas import OtpChallengeCreate, OtpChallengeOut, OtpVerify, OtpVerifyOut
from ..services import otp
from ..services.customers import get_customer
from . import CustomerId

router = APIRouter(prefix="/v1", tags=["otp"])
ChallengeId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,64}$")]


def _out(challenge: OtpChallenge, now_status: str, cooldown: int) -> OtpChallengeOut:
    return OtpChallengeOut(
        challenge_id=challenge.id,
        purpose=challenge.purpose,
        status=now_status,  # type: ignore[arg-type]
        destination_masked=mask_phone(challenge.contact.value),
        code_length=challenge.code_length,
        created_at=challenge.created_at,
        expires_at=challenge.expires_at,
        attempts_left=max(challenge.max_attempts - challenge.attempts, 0),
        resend_available_at=challenge.created_at + timedelta(seconds=cooldown),
    )


@router.post(
    "/customers/{customer_id}/otp-challenges",
    status_code=201,
    response_model=OtpChallengeOut,
    responses={
        409: {"description": "no (confirmed) dispositive mobile"},
        429: {"description": "cooldown or hourly cap: see retry_after_seconds"},
    },
)
def create_challenge(
    customer_id: CustomerId,
    body: OtpChallengeCreate,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    sms: SmsDep,
) -> OtpChallengeOut:
    """Send a new code to the customer's dispositive mobile (also the "resend" operation)."""
    customer = get_customer(session, customer_id)
    rules = rules_for(customer.brand)
    now = clock.now()
    challenge = otp.create_challenge(session, customer, body.purpose, rules, settings.otp_secret, sms, now)
    session.commit()
    return _out(challenge, "pending", rules.otp_resend_cooldown_seconds)


@router.get("/customers/{customer_id}/otp-challenges/{challenge_id}", response_model=OtpChallengeOut)
def get_challenge(
    customer_id: CustomerId, challenge_id: ChallengeId, session: SessionDep, clock: ClockDep
) -> OtpChallengeOut:
    customer = get_customer(session, customer_id)
    challenge = otp.get_challenge(session, customer.id, challenge_id)
    rules = rules_for(customer.brand)
    return _out(challenge, otp.effective_status(challenge, clock.now()), rules.otp_resend_cooldown_seconds)


@router.post(
    "/customers/{customer_id}/otp-challenges/{challenge_id}/verify",
    response_model=OtpVerifyOut,
    responses={
        400: {"description": "otp_wrong (attempts_left)"},
        410: {"description": "otp_expired"},
        423: {"description": "otp_locked"},
        409: {"description": "otp_already_used/superseded"},
    },
)
def verify_challenge(
    customer_id: CustomerId,
    challenge_id: ChallengeId,
    body: OtpVerify,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> OtpVerifyOut:
    customer = get_customer(session, customer_id)
    outcome = otp.verify(session, customer.id, challenge_id, body.code, settings.otp_secret, clock.now())
    if outcome.error is not None:
        raise outcome.error
    challenge = outcome.challenge
    assert challenge.verified_at is not None
    return OtpVerifyOut(
        challenge_id=challenge.id,
        status="verified",
        purpose=challenge.purpose,
        verified_at=challenge.verified_at,
        usable_until=otp.usable_until(challenge, rules_for(customer.brand)),
    )
