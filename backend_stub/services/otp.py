"""One-time codes sent to the dispositive mobile (step-up identity, payments, requests).

Why it looks like this:
* only an HMAC-SHA256 of ``challenge_id:code`` (server secret) is stored, so a database
  dump does not reveal codes and a hash cannot be replayed on another challenge;
* resend cooldown and hourly cap per customer stop SMS flooding; the attempt limit locks a
  challenge so that a 5-6 digit code cannot be brute-forced;
* a new code supersedes the customer's pending codes for the same purpose;
* a verified code authorises one operation (``consume``) within a short window.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..config import BrandRules
from ..errors import ApiError
from ..masking import mask_phone
from ..models import Contact, Customer, OtpChallenge
from .sms import SmsError, SmsSender

log = logging.getLogger("backend_stub.otp")


def hash_code(secret: str, challenge_id: str, code: str) -> str:
    return hmac.new(secret.encode(), f"{challenge_id}:{code}".encode(), hashlib.sha256).hexdigest()


def generate_code(length: int) -> str:
    """Uniform random numeric code (leading zeros allowed)."""
    return f"{secrets.randbelow(10**length):0{length}d}"


def effective_status(challenge: OtpChallenge, now: datetime) -> str:
    """Stored status, with ``expired`` for pending codes past their validity."""
    if challenge.status == "pending" and now >= challenge.expires_at:
        return "expired"
    return challenge.status


def dispositive_mobile(customer: Customer) -> Contact:
    """The only destination an OTP may go to; clear errors when there is none."""
    contact = next((c for c in customer.contacts if c.is_dispositive and c.kind == "mobile"), None)
    if contact is None:
        raise ApiError(
            409,
            "no_dispositive_mobile",
            "the customer has no dispositive mobile: it must be registered with the agency",
        )
    if not contact.confirmed:
        raise ApiError(409, "dispositive_mobile_unconfirmed", "the customer's dispositive mobile is not confirmed yet")
    return contact


def _check_rate_limits(session: Session, customer_id: int, rules: BrandRules, now: datetime) -> None:
    last = session.scalar(select(func.max(OtpChallenge.created_at)).where(OtpChallenge.customer_id == customer_id))
    if last is not None:
        last = last if last.tzinfo else last.replace(tzinfo=now.tzinfo)
        wait = rules.otp_resend_cooldown_seconds - (now - last).total_seconds()
        if wait > 0:
            raise _too_soon("otp_cooldown", "a code was sent moments ago; wait before asking again",
                            math.ceil(wait))
    window_start = now - timedelta(hours=1)
    recent = session.scalars(
        select(OtpChallenge.created_at)
        .where(OtpChallenge.customer_id == customer_id, OtpChallenge.created_at > window_start)
        .order_by(OtpChallenge.created_at)
    ).all()
    if len(recent) >= rules.otp_hourly_cap:
        oldest = recent[len(recent) - rules.otp_hourly_cap]
        seconds = max(1, math.ceil((oldest + timedelta(hours=1) - now).total_seconds()))
        raise _too_soon("otp_hourly_limit", "too many codes requested in the last hour", seconds)


def create_challenge(
    session: Session, customer: Customer, purpose: str, rules: BrandRules, secret: str, sms: SmsSender, now: datetime
) -> OtpChallenge:
    """Create a challenge and send its code; nothing is stored if the SMS fails."""
    # Serialise concurrent requests of one customer (PostgreSQL row lock; SQLite locks the file).
    session.execute(select(Customer.id).where(Customer.id == customer.id).with_for_update())
    contact = dispositive_mobile(customer)
    _check_rate_limits(session, customer.id, rules, now)
    session.execute(
        update(OtpChallenge)
        .where(
            OtpChallenge.customer_id == customer.id, OtpChallenge.purpose == purpose, OtpChallenge.status == "pending"
        )
        .values(status="superseded")
    )
    challenge_id = secrets.token_hex(16)
    code = generate_code(rules.otp_length)
    challenge = OtpChallenge(
        id=challenge_id,
        customer_id=customer.id,
        contact_id=contact.id,
        purpose=purpose,
        code_hash=hash_code(secret, challenge_id, code),
        code_length=rules.otp_length,
        created_at=now,
        expires_at=now + timedelta(seconds=rules.otp_ttl_seconds),
        attempts=0,
        max_attempts=rules.otp_max_attempts,
        status="pending",
    )
    session.add(challenge)
    session.flush()
    body = rules.sms_template.format(code=code)
    masked = rules.sms_template.format(code="*" * len(code))
    try:
        challenge.sms_sid = sms.send(contact.value, body, masked)
    except SmsError:
        raise ApiError(502, "sms_delivery_failed", "the SMS provider did not accept the message") from None
    log.info(
        "OTP challenge %s… for customer %s (%s) sent to %s",
        challenge_id[:6],
        customer.id,
        purpose,
        mask_phone(contact.value),
    )
    return challenge


def get_challenge(session: Session, customer_id: int, challenge_id: str, lock: bool = False) -> OtpChallenge:
    query = select(OtpChallenge).where(OtpChallenge.id == challenge_id, OtpChallenge.customer_id == customer_id)
    if lock:
        query = query.with_for_update(of=OtpChallenge)
    challenge = session.scalar(query)
    if challenge is None:
        raise ApiError(404, "otp_challenge_not_found", "no such challenge for this customer")
    return challenge


@dataclass
class VerifyOutcome:
    """Result of a verification; ``error`` is set when it failed (already committed)."""

    challenge: OtpChallenge
    error: ApiError | None = None


def verify(
    session: Session, customer_id: int, challenge_id: str, code: str, secret: str, now: datetime
) -> VerifyOutcome:
    """Check a code. Wrong attempts are counted and committed even though the call fails."""
    challenge = get_challenge(session, customer_id, challenge_id, lock=True)
    status = effective_status(challenge, now)
    if status in ("verified", "consumed"):
        return VerifyOutcome(challenge, ApiError(409, "otp_already_used", "this code was already used"))
    if status == "superseded":
        return VerifyOutcome(challenge, ApiError(409, "otp_superseded", "a newer code was sent: use the latest one"))
    if status == "locked":
        return VerifyOutcome(
            challenge, ApiError(423, "otp_locked", "too many wrong attempts: ask for a new code", attempts_left=0)
        )
    if status == "expired":
        return VerifyOutcome(challenge, ApiError(410, "otp_expired", "the code has expired: ask for a new one"))
    expected = challenge.code_hash
    given = hash_code(secret, challenge.id, code.strip())
    if hmac.compare_digest(expected, given):
        challenge.status = "verified"
        challenge.verified_at = now
        session.commit()
        log.info("OTP challenge %s… verified", challenge.id[:6])
        return VerifyOutcome(challenge)
    challenge.attempts += 1
    left = challenge.max_attempts - challenge.attempts
    if left <= 0:
        challenge.status = "locked"
    session.commit()
    log.info("OTP challenge %s… wrong code (%s left)", challenge.id[:6], max(left, 0))
    if left <= 0:
        return VerifyOutcome(
            challenge, ApiError(423, "otp_locked", "too many wrong attempts: ask for a new code", attempts_left=0)
        )
    return VerifyOutcome(challenge, ApiError(400, "otp_wrong", "the code is not correct", attempts_left=left))


def usable_until(challenge: OtpChallenge, rules: BrandRules) -> datetime:
    assert challenge.verified_at is not None
    return challenge.verified_at + timedelta(seconds=rules.otp_verified_ttl_seconds)


def require_verified(
    session: Session, customer_id: int, challenge_id: str | None, purpose: str, rules: BrandRules, now: datetime
) -> OtpChallenge:
    """A verified, unused challenge of ``purpose``; raises the reason otherwise."""
    if not challenge_id:
        raise ApiError(403, "otp_required", "this operation must be confirmed with a verified code")
    challenge = get_challenge(session, customer_id, challenge_id, lock=True)
    if challenge.purpose != purpose:
        raise ApiError(403, "otp_wrong_purpose", f"the code was issued for {challenge.purpose}, not {purpose}")
    status = effective_status(challenge, now)
    if status == "consumed":
        raise ApiError(409, "otp_already_used", "this code already confirmed another operation")
    if status != "verified":
        raise ApiError(403, "otp_not_verified", "the code has not been verified")
    if now > usable_until(challenge, rules):
        raise ApiError(403, "otp_verification_expired", "the verification is too old: ask for a new code")
    return challenge


def consume(challenge: OtpChallenge, now: datetime) -> None:
    challenge.status = "consumed"
    challenge.consumed_at = now


def _too_soon(code: str, message: str, seconds: int) -> ApiError:
    """A 429 that tells both HTTP clients (Retry-After) and the actions when to retry."""
    return ApiError(429, code, message, headers={"Retry-After": str(seconds)},
                    retry_after_seconds=seconds)
