"""Requests routed to the agency: claim, surrender, extra payment, suspension, address change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend_stub.clock import FrozenClock
from backend_stub.models import ServiceRequest

from .conftest import error_code
from .demo import GIULIA, LUCA, MARCO, MARIO, SARA

IBAN = "IT60X0542811101000000123456"


def request(client: TestClient, customer: int, kind: str, policy: str | None, **details: Any):  # type: ignore[no-untyped-def]
    body: dict[str, Any] = {"kind": kind, "details": details}
    if policy:
        body["policy_number"] = policy
    return client.post(f"/v1/customers/{customer}/service-requests", json=body)


def stored(app) -> int:  # type: ignore[no-untyped-def]
    with app.state.session_factory() as session:
        return int(session.scalar(select(func.count(ServiceRequest.id))) or 0)


@pytest.mark.parametrize(
    "customer,kind,policy,details,agency",
    [
        (
            MARIO,
            "claim",
            "AL10000001",
            {"description": "Decesso dell'assicurato", "event_date": "2024-01-10", "iban": IBAN},
            "AL-MI-001",
        ),
        (SARA, "surrender_total", "CV20000005", {"iban": IBAN}, "CV-MI-0205"),
        (SARA, "surrender_partial", "CV20000005", {"iban": IBAN, "amount": "1500.50"}, "CV-MI-0205"),
        (MARIO, "extra_payment", "AL10000001", {"amount": 2000, "method": "mybank"}, "AL-MI-001"),
        (MARCO, "suspension", "CV20000002", {"effective_date": "TODAY", "effective_time": "18:00"}, "CV-PR-0101"),
        (MARCO, "reactivation", "CV20000002", {"effective_date": "TODAY"}, "CV-PR-0101"),
        (
            LUCA,
            "address_change",
            None,
            {
                "address_type": "residenza",
                "street": "Via Toledo 10",
                "postal_code": "80134",
                "city": "Napoli",
                "province": "NA",
            },
            "AL-NA-002",
        ),
    ],
)
def test_requests_reach_the_agency(
    client: TestClient,
    app,
    clock: FrozenClock,
    customer: int,
    kind: str,
    policy: str | None,  # type: ignore[no-untyped-def]
    details: dict[str, Any],
    agency: str,
) -> None:
    details = {k: (clock.today().isoformat() if v == "TODAY" else v) for k, v in details.items()}
    response = request(client, customer, kind, policy, **details)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["agency"]["code"] == agency and body["kind"] == kind and body["status"] == "received"
    assert body["request_number"].split("-")[:2] == [agency[:2], "SR"]
    assert stored(app) == 1


@pytest.mark.parametrize(
    "customer,kind,policy,details,status,code",
    [
        (MARIO, "claim", None, {"description": "x", "event_date": "2024-01-10"}, 422, "policy_number_required"),
        (MARIO, "claim", "AL10000004", {"description": "x", "event_date": "2024-01-10"}, 404, "policy_not_owned"),
        (MARIO, "claim", "AL10000001", {"description": "x", "event_date": "2999-01-01"}, 422, "date_in_the_future"),
        (MARIO, "claim", "AL10000001", {"description": "x"}, 422, "invalid_details"),
        (
            MARIO,
            "claim",
            "AL10000001",
            {"description": "x", "event_date": "2024-01-10", "extra": 1},
            422,
            "invalid_details",
        ),
        (SARA, "surrender_total", "CV20000005", {"iban": "IT61X0542811101000000123456"}, 422, "invalid_details"),
        (SARA, "surrender_partial", "CV20000005", {"iban": IBAN, "amount": "-5"}, 422, "invalid_details"),
        (SARA, "surrender_partial", "CV20000005", {"iban": IBAN, "amount": "10.123"}, 422, "invalid_details"),
        (MARCO, "surrender_total", "CV20000002", {"iban": IBAN}, 422, "surrender_total_not_allowed"),
        (MARCO, "surrender_total", "CV20000003", {"iban": IBAN}, 422, "policy_not_active"),
        (GIULIA, "extra_payment", "AL10000002", {"amount": 100}, 422, "extra_payment_not_allowed"),
        (LUCA, "extra_payment", "AL10000004", {"amount": 100}, 422, "extra_payment_not_allowed"),
        (MARIO, "suspension", "AL10000001", {"effective_date": "2999-01-01"}, 422, "suspension_not_allowed"),
        (MARCO, "suspension", "CV20000002", {"effective_date": "2000-01-01"}, 422, "date_in_the_past"),
        (
            MARCO,
            "suspension",
            "CV20000002",
            {"effective_date": "2999-01-01", "effective_time": "25:00"},
            422,
            "invalid_details",
        ),
        (
            LUCA,
            "address_change",
            None,
            {
                "address_type": "ufficio",
                "street": "Via Toledo 10",
                "postal_code": "80134",
                "city": "Napoli",
                "province": "NA",
            },
            422,
            "invalid_details",
        ),
        (
            LUCA,
            "address_change",
            None,
            {
                "address_type": "domicilio",
                "street": "Via Toledo 10",
                "postal_code": "8013",
                "city": "Napoli",
                "province": "NA",
            },
            422,
            "invalid_details",
        ),
    ],
)
def test_refused_requests(
    client: TestClient,
    app,
    customer: int,
    kind: str,
    policy: str | None,  # type: ignore[no-untyped-def]
    details: dict[str, Any],
    status: int,
    code: str,
) -> None:
    response = request(client, customer, kind, policy, **details)
    assert response.status_code == status, response.text
    assert error_code(response) == code
    assert stored(app) == 0


def test_unknown_kind(client: TestClient) -> None:
    response = request(client, MARIO, "teleport", "AL10000001")
    assert response.status_code == 422 and error_code(response) == "invalid_request"


def test_dates_relative_to_today_are_accepted(client: TestClient, clock: FrozenClock) -> None:
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    assert request(client, MARCO, "suspension", "CV20000002", effective_date=tomorrow).status_code == 201
