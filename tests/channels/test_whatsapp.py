"""WhatsApp channel, driven as Twilio drives it: signed form posts in, Twilio API calls out.

The channel runs in a real Sanic server registered like ``rasa run`` does; replies go
through the real ``twilio`` client to the fake Twilio API (backend_stub/fake_twilio.py).
Only Rasa's agent is replaced (a recording fake, see conftest.py).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests
from twilio.request_validator import RequestValidator

from bot.channels.whatsapp import (
    MAX_BODY_CHARS,
    WhatsAppSettings,
    chosen_payload,
    mint_identity_token,
    split_message,
)
from identity import identity_from_metadata
from tests.channels.conftest import (
    WHATSAPP_FROM,
    WHATSAPP_PATH,
    whatsapp_form,
    whatsapp_post,
    whatsapp_signature,
)
from tests.conftest import ROOT

PHONE = "+393331234567"
TO = "whatsapp:" + PHONE
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def settle(server, seconds: float = 0.3) -> None:
    """Give a wrongly started turn the time to show up, then wait for running ones."""
    time.sleep(seconds)
    server.drain()


# --- a valid message -------------------------------------------------------------------


def test_valid_message_is_one_turn_and_the_reply_reaches_twilio(
    whatsapp_server, whatsapp_agent, whatsapp_env
):
    response = whatsapp_post(whatsapp_server.url, whatsapp_form(Body="Ciao, come pago?"))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == TWIML
    [message] = whatsapp_agent.wait_for(1)
    assert message.text == "Ciao, come pago?"
    assert message.sender_id == TO  # the channel's namespace: whatsapp:<E.164>
    assert message.input_channel == "whatsapp"
    [sent] = whatsapp_env.wait_for(1)
    assert sent["from"] == WHATSAPP_FROM
    assert sent["to"] == TO
    assert sent["body"] == "Hai scritto: Ciao, come pago?"
    settle(whatsapp_server)
    assert len(whatsapp_agent.messages) == 1


def test_twilio_gets_its_answer_before_the_turn_ends(whatsapp_server, whatsapp_agent, whatsapp_env):
    whatsapp_agent.gate = threading.Event()
    try:
        response = whatsapp_post(whatsapp_server.url, whatsapp_form(Body="ciao"))
        assert response.status_code == 200
        whatsapp_agent.wait_for(1)  # the turn started...
        assert whatsapp_env.messages == []  # ...and has not answered yet
    finally:
        whatsapp_agent.gate.set()
    assert whatsapp_env.wait_for(1)[0]["body"] == "Hai scritto: ciao"


def test_profile_name_is_in_the_metadata(whatsapp_server, whatsapp_agent):
    whatsapp_post(whatsapp_server.url, whatsapp_form(ProfileName="Giulia Bianchi"))
    [message] = whatsapp_agent.wait_for(1)
    assert message.metadata["profile_name"] == "Giulia Bianchi"
    assert message.metadata["channel"] == "whatsapp"


def test_health_answers_get(whatsapp_server):
    response = requests.get(whatsapp_server.base_url + "/webhooks/whatsapp/", timeout=5)
    assert response.json() == {"status": "ok"}


# --- signatures ------------------------------------------------------------------------


def test_unsigned_post_is_refused(whatsapp_server, whatsapp_agent, whatsapp_env):
    response = whatsapp_post(whatsapp_server.url, whatsapp_form(), signature=None)
    assert response.status_code == 403
    settle(whatsapp_server)
    assert whatsapp_agent.messages == []
    assert whatsapp_env.messages == []


def test_signature_with_another_token_is_refused(whatsapp_server, whatsapp_agent):
    form = whatsapp_form()
    forged = RequestValidator("not-the-auth-token").compute_signature(whatsapp_server.url, form)
    assert whatsapp_post(whatsapp_server.url, form, signature=forged).status_code == 403
    settle(whatsapp_server)
    assert whatsapp_agent.messages == []


def test_tampered_body_is_refused(whatsapp_server, whatsapp_agent):
    form = whatsapp_form(Body="ciao")
    signature = whatsapp_signature(whatsapp_server.url, form)
    tampered = {**form, "From": "whatsapp:+393339999999"}
    assert whatsapp_post(whatsapp_server.url, tampered, signature=signature).status_code == 403
    added = {**form, "Extra": "1"}
    assert whatsapp_post(whatsapp_server.url, added, signature=signature).status_code == 403
    settle(whatsapp_server)
    assert whatsapp_agent.messages == []


def test_signature_for_another_url_is_refused(whatsapp_server, whatsapp_agent):
    form = whatsapp_form()
    other = whatsapp_server.base_url + "/webhooks/twilio/webhook"
    assert whatsapp_post(whatsapp_server.url, form, sign_url=other).status_code == 403
    settle(whatsapp_server)
    assert whatsapp_agent.messages == []


def test_public_url_is_what_the_signature_covers(
    monkeypatch, whatsapp_env, whatsapp_server_factory, whatsapp_agent
):
    public = "https://assistente.example.it/webhooks/whatsapp/webhook"
    monkeypatch.setenv("WHATSAPP_PUBLIC_URL", "https://assistente.example.it")
    server = whatsapp_server_factory()

    assert whatsapp_post(server.url, whatsapp_form(), sign_url=server.url).status_code == 403
    assert whatsapp_post(server.url, whatsapp_form(), sign_url=public).status_code == 200
    assert len(whatsapp_agent.wait_for(1)) == 1


# --- duplicates, bad requests, failures -------------------------------------------------


def test_repeated_message_sid_is_processed_once(whatsapp_server, whatsapp_agent, whatsapp_env):
    form = whatsapp_form(Body="ciao")
    first = whatsapp_post(whatsapp_server.url, form)
    again = whatsapp_post(whatsapp_server.url, form)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.text == TWIML
    settle(whatsapp_server)
    assert len(whatsapp_agent.messages) == 1
    assert len(whatsapp_env.messages) == 1


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (json.dumps({"From": TO, "Body": "ciao"}), "application/json"),
        (b"From=whatsapp%3A%2B393331234567&Body=\xff\xfe", "application/x-www-form-urlencoded"),
        ("From&&Body", "application/x-www-form-urlencoded"),
    ],
    ids=["json", "not-utf8", "not-a-form"],
)
def test_bad_body_is_a_short_400(whatsapp_server, whatsapp_agent, body, content_type):
    response = requests.post(
        whatsapp_server.url,
        data=body,
        headers={"Content-Type": content_type, "X-Twilio-Signature": "x"},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.text.startswith("bad request")
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "fields",
    [{"From": "+393331234567"}, {"From": "whatsapp:393331234567"}, {"MessageSid": ""},
     {"NumMedia": "due"}],
    ids=["sms-sender", "not-e164", "no-sid", "bad-num-media"],
)
def test_signed_but_unusable_message_is_400(whatsapp_server, whatsapp_agent, fields):
    response = whatsapp_post(whatsapp_server.url, whatsapp_form(**fields))
    assert response.status_code == 400
    settle(whatsapp_server)
    assert whatsapp_agent.messages == []


def test_twilio_api_down_is_logged_and_the_channel_goes_on(
    monkeypatch, whatsapp_env, whatsapp_server_factory, whatsapp_agent, caplog
):
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("TWILIO_API_BASE_URL", dead)
    server = whatsapp_server_factory()

    with caplog.at_level("WARNING", logger="bot.channels.whatsapp"):
        assert whatsapp_post(server.url, whatsapp_form(Body="uno")).status_code == 200
        assert whatsapp_post(server.url, whatsapp_form(Body="due")).status_code == 200
        whatsapp_agent.wait_for(2)
        server.drain()

    assert [m.text for m in whatsapp_agent.messages] == ["uno", "due"]
    failures = [r for r in caplog.records if "not sent" in r.getMessage()]
    assert len(failures) == 2
    assert PHONE not in caplog.text  # numbers are masked in the logs
    assert whatsapp_env.messages == []


def test_failing_turn_gets_a_polite_apology(whatsapp_server, whatsapp_agent, whatsapp_env):
    whatsapp_agent.fail = True
    assert whatsapp_post(whatsapp_server.url, whatsapp_form()).status_code == 200
    [sent] = whatsapp_env.wait_for(1)
    assert "problema tecnico" in sent["body"]
    assert sent["to"] == TO


# --- media, location --------------------------------------------------------------------


def test_media_only_gets_a_polite_reply_without_nlu(whatsapp_server, whatsapp_agent, whatsapp_env):
    form = whatsapp_form(
        Body="",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
    )
    assert whatsapp_post(whatsapp_server.url, form).status_code == 200
    [sent] = whatsapp_env.wait_for(1)
    assert sent["to"] == TO
    assert "foto" in sent["body"] and "a parole" in sent["body"]
    settle(whatsapp_server)
    assert whatsapp_agent.messages == []


def test_location_gets_a_polite_reply_without_nlu(whatsapp_server, whatsapp_agent, whatsapp_env):
    form = whatsapp_form(Body="", Latitude="45.4642", Longitude="9.19", Address="Milano")
    assert whatsapp_post(whatsapp_server.url, form).status_code == 200
    labelled = whatsapp_form(Body="Agenzia Centro", Latitude="45.46", Longitude="9.19")
    assert whatsapp_post(whatsapp_server.url, labelled).status_code == 200
    sent = whatsapp_env.wait_for(2)
    assert all("posizione" in m["body"] and m["to"] == TO for m in sent)
    settle(whatsapp_server)
    assert whatsapp_agent.messages == []


# --- long replies, buttons ---------------------------------------------------------------


def test_long_reply_is_split_at_sentence_ends(whatsapp_server, whatsapp_agent, whatsapp_env):
    sentences = [f"Questa è la frase numero {i} della risposta lunga." for i in range(90)]
    long_text = " ".join(sentences)
    assert len(long_text) > 2 * MAX_BODY_CHARS
    whatsapp_agent.reply = lambda message: [{"text": long_text}]

    whatsapp_post(whatsapp_server.url, whatsapp_form())
    whatsapp_agent.wait_for(1)
    whatsapp_server.drain()
    bodies = [m["body"] for m in whatsapp_env.messages]

    assert len(bodies) == 3
    assert all(len(body) <= MAX_BODY_CHARS for body in bodies)
    assert all(body.endswith("risposta lunga.") for body in bodies)
    assert all(body.startswith("Questa è la frase") for body in bodies)
    assert " ".join(bodies) == long_text  # in order, nothing lost


def test_buttons_become_a_numbered_list_and_a_number_picks_one(
    whatsapp_server, whatsapp_agent, whatsapp_env
):
    buttons = [
        {"title": "Sì", "payload": "/affirm"},
        {"title": "No", "payload": "/deny"},
        {"title": "Parlare con un operatore", "payload": "/richiesta_operatore"},
    ]

    def reply(message):
        if message.text == "ciao":
            return [{"text": "Vuoi aprire una richiesta?", "buttons": buttons}]
        return [{"text": f"Ricevuto: {message.text}"}]

    whatsapp_agent.reply = reply
    whatsapp_post(whatsapp_server.url, whatsapp_form(Body="ciao"))
    [menu] = whatsapp_env.wait_for(1)
    assert menu["body"].startswith("Vuoi aprire una richiesta?\n\n1. Sì\n2. No\n3. Parlare")
    assert "Rispondi con il numero" in menu["body"]

    whatsapp_post(whatsapp_server.url, whatsapp_form(Body="2"))
    whatsapp_agent.wait_for(2)
    assert whatsapp_agent.messages[1].text == "/deny"

    # The list answered one question only: another "2" is just text.
    whatsapp_post(whatsapp_server.url, whatsapp_form(Body="2"))
    assert whatsapp_agent.wait_for(3)[2].text == "2"


def test_buttons_are_remembered_per_sender(whatsapp_server, whatsapp_agent, whatsapp_env):
    buttons = [{"title": "Sì", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
    whatsapp_agent.reply = lambda m: [{"text": "Confermi?", "buttons": buttons}]
    whatsapp_post(whatsapp_server.url, whatsapp_form(Body="ciao"))
    whatsapp_env.wait_for(1)

    other = "whatsapp:+393470000001"
    whatsapp_post(whatsapp_server.url, whatsapp_form(Body="1", From=other))
    whatsapp_post(whatsapp_server.url, whatsapp_form(Body="1"))
    messages = whatsapp_agent.wait_for(3)
    by_sender = {(m.sender_id, m.text) for m in messages[1:]}
    assert by_sender == {(other, "1"), (TO, "/affirm")}


def test_turns_of_one_sender_keep_their_order(whatsapp_server, whatsapp_agent, whatsapp_env):
    whatsapp_agent.gate = threading.Event()
    for text in ("primo", "secondo", "terzo"):
        whatsapp_post(whatsapp_server.url, whatsapp_form(Body=text))
    time.sleep(0.3)
    assert len(whatsapp_agent.messages) == 1  # the others wait for the first turn
    whatsapp_agent.gate.set()
    whatsapp_env.wait_for(3)
    assert [m["body"] for m in whatsapp_env.messages] == [
        "Hai scritto: primo", "Hai scritto: secondo", "Hai scritto: terzo"]


# --- input limits (bot/channels/input_guard.py) ------------------------------------------


def test_a_body_over_the_limit_is_answered_on_whatsapp_and_not_processed(
    whatsapp_server, whatsapp_agent, whatsapp_env
):
    assert whatsapp_post(whatsapp_server.url, whatsapp_form(Body="a" * 1001)).status_code == 200
    [sent] = whatsapp_env.wait_for(1)
    assert sent["to"] == TO  # the reply goes to the phone number
    assert sent["body"].startswith("Il messaggio è troppo lungo: ") and "1000" in sent["body"]
    settle(whatsapp_server)
    assert whatsapp_agent.messages == []


def test_control_characters_are_removed_from_a_body(whatsapp_server, whatsapp_agent):
    whatsapp_post(whatsapp_server.url, whatsapp_form(Body="come\x00 pago\x1b la rata?"))
    assert whatsapp_agent.wait_for(1)[0].text == "come pago la rata?"


# --- identity ---------------------------------------------------------------------------


def test_identity_token_asserts_the_verified_sender(whatsapp_server, whatsapp_agent):
    whatsapp_post(whatsapp_server.url, whatsapp_form())
    [message] = whatsapp_agent.wait_for(1)

    identity = identity_from_metadata(message.metadata)
    assert identity.kind == "whatsapp"
    assert identity.level == "claimed"
    assert identity.phone == PHONE
    assert identity.brand == "alleanza"
    assert identity.expires_at - time.time() <= 15 * 60


def test_client_supplied_identity_token_is_ignored(whatsapp_server, whatsapp_agent):
    someone_else = mint_identity_token("+393479999999", "cavita")
    form = whatsapp_form(identity_token=someone_else, brand="cavita", customer_id="7")
    whatsapp_post(whatsapp_server.url, form)
    [message] = whatsapp_agent.wait_for(1)

    assert message.metadata["identity_token"] != someone_else
    assert identity_from_metadata(message.metadata).phone == PHONE
    assert message.metadata["brand"] == "alleanza"
    assert "customer_id" not in message.metadata


def test_brand_comes_from_the_number_setting(
    monkeypatch, whatsapp_env, whatsapp_server_factory, whatsapp_agent
):
    monkeypatch.setenv("WHATSAPP_BRAND", "CA Vita")
    server = whatsapp_server_factory()
    whatsapp_post(server.url, whatsapp_form())
    [message] = whatsapp_agent.wait_for(1)
    assert message.metadata["brand"] == "cavita"
    assert identity_from_metadata(message.metadata).brand == "cavita"


def test_unsigned_post_mints_nothing(whatsapp_server, whatsapp_agent):
    whatsapp_post(whatsapp_server.url, whatsapp_form(), signature="bm9wZQ==")
    settle(whatsapp_server)
    assert whatsapp_agent.messages == []


# --- development mode, configuration ---------------------------------------------------------


def test_without_credentials_replies_go_to_the_outbox(
    monkeypatch, tmp_path, whatsapp_server_factory, whatsapp_agent
):
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE_URL",
                 "TWILIO_WHATSAPP_FROM", "WHATSAPP_PUBLIC_URL", "WHATSAPP_BRAND"):
        monkeypatch.delenv(name, raising=False)
    outbox = tmp_path / "outbox.jsonl"
    monkeypatch.setenv("WHATSAPP_OUTBOX_PATH", str(outbox))
    server = whatsapp_server_factory()

    # Signed with the fake Twilio's test token, as scripts/whatsapp_send.py does.
    assert whatsapp_post(server.url, whatsapp_form(Body="ciao")).status_code == 200
    whatsapp_agent.wait_for(1)
    server.drain()
    [record] = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert record["to"] == TO
    assert record["from"] == WHATSAPP_FROM
    assert record["body"] == "Hai scritto: ciao"


def test_half_configured_account_fails_at_startup():
    with pytest.raises(ValueError, match="TWILIO_AUTH_TOKEN"):
        WhatsAppSettings.from_env({"TWILIO_ACCOUNT_SID": "AC" + "1" * 32})
    with pytest.raises(ValueError, match="WHATSAPP_BRAND"):
        WhatsAppSettings.from_env({"WHATSAPP_BRAND": "generali"})


def test_settings_from_env():
    settings = WhatsAppSettings.from_env({
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "secret",
        "TWILIO_WHATSAPP_FROM": "+390212345678",
        "ASSISTANT_DEFAULT_BRAND": "alleanza",
    })
    assert settings.mode == "twilio"
    assert settings.api_base_url is None  # the real api.twilio.com
    assert settings.sender == "whatsapp:+390212345678"
    assert settings.brand == "alleanza"
    assert WhatsAppSettings.from_env({}).mode == "outbox"
    assert WhatsAppSettings.from_env({"ASSISTANT_DEFAULT_BRAND": "cavita"}).brand == "cavita"
    both = {"ASSISTANT_DEFAULT_BRAND": "cavita", "WHATSAPP_BRAND": "Alleanza"}
    assert WhatsAppSettings.from_env(both).brand == "alleanza"


# --- the pieces -------------------------------------------------------------------------------


def test_split_falls_back_to_words_then_to_a_hard_cut():
    words = " ".join(["parola"] * 700)  # no sentence end at all
    parts = split_message(words)
    assert all(len(p) <= MAX_BODY_CHARS for p in parts)
    assert all(re.fullmatch(r"parola( parola)*", p) for p in parts)
    assert " ".join(parts) == words

    blob = "x" * 3300
    assert [len(p) for p in split_message(blob)] == [1600, 1600, 100]
    assert split_message("Breve.") == ["Breve."]


def test_split_does_not_take_a_list_number_for_a_sentence_end():
    assert split_message("Prima frase. Poi 1. Sì", limit=20) == ["Prima frase.", "Poi 1. Sì"]
    assert split_message("Scegli.\n1. Sì\n2. No", limit=14) == ["Scegli.\n1. Sì", "2. No"]


def test_chosen_payload():
    options = [("Sì", "/affirm"), ("No", "/deny")]
    assert chosen_payload("2", options) == "/deny"
    assert chosen_payload(" 1. ", options) == "/affirm"
    assert chosen_payload("no", options) == "/deny"  # the title typed out
    assert chosen_payload("3", options) is None
    assert chosen_payload("0", options) is None
    assert chosen_payload("2 polizze", options) is None


def test_send_script_signature_matches_twilio():
    form = whatsapp_form(Body="città è già lì")
    url = "http://127.0.0.1:5005" + WHATSAPP_PATH
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "whatsapp_send.py"), "--print-signature",
         "--url", url, "--sid", form["MessageSid"], "--from", PHONE,
         "--profile-name", form["ProfileName"], form["Body"]],
        capture_output=True, text=True, check=True, timeout=30,
    )
    printed = json.loads(out.stdout)
    assert printed["signature"] == whatsapp_signature(url, printed["form"])
    assert printed["form"]["Body"] == "città è già lì"


# --- through the real Rasa stack (slow; needs models/area-clienti.tar.gz) ----------------------


@pytest.mark.e2e
def test_real_stack_answers_a_signed_whatsapp_message(request, monkeypatch, tmp_path):
    from tests.e2e.stack import MODEL, running_stack

    if not request.config.getoption("markexpr"):  # minutes of CPU: only when asked for
        pytest.skip("starts the whole stack: run with -m e2e (make e2e)")
    if not MODEL.exists():
        pytest.skip(f"{MODEL} missing: run 'make setup' first")
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_API_BASE_URL",
                 "TWILIO_WHATSAPP_FROM", "WHATSAPP_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    outbox = tmp_path / "whatsapp_outbox.jsonl"
    monkeypatch.setenv("WHATSAPP_OUTBOX_PATH", str(outbox))
    monkeypatch.setenv("WHATSAPP_BRAND", "cavita")  # the number's brand beats the default

    def replies(count: int) -> list[str]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lines = outbox.read_text().splitlines() if outbox.exists() else []
            if len(lines) >= count:
                return [json.loads(line)["body"] for line in lines]
            time.sleep(0.5)
        raise TimeoutError(f"fewer than {count} WhatsApp replies in {outbox}")

    with running_stack(tmp_path) as stack:
        url = stack.url + WHATSAPP_PATH
        assert whatsapp_post(url, whatsapp_form(Body="ciao"), signature=None).status_code == 403
        assert whatsapp_post(url, whatsapp_form(Body="ciao")).status_code == 200
        assert "CA Vita" in replies(1)[0]
        time.sleep(2)  # the greeting turn may send more than one message
        before = len(replies(1))
        location = whatsapp_form(Body="", Latitude="45.46", Longitude="9.19")
        assert whatsapp_post(url, location).status_code == 200
        assert "posizione" in replies(before + 1)[-1]
