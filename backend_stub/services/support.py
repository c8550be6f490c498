"""Support: tickets from the support form and the phone support hours of each brand."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from ..config import SUPPORT_TIMEZONE, BrandRules
from ..errors import ApiError
from ..models import Customer, SupportTicket
from .numbering import assign_number
from .policies import owned_policy


def create_ticket(
    session: Session,
    *,
    brand: str,
    reply_email: str,
    reason: str,
    text: str,
    customer: Customer | None,
    policy_number: str | None,
    rules: BrandRules,
    now: datetime,
    today: date,
) -> SupportTicket:
    """Store a ticket; a given customer must be of the brand and own the given policy."""
    if customer is not None:
        if customer.brand != brand:
            raise ApiError(404, "customer_not_found", "no such customer for this brand")
        if policy_number is not None:
            owned_policy(customer, policy_number, rules, today)
    ticket = SupportTicket(
        brand=brand,
        customer_id=customer.id if customer else None,
        policy_number=policy_number,
        reply_email=reply_email,
        reason=reason,
        text=text,
        status="open",
        created_at=now,
    )
    session.add(ticket)
    session.flush()
    assign_number(ticket, rules.number_prefix, "TK", now)
    return ticket


def phone_hours(rules: BrandRules, at: datetime) -> dict[str, Any]:
    """Schedule and "open now?" in Europe/Rome time (holidays are not modelled)."""
    tz = ZoneInfo(SUPPORT_TIMEZONE)
    local = at.astimezone(tz)
    schedule = [
        {"weekday": day, "slots": [{"start": s.start.strftime("%H:%M"), "end": s.end.strftime("%H:%M")} for s in slots]}
        for day, slots in sorted(rules.phone_hours.items())
    ]
    open_now, closes_at, next_opening = False, None, None
    for offset in range(8):  # today and the following week
        day = local.date() + timedelta(days=offset)
        for slot in rules.phone_hours.get(day.weekday(), ()):
            start = datetime.combine(day, slot.start, tz)
            end = datetime.combine(day, slot.end, tz)
            if start <= local < end:
                open_now, closes_at = True, end
            elif start > local and next_opening is None:
                next_opening = start
        if next_opening is not None:
            break
    return {
        "brand": rules.brand,
        "timezone": SUPPORT_TIMEZONE,
        "phone_support": bool(rules.phone_hours),
        "schedule": schedule,
        "at": local,
        "open_now": open_now,
        "closes_at": closes_at,
        "next_opening": next_opening,
        "channels": list(rules.support_channels),
        "note": rules.phone_support_note or None,
    }
