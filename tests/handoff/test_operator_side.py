"""Operator tokens, presence (who is online), callbacks, the transcript and the triggers."""

from __future__ import annotations

import time

import pytest

from bot.channels.handoff_live import window_closed
from bot.channels.handoff_triggers import angry, insisting, upset
from bot.channels.handoff_turns import wants_to_leave
from handoff.presence import Presence
from handoff.transcript import expected_wait_minutes, summary, transcript
from identity.minting import mint_staff_token
from identity.operators import (
    Operator,
    OperatorRefusal,
    mint_operator_token,
    verify_operator_token,
)

# --- tokens ---------------------------------------------------------------------------


def test_an_operator_token_names_id_role_and_brands():
    op = verify_operator_token(mint_operator_token("OP-1", "operator", ["cavita"]))
    assert isinstance(op, Operator)
    assert (op.operator_id, op.role, op.brands) == ("OP-1", "operator", ("cavita",))
    assert op.serves("cavita") and not op.serves("alleanza")


def test_expired_forged_and_staff_tokens_do_not_open_the_console():
    expired = mint_operator_token("OP-1", "operator", ["alleanza"], ttl_minutes=-5)
    assert verify_operator_token(expired) == OperatorRefusal("expired")
    forged = mint_operator_token("OP-1", "operator", ["alleanza"],
                                 secret="another-secret-of-at-least-32-bytes-long")
    assert verify_operator_token(forged) == OperatorRefusal("invalid")
    staff = mint_staff_token("S-1", "agency_manager", "AL-MI-001")
    assert verify_operator_token(staff) == OperatorRefusal("invalid")
    assert verify_operator_token(None) == OperatorRefusal("invalid")


@pytest.mark.parametrize("kwargs", [
    {"brands": []}, {"brands": ["generali"]}, {"role": "admin"}, {"ttl_minutes": 9 * 60},
    {"operator_id": "OP 1"},
])
def test_tokens_that_would_be_refused_are_not_minted(kwargs):
    args = {"operator_id": "OP-1", "role": "operator", "brands": ["alleanza"], **kwargs}
    with pytest.raises(ValueError):
        mint_operator_token(**args)


# --- presence and callbacks -----------------------------------------------------------


def test_an_operator_is_online_while_the_console_polls(tmp_path, clock):
    presence = Presence(f"sqlite:///{tmp_path / 'h.sqlite3'}", clock=clock, online_seconds=30)
    assert presence.online("alleanza") == 0
    presence.seen("OP-1", ["alleanza"])
    presence.seen("OP-1", ["alleanza"])  # a second poll updates, does not duplicate
    presence.seen("OP-2", ["cavita"])
    assert presence.online("alleanza") == 1 and presence.online("cavita") == 1
    clock.advance(1)  # a minute without polling: offline
    assert presence.online("alleanza") == 0
    presence.seen("OP-2", ["cavita"])
    presence.gone("OP-2")
    assert presence.online("cavita") == 0


def test_callback_requests_are_listed_per_brand(queue_url, clock):
    presence = Presence(queue_url, clock=clock)
    presence.ask_callback("whatsapp:+393331234567", "whatsapp", "cavita", "visitor",
                          "explicit_request", "Cliente: aiuto")
    presence.ask_callback("web:web-1", "web", "alleanza", "verified_customer", "anger", "x")
    assert [c.brand for c in presence.callbacks()] == ["cavita", "alleanza"]
    assert [c.conversation_id for c in presence.callbacks("cavita")] == [
        "whatsapp:+393331234567"]
    presence.dispose()


# --- transcript -----------------------------------------------------------------------

