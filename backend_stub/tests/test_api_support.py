"""Support tickets and phone support hours."""

from __future__ import annotations

from fastapi.testclient import TestClient

from backend_stub.validation import fiscal_code_check_char

from .conftest import error_code
from .demo import MARCO, MARIO

TICKET = {
    "brand": "cavita",
    "reply_email": "Marco.Colombo@Example.it",
    "reason": "navigazione",
    "text": "Non riesco ad accedere all'area clienti dall'app.",
}


def test_anonymous_ticket(client: TestClient) -> None:
    response = client.post("/v1/support-tickets", json=TICKET)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["ticket_number"].startswith("CV-TK-") and body["reply_email_masked"] == "m***@example.it"
    second = client.post("/v1/support-tickets", json={**TICKET, "brand": "alleanza"}).json()
    assert second["ticket_number"].startswith("AL-TK-") and second["ticket_number"] != body["ticket_number"]


def test_ticket_of_a_customer_about_a_policy(client: TestClient) -> None:
    ok = client.post(
        "/v1/support-tickets",
        json={**TICKET, "reason": "informazioni_polizza", "customer_id": MARCO, "policy_number": "CV20000002"},
    )
    assert ok.status_code == 201
    not_owned = client.post("/v1/support-tickets", json={**TICKET, "customer_id": MARCO, "policy_number": "AL10000001"})
    assert not_owned.status_code == 404 and error_code(not_owned) == "policy_not_owned"
    other_brand = client.post("/v1/support-tickets", json={**TICKET, "customer_id": MARIO})
    assert other_brand.status_code == 404 and error_code(other_brand) == "customer_not_found"


def test_ticket_validation(client: TestClient) -> None:
    cases = [
        ({"reason": "reclamo"}, "invalid_request"),
        ({"reply_email": "marco@"}, "invalid_email"),
        ({"text": "   "}, "invalid_text"),
        ({"text": "x" * 4001}, "invalid_request"),
        ({"brand": "generali"}, "invalid_request"),
        ({"text": "ciao\x00"}, "invalid_text"),
    ]
    for change, code in cases:
        response = client.post("/v1/support-tickets", json={**TICKET, **change})
        assert response.status_code == 422, change
        assert error_code(response) == code, change


def test_support_hours(client: TestClient) -> None:
    monday = client.get("/v1/support/hours", params={"brand": "cavita", "at": "2025-07-07T10:00:00"}).json()
    assert monday["open_now"] is True and monday["phone_support"] is True
    assert monday["closes_at"].startswith("2025-07-07T13:30:00")
    assert monday["timezone"] == "Europe/Rome"
    friday = client.get("/v1/support/hours", params={"brand": "cavita", "at": "2025-07-11T17:10:00+02:00"}).json()
    assert friday["open_now"] is False and friday["next_opening"].startswith("2025-07-14T09:00:00")
    assert [d["weekday"] for d in monday["schedule"]] == [0, 1, 2, 3, 4]
    assert monday["schedule"][4]["slots"][1] == {"start": "14:30", "end": "17:00"}
    alleanza = client.get("/v1/support/hours", params={"brand": "alleanza"}).json()
    assert alleanza["phone_support"] is False and "support_form" in alleanza["channels"]
    assert client.get("/v1/support/hours", params={"brand": "x"}).status_code == 422
    assert client.get("/v1/support/hours").status_code == 422


def test_registration_eligibility(client: TestClient) -> None:
    def check(**body: str) -> dict:  # type: ignore[type-arg]
        response = client.post("/v1/registration/eligibility", json=body)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    mario = "RSSMRA80A01H501U"
    assert check(brand="alleanza", fiscal_code=mario) == {"brand": "alleanza", "eligible": True, "reason": None}
    assert check(brand="cavita", fiscal_code=mario)["reason"] == "not_a_customer"
    marco_cf = "CLMMRC72L04A944" + fiscal_code_check_char("CLMMRC72L04A944")
    assert check(brand="cavita", fiscal_code=marco_cf)["reason"] == "policy_number_required"
    assert check(brand="cavita", fiscal_code=marco_cf, policy_number="CV20000002")["eligible"] is True
    assert check(brand="cavita", fiscal_code=marco_cf, policy_number="CV20000003")["eligible"] is True  # 10 months
    assert check(brand="cavita", fiscal_code=marco_cf, policy_number="CV20000004")["reason"] == "policy_not_eligible"
    assert check(brand="cavita", fiscal_code=marco_cf, policy_number="CV20000005")["reason"] == "policy_not_found"
    elena = "MRNLNE82R50D612" + fiscal_code_check_char("MRNLNE82R50D612")
    assert check(brand="alleanza", fiscal_code=elena)["eligible"] is True  # has a (unconfirmed) mobile
    both = client.post("/v1/registration/eligibility", json={"brand": "alleanza"})
    assert both.status_code == 422 and error_code(both) == "one_identifier_required"
