"""Customers, lookup (staff agency filter), masked contacts, policies and installments."""

from __future__ import annotations

from fastapi.testclient import TestClient

from backend_stub.validation import build_fiscal_code

from .conftest import error_code
from .demo import ANNA, FRANCESCA, GIULIA, LUCA, MARCO, MARIO, SARA, VERDI

MARIO_CF = "RSSMRA80A01H501U"


def test_health_needs_no_key(app) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app) as anonymous:
        response = anonymous.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_api_key_is_required(app) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app) as anonymous:
        assert anonymous.get(f"/v1/customers/{MARIO}").status_code == 401
        wrong = anonymous.get(f"/v1/customers/{MARIO}", headers={"X-Api-Key": "nope"})
    assert wrong.status_code == 401 and error_code(wrong) == "unauthorized"


def test_get_customer(client: TestClient) -> None:
    body = client.get(f"/v1/customers/{MARIO}").json()
    assert body["name"] == "Mario Rossi" and body["brand"] == "alleanza"
    assert body["agency"]["code"] == "AL-MI-001"
    assert body["fiscal_code_masked"] == "RSS************U"
    assert MARIO_CF not in client.get(f"/v1/customers/{MARIO}").text


def test_company_has_legal_representative(client: TestClient) -> None:
    body = client.get(f"/v1/customers/{VERDI}").json()
    assert body["kind"] == "company" and len(body["vat_number"]) == 11
    assert body["legal_representative"]["name"] == "Paolo Verdi"
    assert body["fiscal_code_masked"] is None


def test_unknown_customer(client: TestClient) -> None:
    response = client.get("/v1/customers/9999")
    assert response.status_code == 404 and error_code(response) == "customer_not_found"


def test_lookup_by_fiscal_code_vat_and_mobile(client: TestClient) -> None:
    by_cf = client.post("/v1/customers/lookup", json={"fiscal_code": MARIO_CF.lower()})
    assert [m["customer"]["id"] for m in by_cf.json()["matches"]] == [MARIO]
    vat = client.get(f"/v1/customers/{VERDI}").json()["vat_number"]
    by_vat = client.post("/v1/customers/lookup", json={"vat_number": vat})
    assert by_vat.json()["matches"][0]["customer"]["id"] == VERDI
    by_mobile = client.post("/v1/customers/lookup", json={"mobile": "333 123 4567"})
    match = by_mobile.json()["matches"][0]
    assert match["customer"]["id"] == MARIO
    assert match["matched_contact"]["masked"] == "+39 *** *** 4567"
    assert "dispositive" in match["matched_contact"]["roles"]


def test_lookup_legal_representative_finds_the_company(client: TestClient) -> None:
    from datetime import date

    cf = build_fiscal_code("Verdi", "Paolo", date(1965, 9, 21), "M", "F205")
    ids = [m["customer"]["id"] for m in client.post("/v1/customers/lookup", json={"fiscal_code": cf}).json()["matches"]]
    assert ids == [VERDI]


def test_lookup_unknown_and_invalid(client: TestClient) -> None:
    unknown = client.post("/v1/customers/lookup", json={"mobile": "+393330000000"})
    assert unknown.status_code == 404 and error_code(unknown) == "customer_not_found"
    invalid = client.post("/v1/customers/lookup", json={"fiscal_code": "RSSMRA80A01H501X"})
    assert invalid.status_code == 422 and error_code(invalid) == "invalid_fiscal_code"
    assert "RSSMRA80A01H501X" not in invalid.text  # input is never echoed
    two = client.post("/v1/customers/lookup", json={"fiscal_code": MARIO_CF, "mobile": "+393331234567"})
    assert two.status_code == 422 and error_code(two) == "one_identifier_required"
    wrong_brand = client.post("/v1/customers/lookup", json={"fiscal_code": MARIO_CF, "brand": "cavita"})
    assert wrong_brand.status_code == 404


def test_staff_lookup_is_limited_to_own_agency(client: TestClient) -> None:
    own = client.post("/v1/customers/lookup", json={"fiscal_code": MARIO_CF, "agency": "AL-MI-001"})
    assert own.status_code == 200
    luca = client.get(f"/v1/customers/{LUCA}").json()
    assert luca["agency"]["code"] == "AL-NA-002"
    other = client.post("/v1/customers/lookup", json={"mobile": "+393205556677", "agency": "AL-MI-001"})
    assert other.status_code == 404 and error_code(other) == "customer_not_found"
    same = client.post("/v1/customers/lookup", json={"mobile": "+393205556677", "agency": "AL-NA-002"})
    assert same.json()["matches"][0]["customer"]["id"] == LUCA


def test_contacts_are_masked_with_roles(client: TestClient) -> None:
    body = client.get(f"/v1/customers/{SARA}/contacts").json()
    assert body["username"]["kind"] == "email" and body["username"]["masked"] == "s***@example.it"
    assert body["dispositive"]["kind"] == "mobile" and body["dispositive"]["masked"] == "+39 *** *** 7788"
    assert set(body["dispositive"]["roles"]) == {"dispositive", "fea"}
    unconfirmed = [c for c in body["contacts"] if not c["confirmed"]]
    assert {c["kind"] for c in unconfirmed} == {"email", "mobile"}
    text = client.get(f"/v1/customers/{SARA}/contacts").text
    assert "486667788" not in text and "sara.ricci" not in text


