"""The real servers answer in Italian through the REST channel, per brand."""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from tests.e2e.stack import running_stack
from tests.scale_out import (
    REDIS_URL,
    count_rows,
    fresh_database_url,
    postgres_answers,
    redis_answers,
)

pytestmark = pytest.mark.e2e


SCALE_OUT = postgres_answers() and redis_answers()


@pytest.fixture(scope="module")
def stack_tracker_url():
    """This stack runs as a replica would: PostgreSQL tracker, Redis lock store (when the
    machine has them; the browser tests cover the embedded SQLite default)."""
    if not SCALE_OUT:
        yield None
        return
    with fresh_database_url() as url:
        yield url


@pytest.fixture(scope="module")
def rasa_url(tmp_path_factory, stack_tracker_url):
    extra = {"RASA_TRACKER_URL": stack_tracker_url, "REDIS_URL": REDIS_URL,
             "REDIS_KEY_PREFIX": f"e2e-{uuid.uuid4().hex[:8]}:"} if stack_tracker_url else {}
    with running_stack(tmp_path_factory.mktemp("stack"), extra_env=extra) as stack:
        yield stack.url


@pytest.mark.skipif(not SCALE_OUT, reason="needs PostgreSQL on 127.0.0.1:5432 and Redis on :6379")
def test_conversations_are_kept_in_postgresql(rasa_url, stack_tracker_url):
    sender = f"e2e-pg-{uuid.uuid4().hex[:8]}"
    assert texts(say(rasa_url, "non mi arriva il codice via sms", sender=sender))
    stored = count_rows(stack_tracker_url,
                        "select count(*) from events where sender_id = %s and type_name = 'user'",
                        sender)
    assert stored == 1


def say(rasa_url: str, text: str, brand: str | None = None, sender: str | None = None):
    body = {"sender": sender or f"e2e-{uuid.uuid4().hex[:8]}", "message": text}
    if brand:
        body["metadata"] = {"brand": brand}
    response = requests.post(f"{rasa_url}/webhooks/rest/webhook", json=body, timeout=60)
    response.raise_for_status()
    return response.json()


def texts(replies) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def test_otp_length_differs_per_brand(rasa_url):
    question = "di quante cifre e il codice di verifica che mi arriva per sms?"
    assert "6 cifre" in texts(say(rasa_url, question, brand="alleanza"))
    assert "5 cifre" in texts(say(rasa_url, question, brand="cavita"))


def test_cavita_operator_answer_gives_phone_hours(rasa_url):
    reply = texts(say(rasa_url, "voglio parlare con un operatore", brand="cavita"))
    assert "LUN-GIO 9:00-13:30 / 14:30-17:30" in reply
    assert "VEN 9:00-13:30 / 14:30-17:00" in reply


def test_spam_folder_advice_for_alleanza_registration(rasa_url):
    reply = texts(say(rasa_url, "mi sono registrata ma la mail per confermare non arriva",
                      brand="alleanza"))
    assert "spam" in reply
    assert "Richiedi nuovo codice" in reply


def test_channel_without_brand_gets_the_deployment_default(rasa_url):
    assert "Alleanza" in texts(say(rasa_url, "ciao"))


def test_brand_is_kept_for_the_whole_conversation(rasa_url):
    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    say(rasa_url, "buongiorno", brand="cavita", sender=sender)
    reply = texts(say(rasa_url, "quanti numeri ha l otp?", sender=sender))
    assert "5 cifre" in reply


def test_out_of_scope_gets_a_polite_answer_not_a_random_faq(rasa_url):
    reply = texts(say(rasa_url, "mi consigli una pizzeria a napoli?", brand="alleanza"))
    assert "non posso aiutarti" in reply or "non sono sicuro" in reply


def test_gibberish_triggers_the_fallback_with_buttons(rasa_url):
    replies = say(rasa_url, "zxqv plomb trr", brand="alleanza")
    assert replies, "no reply"
    joined = texts(replies)
    assert "non sono sicuro" in joined or "non posso aiutarti" in joined


def test_quick_reply_payload_is_understood(rasa_url):
    replies = say(rasa_url, "/cosa_sai_fare", brand="alleanza")
    buttons = [b["payload"] for r in replies for b in r.get("buttons", [])]
    assert "/richiesta_operatore" in buttons
    reply = texts(say(rasa_url, "/richiesta_operatore", brand="alleanza"))
    assert "Consulente" in reply


# --- issue 3: actions on the customer's own data, through the real servers -----------


def say_with(rasa_url: str, text: str, metadata: dict, sender: str):
    body = {"sender": sender, "message": text, "metadata": metadata}
    response = requests.post(f"{rasa_url}/webhooks/rest/webhook", json=body, timeout=60)
    response.raise_for_status()
    return texts(response.json())


def test_anonymous_user_asking_for_policies_is_told_how_to_identify(rasa_url):
    reply = texts(say(rasa_url, "fammi vedere le mie polizze", brand="alleanza"))
    assert "non risulti identificato" in reply
    assert "AL1000" not in reply


def test_logged_in_customer_sees_own_policies(rasa_url):
    from scripts.mint_token import mint_customer_token

    metadata = {"brand": "alleanza", "identity_token": mint_customer_token(1, "alleanza")}
    reply = say_with(rasa_url, "fammi vedere le mie polizze", metadata, f"e2e-{uuid.uuid4().hex}")
    assert "AL10000001" in reply


def test_support_form_creates_a_ticket(rasa_url):
    sender, metadata = f"e2e-{uuid.uuid4().hex[:8]}", {"brand": "cavita"}
    assert "e-mail" in say_with(rasa_url, "/apri_richiesta_supporto", metadata, sender)
    assert "motivo" in say_with(rasa_url, "anna@example.it", metadata, sender)
    assert "richiesta" in say_with(rasa_url, "navigazione", metadata, sender)
    summary = say_with(rasa_url, "non riesco a scaricare i documenti dall app", metadata, sender)
    assert "anna@example.it" in summary
    reply = say_with(rasa_url, "/conferma", metadata, sender)
    assert re.search(r"CV-TK-\d{4}-\d{6}", reply), reply
