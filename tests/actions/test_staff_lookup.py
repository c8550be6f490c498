"""action_staff_lookup against the real backend stub (tests/actions/conftest.py): own
agency found, other agency and unknown customers answered alike, non-staff refused before
any backend call, the audit row written with who and which customer, masked data only.

Demo customers: backend_stub/README.md (Milano AL-MI-001: Mario 1, Giulia 2, Verdi 5;
Napoli AL-NA-002: Luca 3; CA Vita Milano CV-MI-0205: Sara 8; Parma CV-PR-0101: Marco 7).
"""

from __future__ import annotations

import asyncio
import json
import re
import time

import jwt
import pytest
from rasa_sdk import Tracker

from actions.backend_client import BackendClient
from actions.staff_lookup import (
    TEXT_BACKEND_DOWN,
    TEXT_INVALID_KEY,
    TEXT_NO_KEY,
    TEXT_NOT_STAFF,
    TEXT_SESSION_EXPIRED,
    ActionStaffLookup,
    find_search_key,
    valid_fiscal_code,
    valid_mobile,
    valid_vat_number,
)
from identity import ALGORITHM, AUDIENCE, ISSUER_STAFF
from identity.minting import mint_staff_token
from tests.actions.conftest import free_port
from tests.actions.helpers import customer_metadata, run

MARIO_CF = "RSSMRA80A01H501U"
LUCA_CF = "SPSLCU68S30F839G"
UNKNOWN_CF = "BNCLRA90A41F205I"  # valid shape and check character, nobody in the demo data
VERDI_VAT = "04123450159"
MILANO, NAPOLI = "AL-MI-001", "AL-NA-002"
# Anything that would be a full personal key: a fiscal code, an Italian mobile, an e-mail.
_D = "[0-9LMNPQRSTUV]"
FULL_CF = re.compile(rf"\b[A-Z]{{6}}{_D}{{2}}[A-Z]{_D}{{2}}[A-Z]{_D}{{3}}[A-Z]\b")
FULL_MOBILE = re.compile(r"\+?3\d{2}[ .]?\d{6,7}\b|\+393\d{8,9}")
FULL_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]{2,}@")


@pytest.fixture(autouse=True)
def backend(actions_on_fresh_backend):
    """This module's own backend stub, so the audit holds only this module's lookups."""
    return actions_on_fresh_backend


@pytest.fixture
def dead_backend(monkeypatch):
    monkeypatch.setenv("BACKEND_URL", f"http://127.0.0.1:{free_port()}")


def staff_metadata(agency: str = MILANO, staff_id: str = "S-042", role: str = "agency_employee"):
    return {"identity_token": mint_staff_token(staff_id, role, agency), "brand": "alleanza"}


def tracker(
    text: str,
    intent: str = "staff_polizze_cliente",
    metadata: dict | None = None,
    entities: list[dict] | None = None,
) -> Tracker:
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.95},
        "entities": entities or [],
    }
    if metadata is not None:
        latest["metadata"] = metadata
    return Tracker("staff-S-042", {}, latest, [], False, None, {}, "action_listen")


def entity(name: str, text: str, value: str) -> dict:
    """What RegexEntityExtractor puts in the parse: the raw span of the message."""
    start = text.index(value)
    return {"entity": name, "start": start, "end": start + len(value), "value": value,
            "extractor": "RegexEntityExtractor"}


def lookup(text: str, intent: str = "staff_polizze_cliente", metadata: dict | None = None,
           entities: list[dict] | None = None):
    """(text, payload or None) of one run; the action never sets slots."""
    messages, events = run(ActionStaffLookup(), tracker(text, intent, metadata, entities))
    assert events == []
    assert len(messages) == 1, messages
    return messages[0]["text"], messages[0].get("custom") or None


def audit_entries(agency: str = MILANO) -> list[dict]:
    return asyncio.run(BackendClient().staff_lookup_audit(agency))["entries"]


