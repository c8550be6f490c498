"""Who may register to the Area Clienti (design: "registration with an active policy").

Alleanza FAQ: "almeno una polizza attiva e un recapito cellulare". CA Vita guide: codice
fiscale (or partita IVA) plus the number of a policy "in vigore o scadute da meno di 24 mesi".
"""

from __future__ import annotations

from datetime import date

from brand_registry import brand as brand_entry
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock import add_months
from ..models import Customer


def eligibility(
    session: Session,
    brand: str,
    fiscal_code: str | None,
    vat_number: str | None,
    policy_number: str | None,
    today: date,
) -> tuple[bool, str | None]:
    """(eligible, reason when not). Reasons: not_a_customer, policy_number_required,
    policy_not_found, policy_not_eligible, no_active_policy, no_mobile_contact."""
    query = select(Customer).where(Customer.brand == brand)
    if fiscal_code:
        query = query.where(Customer.fiscal_code == fiscal_code)
    else:
        query = query.where(Customer.vat_number == vat_number)
    customer = session.scalar(query)
    if customer is None:
        return False, "not_a_customer"
    rules = brand_entry(customer.brand)
    if rules.registration_needs_policy:
        if policy_number is None:
            return False, "policy_number_required"
        policy = next((p for p in customer.policies if p.number == policy_number), None)
        if policy is None:
            return False, "policy_not_found"
        window = rules.registration_ended_policy_months or 0
        if policy.status != "active" and (policy.end_date is None or policy.end_date < add_months(today, -window)):
            return False, "policy_not_eligible"
        return True, None
    if not any(p.status == "active" for p in customer.policies):
        return False, "no_active_policy"
    if not any(c.kind == "mobile" for c in customer.contacts):
        return False, "no_mobile_contact"
    return True, None
