"""Logs never hold full OTP codes, payment tokens or fiscal codes."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from backend_stub.fake_twilio import FakeTwilio
from backend_stub.log import RedactingFilter

from .conftest import last_code
from .demo import MARIO, MOBILE

MARIO_CF = "RSSMRA80A01H501U"


def test_a_full_flow_leaves_no_secrets_in_the_logs(
    client: TestClient, fake_twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert client.post("/v1/customers/lookup", json={"fiscal_code": MARIO_CF}).status_code == 200
    challenge = client.post(f"/v1/customers/{MARIO}/otp-challenges", json={"purpose": "payment"}).json()
    code = last_code(fake_twilio, MOBILE[MARIO])
    wrong = str((int(code) + 1) % 10**6).zfill(6)
    client.post(f"/v1/customers/{MARIO}/otp-challenges/{challenge['challenge_id']}/verify", json={"code": wrong})
    client.post(f"/v1/customers/{MARIO}/otp-challenges/{challenge['challenge_id']}/verify", json={"code": code})
    installments = client.get(f"/v1/customers/{MARIO}/policies/AL10000001/installments").json()["installments"]
    paid = client.post(
        f"/v1/customers/{MARIO}/payment-requests",
        json={
            "policy_number": "AL10000001",
            "installment_ids": [installments[1]["id"]],
            "method": "card",
            "otp_challenge_id": challenge["challenge_id"],
        },
    )
    assert paid.status_code == 201
    token = paid.json()["payment_link"].rsplit("/", 1)[1]
    client.get(f"/pay/{token}")
    # Our service's records (the test client's own httpx logger shows the URLs it called).
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "POST /v1/customers/1/payment-requests -> 201" in logged  # the access log did run
    for secret in (code, wrong, token, MARIO_CF, challenge["challenge_id"]):
        assert secret not in logged


def test_redacting_filter_scrubs_what_slips_through() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "user %s code %s at /pay/%s", (MARIO_CF, "123456", "tok_en-123"), None
    )
    assert RedactingFilter().filter(record)
    message = record.getMessage()
    assert MARIO_CF not in message and "123456" not in message and "tok_en-123" not in message