def assert_masked_only(*outputs) -> None:
    dumped = " ".join(json.dumps(o, ensure_ascii=False) if not isinstance(o, str) else o
                      for o in outputs)
    assert not FULL_CF.search(dumped), dumped
    assert not FULL_MOBILE.search(dumped), dumped
    assert not FULL_EMAIL.search(dumped), dumped


# --- own agency -----------------------------------------------------------------------


def test_policies_of_an_own_agency_customer_by_fiscal_code():
    text = f"polizze del cliente {MARIO_CF}"
    reply, payload = lookup(text, metadata=staff_metadata(),
                            entities=[entity("codice_fiscale", text, MARIO_CF)])
    assert reply.startswith("Mario Rossi (cliente 1, codice fiscale RSS************U):")
    assert "Polizze attive:" in reply and "AL10000001: Alleanza Piano Risparmio (Vita)" in reply
    assert "pagamento carta" in reply
    assert payload["type"] == "staff_lookup" and payload["view"] == "policies"
    assert payload["query"] == {"kind": "fiscal_code", "label": "codice fiscale",
                                "masked": "RSS************U"}
    [customer] = payload["customers"]
    assert customer["id"] == 1 and customer["agency"] == MILANO
    assert [p["number"] for p in customer["policies"]] == ["AL10000001"]
    assert "contacts" not in customer and "requests" not in customer
    assert_masked_only(reply, payload)


def test_archived_policies_are_listed_apart():
    reply, payload = lookup("che polizze ha la signora al cell 347 111 2233?",
                            metadata=staff_metadata())  # no entity: found in the text
    assert "Giulia Bianchi" in reply
    active, archive = reply.split("In archivio:")
    assert "AL10000002" in active and "AL10000003: Alleanza Casa (Danni), scaduta il" in archive
    archived = [p["number"] for p in payload["customers"][0]["policies"] if p["archived"]]
    assert archived == ["AL10000003"]


def test_contacts_are_masked_with_roles_and_confirmation():
    text = "recapiti della cliente RCCSRA85T41F205C"
    reply, payload = lookup(text, "staff_recapiti_cliente", staff_metadata("CV-MI-0205", "S-7"),
                            [entity("codice_fiscale", text, "RCCSRA85T41F205C")])
    assert "Sara Ricci" in reply and "Recapiti:" in reply
    assert "- e-mail s***@example.it: username, paperless; confermato" in reply
    assert "- cellulare +39 *** *** 7788: dispositivo, FEA; confermato" in reply
    assert "- cellulare +39 *** *** 0000: nessun ruolo; NON confermato" in reply
    contacts = payload["customers"][0]["contacts"]
    assert {"kind": "mobile", "masked": "+39 *** *** 7788", "roles": ["dispositive", "fea"],
            "confirmed": True} in contacts
    assert "policies" not in payload["customers"][0]
    assert_masked_only(reply, payload)


def test_dispositive_contact_by_phone_number_entity():
    text = "recapito dispositivo di +39 333 1234567"
    reply, payload = lookup(text, "staff_recapiti_cliente", staff_metadata(),
                            [entity("phone_number", text, "+39 333 1234567")])
    assert reply.startswith("Mario Rossi (cliente 1")
    assert "cellulare +39 *** *** 4567: username, dispositivo; confermato" in reply
    assert payload["query"]["masked"] == "+39 *** *** 4567"


def test_unconfirmed_dispositive_and_missing_one_are_pointed_out():
    reply, _ = lookup("recapiti cliente MRNLNE82R50D612T", "staff_recapiti_cliente",
                      staff_metadata())
    assert "cellulare +39 *** *** 4999: dispositivo; NON confermato" in reply
    reply, _ = lookup("recapiti FRRNNA58B54G337J", "staff_recapiti_cliente",
                      staff_metadata("CV-PR-0101"))
    assert "nessun recapito dispositivo, il cliente non può ricevere codici OTP" in reply


