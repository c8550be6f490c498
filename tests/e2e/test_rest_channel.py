"""The real servers answer in Italian through the REST channel, per brand; REST cannot
reach another channel's conversation; the stack binds to loopback and says it is a
development stack."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.channels.conftest import whatsapp_form, whatsapp_post
from tests.conftest import ROOT
from tests.e2e.stack import MODEL, free_port, running_stack
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
def stack(tmp_path_factory, stack_tracker_url):
    workdir = tmp_path_factory.mktemp("stack")
    extra = {"RASA_TRACKER_URL": stack_tracker_url, "REDIS_URL": REDIS_URL,
             "REDIS_KEY_PREFIX": f"e2e-{uuid.uuid4().hex[:8]}:"} if stack_tracker_url else {}
    # WhatsApp in development outbox mode (signed with the fake Twilio's test token).
    extra.update({"WHATSAPP_OUTBOX_PATH": str(workdir / "whatsapp_outbox.jsonl"),
                  "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": "", "TWILIO_API_BASE_URL": "",
                  "WHATSAPP_PUBLIC_URL": "", "ASSISTANT_ENV": "", "RASA_HOST": "",
                  "DEMO_PAGES": ""})
    with running_stack(workdir, extra_env=extra) as running:
        running.workdir = workdir
        yield running


@pytest.fixture(scope="module")
def rasa_url(stack):
    return stack.url


@pytest.mark.skipif(not SCALE_OUT, reason="needs PostgreSQL on 127.0.0.1:5432 and Redis on :6379")
def test_conversations_are_kept_in_postgresql(rasa_url, stack_tracker_url):
    sender = f"e2e-pg-{uuid.uuid4().hex[:8]}"
    assert texts(say(rasa_url, "non mi arriva il codice via sms", sender=sender))
    stored = count_rows(stack_tracker_url,
                        "select count(*) from events where sender_id = %s and type_name = 'user'",
                        "rest:" + sender)  # the REST channel's namespace
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
    from identity.minting import mint_customer_token

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


# --- conversations are namespaced per channel ------------------------------------------

MARIO_MOBILE = "+393331234567"  # a WhatsApp customer's mobile (backend_stub/seed.py)


class WhatsAppPhone:
    """Mario's phone on the stack's WhatsApp webhook; replies are read from the outbox."""

    def __init__(self, stack) -> None:
        self.url = stack.url + "/webhooks/whatsapp/webhook"
        self.outbox: Path = stack.workdir / "whatsapp_outbox.jsonl"

    def _bodies(self) -> list[str]:
        if not self.outbox.exists():
            return []
        return [json.loads(line)["body"] for line in self.outbox.read_text().splitlines()
                if json.loads(line)["to"] == "whatsapp:" + MARIO_MOBILE]

    def say(self, text: str, quiet: float = 2.0) -> str:
        """Send ``text``; the replies that arrive until the chat is quiet for ``quiet`` s."""
        before = len(self._bodies())
        form = whatsapp_form(Body=text, From="whatsapp:" + MARIO_MOBILE)
        assert whatsapp_post(self.url, form).status_code == 200
        deadline, seen, still_since = time.monotonic() + 60, before, time.monotonic()
        while time.monotonic() < deadline:
            count = len(self._bodies())
            if count != seen:
                seen, still_since = count, time.monotonic()
            elif count > before and time.monotonic() - still_since > quiet:
                return "\n".join(self._bodies()[before:])
            time.sleep(0.2)
        raise TimeoutError(f"no WhatsApp reply to {text!r}")


def test_a_rest_sender_naming_a_whatsapp_number_cannot_reach_that_conversation(stack):
    """The attack seen on a `make run` stack: a REST post with a customer's mobile as sender
    landed in that customer's WhatsApp conversation (and could read and change its form)."""
    phone = WhatsAppPhone(stack)
    assert "e-mail" in phone.say("/apri_richiesta_supporto")  # a form open on WhatsApp
    for sender in (MARIO_MOBILE, "whatsapp:" + MARIO_MOBILE):
        reply = say_with(stack.url, "mario.rossi@example.it", {"brand": "alleanza"}, sender)
        assert "motivo" not in reply, sender  # not the WhatsApp form's next question
    # The WhatsApp conversation is as it was: the form still waits for the e-mail.
    assert "motivo" in phone.say("anna@example.it")


