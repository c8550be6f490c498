"""Bad input always gets a 4xx JSON error with a code, never a 500, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from .demo import MARIO

P = f"/v1/customers/{MARIO}"
PAY = f"{P}/payment-requests"
GOOD_PAY = {"policy_number": "AL10000001", "installment_ids": [2], "method": "card", "dry_run": True}

CASES: list[tuple[str, str, Any]] = [
    ("GET", "/v1/customers/abc", None),
    ("GET", "/v1/customers/0", None),
    ("GET", "/v1/customers/-1", None),
    ("GET", "/v1/customers/99999999999999999999", None),
    ("GET", "/v1/customers/1.5", None),
    ("GET", f"{P}/policies/%00", None),
    ("GET", f"{P}/policies/{'A' * 300}", None),
    ("GET", f"{P}/policies/AL10000001/installments/extra", None),
    ("GET", f"{P}/policies", {"params": {"status": "\u00e9"}}),
    ("POST", "/v1/customers/lookup", {"content": b"not json", "headers": {"Content-Type": "application/json"}}),
    ("POST", "/v1/customers/lookup", {"content": b"\xff\xfe", "headers": {"Content-Type": "application/json"}}),
    ("POST", "/v1/customers/lookup", {"json": []}),
    ("POST", "/v1/customers/lookup", {"json": {}}),
    ("POST", "/v1/customers/lookup", {"json": {"fiscal_code": 123}}),
    ("POST", "/v1/customers/lookup", {"json": {"fiscal_code": "R" * 10000}}),
    ("POST", "/v1/customers/lookup", {"json": {"fiscal_code": "RSSMRA80A01H501\u00dc"}}),
    ("POST", "/v1/customers/lookup", {"json": {"fiscal_code": "RSSMRA80A01H501\x00"}}),
    ("POST", "/v1/customers/lookup", {"json": {"mobile": "abc"}}),
    ("POST", "/v1/customers/lookup", {"json": {"vat_number": "12345678901"}}),
    ("POST", "/v1/customers/lookup", {"json": {"fiscal_code": "RSSMRA80A01H501U", "agency": "milano"}}),
    ("POST", "/v1/customers/lookup", {"json": {"fiscal_code": "RSSMRA80A01H501U", "role": "admin"}}),
    ("POST", "/v1/customers/lookup", {"content": b"fiscal_code=x", "headers": {"Content-Type": "text/plain"}}),
    ("POST", f"{P}/otp-challenges", {"json": {"purpose": "hack"}}),
    ("POST", f"{P}/otp-challenges", {"json": {}}),
    ("POST", f"{P}/otp-challenges", {"json": None}),
    ("POST", "/v1/customers/424242/otp-challenges", {"json": {"purpose": "payment"}}),
    ("POST", f"{P}/otp-challenges/{'f' * 32}/verify", {"json": {"code": "123456"}}),
    ("POST", f"{P}/otp-challenges/{'f' * 65}/verify", {"json": {"code": "123456"}}),
    ("POST", f"{P}/otp-challenges/%00/verify", {"json": {"code": "123456"}}),
    ("POST", f"{P}/otp-challenges/abc/verify", {"json": {"code": ""}}),
    ("POST", f"{P}/otp-challenges/abc/verify", {"json": {"code": "1" * 100}}),
    ("POST", f"{P}/otp-challenges/abc/verify", {"json": {"code": 123456}}),
    ("GET", f"{P}/otp-challenges/{'0' * 32}", None),
    ("POST", PAY, {"json": {**GOOD_PAY, "installment_ids": [99999999999]}}),
    ("POST", PAY, {"json": {**GOOD_PAY, "installment_ids": "2"}}),
    ("POST", PAY, {"json": {**GOOD_PAY, "installment_ids": []}}),
    ("POST", PAY, {"json": {**GOOD_PAY, "installment_ids": list(range(1, 30))}}),
    ("POST", PAY, {"json": {**GOOD_PAY, "installment_ids": [None]}}),
    ("POST", PAY, {"json": {**GOOD_PAY, "method": None}}),
    ("POST", PAY, {"json": {**GOOD_PAY, "method": "\x00card"}}),
    ("POST", PAY, {"json": {**GOOD_PAY, "policy_number": "AL\x00"}}),
    ("POST", PAY, {"json": {**GOOD_PAY, "dry_run": False, "otp_challenge_id": "\x00"}}),
    ("POST", PAY, {"json": {**GOOD_PAY, "dry_run": False, "otp_challenge_id": "x" * 65}}),
    ("POST", PAY, {"json": {**GOOD_PAY, "dry_run": "maybe"}}),
    ("POST", f"{P}/service-requests", {"json": {"kind": "claim", "policy_number": "AL10000001", "details": "x"}}),
    (
        "POST",
        f"{P}/service-requests",
        {
            "json": {
                "kind": "claim",
                "policy_number": "AL10000001",
                "details": {"description": "\x00", "event_date": "2024-01-01"},
            }
        },
    ),
    (
        "POST",
        f"{P}/service-requests",
        {
            "json": {
                "kind": "claim",
                "policy_number": "AL10000001",
                "details": {"description": "ok", "event_date": "31/12/2024"},
            }
        },
    ),
    (
        "POST",
        f"{P}/service-requests",
        {"json": {"kind": "extra_payment", "policy_number": "AL10000001", "details": {"amount": "1e400"}}},
    ),
    (
        "POST",
        f"{P}/service-requests",
        {"json": {"kind": "extra_payment", "policy_number": "AL10000001", "details": {"amount": "NaN"}}},
    ),
    (
        "POST",
        "/v1/support-tickets",
        {
            "json": {
                "brand": "cavita",
                "reply_email": "a@b.it",
                "reason": "navigazione",
                "text": "ok",
                "customer_id": 2**40,
            }
        },
    ),
    (
        "POST",
        "/v1/support-tickets",
        {
            "json": {
                "brand": "cavita",
                "reply_email": "a@b.it",
                "reason": "navigazione",
                "text": "ok",
                "customer_id": 424242,
            }
        },
    ),
    ("GET", "/v1/support/hours", {"params": {"brand": "cavita", "at": "yesterday"}}),
    ("GET", "/nope", None),
    ("DELETE", P, None),
    ("GET", "/pay/short", None),
    ("POST", "/pay/" + "x" * 40, None),
]


@pytest.mark.parametrize("method,path,kwargs", CASES, ids=[f"{m} {p[:50]}" for m, p, _ in CASES])
def test_bad_input_is_a_4xx_json_error(client: TestClient, method: str, path: str, kwargs: Any) -> None:
    response = client.request(method, path, **(kwargs or {}))
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    if path.startswith("/pay/"):
        return  # the payment page answers HTML for browsers
    body = response.json()
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert "Traceback" not in response.text


def test_wrong_api_key_with_odd_bytes(app) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app) as anonymous:
        response = anonymous.get(P, headers={"X-Api-Key": "\u00e9t\u00e9".encode("latin-1")})
    assert response.status_code == 401