def test_open_requests_of_the_customer():
    empty, payload = lookup(f"richieste aperte di {MARIO_CF}", "staff_richieste_cliente",
                            staff_metadata())
    assert "Nessuna richiesta aperta." in empty
    assert payload["customers"][0]["requests"] == {
        "support_tickets": [], "service_requests": [], "payment_requests": []}
    ticket = asyncio.run(BackendClient().create_support_ticket(
        brand="alleanza", reply_email="mario.rossi@example.it", reason="informazioni_polizza",
        text="Quando scade la mia polizza?", customer_id=1, policy_number="AL10000001"))
    reply, payload = lookup(f"richieste aperte di {MARIO_CF}", "staff_richieste_cliente",
                            staff_metadata())
    assert "Richieste aperte:" in reply
    assert f"- ticket {ticket['ticket_number']} del " in reply
    assert "informazioni sulla polizza, polizza AL10000001" in reply
    [row] = payload["customers"][0]["requests"]["support_tickets"]
    assert row["reply_email_masked"] == "m***@example.it"
    assert_masked_only(reply, payload)


def test_company_by_partita_iva_and_holder_by_policy_number():
    reply, _ = lookup(f"polizze piva {VERDI_VAT}", metadata=staff_metadata())
    assert reply.startswith("Costruzioni Verdi S.r.l. (cliente 5, partita IVA 04123450159, "
                            "legale rappresentante Paolo Verdi):")
    text = "di chi è la polizza CV 20000003?"
    reply, payload = lookup(text, metadata=staff_metadata("CV-PR-0101", "S-9"),
                            entities=[entity("policy_number", text, "CV 20000003")])
    assert reply.startswith("Marco Colombo (cliente 7")
    assert "CV20000003: CA Vita Temporanea (Vita), scaduta il" in reply
    assert "Non mostrata 1 polizza chiusa da oltre 24 mesi." in reply  # CA Vita window
    assert payload["customers"][0]["hidden_archived_count"] == 1


def test_other_intents_show_everything():
    reply, payload = lookup(f"cliente {MARIO_CF}", "nlu_fallback", staff_metadata())
    assert "Polizze attive:" in reply and "Recapiti:" in reply and "richiest" in reply.lower()
    assert payload["view"] == "all"


def test_a_manager_may_look_up_too():
    reply, _ = lookup(f"polizze {MARIO_CF}", metadata=staff_metadata(role="agency_manager"))
    assert reply.startswith("Mario Rossi")


# --- other agency, unknown, not staff ---------------------------------------------------


def test_customer_of_another_agency_is_answered_like_an_unknown_one():
    other, other_payload = lookup(f"polizze del cliente {LUCA_CF}", metadata=staff_metadata())
    unknown, unknown_payload = lookup(f"polizze del cliente {UNKNOWN_CF}",
                                      metadata=staff_metadata())
    assert other_payload is None and unknown_payload is None
    assert other == (
        "Non ho trovato nessun cliente della tua agenzia (AL-MI-001) con codice fiscale "
        "SPS************G. Controlla il dato; se la persona è cliente di un'altra agenzia, "
        "deve rivolgersi a quella."
    )
    assert unknown == other.replace("SPS************G", "BNC************I")
    assert "Esposito" not in other and "AL10000004" not in other
    # Napoli sees its own customer with the same question.
    napoli, _ = lookup(f"polizze del cliente {LUCA_CF}", metadata=staff_metadata(NAPOLI, "S-100"))
    assert napoli.startswith("Luca Esposito")


def test_other_agency_by_phone_and_policy_number_too():
    by_phone, _ = lookup("recapiti di 320 555 6677", "staff_recapiti_cliente", staff_metadata())
    by_policy, _ = lookup("polizza AL10000004", metadata=staff_metadata())
    assert by_phone.startswith("Non ho trovato nessun cliente della tua agenzia")
    assert "+39 *** *** 6677" in by_phone
    assert by_policy.startswith("Non ho trovato nessun cliente della tua agenzia")


