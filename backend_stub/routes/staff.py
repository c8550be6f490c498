"""What agency staff need beyond the customer routes: a customer's open requests, and the
audit of staff lookups.

Staff scope and audit of the per-customer route come from ``deps.staff_agency_guard``
(router dependency), like every other ``/v1/customers/{id}`` route.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from ..deps import AGENCY_PATTERN, STAFF_ID_PATTERN, ClockDep, SessionDep, StaffAgencyHeader
from ..errors import ApiError
from ..masking import mask_email
from ..models import PaymentRequest, ServiceRequest, SupportTicket
from ..presenters import euro
from ..schemas import (
    OpenPaymentRequestOut,
    OpenRequestsResponse,
    OpenServiceRequestOut,
    OpenSupportTicketOut,
    StaffLookupAuditOut,
    StaffLookupAuditResponse,
)
from ..services import staff_audit
from ..services.customers import get_customer
from . import CustomerId

router = APIRouter(prefix="/v1", tags=["staff"])

# Service requests are created "received"; the stub has no agency workflow that closes them,
# so anything not in a final state counts as open.
CLOSED_SERVICE_REQUEST_STATUSES = ("completed", "rejected", "cancelled")


@router.get("/customers/{customer_id}/open-requests", response_model=OpenRequestsResponse)
def get_open_requests(customer_id: CustomerId, session: SessionDep, clock: ClockDep) -> OpenRequestsResponse:
    """Open support tickets, service requests (claims, surrenders, ...) and payment requests.

    Open payments are unpaid links still valid (``pending``) and requests for a consultant's
    appointment (``appointment``); expired, superseded and paid ones are history. Ticket
    texts and reply addresses are not returned (the e-mail only masked), nor payment links.
    """
    customer = get_customer(session, customer_id)
    now = clock.now()
    tickets = session.scalars(
        select(SupportTicket)
        .where(SupportTicket.customer_id == customer.id, SupportTicket.status == "open")
        .order_by(SupportTicket.created_at, SupportTicket.id)
    ).all()
    services = session.scalars(
        select(ServiceRequest)
        .where(
            ServiceRequest.customer_id == customer.id,
            ServiceRequest.status.not_in(CLOSED_SERVICE_REQUEST_STATUSES),
        )
        .order_by(ServiceRequest.created_at, ServiceRequest.id)
    ).all()
    payments = [
        p
        for p in session.scalars(
            select(PaymentRequest)
            .where(PaymentRequest.customer_id == customer.id, PaymentRequest.status.in_(("pending", "appointment")))
            .order_by(PaymentRequest.created_at, PaymentRequest.id)
        ).unique()
        if p.status == "appointment" or p.expires_at > now
    ]
    policy_numbers = {p.id: p.number for p in customer.policies}
    out = OpenRequestsResponse(
        customer_id=customer.id,
        support_tickets=[
            OpenSupportTicketOut(
                ticket_number=t.number or "",
                reason=t.reason,
                status=t.status,
                policy_number=t.policy_number,
                reply_email_masked=mask_email(t.reply_email),
                created_at=t.created_at,
            )
            for t in tickets
        ],
        service_requests=[
            OpenServiceRequestOut(
                request_number=r.number or "",
                kind=r.kind,
                status=r.status,
                policy_number=policy_numbers.get(r.policy_id) if r.policy_id is not None else None,
                created_at=r.created_at,
            )
            for r in services
        ],
        payment_requests=[
            OpenPaymentRequestOut(
                request_number=p.number or "",
                policy_number=p.policy.number,
                status=p.status,  # type: ignore[arg-type]
                method=p.method,
                amount=euro(p.amount_cents),
                amount_cents=p.amount_cents,
                created_at=p.created_at,
                expires_at=p.expires_at if p.status == "pending" else None,
            )
            for p in payments
        ],
        total=0,
    )
    out.total = len(out.support_tickets) + len(out.service_requests) + len(out.payment_requests)
    return out


@router.get("/audit/staff-lookups", response_model=StaffLookupAuditResponse)
def get_staff_lookups(
    session: SessionDep,
    agency: Annotated[str, Query(pattern=AGENCY_PATTERN, description="the agency whose staff looked up")],
    staff_agency: StaffAgencyHeader = None,
    staff_id: Annotated[str | None, Query(pattern=STAFF_ID_PATTERN)] = None,
    customer_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    outcome: Literal["found", "not_found", "other_agency"] | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> StaffLookupAuditResponse:
    """Staff lookups of one agency, newest first (for compliance; reading is not itself audited).

    Called in a staff context (``X-Staff-Agency``), only that agency's audit is readable and
    the ids of other agencies' customers that were refused are not shown.
    """
    if staff_agency is not None and staff_agency != agency:
        raise ApiError(403, "other_agency", "staff may read their own agency's audit only")
    rows = staff_audit.list_entries(
        session,
        agency=agency,
        staff_id=staff_id,
        customer_id=customer_id,
        outcome=outcome,
        before_id=before_id,
        limit=limit,
    )
    hide_foreign = staff_agency is not None
    entries = [
        StaffLookupAuditOut(
            id=r.id,
            at=r.created_at,
            staff_id=r.staff_id,
            agency=r.agency_code,
            customer_id=None if hide_foreign and r.outcome == "other_agency" else r.customer_id,
            query_kind=r.query_kind,  # type: ignore[arg-type]
            key_masked=r.key_masked,
            endpoint=r.endpoint,
            outcome=r.outcome,  # type: ignore[arg-type]
        )
        for r in rows
    ]
    next_before = rows[-1].id if len(rows) == limit else None
    return StaffLookupAuditResponse(agency=agency, entries=entries, next_before_id=next_before)
