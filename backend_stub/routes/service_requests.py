"""Requests routed to the customer's agency (claim, surrender, extra payment, ...)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ..config import rules_for
from ..deps import ClockDep, SessionDep
from ..presenters import agency_out
from ..schemas import ServiceRequestCreate, ServiceRequestOut
from ..services.customers import get_customer
from ..services.service_requests import create_service_request
from . import CustomerId

router = APIRouter(prefix="/v1", tags=["service requests"])


@router.post(
    "/customers/{customer_id}/service-requests",
    status_code=201,
    response_model=ServiceRequestOut,
    responses={
        404: {"description": "customer_not_found / policy_not_owned"},
        422: {
            "description": "invalid_details, policy_number_required, *_not_allowed, "
            "policy_not_active, date_in_the_past, date_in_the_future"
        },
    },
)
def post_service_request(
    customer_id: CustomerId, body: ServiceRequestCreate, session: SessionDep, clock: ClockDep, response: Response
) -> ServiceRequestOut:
    """Send a request to the customer's agency; ``dry_run`` only checks it applies (200)."""
    customer = get_customer(session, customer_id)
    rules = rules_for(customer.brand)
    request = create_service_request(
        session, customer, body.kind, body.policy_number, body.details, rules, clock.now(), clock.today(),
        dry_run=body.dry_run,
    )
    if request is None:
        response.status_code = 200
        return ServiceRequestOut(
            dry_run=True,
            request_number=None,
            kind=body.kind,
            status="eligible",
            policy_number=body.policy_number,
            agency=agency_out(customer.agency),
            created_at=clock.now(),
        )
    session.commit()
    assert request.number is not None
    return ServiceRequestOut(
        request_number=request.number,
        kind=request.kind,
        status=request.status,
        policy_number=body.policy_number,
        agency=agency_out(customer.agency),
        created_at=request.created_at,
    )
