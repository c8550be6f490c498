"""Support tickets (the support form) and phone support hours."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query

from ..config import SUPPORT_TIMEZONE, rules_for
from ..deps import ClockDep, SessionDep
from ..masking import mask_email
from ..schemas import Brand, SupportHoursOut, SupportTicketCreate, SupportTicketOut
from ..services.customers import get_customer
from ..services.support import create_ticket, phone_hours

router = APIRouter(prefix="/v1", tags=["support"])


@router.post("/support-tickets", status_code=201, response_model=SupportTicketOut)
def post_ticket(body: SupportTicketCreate, session: SessionDep, clock: ClockDep) -> SupportTicketOut:
    """Open a ticket (reply email, reason ``navigazione``/``informazioni_polizza``, text); anonymous allowed."""
    rules = rules_for(body.brand)
    customer = get_customer(session, body.customer_id) if body.customer_id is not None else None
    ticket = create_ticket(
        session,
        brand=body.brand,
        reply_email=body.reply_email,
        reason=body.reason,
        text=body.text,
        customer=customer,
        policy_number=body.policy_number,
        rules=rules,
        now=clock.now(),
        today=clock.today(),
    )
    session.commit()
    assert ticket.number is not None
    return SupportTicketOut(
        ticket_number=ticket.number,
        brand=ticket.brand,
        reason=ticket.reason,
        reply_email_masked=mask_email(ticket.reply_email),
        created_at=ticket.created_at,
    )


AtQuery = Annotated[
    datetime | None, Query(description="instant to evaluate (default now); without offset it is Europe/Rome time")
]


@router.get("/support/hours", response_model=SupportHoursOut)
def get_hours(clock: ClockDep, brand: Annotated[Brand, Query()], at: AtQuery = None) -> SupportHoursOut:
    """Phone support schedule and whether it is open at ``at`` (Europe/Rome)."""
    when = clock.now() if at is None else (at if at.tzinfo else at.replace(tzinfo=ZoneInfo(SUPPORT_TIMEZONE)))
    return SupportHoursOut(**phone_hours(rules_for(brand), when))
