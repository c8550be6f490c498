"""Customers, their contacts (masked), policies and installments."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from ..config import rules_for
from ..deps import ClockDep, SessionDep, StaffAgencyHeader
from ..errors import ApiError
from ..presenters import contact_out, customer_out, installment_out, policy_out
from ..schemas import (
    ContactsResponse,
    CustomerOut,
    InstallmentsResponse,
    LookupMatch,
    LookupRequest,
    LookupResponse,
    PoliciesResponse,
    PolicyOut,
)
from ..services import customers as customer_service
from ..services.payments import installment_rows
from ..services.policies import list_policies, owned_policy
from . import CustomerId, PolicyNumberPath, parse_policy_number

router = APIRouter(prefix="/v1", tags=["customers"])


@router.post("/customers/lookup", response_model=LookupResponse)
def lookup_customer(body: LookupRequest, session: SessionDep, staff_agency: StaffAgencyHeader = None) -> LookupResponse:
    """Find customers by codice fiscale, partita IVA or mobile (POST: identifiers stay out of URLs and logs).

    Staff pass ``agency`` (or the ``X-Staff-Agency`` header): customers of other agencies are
    answered 404 like unknown ones.
    """
    agencies = {a for a in (body.agency, staff_agency) if a}
    if len(agencies) > 1:
        raise ApiError(404, "customer_not_found", "no customer matches")
    matches = customer_service.lookup(
        session,
        fiscal_code=body.fiscal_code,
        vat_number=body.vat_number,
        mobile=body.mobile,
        brand=body.brand,
        agency=next(iter(agencies), None),
    )
    return LookupResponse(
        matches=[
            LookupMatch(customer=customer_out(c), matched_contact=contact_out(m) if m else None) for c, m in matches
        ]
    )


@router.get("/customers/{customer_id}", response_model=CustomerOut)
def get_customer(customer_id: CustomerId, session: SessionDep) -> CustomerOut:
    return customer_out(customer_service.get_customer(session, customer_id))


@router.get("/customers/{customer_id}/contacts", response_model=ContactsResponse)
def get_contacts(customer_id: CustomerId, session: SessionDep) -> ContactsResponse:
    """Contacts, masked, with roles (username, dispositive, paperless, fea) and confirmation."""
    customer = customer_service.get_customer(session, customer_id)
    contacts = [contact_out(c) for c in customer.contacts]
    return ContactsResponse(
        customer_id=customer.id,
        contacts=contacts,
        dispositive=next((c for c in contacts if "dispositive" in c.roles), None),
        username=next((c for c in contacts if "username" in c.roles), None),
    )


@router.get("/customers/{customer_id}/policies", response_model=PoliciesResponse)
def get_policies(
    customer_id: CustomerId,
    session: SessionDep,
    clock: ClockDep,
    status: Annotated[Literal["active", "archived", "all"], Query()] = "active",
) -> PoliciesResponse:
    """Active policies (default) or archived ones (not active; CA Vita: ended within 24 months)."""
    customer = customer_service.get_customer(session, customer_id)
    policies, hidden = list_policies(customer, status, rules_for(customer.brand), clock.today())
    return PoliciesResponse(
        customer_id=customer.id, status=status, policies=[policy_out(p) for p in policies], hidden_archived_count=hidden
    )


@router.get("/customers/{customer_id}/policies/{policy_number}", response_model=PolicyOut)
def get_policy(
    customer_id: CustomerId, policy_number: PolicyNumberPath, session: SessionDep, clock: ClockDep
) -> PolicyOut:
    customer = customer_service.get_customer(session, customer_id)
    number = parse_policy_number(policy_number)
    return policy_out(owned_policy(customer, number, rules_for(customer.brand), clock.today()))


@router.get("/customers/{customer_id}/policies/{policy_number}/installments", response_model=InstallmentsResponse)
def get_installments(
    customer_id: CustomerId, policy_number: PolicyNumberPath, session: SessionDep, clock: ClockDep
) -> InstallmentsResponse:
    """Installments with ``payable`` and, when not payable online now, the ``reason``."""
    customer = customer_service.get_customer(session, customer_id)
    rules = rules_for(customer.brand)
    policy = owned_policy(customer, parse_policy_number(policy_number), rules, clock.today())
    rows = installment_rows(policy, rules, clock.today())
    return InstallmentsResponse(
        policy_number=policy.number,
        payment_method=policy.payment_method,
        installments=[installment_out(inst, reason) for inst, reason in rows],
        payable_methods=list(rules.payment_methods),
        card_networks=list(rules.card_networks),
    )
