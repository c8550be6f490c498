"""Online payment of premium installments, with the rules of the Alleanza FAQ.

* "rata corrente e rate arretrate fino ai sei mesi precedenti": arrears up to 6 months
  and the current installment. The current one is the next unpaid installment due today
  or later, if it falls due within ``CURRENT_WINDOW_DAYS``; later ones are ``not_yet_due``.
* Protection products ("dai 30 giorni antecedenti la scadenza"): any installment from
  30 days before its due date.
* "a partire dalla meno recente. Non sono ammessi salti rata": a payment covers the
  oldest unpaid installments, in order. If the oldest cannot be paid online (e.g. more
  than 6 months overdue) nothing later can be either: that is for the agency.
* SDD (domiciliazione bancaria) policies cannot be paid online; nor can inactive ones.
* Methods: card (Visa, MasterCard) and MyBank. The result is a payment link.

The rule functions are pure (plain facts in, reasons out) so that they are unit-tested
without a database; ``create_payment_request`` adds OTP confirmation and storage.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock import add_months
from ..config import BrandRules
from ..errors import ApiError, refused
from ..models import Customer, Installment, PaymentRequest, PaymentRequestInstallment, Policy
from . import otp
from .numbering import assign_number

CURRENT_WINDOW_DAYS = 60

REASON_MESSAGES = {
    "already_paid": "the installment is already paid",
    "policy_not_active": "the policy is not active: its installments cannot be paid online",
    "sdd_not_payable": "the policy is paid by direct debit (SDD): installments cannot be paid online",
    "overdue_more_than_6_months": "installments overdue by more than 6 months cannot be paid online",
    "protection_not_yet_due": "protection products can be paid only from 30 days before the due date",
    "not_yet_due": "only the current installment and arrears can be paid, not future ones",
    "older_installment_not_payable": "an older unpaid installment cannot be paid online, and none may be skipped",
}


@dataclass(frozen=True)
class PolicyFacts:
    product_line: str
    status: str
    payment_method: str


@dataclass(frozen=True)
class InstallmentFacts:
    id: int
    due_date: date
    paid: bool
    amount_cents: int = 0


def policy_reason(policy: PolicyFacts) -> str | None:
    """A reason that makes every installment of the policy unpayable online."""
    if policy.status != "active":
        return "policy_not_active"
    if policy.payment_method == "sdd":
        return "sdd_not_payable"
    return None


def _own_reason(
    policy: PolicyFacts, inst: InstallmentFacts, is_current: bool, rules: BrandRules, today: date
) -> str | None:
    if inst.due_date < add_months(today, -rules.max_overdue_months):
        return "overdue_more_than_6_months"
    if policy.product_line == "protezione":
        if inst.due_date > today + timedelta(days=rules.protection_advance_days):
            return "protection_not_yet_due"
        return None
    if inst.due_date >= today and not (is_current and inst.due_date <= today + timedelta(days=CURRENT_WINDOW_DAYS)):
        return "not_yet_due"
    return None


def _ordered_unpaid(installments: Sequence[InstallmentFacts]) -> list[InstallmentFacts]:
    return sorted((i for i in installments if not i.paid), key=lambda i: (i.due_date, i.id))


def own_reasons(
    policy: PolicyFacts, installments: Sequence[InstallmentFacts], rules: BrandRules, today: date
) -> dict[int, str | None]:
    """Why each installment, taken alone, cannot be paid online (None = it could)."""
    reasons: dict[int, str | None] = {i.id: "already_paid" for i in installments if i.paid}
    blanket = policy_reason(policy)
    first_future = next((i.id for i in _ordered_unpaid(installments) if i.due_date >= today), None)
    for inst in _ordered_unpaid(installments):
        reasons[inst.id] = blanket or _own_reason(policy, inst, inst.id == first_future, rules, today)
    return reasons


def assess(
    policy: PolicyFacts, installments: Sequence[InstallmentFacts], rules: BrandRules, today: date
) -> dict[int, str | None]:
    """Per installment: None if payable now (with all older unpaid ones), else the reason."""
    reasons = own_reasons(policy, installments, rules, today)
    blocked = False
    for inst in _ordered_unpaid(installments):
        if reasons[inst.id] is None and blocked:
            reasons[inst.id] = "older_installment_not_payable"
        blocked = blocked or reasons[inst.id] is not None
    return reasons


def check_selection(
    policy: PolicyFacts,
    installments: Sequence[InstallmentFacts],
    selected_ids: Sequence[int],
    rules: BrandRules,
    today: date,
) -> list[InstallmentFacts]:
    """The selected installments in due order, or the ApiError of the first rule they break."""
    if len(set(selected_ids)) != len(selected_ids):
        raise refused("duplicate_installments", "the same installment is listed twice")
    by_id = {i.id: i for i in installments}
    unknown = [i for i in selected_ids if i not in by_id]
    if unknown:
        raise ApiError(404, "installment_not_found", "installment not found on this policy", installment_ids=unknown)
    blanket = policy_reason(policy)
    if blanket:
        raise refused(blanket, REASON_MESSAGES[blanket])
    chosen = sorted((by_id[i] for i in selected_ids), key=lambda i: (i.due_date, i.id))
    paid = [i.id for i in chosen if i.paid]
    if paid:
        raise ApiError(409, "installment_already_paid", REASON_MESSAGES["already_paid"], installment_ids=paid)
    reasons = own_reasons(policy, installments, rules, today)
    for inst in chosen:
        reason = reasons[inst.id]
        if reason:
            raise refused(reason, REASON_MESSAGES[reason], installment_ids=[inst.id])
    unpaid = _ordered_unpaid(installments)
    expected = {i.id for i in unpaid[: len(chosen)]}
    if expected != set(selected_ids):
        latest = chosen[-1]
        skipped = [
            i.id for i in unpaid if (i.due_date, i.id) < (latest.due_date, latest.id) and i.id not in selected_ids
        ]
        blocking = sorted({reasons[i] for i in skipped if reasons[i]})  # type: ignore[misc]
        raise refused(
            "installment_skipped",
            "installments must be paid oldest first, without skipping",
            missing_installment_ids=skipped,
            missing_not_payable_reasons=blocking,
        )
    return chosen


def facts(policy: Policy) -> tuple[PolicyFacts, list[InstallmentFacts]]:
    return (
        PolicyFacts(policy.product_line, policy.status, policy.payment_method),
        [InstallmentFacts(i.id, i.due_date, i.paid, i.amount_cents) for i in policy.installments],
    )


def _check_method(method: str, network: str | None, rules: BrandRules) -> tuple[str, str | None]:
    method = method.strip().lower()
    if method == rules.appointment_method and network is None:
        return method, None
    if method not in rules.payment_methods:
        raise refused(
            "method_not_allowed", "payment method not accepted online", allowed_methods=list(rules.payment_methods)
        )
    if network is None:
        return method, None
    network = network.strip().lower()
    if method != "card" or network not in rules.card_networks:
        raise refused(
            "card_network_not_allowed",
            "only Visa and MasterCard cards are accepted",
            allowed_card_networks=list(rules.card_networks),
        )
    return method, network


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class PaymentResult:
    chosen: list[InstallmentFacts]
    method: str
    card_network: str | None
    request: PaymentRequest | None = None
    link: str | None = None

    @property
    def amount_cents(self) -> int:
        return sum(i.amount_cents for i in self.chosen)


def create_payment_request(
    session: Session,
    customer: Customer,
    policy: Policy,
    installment_ids: Sequence[int],
    method: str,
    card_network: str | None,
    otp_challenge_id: str | None,
    dry_run: bool,
    rules: BrandRules,
    public_base_url: str,
    now: datetime,
    today: date,
) -> PaymentResult:
    """Validate the rules, then (unless ``dry_run``) consume the OTP and issue a link, or,
    for the appointment method, record that the consultant is to call (no link).

    The rules are checked before the OTP so that a refusal does not burn a verified code.
    """
    method, card_network = _check_method(method, card_network, rules)
    policy_facts, installment_facts = facts(policy)
    chosen = check_selection(policy_facts, installment_facts, installment_ids, rules, today)
    result = PaymentResult(chosen, method, card_network)
    if dry_run:
        return result
    challenge = otp.require_verified(session, customer.id, otp_challenge_id, "payment", rules, now)
    appointment = method == rules.appointment_method
    _supersede_pending(session, [i.id for i in chosen])
    token = secrets.token_urlsafe(24)
    request = PaymentRequest(
        customer_id=customer.id,
        policy_id=policy.id,
        method=method,
        card_network=card_network,
        amount_cents=result.amount_cents,
        status="appointment" if appointment else "pending",
        token_hash=token_hash(token),
        otp_challenge_id=challenge.id,
        created_at=now,
        expires_at=now + timedelta(minutes=rules.payment_link_ttl_minutes),
        items=[PaymentRequestInstallment(installment_id=i.id) for i in chosen],
    )
    session.add(request)
    session.flush()
    assign_number(request, rules.number_prefix, "PG", now)
    otp.consume(challenge, now)
    result.request = request
    result.link = None if appointment else f"{public_base_url}/pay/{token}"
    return result


def _supersede_pending(session: Session, installment_ids: list[int]) -> None:
    """An earlier unpaid link for any of these installments stops working."""
    older = session.scalars(
        select(PaymentRequest)
        .join(PaymentRequestInstallment)
        .where(PaymentRequest.status == "pending", PaymentRequestInstallment.installment_id.in_(installment_ids))
    ).unique()
    for request in older:
        request.status = "superseded"


def find_by_token(session: Session, token: str) -> PaymentRequest:
    request = session.scalar(select(PaymentRequest).where(PaymentRequest.token_hash == token_hash(token)))
    if request is None:
        raise ApiError(404, "payment_link_not_found", "unknown payment link")
    return request


def complete_payment(session: Session, request: PaymentRequest, now: datetime) -> None:
    """Simulated outcome of the payment page: the installments become paid."""
    if request.status != "pending":
        raise ApiError(409, f"payment_{request.status}", f"this payment link is {request.status}")
    if now > request.expires_at:
        raise ApiError(410, "payment_link_expired", "this payment link has expired")
    installments = [item.installment for item in request.items]
    if any(i.paid for i in installments):
        raise ApiError(409, "installment_already_paid", "an installment was paid in the meantime")
    for inst in installments:
        inst.paid, inst.paid_at = True, now
    request.status, request.paid_at = "paid", now


def installment_rows(policy: Policy, rules: BrandRules, today: date) -> list[tuple[Installment, str | None]]:
    """Installments of a policy with their reason (None = payable now)."""
    reasons = assess(*facts(policy), rules, today)
    return [(inst, reasons[inst.id]) for inst in policy.installments]