EVENTS = [
    {"event": "action", "name": "action_listen"},
    {"event": "user", "text": "la mia mail è mario.rossi@example.it e il codice 123456",
     "timestamp": 100.0},
    {"event": "bot", "text": "Ti metto in coda", "timestamp": 101.0},
    {"event": "user", "text": "/richiesta_operatore", "timestamp": 102.0,
     "metadata": {"handoff_said": "SIETE INUTILI, chiamo +39 333 123 4567"}},
    {"event": "bot", "text": "Buongiorno, sono Laura", "timestamp": 103.0,
     "metadata": {"handoff": "operator", "operator_id": "OP-1"}},
    {"event": "bot", "text": "Un operatore ha preso in carico", "timestamp": 104.0,
     "metadata": {"handoff": "system"}},
    {"event": "user", "text": "/cosa_sai_fare", "timestamp": 105.0,
     "parse_data": {"intent": {"name": "cosa_sai_fare"}}},
]


def test_the_transcript_masks_personal_data_and_says_who_wrote():
    lines = transcript(EVENTS)
    assert [line["who"] for line in lines] == [
        "customer", "assistant", "customer", "operator", "system", "customer"]
    assert "mario.rossi" not in lines[0]["text"] and "m***@example.it" in lines[0]["text"]
    assert "123456" not in lines[0]["text"]
    assert lines[2]["text"].startswith("SIETE INUTILI") and "4567" in lines[2]["text"]
    assert "333 123" not in lines[2]["text"]
    assert lines[5]["text"] == "[pulsante: cosa_sai_fare]"
    assert [line["index"] for line in transcript(EVENTS, since=4)] == [4, 5, 6]


def test_the_summary_is_short_plain_and_masked():
    text = summary(EVENTS)
    assert text.startswith("Riepilogo della conversazione")
    assert "Cliente: la mia mail è m***@example.it" in text and "Operatore: Buongiorno" in text
    assert len(summary(EVENTS * 100, limit=200, max_chars=300)) == 300


def test_expected_wait_shares_the_queue_among_operators():
    assert expected_wait_minutes(1, 1, 5) == 5
    assert expected_wait_minutes(3, 2, 5) == 8
    assert expected_wait_minutes(1, 0, 5) == 5
    assert expected_wait_minutes(1, 10, 5) == 1


def test_whatsapp_window_is_24_hours_from_the_customers_last_message():
    last = EVENTS[-1]["timestamp"]
    assert not window_closed(EVENTS, last + 23 * 3600)
    assert window_closed(EVENTS, last + 24 * 3600 + 1)
    assert window_closed([], time.time())


# --- triggers ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "siete inutili, il codice non arriva", "Che vergogna di servizio", "mi avete stufato",
    "NON FUNZIONA NIENTE DA TRE GIORNI", "non arriva ancora niente!!!",
    "è una presa in giro", "Fa schifo questa app",
])
def test_angry_messages(text):
    assert angry(text) and upset(text, [])


@pytest.mark.parametrize("text", [
    "non mi arriva il codice", "basta così, grazie", "OK", "come pago la rata?",
    "/richiesta_operatore", "IBAN IT60X0542811101000000123456",
])
def test_calm_messages(text):
    assert not upset(text, [])


def test_the_same_request_three_times_in_a_row_is_insistence():
    assert insisting("non mi arriva il codice!",
                     ["non mi arriva il codice", "non mi arriva il codice."])
    assert not insisting("non mi arriva il codice", ["non mi arriva il codice", "ciao"])
    assert not insisting("non mi arriva il codice", ["non mi arriva il codice"])
    assert insisting("ve l'ho già chiesto: dov'è la polizza?", [])


@pytest.mark.parametrize("text,leave", [
    ("annulla", True), ("Esci dalla coda", True), ("non importa!", True),
    ("lascia stare", True), ("annulla il pagamento della rata", False), ("ciao", False),
])
def test_leaving_the_queue(text, leave):
    assert wants_to_leave(text) is leave


def test_mint_token_script_mints_operator_tokens(capsys):
    from scripts.mint_token import main

    assert main(["--operator", "OP-9", "--brands", "cavita", "--role", "supervisor"]) == 0
    op = verify_operator_token(capsys.readouterr().out.strip())
    assert isinstance(op, Operator) and (op.role, op.brands) == ("supervisor", ("cavita",))
    with pytest.raises(SystemExit):
        main(["--operator", "OP-9"])  # no brands
