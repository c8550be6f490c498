"""Payment requests: rules first, then the verified OTP, then a payment link."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ..config import rules_for
from ..deps import ClockDep, SessionDep, SettingsDep
from ..presenters import euro
from ..schemas import PaymentRequestCreate, PaymentRequestOut
from ..services.customers import get_customer
from ..services.payments import create_payment_request
from ..services.policies import owned_policy
from . import CustomerId

router = APIRouter(prefix="/v1", tags=["payments"])


@router.post(
    "/customers/{customer_id}/payment-requests",
    status_code=201,
    response_model=PaymentRequestOut,
    responses={
        200: {"description": "dry run: the selection is valid, nothing written"},
        403: {"description": "otp_required / otp_not_verified / otp_wrong_purpose / otp_verification_expired"},
        404: {"description": "policy_not_owned / installment_not_found"},
        409: {"description": "installment_already_paid / otp_already_used"},
        422: {
            "description": "sdd_not_payable, overdue_more_than_6_months, installment_skipped, "
            "protection_not_yet_due, not_yet_due, policy_not_active, method_not_allowed, "
            "card_network_not_allowed, duplicate_installments"
        },
    },
)
def create_payment(
    customer_id: CustomerId,
    body: PaymentRequestCreate,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> PaymentRequestOut:
    """Pay installments online (card: Visa/MasterCard, or MyBank), or ask the consultant for an
    appointment (method ``agency``: no link, status ``appointment``); needs a verified
    ``payment`` OTP."""
    customer = get_customer(session, customer_id)
    rules = rules_for(customer.brand)
    today = clock.today()
    policy = owned_policy(customer, body.policy_number, rules, today)
    result = create_payment_request(
        session,
        customer,
        policy,
        body.installment_ids,
        body.method,
        body.card_network,
        body.otp_challenge_id,
        body.dry_run,
        rules,
        settings.public_base_url,
        clock.now(),
        today,
    )
    if body.dry_run:
        response.status_code = 200
    else:
        session.commit()
    request = result.request
    return PaymentRequestOut(
        dry_run=body.dry_run,
        request_number=request.number if request else None,
        policy_number=policy.number,
        installment_ids=[i.id for i in result.chosen],
        amount=euro(result.amount_cents),
        amount_cents=result.amount_cents,
        method=result.method,
        card_network=result.card_network,
        payment_link=result.link,
        expires_at=request.expires_at if request else None,
        status=request.status if request else "valid",
    )
