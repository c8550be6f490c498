"""Customers: fetch by id and lookup by fiscal code, partita IVA, mobile or policy number (staff: own agency)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..errors import ApiError
from ..models import Contact, Customer, Policy


def get_customer(session: Session, customer_id: int) -> Customer:
    customer = session.scalar(
        select(Customer).where(Customer.id == customer_id).options(selectinload(Customer.contacts))
    )
    if customer is None:
        raise ApiError(404, "customer_not_found", "no such customer")
    return customer


def lookup(
    session: Session,
    *,
    fiscal_code: str | None = None,
    vat_number: str | None = None,
    mobile: str | None = None,
    policy_number: str | None = None,
    brand: str | None = None,
    agency: str | None = None,
) -> list[tuple[Customer, Contact | None]]:
    """Matching customers (with the matched contact for a mobile lookup).

    With ``agency`` (staff), customers of other agencies are treated as not found: a 404
    tells nothing about people who are customers elsewhere.
    """
    query = select(Customer).options(selectinload(Customer.contacts)).order_by(Customer.id)
    if fiscal_code:
        # A person, or a company whose legal representative has that code.
        query = query.where((Customer.fiscal_code == fiscal_code) | (Customer.legal_rep_fiscal_code == fiscal_code))
    elif vat_number:
        query = query.where(Customer.vat_number == vat_number)
    elif mobile:
        query = query.join(Contact).where(Contact.kind == "mobile", Contact.value == mobile)
    elif policy_number:
        query = query.join(Policy).where(Policy.number == policy_number)
    if brand:
        query = query.where(Customer.brand == brand)
    customers = list(session.scalars(query).unique())
    if agency:
        customers = [c for c in customers if c.agency_code == agency]
    if not customers:
        raise ApiError(404, "customer_not_found", "no customer matches")
    matches: list[tuple[Customer, Contact | None]] = []
    for customer in customers:
        contact = next((c for c in customer.contacts if mobile and c.kind == "mobile" and c.value == mobile), None)
        matches.append((customer, contact))
    return matches