def test_customer_without_mobile(client: TestClient) -> None:
    body = client.get(f"/v1/customers/{ANNA}/contacts").json()
    assert body["dispositive"] is None and all(c["kind"] == "email" for c in body["contacts"])
    assert client.get(f"/v1/customers/{ANNA}").json()["has_dispositive_mobile"] is False


def test_policies_active_and_archived(client: TestClient) -> None:
    active = client.get(f"/v1/customers/{MARCO}/policies").json()
    assert [p["number"] for p in active["policies"]] == ["CV20000002"]
    archived = client.get(f"/v1/customers/{MARCO}/policies", params={"status": "archived"}).json()
    assert [p["number"] for p in archived["policies"]] == ["CV20000003"]  # 10 months; 30 months hidden
    assert archived["hidden_archived_count"] == 1
    everything = client.get(f"/v1/customers/{MARCO}/policies", params={"status": "all"}).json()
    assert {p["number"] for p in everything["policies"]} == {"CV20000002", "CV20000003"}
    # Alleanza shows archived policies whatever their age.
    giulia = client.get(f"/v1/customers/{GIULIA}/policies", params={"status": "archived"}).json()
    assert [p["number"] for p in giulia["policies"]] == ["AL10000003"] and giulia["hidden_archived_count"] == 0
    bad = client.get(f"/v1/customers/{MARCO}/policies", params={"status": "old"})
    assert bad.status_code == 422


def test_hidden_archived_policy_is_not_reachable(client: TestClient) -> None:
    hidden = client.get(f"/v1/customers/{MARCO}/policies/CV20000004")
    assert hidden.status_code == 404 and error_code(hidden) == "policy_not_owned"
    shown = client.get(f"/v1/customers/{MARCO}/policies/cv-2000 0003")
    assert shown.status_code == 200 and shown.json()["archived"] is True


def test_another_customers_policy_is_refused(client: TestClient) -> None:
    for path in (
        f"/v1/customers/{MARIO}/policies/AL10000004",
        f"/v1/customers/{MARIO}/policies/AL10000004/installments",
    ):
        response = client.get(path)
        assert response.status_code == 404 and error_code(response) == "policy_not_owned"
    unknown = client.get(f"/v1/customers/{MARIO}/policies/AL99999999")
    assert error_code(unknown) == "policy_not_owned"  # same answer: no probing
    invalid = client.get(f"/v1/customers/{MARIO}/policies/XY123")
    assert invalid.status_code == 422 and error_code(invalid) == "invalid_policy_number"


def test_installments_with_payable_flags(client: TestClient) -> None:
    rows = client.get(f"/v1/customers/{MARIO}/policies/AL10000001/installments").json()["installments"]
    assert [r["reason"] for r in rows] == ["already_paid", None, None, None, None, "not_yet_due"]
    assert [r["payable"] for r in rows] == [False, True, True, True, True, False]
    assert rows[1]["amount"] == "120.00" and rows[1]["amount_cents"] == 12000
    giulia = client.get(f"/v1/customers/{GIULIA}/policies/AL10000002/installments").json()["installments"]
    assert [r["reason"] for r in giulia] == ["already_paid", None, "protection_not_yet_due"]
    luca = client.get(f"/v1/customers/{LUCA}/policies/AL10000004/installments").json()
    assert luca["payment_method"] == "sdd"
    assert {r["reason"] for r in luca["installments"] if not r["paid"]} == {"sdd_not_payable"}
    francesca = client.get(f"/v1/customers/{FRANCESCA}/policies/AL10000005/installments").json()["installments"]
    assert [r["reason"] for r in francesca] == [
        "overdue_more_than_6_months",
        "older_installment_not_payable",
        "older_installment_not_payable",
    ]


def test_staff_header_hides_customers_of_other_agencies(client: TestClient) -> None:
    staff = {"X-Staff-Agency": "AL-MI-001"}
    assert client.get(f"/v1/customers/{MARIO}", headers=staff).status_code == 200
    for path in (
        f"/v1/customers/{LUCA}",
        f"/v1/customers/{LUCA}/contacts",
        f"/v1/customers/{LUCA}/policies",
        f"/v1/customers/{LUCA}/policies/AL10000004/installments",
    ):
        response = client.get(path, headers=staff)
        assert response.status_code == 404 and error_code(response) == "customer_not_found", path
    otp = client.post(f"/v1/customers/{LUCA}/otp-challenges", json={"purpose": "step_up"}, headers=staff)
    assert otp.status_code == 404
    lookup = client.post("/v1/customers/lookup", json={"mobile": "+393205556677"}, headers=staff)
    assert lookup.status_code == 404
    mixed = client.post("/v1/customers/lookup", json={"fiscal_code": MARIO_CF, "agency": "AL-NA-002"}, headers=staff)
    assert mixed.status_code == 404
    bad = client.get(f"/v1/customers/{MARIO}", headers={"X-Staff-Agency": "everything"})
    assert bad.status_code == 422