@pytest.mark.parametrize("metadata", [
    None,
    {"brand": "alleanza"},
    {"role": "agency_employee", "agency": MILANO, "staff_id": "S-042"},  # claims, not a token
    {"identity_token": "not-a-jwt"},
])
def test_anonymous_and_forged_callers_are_refused_without_a_backend_call(
    metadata, dead_backend
):
    reply, payload = lookup(f"polizze del cliente {LUCA_CF}", metadata=metadata)
    assert reply == TEXT_NOT_STAFF and payload is None  # not TEXT_BACKEND_DOWN: never called


def test_a_customer_asking_about_someone_else_gets_nothing(dead_backend):
    reply, payload = lookup(f"polizze del cliente {LUCA_CF}", metadata=customer_metadata(1))
    assert reply == TEXT_NOT_STAFF and payload is None
    assert "Esposito" not in reply and "SPS" not in reply


def test_staff_token_signed_with_another_key_or_expired_is_refused(dead_backend):
    claims = {"iss": ISSUER_STAFF, "aud": AUDIENCE, "sub": "S-042", "role": "agency_employee",
              "agency": MILANO, "exp": int(time.time()) + 600}
    forged = jwt.encode(claims, "an-attacker-secret-that-is-long-enough-0123", ALGORITHM)
    reply, _ = lookup(f"polizze {MARIO_CF}", metadata={"identity_token": forged})
    assert reply == TEXT_NOT_STAFF
    expired = mint_staff_token("S-042", "agency_employee", MILANO, ttl_minutes=-5)
    reply, _ = lookup(f"polizze {MARIO_CF}", metadata={"identity_token": expired})
    assert reply == TEXT_SESSION_EXPIRED


# --- keys ---------------------------------------------------------------------------------


def test_no_key_asks_for_one_and_an_invalid_key_is_explained(dead_backend):
    reply, _ = lookup("fammi vedere le polizze del cliente", metadata=staff_metadata())
    assert reply == TEXT_NO_KEY
    assert lookup("polizze di RSSMRA80A01H501X", metadata=staff_metadata())[0] == (
        TEXT_INVALID_KEY["fiscal_code"])
    text = "recapiti piva 04123450158"
    reply, _ = lookup(text, "staff_recapiti_cliente", staff_metadata(),
                      [entity("partita_iva", text, "04123450158")])
    assert reply == TEXT_INVALID_KEY["vat_number"] and "corretta" in reply


def test_entities_win_over_the_text_and_invalid_entities_fall_back_to_the_text():
    text = f"cliente {MARIO_CF} tel 347 111 2233"
    search = find_search_key(tracker(text, entities=[entity("phone_number", text, "347 111 2233")]))
    assert (search.key.kind, search.key.value) == ("mobile", "+393471112233")
    text = f"cliente {MARIO_CF}"
    bad = [{"entity": "codice_fiscale", "value": "RSSMRA80A01H501X", "start": 0, "end": 1}]
    search = find_search_key(tracker(text, entities=bad))
    assert (search.key.kind, search.key.value) == ("fiscal_code", MARIO_CF)


@pytest.mark.parametrize("raw,expected", [
    ("rssmra80a01h501u", MARIO_CF),
    ("GRCDVD95E20L21VO", "GRCDVD95E20L21VO"),  # omocodic
    ("RSSMRA80A31B501U", None),  # 31 February... (check character wrong anyway)
    ("RSSMRA80Z01H501U", None),  # no month Z
])
def test_fiscal_code_check(raw, expected):
    assert valid_fiscal_code(raw) == expected


def test_vat_and_mobile_checks():
    assert valid_vat_number("IT 04123450159") == VERDI_VAT
    assert valid_vat_number("04123450158") is None and valid_vat_number("0" * 11) is None
    assert valid_mobile("0039 333.123.4567") == "+393331234567"
    assert valid_mobile("+44 7911 123456") is None and valid_mobile("06 1234567") is None


