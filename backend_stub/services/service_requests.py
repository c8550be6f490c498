"""Requests the agency handles: claims, surrenders, extra payments, suspension/reactivation,
address changes. The stub checks what can be checked up front and routes the request to
the customer's agency, which in reality contacts the customer (Alleanza FAQ: "Il tuo
consulente Alleanza provvederà a contattarti").
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from ..config import BrandRules
from ..errors import ApiError, refused
from ..models import Customer, Policy, ServiceRequest
from ..schemas import DETAILS_MODELS
from .numbering import assign_number
from .policies import owned_policy

# Product lines on which each kind makes sense.
ALLOWED_LINES = {
    "surrender_total": ("vita", "previdenza"),
    "surrender_partial": ("vita", "previdenza"),
    "extra_payment": ("vita", "previdenza"),
    "suspension": ("danni",),
    "reactivation": ("danni",),
}


def parse_details(kind: str, details: dict[str, Any]) -> dict[str, Any]:
    """Validate ``details`` against the model of ``kind``; JSON-ready dict back."""
    try:
        model = DETAILS_MODELS[kind].model_validate(details)
    except ValidationError as exc:
        fields = [{"loc": ["details", *map(str, e["loc"])], "type": e["type"], "msg": e["msg"]} for e in exc.errors()]
        raise ApiError(422, "invalid_details", f"details do not fit a {kind} request", fields=fields) from None
    return model.model_dump(mode="json", exclude_none=True)


def check_eligibility(kind: str, policy: Policy) -> None:
    """Whether ``kind`` applies to ``policy`` at all: asked before any detail is collected."""
    lines = ALLOWED_LINES.get(kind)
    if lines and policy.product_line not in lines:
        raise refused(f"{kind}_not_allowed", f"a {kind} request does not apply to a {policy.product_line} policy")
    if kind != "claim" and policy.status != "active":
        raise refused("policy_not_active", "the policy is not active")
    if kind == "extra_payment" and not policy.allows_extra_payments:
        raise refused("extra_payment_not_allowed", "this policy does not provide for extra payments")


def _check_policy(kind: str, policy: Policy, details: dict[str, Any], today: date) -> None:
    check_eligibility(kind, policy)
    if kind in ("suspension", "reactivation") and date.fromisoformat(details["effective_date"]) < today:
        raise refused("date_in_the_past", "the effective date cannot be in the past")
    if kind == "claim" and date.fromisoformat(details["event_date"]) > today:
        raise refused("date_in_the_future", "the event date cannot be in the future")


def create_service_request(
    session: Session,
    customer: Customer,
    kind: str,
    policy_number: str | None,
    details: dict[str, Any],
    rules: BrandRules,
    now: datetime,
    today: date,
    dry_run: bool = False,
) -> ServiceRequest | None:
    """Check and store a request, routed to the customer's agency.

    ``dry_run``: only whether the kind applies to the policy (None back, nothing written),
    so the assistant can refuse before asking for an IBAN or an amount."""
    if dry_run:
        if policy_number is None:
            if kind == "address_change":
                return None
            raise ApiError(422, "policy_number_required", f"a {kind} request needs a policy number")
        check_eligibility(kind, owned_policy(customer, policy_number, rules, today))
        return None
    clean = parse_details(kind, details)
    policy: Policy | None = None
    if kind == "address_change":
        if policy_number is not None:
            policy = owned_policy(customer, policy_number, rules, today)
    else:
        if policy_number is None:
            raise ApiError(422, "policy_number_required", f"a {kind} request needs a policy number")
        policy = owned_policy(customer, policy_number, rules, today)
        _check_policy(kind, policy, clean, today)
    request = ServiceRequest(
        customer_id=customer.id,
        policy_id=policy.id if policy else None,
        kind=kind,
        details=clean,
        status="received",
        agency_code=customer.agency_code,
        created_at=now,
    )
    session.add(request)
    session.flush()
    assign_number(request, rules.number_prefix, "SR", now)
    return request