def _outward_address() -> str | None:
    """This machine's address on its network (no packet is sent), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_rasa_listens_on_loopback_only(stack):
    address = _outward_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    port = stack.ports["rasa"]
    with socket.socket() as sock:
        sock.settimeout(2)
        assert sock.connect_ex((address, port)) != 0, f"Rasa answers on {address}:{port}"
    assert requests.get(f"{stack.url}/webhooks/rest/", timeout=5).ok  # loopback does


def test_a_development_stack_says_so_in_one_line(stack):
    lines = [line for line in stack.log.read_text().splitlines() if "DEVELOPMENT STACK" in line]
    assert len(lines) == 1, lines
    assert "DEMO_PAGES" in lines[0]  # run.sh turns the demo pages on in development


# --- production -----------------------------------------------------------------------


def test_rasa_refuses_to_start_in_production_with_development_settings(tmp_path):
    """The channels refuse before the model is even loaded; the reason is one line."""
    if not MODEL.exists():
        pytest.skip(f"{MODEL} missing: run 'make setup' first")
    env = {**os.environ, "ASSISTANT_ENV": "production", "DEMO_PAGES": "1",
           "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false"}
    for name in ("CUSTOMER_JWT_SECRET", "REST_SERVICE_TOKEN", "CHAT_ALLOWED_ORIGINS"):
        env.pop(name, None)
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "rasa"), "run", "--model", str(MODEL), "--credentials",
         "credentials.yml", "-i", "127.0.0.1", "--port", str(free_port())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    [reason] = [line for line in output.splitlines() if "ASSISTANT_ENV=production refused" in line]
    for problem in ("CUSTOMER_JWT_SECRET", "DEMO_PAGES=1", "CHAT_ALLOWED_ORIGINS",
                    "REST_SERVICE_TOKEN"):
        assert problem in reason


def _run_sh_settings(**env: str) -> tuple[str, list[str]]:
    """DEMO_PAGES and the --cors origins scripts/run.sh picks for ``env``."""
    script = (ROOT / "scripts" / "run.sh").read_text()
    block = script[script.index("export ASSISTANT_ENV="):]
    block = block[:block.index("\nfi\n") + 4]
    probe = block + ('echo "$DEMO_PAGES"\n'
                     'for o in ${RASA_CORS[@]+"${RASA_CORS[@]}"}; do echo "$o"; done\n')
    clean = {k: v for k, v in os.environ.items()
             if k not in ("ASSISTANT_ENV", "DEMO_PAGES", "CHAT_ALLOWED_ORIGINS")}
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", probe], env={**clean, **env},
                         capture_output=True, text=True, check=True).stdout.splitlines()
    return out[0], out[1:]


def test_run_sh_demo_pages_and_cors_follow_the_environment():
    assert _run_sh_settings() == ("1", ["*"])
    assert _run_sh_settings(ASSISTANT_ENV="production") == ("0", [])
    assert _run_sh_settings(ASSISTANT_ENV="production",
                            CHAT_ALLOWED_ORIGINS="https://www.alleanza.it, https://x.it") == (
        "0", ["https://www.alleanza.it", "https://x.it"])
    assert "-i \"${RASA_HOST:-127.0.0.1}\"" in (ROOT / "scripts" / "run.sh").read_text()


def test_another_identity_on_the_same_rest_sender_cannot_read_or_change_a_form(rasa_url):
    """The attack: with the same REST sender, another identity (another customer's token, or
    none) saw the summary of the support form a customer was filling and could confirm it."""
    from identity.minting import mint_customer_token

    sender = f"e2e-{uuid.uuid4().hex[:8]}"
    owner = {"brand": "alleanza", "identity_token": mint_customer_token(1, "alleanza")}
    other = {"brand": "alleanza", "identity_token": mint_customer_token(2, "alleanza")}
    assert "e-mail" in say_with(rasa_url, "/apri_richiesta_supporto", owner, sender)
    assert "motivo" in say_with(rasa_url, "mario.owner@example.it", owner, sender)
    assert "richiesta" in say_with(rasa_url, "navigazione", owner, sender)
    summary = say_with(rasa_url, "non riesco ad aprire i documenti", owner, sender)
    assert "mario.owner@example.it" in summary
    for intruder in (other, {"brand": "alleanza"}):
        reply = say_with(rasa_url, "/conferma", intruder, sender)
        assert "mario.owner@example.it" not in reply and "AL-TK" not in reply, reply
        reply = say_with(rasa_url, "scusa, la mail giusta è intruso@example.it", intruder, sender)
        assert "mario.owner" not in reply, reply
    # The owner's form is untouched: still at the summary, with the owner's e-mail.
    reply = say_with(rasa_url, "/conferma", owner, sender)
    assert re.search(r"AL-TK-\d{4}-\d{6}", reply), reply


def test_two_requests_in_one_message_answer_the_first_and_offer_the_second(rasa_url):
    sender = f"e2e-two-{uuid.uuid4().hex[:8]}"
    replies = say(rasa_url, "non mi arriva il codice via sms. e poi come cambio la password?",
                  brand="alleanza", sender=sender)
    assert "Richiedi nuovo codice" in texts(replies)           # the first: the code
    offer = replies[-1]
    assert offer["text"].startswith("Mi hai chiesto anche")
    assert offer["buttons"][0]["payload"] == "/faq_modifica_credenziali"
    # A typed «sì» under the offer is the offered question.
    follow = texts(say(rasa_url, "sì", brand="alleanza", sender=sender))
    assert "password" in follow.lower() and "Mi hai chiesto anche" not in follow