# --- audit and failures -------------------------------------------------------------------


def test_every_lookup_is_audited_with_who_and_which_customer():
    before = {e["id"] for e in audit_entries()}
    lookup(f"polizze del cliente {MARIO_CF}", metadata=staff_metadata(staff_id="S-555"))
    lookup(f"polizze del cliente {LUCA_CF}", metadata=staff_metadata(staff_id="S-555"))
    new = [e for e in audit_entries() if e["id"] not in before]
    rows = [(e["staff_id"], e["customer_id"], e["query_kind"], e["key_masked"], e["endpoint"],
             e["outcome"]) for e in reversed(new)]
    assert rows == [
        ("S-555", 1, "fiscal_code", "RSS************U", "/v1/customers/lookup", "found"),
        ("S-555", 1, "customer_id", "1", "/v1/customers/{customer_id}/policies", "found"),
        ("S-555", 3, "fiscal_code", "SPS************G", "/v1/customers/lookup", "other_agency"),
    ]
    assert all(e["agency"] == MILANO for e in new)
    assert_masked_only(new)


def test_refused_callers_leave_no_audit_row():
    before = len(audit_entries())
    lookup(f"polizze del cliente {MARIO_CF}", metadata=customer_metadata(1))
    lookup(f"polizze del cliente {MARIO_CF}", metadata=None)
    assert len(audit_entries()) == before


def test_backend_down_is_said_in_italian(dead_backend):
    reply, payload = lookup(f"polizze del cliente {MARIO_CF}", metadata=staff_metadata())
    assert reply == TEXT_BACKEND_DOWN and payload is None


def test_client_sends_the_staff_id_only_with_an_agency():
    with pytest.raises(ValueError):
        BackendClient(staff_id="S-042")
    with pytest.raises(ValueError):
        BackendClient(staff_agency=MILANO, staff_id="S 042")
    client = BackendClient(staff_agency=MILANO, staff_id="S-042")
    assert client._headers()["X-Staff-Id"] == "S-042"
    assert client._headers()["X-Staff-Agency"] == MILANO


# --- the customer in focus («e i suoi recapiti?») -------------------------------------


def _follow_up_tracker(text: str, intent: str, shown_payload: dict | None) -> Tracker:
    events = [{"event": "session_started"}, {"event": "user", "text": "polizze del cliente ..."}]
    if shown_payload is not None:
        events.append({"event": "bot", "text": "Mario Rossi ...",
                       "data": {"custom": shown_payload}})
    events.append({"event": "user", "text": text})
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": [],
              "metadata": staff_metadata()}
    return Tracker("staff-S-042", {}, latest, events, False, None, {}, "action_listen")


def test_a_follow_up_without_a_key_looks_up_the_customer_just_shown():
    text = f"polizze del cliente {MARIO_CF}"
    _, shown = lookup(text, metadata=staff_metadata(),
                      entities=[entity("codice_fiscale", text, MARIO_CF)])
    before = len(audit_entries())
    messages, _ = run(ActionStaffLookup(),
                      _follow_up_tracker("e i suoi recapiti?", "staff_recapiti_cliente", shown))
    reply = messages[0]["text"]
    assert reply.startswith("Mario Rossi (cliente 1"), reply
    assert "Recapiti" in reply and messages[0]["custom"]["view"] == "contacts"
    assert len(audit_entries()) > before  # read again under the staff member's scope
    assert_masked_only(reply, messages[0]["custom"])


def test_without_a_previous_lookup_the_key_is_still_asked_for():
    messages, _ = run(ActionStaffLookup(),
                      _follow_up_tracker("e i suoi recapiti?", "staff_recapiti_cliente", None))
    assert messages[0]["text"] == TEXT_NO_KEY
