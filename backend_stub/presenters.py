"""ORM rows -> response models. Personal data leaves the service masked."""

from __future__ import annotations

from .masking import mask_contact, mask_fiscal_code
from .models import Agency, Contact, Customer, Installment, Policy
from .schemas import (
    AgencyOut,
    ContactOut,
    CustomerOut,
    InstallmentOut,
    LegalRepresentativeOut,
    PolicyOut,
)
from .services.policies import is_archived


def agency_out(agency: Agency) -> AgencyOut:
    return AgencyOut(code=agency.code, name=agency.name, city=agency.city, email=agency.email)


def customer_out(customer: Customer) -> CustomerOut:
    legal_rep = None
    if customer.kind == "company" and customer.legal_rep_name:
        legal_rep = LegalRepresentativeOut(
            name=customer.legal_rep_name,
            fiscal_code_masked=mask_fiscal_code(customer.legal_rep_fiscal_code)
            if customer.legal_rep_fiscal_code
            else None,
        )
    return CustomerOut(
        id=customer.id,
        kind=customer.kind,  # type: ignore[arg-type]
        brand=customer.brand,  # type: ignore[arg-type]
        name=customer.name,
        agency=agency_out(customer.agency),
        fiscal_code_masked=mask_fiscal_code(customer.fiscal_code) if customer.fiscal_code else None,
        vat_number=customer.vat_number,
        legal_representative=legal_rep,
        has_dispositive_mobile=any(c.is_dispositive for c in customer.contacts),
    )


def contact_out(contact: Contact) -> ContactOut:
    return ContactOut(
        id=contact.id,
        kind=contact.kind,
        masked=mask_contact(contact.kind, contact.value),  # type: ignore[arg-type]
        confirmed=contact.confirmed,
        roles=contact.roles,
    )  # type: ignore[arg-type]


def policy_out(policy: Policy) -> PolicyOut:
    return PolicyOut(
        number=policy.number,
        product_line=policy.product_line,
        product_name=policy.product_name,  # type: ignore[arg-type]
        status=policy.status,
        archived=is_archived(policy),
        start_date=policy.start_date,  # type: ignore[arg-type]
        end_date=policy.end_date,
        payment_method=policy.payment_method,  # type: ignore[arg-type]
        allows_extra_payments=policy.allows_extra_payments,
    )


def euro(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def installment_out(inst: Installment, reason: str | None) -> InstallmentOut:
    return InstallmentOut(
        id=inst.id,
        due_date=inst.due_date,
        amount=euro(inst.amount_cents),
        amount_cents=inst.amount_cents,
        paid=inst.paid,
        paid_at=inst.paid_at,
        payable=reason is None,
        reason=reason,
    )
