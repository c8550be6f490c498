"""Staff lookups: the audit log (who, when, which customer, how), lookup by policy number,
a customer's open requests, and the audit read endpoint. SQLite and PostgreSQL (conftest)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from backend_stub.clock import FrozenClock
from backend_stub.fake_twilio import FakeTwilio
from backend_stub.models import StaffLookupAudit
from backend_stub.services.staff_audit import SearchKey

from .conftest import error_code, otp_verified
from .demo import GIULIA, LUCA, MARCO, MARIO, MOBILE, SARA, VERDI

MARIO_CF = "RSSMRA80A01H501U"
MILANO = "AL-MI-001"
NAPOLI = "AL-NA-002"


def staff(staff_id: str = "S-042", agency: str = MILANO) -> dict[str, str]:
    return {"X-Staff-Id": staff_id, "X-Staff-Agency": agency}


def audit_rows(app: FastAPI) -> list[StaffLookupAudit]:
    with app.state.session_factory() as session:
        return list(session.scalars(select(StaffLookupAudit).order_by(StaffLookupAudit.id)))


def audit(client: TestClient, agency: str = MILANO, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/audit/staff-lookups", params={"agency": agency, **params})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


# --- lookups write the audit ----------------------------------------------------------


def test_own_agency_lookup_is_audited_with_who_and_which_customer(app: FastAPI, client: TestClient) -> None:
    response = client.post("/v1/customers/lookup", json={"fiscal_code": MARIO_CF}, headers=staff())
    assert response.status_code == 200
    assert [m["customer"]["id"] for m in response.json()["matches"]] == [MARIO]
    [row] = audit_rows(app)
    assert (row.staff_id, row.agency_code, row.customer_id, row.outcome) == ("S-042", MILANO, MARIO, "found")
    assert row.query_kind == "fiscal_code" and row.endpoint == "/v1/customers/lookup"
    assert row.key_masked == "RSS************U"
    assert row.key_hash is not None and len(row.key_hash) == 64 and MARIO_CF not in row.key_hash
    assert row.created_at == app.state.clock.now()
    # The same key hashes the same (compliance can search for it), and only with the secret.
    assert row.key_hash == SearchKey("fiscal_code", MARIO_CF).digest("test-otp-secret")
    assert row.key_hash != SearchKey("fiscal_code", MARIO_CF).digest("another-secret")


def test_customer_of_another_agency_is_not_found_but_audited(app: FastAPI, client: TestClient) -> None:
    response = client.post("/v1/customers/lookup", json={"mobile": "+39 320 555 6677"}, headers=staff())
    assert response.status_code == 404 and error_code(response) == "customer_not_found"
    assert "Esposito" not in response.text and "AL-NA-002" not in response.text
    [row] = audit_rows(app)
    assert (row.customer_id, row.outcome, row.query_kind) == (LUCA, "other_agency", "mobile")
    assert row.key_masked == "+39 *** *** 6677"


def test_unknown_key_is_audited_as_not_found(app: FastAPI, client: TestClient) -> None:
    response = client.post("/v1/customers/lookup", json={"vat_number": "01234560017"}, headers=staff())
    assert response.status_code == 404
    [row] = audit_rows(app)
    assert (row.customer_id, row.outcome, row.query_kind, row.key_masked) == (
        None,
        "not_found",
        "vat_number",
        "012*****017",
    )


def test_asking_for_another_agency_explicitly_is_refused_and_audited(app: FastAPI, client: TestClient) -> None:
    response = client.post(
        "/v1/customers/lookup", json={"fiscal_code": MARIO_CF, "agency": NAPOLI}, headers=staff(agency=MILANO)
    )
    assert response.status_code == 404
    [row] = audit_rows(app)
    assert (row.customer_id, row.outcome) == (None, "other_agency")


def test_lookup_by_policy_number_finds_the_holder(app: FastAPI, client: TestClient) -> None:
    archived = client.post("/v1/customers/lookup", json={"policy_number": "al-1000 0003"}, headers=staff())
    assert [m["customer"]["id"] for m in archived.json()["matches"]] == [GIULIA]
    other = client.post("/v1/customers/lookup", json={"policy_number": "AL10000004"}, headers=staff())
    assert other.status_code == 404
    invalid = client.post("/v1/customers/lookup", json={"policy_number": "XX1"}, headers=staff())
    assert invalid.status_code == 422 and error_code(invalid) == "invalid_policy_number"
    two = client.post("/v1/customers/lookup", json={"policy_number": "AL10000001", "fiscal_code": MARIO_CF})
    assert two.status_code == 422 and error_code(two) == "one_identifier_required"
    rows = audit_rows(app)  # invalid requests looked nothing up: not audited
    assert [(r.query_kind, r.key_masked, r.customer_id, r.outcome) for r in rows] == [
        ("policy_number", "AL10000003", GIULIA, "found"),
        ("policy_number", "AL10000004", LUCA, "other_agency"),
    ]


def test_company_found_through_its_legal_representative(app: FastAPI, client: TestClient) -> None:
    vat = client.get(f"/v1/customers/{VERDI}").json()["vat_number"]
    found = client.post("/v1/customers/lookup", json={"vat_number": vat}, headers=staff())
    assert found.status_code == 200
    [row] = audit_rows(app)
    assert row.customer_id == VERDI and vat not in row.key_masked


def test_per_customer_reads_are_audited_with_the_route_template(app: FastAPI, client: TestClient) -> None:
    assert client.get(f"/v1/customers/{MARIO}/policies?status=all", headers=staff()).status_code == 200
    assert client.get(f"/v1/customers/{MARIO}/contacts", headers=staff()).status_code == 200
    assert client.get(f"/v1/customers/{LUCA}/contacts", headers=staff()).status_code == 404
    assert client.get("/v1/customers/9999/open-requests", headers=staff()).status_code == 404
    rows = audit_rows(app)
    assert [(r.endpoint, r.customer_id, r.outcome, r.query_kind) for r in rows] == [
        ("/v1/customers/{customer_id}/policies", MARIO, "found", "customer_id"),
        ("/v1/customers/{customer_id}/contacts", MARIO, "found", "customer_id"),
        ("/v1/customers/{customer_id}/contacts", LUCA, "other_agency", "customer_id"),
        ("/v1/customers/{customer_id}/open-requests", None, "not_found", "customer_id"),
    ]
    assert all(r.key_hash is None for r in rows)  # ids are not personal data


def test_calls_without_staff_headers_are_not_audited(app: FastAPI, client: TestClient) -> None:
    assert client.post("/v1/customers/lookup", json={"fiscal_code": MARIO_CF}).status_code == 200
    assert client.get(f"/v1/customers/{MARIO}/policies").status_code == 200
    assert audit_rows(app) == []


def test_staff_id_needs_an_agency_and_a_safe_shape(app: FastAPI, client: TestClient) -> None:
    alone = client.get(f"/v1/customers/{MARIO}", headers={"X-Staff-Id": "S-042"})
    assert alone.status_code == 422 and error_code(alone) == "staff_agency_required"
    lookup = client.post("/v1/customers/lookup", json={"fiscal_code": MARIO_CF}, headers={"X-Staff-Id": "S-042"})
    assert lookup.status_code == 422 and error_code(lookup) == "staff_agency_required"
    for bad in ("S 042", "x" * 65, "S-042;drop"):
        response = client.get(f"/v1/customers/{MARIO}", headers=staff(staff_id=bad))
        assert response.status_code == 422 and error_code(response) == "invalid_request", bad
    assert audit_rows(app) == []


def test_agency_header_alone_still_works_and_is_audited_without_a_staff_id(app: FastAPI, client: TestClient) -> None:
    assert client.get(f"/v1/customers/{MARIO}", headers={"X-Staff-Agency": MILANO}).status_code == 200
    [row] = audit_rows(app)
    assert row.staff_id is None and row.outcome == "found"


def test_staff_lookups_leave_no_full_keys_in_the_logs(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client.post("/v1/customers/lookup", json={"fiscal_code": MARIO_CF}, headers=staff())
    client.post("/v1/customers/lookup", json={"mobile": MOBILE[LUCA]}, headers=staff())
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert "staff lookup: staff=S-042 agency=AL-MI-001 customer=1 kind=fiscal_code outcome=found" in logged
    assert "outcome=other_agency" in logged
    assert MARIO_CF not in logged and MOBILE[LUCA] not in logged and MOBILE[LUCA][3:] not in logged


# --- the audit read endpoint ------------------------------------------------------------


def test_audit_endpoint_lists_newest_first_with_filters_and_pages(client: TestClient) -> None:
    client.post("/v1/customers/lookup", json={"fiscal_code": MARIO_CF}, headers=staff("S-001"))
    client.get(f"/v1/customers/{GIULIA}/policies", headers=staff("S-002"))
    client.get(f"/v1/customers/{LUCA}/policies", headers=staff("S-002"))
    client.get(f"/v1/customers/{MARCO}", headers=staff("S-900", agency="CV-PR-0101"))

    body = audit(client)
    assert body["agency"] == MILANO and body["next_before_id"] is None
    entries = body["entries"]
    assert [(e["staff_id"], e["customer_id"], e["outcome"]) for e in entries] == [
        ("S-002", LUCA, "other_agency"),
        ("S-002", GIULIA, "found"),
        ("S-001", MARIO, "found"),
    ]
    assert entries[2]["key_masked"] == "RSS************U" and "key_hash" not in entries[2]
    assert MARIO_CF not in str(body)
    assert [e["customer_id"] for e in audit(client, staff_id="S-002")["entries"]] == [LUCA, GIULIA]
    assert [e["staff_id"] for e in audit(client, customer_id=MARIO)["entries"]] == ["S-001"]
    assert [e["customer_id"] for e in audit(client, outcome="other_agency")["entries"]] == [LUCA]
    first = audit(client, limit=2)
    assert len(first["entries"]) == 2 and first["next_before_id"] == first["entries"][1]["id"]
    rest = audit(client, limit=2, before_id=first["next_before_id"])
    assert [e["staff_id"] for e in rest["entries"]] == ["S-001"] and rest["next_before_id"] is None
    assert [e["staff_id"] for e in audit(client, agency="CV-PR-0101")["entries"]] == ["S-900"]


def test_audit_read_in_a_staff_context_is_own_agency_only_and_hides_foreign_ids(client: TestClient) -> None:
    client.get(f"/v1/customers/{LUCA}", headers=staff())
    own = client.get("/v1/audit/staff-lookups", params={"agency": MILANO}, headers={"X-Staff-Agency": MILANO})
    assert own.status_code == 200
    assert [(e["customer_id"], e["outcome"]) for e in own.json()["entries"]] == [(None, "other_agency")]
    other = client.get("/v1/audit/staff-lookups", params={"agency": NAPOLI}, headers={"X-Staff-Agency": MILANO})
    assert other.status_code == 403 and error_code(other) == "other_agency"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"agency": "milano"},
        {"agency": MILANO, "limit": 0},
        {"agency": MILANO, "limit": 501},
        {"agency": MILANO, "before_id": 0},
        {"agency": MILANO, "customer_id": "abc"},
        {"agency": MILANO, "outcome": "maybe"},
        {"agency": MILANO, "staff_id": "a b"},
    ],
)
def test_audit_endpoint_refuses_bad_parameters(client: TestClient, params: dict[str, Any]) -> None:
    response = client.get("/v1/audit/staff-lookups", params=params)
    assert response.status_code == 422 and error_code(response) == "invalid_request"


def test_audit_endpoint_needs_the_api_key(app: FastAPI) -> None:
    with TestClient(app) as anonymous:
        response = anonymous.get("/v1/audit/staff-lookups", params={"agency": MILANO})
    assert response.status_code == 401


# --- open requests ------------------------------------------------------------------------


def test_open_requests_lists_tickets_service_and_payment_requests(
    app: FastAPI, client: TestClient, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    empty = client.get(f"/v1/customers/{MARIO}/open-requests", headers=staff())
    assert empty.status_code == 200
    assert empty.json() == {
        "customer_id": MARIO,
        "support_tickets": [],
        "service_requests": [],
        "payment_requests": [],
        "total": 0,
    }
    ticket = client.post(
        "/v1/support-tickets",
        json={
            "brand": "alleanza",
            "reply_email": "mario.rossi@example.it",
            "reason": "informazioni_polizza",
            "text": "Vorrei sapere quando scade la polizza.",
            "customer_id": MARIO,
            "policy_number": "AL10000001",
        },
    ).json()
    claim = client.post(
        f"/v1/customers/{MARIO}/service-requests",
        json={
            "kind": "claim",
            "policy_number": "AL10000001",
            "details": {"description": "Infortunio domestico", "event_date": clock.today().isoformat()},
        },
    ).json()
    installments = client.get(f"/v1/customers/{MARIO}/policies/AL10000001/installments").json()["installments"]
    unpaid = [i["id"] for i in installments if not i["paid"]]
    otp = otp_verified(client, fake_twilio, MARIO, MOBILE[MARIO])
    link = client.post(
        f"/v1/customers/{MARIO}/payment-requests",
        json={"policy_number": "AL10000001", "installment_ids": unpaid[:1], "method": "card", "otp_challenge_id": otp},
    ).json()

    body = client.get(f"/v1/customers/{MARIO}/open-requests", headers=staff()).json()
    assert body["total"] == 3
    [t] = body["support_tickets"]
    assert t["ticket_number"] == ticket["ticket_number"] and t["reply_email_masked"] == "m***@example.it"
    assert t["policy_number"] == "AL10000001" and "text" not in t
    [s] = body["service_requests"]
    assert (s["request_number"], s["kind"], s["policy_number"]) == (claim["request_number"], "claim", "AL10000001")
    [p] = body["payment_requests"]
    assert (p["request_number"], p["status"], p["amount"]) == (link["request_number"], "pending", "120.00")
    assert p["expires_at"] is not None and "payment_link" not in p
    assert "mario.rossi@example.it" not in str(body) and "/pay/" not in str(body)

    clock.advance(31 * 60)  # the link expired: no longer an open request
    later = client.get(f"/v1/customers/{MARIO}/open-requests", headers=staff()).json()
    assert later["payment_requests"] == [] and later["total"] == 2


def test_consultant_appointment_stays_open_and_other_customers_stay_apart(
    client: TestClient, fake_twilio: FakeTwilio, clock: FrozenClock
) -> None:
    installments = client.get(f"/v1/customers/{SARA}/policies/CV20000005/installments").json()["installments"]
    unpaid = [i["id"] for i in installments if not i["paid"]]
    otp = otp_verified(client, fake_twilio, SARA, MOBILE[SARA])
    made = client.post(
        f"/v1/customers/{SARA}/payment-requests",
        json={
            "policy_number": "CV20000005",
            "installment_ids": unpaid[:1],
            "method": "agency",
            "otp_challenge_id": otp,
        },
    )
    assert made.status_code == 201, made.text
    clock.advance(3 * 3600)
    body = client.get(f"/v1/customers/{SARA}/open-requests", headers=staff(agency="CV-MI-0205")).json()
    assert [(p["status"], p["expires_at"]) for p in body["payment_requests"]] == [("appointment", None)]
    assert client.get(f"/v1/customers/{MARIO}/open-requests").json()["total"] == 0
    refused = client.get(f"/v1/customers/{SARA}/open-requests", headers=staff())
    assert refused.status_code == 404 and error_code(refused) == "customer_not_found"


def test_open_requests_bad_ids(client: TestClient) -> None:
    assert error_code(client.get("/v1/customers/abc/open-requests")) == "invalid_request"
    assert client.get("/v1/customers/0/open-requests").status_code == 422
    assert error_code(client.get("/v1/customers/9999/open-requests")) == "customer_not_found"


def test_audit_row_count_matches_staff_calls(app: FastAPI, client: TestClient) -> None:
    for _ in range(3):
        client.get(f"/v1/customers/{MARIO}/open-requests", headers=staff())
    with app.state.session_factory() as session:
        assert session.scalar(select(func.count(StaffLookupAudit.id))) == 3
