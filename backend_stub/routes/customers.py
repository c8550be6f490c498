"""Customers, their contacts (masked), policies and installments."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from ..config import rules_for
from ..deps import ClockDep, SessionDep, SettingsDep, StaffAgencyHeader, StaffIdHeader
from ..errors import ApiError
from ..models import Contact, Customer
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
from ..services import staff_audit
from ..services.payments import installment_rows
from ..services.policies import list_policies, owned_policy
from . import CustomerId, PolicyNumberPath, parse_policy_number

router = APIRouter(prefix="/v1", tags=["customers"])


@router.post("/customers/lookup", response_model=LookupResponse)
def lookup_customer(
    body: LookupRequest,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    staff_agency: StaffAgencyHeader = None,
    staff_id: StaffIdHeader = None,
) -> LookupResponse:
    """Find customers by codice fiscale, partita IVA, mobile or policy number (POST: keys stay out of URLs and logs).

    Staff pass ``agency`` (or the ``X-Staff-Agency`` header): customers of other agencies are
    answered 404 like unknown ones. With the header, the lookup is written to the staff audit
    (``X-Staff-Id``, which customers matched, found / not_found / other_agency).
    """
    kind, value = body.search_key()
    agencies = {a for a in (body.agency, staff_agency) if a}
    if len(agencies) > 1:
        # A staff member asking explicitly for another agency's customers.
        matches: list[tuple[Customer, Contact | None]] = []
        outcomes: list[tuple[int | None, str]] = [(None, "other_agency")]
    else:
        agency = next(iter(agencies), None)
        everyone = _lookup_everywhere(session, body, kind, value)
        matches = [(c, m) for c, m in everyone if agency is None or c.agency_code == agency]
        outcomes = [(c.id, staff_audit.outcome_for(c.agency_code, staff_agency or "")) for c, _ in everyone]
    if staff_agency is not None:
        staff_audit.record(
            session,  # read-only so far: committing it with the audit rows changes nothing else
            now=clock.now(),
            secret=settings.otp_secret,
            staff_id=staff_id,
            agency=staff_agency,
            endpoint="/v1/customers/lookup",
            key=staff_audit.SearchKey(kind, value),
            outcomes=outcomes or [(None, "not_found")],
        )
    if not matches:
        raise ApiError(404, "customer_not_found", "no customer matches")
    return LookupResponse(
        matches=[
            LookupMatch(customer=customer_out(c), matched_contact=contact_out(m) if m else None) for c, m in matches
        ]
    )


def _lookup_everywhere(
    session: Session, body: LookupRequest, kind: str, value: str
) -> list[tuple[Customer, Contact | None]]:
    """Every match in every agency (the audit needs the other agencies' ones too)."""
    try:
        return customer_service.lookup(session, brand=body.brand, **{kind: value})
    except ApiError as exc:
        if exc.code != "customer_not_found":
            raise
        return []


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
