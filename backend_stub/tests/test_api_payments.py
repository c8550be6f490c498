"""Payment requests: every refusal rule, the OTP requirement, the link and the fake payment page."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend_stub.clock import FrozenClock
from backend_stub.fake_twilio import FakeTwilio
from backend_stub.models import PaymentRequest

from .conftest import error_code, otp_verified
from .demo import AGRICOLA, DAVIDE, FRANCESCA, GIULIA, LUCA, MARCO, MARIO, MOBILE, VERDI


def installments(client: TestClient, customer: int, policy: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/customers/{customer}/policies/{policy}/installments")
    assert response.status_code == 200, response.text
    return response.json()["installments"]  # type: ignore[no-any-return]


def unpaid_ids(client: TestClient, customer: int, policy: str) -> list[int]:
    return [i["id"] for i in installments(client, customer, policy) if not i["paid"]]


def pay(
    client: TestClient,
    customer: int,
    policy: str,
    ids: list[int],
    otp: str | None = None,
    method: str = "card",
    **extra: Any,
):  # type: ignore[no-untyped-def]
    body = {"policy_number": policy, "installment_ids": ids, "method": method, **extra}
    if otp is not None:
        body["otp_challenge_id"] = otp
    return client.post(f"/v1/customers/{customer}/payment-requests", json=body)


def count_requests(app) -> int:  # type: ignore[no-untyped-def]
    with app.state.session_factory() as session:
        return int(session.scalar(select(func.count(PaymentRequest.id))) or 0)


def test_happy_path_gives_a_link_and_the_page_completes_it(client: TestClient, fake_twilio: FakeTwilio) -> None:
    ids = unpaid_ids(client, MARIO, "AL10000001")
    otp = otp_verified(client, fake_twilio, MARIO, MOBILE[MARIO])
    response = pay(client, MARIO, "AL10000001", ids[:2], otp, card_network="visa")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["amount"] == "240.00" and body["status"] == "pending"
    assert body["request_number"].startswith("AL-PG-")
    link = body["payment_link"]
    assert link.startswith("http://127.0.0.1:8000/pay/")
    path = link.removeprefix("http://127.0.0.1:8000")
    page = client.get(path)
    assert page.status_code == 200 and "240.00" in page.text
    done = client.post(path)
    assert done.status_code == 200 and "completato" in done.text
    rows = installments(client, MARIO, "AL10000001")
    assert [r["paid"] for r in rows[:3]] == [True, True, True]
    assert client.post(path).status_code == 409  # a link pays once


def test_mybank_and_protection_within_30_days(client: TestClient, fake_twilio: FakeTwilio) -> None:
    ids = unpaid_ids(client, GIULIA, "AL10000002")
    otp = otp_verified(client, fake_twilio, GIULIA, MOBILE[GIULIA])
    assert pay(client, GIULIA, "AL10000002", ids[:1], otp, method="mybank").status_code == 201


def test_consultant_appointment_instead_of_a_link(client: TestClient, fake_twilio: FakeTwilio) -> None:
    ids = unpaid_ids(client, MARIO, "AL10000001")
    no_otp = pay(client, MARIO, "AL10000001", ids[:1], method="agency")
    assert no_otp.status_code == 403 and error_code(no_otp) == "otp_required"
    otp = otp_verified(client, fake_twilio, MARIO, MOBILE[MARIO])
    response = pay(client, MARIO, "AL10000001", ids[:1], otp, method="agency")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "appointment" and body["payment_link"] is None
    assert body["method"] == "agency" and body["request_number"].startswith("AL-PG-")
    # the rules still hold: no skipping the oldest installment, card network makes no sense
    skipped = pay(client, MARIO, "AL10000001", ids[1:2], otp, method="agency")
    assert skipped.status_code in (403, 409, 422) and error_code(skipped) != "otp_required"
    with_network = pay(client, MARIO, "AL10000001", ids[:1], otp, method="agency", card_network="visa")
    assert error_code(with_network) == "method_not_allowed"


def test_otp_is_required_verified_and_single_use(
    client: TestClient, fake_twilio: FakeTwilio, clock: FrozenClock, app
) -> None:  # type: ignore[no-untyped-def]
    ids = unpaid_ids(client, MARIO, "AL10000001")
    missing = pay(client, MARIO, "AL10000001", ids[:1])
    assert missing.status_code == 403 and error_code(missing) == "otp_required"
    pending = client.post(f"/v1/customers/{MARIO}/otp-challenges", json={"purpose": "payment"}).json()
    unverified = pay(client, MARIO, "AL10000001", ids[:1], pending["challenge_id"])
    assert unverified.status_code == 403 and error_code(unverified) == "otp_not_verified"
    clock.advance(31)
    step_up = otp_verified(client, fake_twilio, MARIO, MOBILE[MARIO], purpose="step_up")
    wrong_purpose = pay(client, MARIO, "AL10000001", ids[:1], step_up)
    assert wrong_purpose.status_code == 403 and error_code(wrong_purpose) == "otp_wrong_purpose"
    clock.advance(31)
    otp = otp_verified(client, fake_twilio, MARIO, MOBILE[MARIO])
    assert pay(client, MARIO, "AL10000001", ids[:1], otp).status_code == 201
    reused = pay(client, MARIO, "AL10000001", ids[:2], otp)
    assert reused.status_code == 409 and error_code(reused) == "otp_already_used"
    clock.advance(31)
    late = otp_verified(client, fake_twilio, MARIO, MOBILE[MARIO])
    clock.advance(601)
    too_old = pay(client, MARIO, "AL10000001", ids[:1], late)
    assert too_old.status_code == 403 and error_code(too_old) == "otp_verification_expired"
    assert count_requests(app) == 1


def test_otp_of_another_customer_is_refused(client: TestClient, fake_twilio: FakeTwilio) -> None:
    marco_otp = otp_verified(client, fake_twilio, MARCO, MOBILE[MARCO])
    response = pay(client, MARIO, "AL10000001", unpaid_ids(client, MARIO, "AL10000001")[:1], marco_otp)
    assert response.status_code == 404 and error_code(response) == "otp_challenge_not_found"


@pytest.mark.parametrize(
    "customer,policy,pick,code,status",
    [
        (LUCA, "AL10000004", [0], "sdd_not_payable", 422),
        (AGRICOLA, "CV20000008", [0], "sdd_not_payable", 422),
        (FRANCESCA, "AL10000005", [0], "overdue_more_than_6_months", 422),
        (FRANCESCA, "AL10000005", [1], "installment_skipped", 422),
        (MARIO, "AL10000001", [1], "installment_skipped", 422),
        (MARIO, "AL10000001", [0, 2], "installment_skipped", 422),
        (MARIO, "AL10000001", [0, 1, 2, 3, 4], "not_yet_due", 422),
        (GIULIA, "AL10000002", [1], "protection_not_yet_due", 422),
        (GIULIA, "AL10000002", [0, 1], "protection_not_yet_due", 422),
        (DAVIDE, "CV20000006", [1], "installment_skipped", 422),
    ],
)
def test_refusal_rules(
    client: TestClient,
    fake_twilio: FakeTwilio,
    app,
    customer: int,
    policy: str,  # type: ignore[no-untyped-def]
    pick: list[int],
    code: str,
    status: int,
) -> None:
    ids = unpaid_ids(client, customer, policy)
    otp = otp_verified(client, fake_twilio, customer, MOBILE[customer])
    response = pay(client, customer, policy, [ids[i] for i in pick], otp)
    assert response.status_code == status, response.text
    assert error_code(response) == code
    assert count_requests(app) == 0
    # A refusal does not burn the verified code.
    state = client.get(f"/v1/customers/{customer}/otp-challenges/{otp}").json()
    assert state["status"] == "verified"


def test_skipped_reports_missing_installments(client: TestClient, fake_twilio: FakeTwilio) -> None:
    ids = unpaid_ids(client, MARIO, "AL10000001")
    response = pay(client, MARIO, "AL10000001", [ids[2]], dry_run=True)
    assert error_code(response) == "installment_skipped"
    assert response.json()["error"]["missing_installment_ids"] == ids[:2]


def test_already_paid_unknown_and_duplicate_installments(client: TestClient) -> None:
    rows = installments(client, MARIO, "AL10000001")
    paid = pay(client, MARIO, "AL10000001", [rows[0]["id"]], dry_run=True)
    assert paid.status_code == 409 and error_code(paid) == "installment_already_paid"
    other = installments(client, VERDI, "AL10000006")[1]["id"]
    foreign = pay(client, MARIO, "AL10000001", [other], dry_run=True)
    assert foreign.status_code == 404 and error_code(foreign) == "installment_not_found"
    twice = pay(client, MARIO, "AL10000001", [rows[1]["id"], rows[1]["id"]], dry_run=True)
    assert twice.status_code == 422 and error_code(twice) == "duplicate_installments"


def test_policy_not_owned(client: TestClient, fake_twilio: FakeTwilio) -> None:
    luca_ids = unpaid_ids(client, LUCA, "AL10000004")
    otp = otp_verified(client, fake_twilio, MARIO, MOBILE[MARIO])
    response = pay(client, MARIO, "AL10000004", luca_ids[:1], otp)
    assert response.status_code == 404 and error_code(response) == "policy_not_owned"


def test_archived_policy_not_payable(client: TestClient) -> None:
    response = pay(client, MARCO, "CV20000003", [1], dry_run=True)
    assert response.status_code == 404 and error_code(response) == "installment_not_found"
    giulia_old = installments(client, GIULIA, "AL10000003")
    assert [r["reason"] for r in giulia_old] == ["already_paid"]


@pytest.mark.parametrize(
    "method,network,code",
    [
        ("sdd", None, "method_not_allowed"),
        ("paypal", None, "method_not_allowed"),
        ("card", "amex", "card_network_not_allowed"),
        ("mybank", "visa", "card_network_not_allowed"),
    ],
)
def test_payment_methods(client: TestClient, method: str, network: str | None, code: str) -> None:
    ids = unpaid_ids(client, MARIO, "AL10000001")
    extra = {"card_network": network} if network else {}
    response = pay(client, MARIO, "AL10000001", ids[:1], method=method, dry_run=True, **extra)
    assert response.status_code == 422 and error_code(response) == code


def test_dry_run_writes_nothing(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    ids = unpaid_ids(client, MARIO, "AL10000001")
    response = pay(client, MARIO, "AL10000001", ids[:3], method="card", card_network="MasterCard", dry_run=True)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "valid" and body["payment_link"] is None and body["amount_cents"] == 36000
    assert body["card_network"] == "mastercard"
    assert count_requests(app) == 0


def test_new_link_supersedes_the_old_one(client: TestClient, fake_twilio: FakeTwilio, clock: FrozenClock) -> None:
    ids = unpaid_ids(client, MARIO, "AL10000001")
    first = pay(client, MARIO, "AL10000001", ids[:1], otp_verified(client, fake_twilio, MARIO, MOBILE[MARIO]))
    clock.advance(31)
    second = pay(client, MARIO, "AL10000001", ids[:2], otp_verified(client, fake_twilio, MARIO, MOBILE[MARIO]))
    assert first.status_code == second.status_code == 201
    old_path = first.json()["payment_link"].removeprefix("http://127.0.0.1:8000")
    assert client.post(old_path).status_code == 409
    new_path = second.json()["payment_link"].removeprefix("http://127.0.0.1:8000")
    clock.advance(31 * 60)
    assert client.post(new_path).status_code == 410  # link expired after 30 minutes


def test_unknown_payment_link(client: TestClient) -> None:
    assert client.get("/pay/notarealtoken123").status_code == 404
