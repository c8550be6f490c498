"""SMS: the real twilio client against the local fake Twilio API, and the console outbox."""

from __future__ import annotations

import base64
import json
import logging
import re
import socket

import pytest
from fastapi.testclient import TestClient

from backend_stub.app import create_app
from backend_stub.clock import FrozenClock
from backend_stub.config import FAKE_TWILIO_FROM, FAKE_TWILIO_SID, FAKE_TWILIO_TOKEN, Settings
from backend_stub.fake_twilio import FakeTwilio
from backend_stub.services.sms import SmsError, TwilioSms, make_sms_sender

from .conftest import API_KEY, error_code, make_settings
from .demo import FRANCESCA, MARCO, MARIO, MOBILE, SARA


@pytest.mark.parametrize("customer,length", [(MARIO, 6), (FRANCESCA, 6), (MARCO, 5), (SARA, 5)])
def test_real_client_sends_to_the_dispositive_mobile(
    client: TestClient, fake_twilio: FakeTwilio, customer: int, length: int
) -> None:
    response = client.post(f"/v1/customers/{customer}/otp-challenges", json={"purpose": "step_up"})
    assert response.status_code == 201
    [message] = fake_twilio.wait_for(1)
    assert message["to"] == MOBILE[customer]
    assert message["from"] == FAKE_TWILIO_FROM
    codes = [c for c in re.findall(r"\b\d+\b", message["body"]) if c != "120"]  # 120 = validity
    assert [len(c) for c in codes] == [length]
    assert message["sid"].startswith("SM") and message["status"] == "queued"
    # The request really reached the fake server, built by the twilio library itself.
    [request] = fake_twilio.requests
    assert request["path"] == f"/2010-04-01/Accounts/{FAKE_TWILIO_SID}/Messages.json"
    assert request["headers"]["User-Agent"].startswith("twilio-python/9.")
    user, _, token = base64.b64decode(request["headers"]["Authorization"][6:]).decode().partition(":")
    assert (user, token) == (FAKE_TWILIO_SID, FAKE_TWILIO_TOKEN)
    assert request["form"]["To"] == MOBILE[customer]


def test_sender_returns_the_provider_sid(fake_twilio: FakeTwilio) -> None:
    fake_twilio.clear()
    sender = TwilioSms(FAKE_TWILIO_SID, FAKE_TWILIO_TOKEN, FAKE_TWILIO_FROM, base_url=fake_twilio.url)
    sid = sender.send("+393331234567", "codice 123456", "codice ******")
    assert fake_twilio.messages[-1]["sid"] == sid


def test_wrong_credentials_and_unreachable_provider(fake_twilio: FakeTwilio) -> None:
    bad = TwilioSms(FAKE_TWILIO_SID, "wrong-token", FAKE_TWILIO_FROM, base_url=fake_twilio.url)
    with pytest.raises(SmsError):
        bad.send("+393331234567", "x", "x")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    down = TwilioSms(
        FAKE_TWILIO_SID, FAKE_TWILIO_TOKEN, FAKE_TWILIO_FROM, base_url=f"http://127.0.0.1:{closed_port}", timeout=2
    )
    with pytest.raises(SmsError):
        down.send("+393331234567", "x", "x")


def test_provider_down_gives_502(database_url: str, clock: FrozenClock, fake_twilio: FakeTwilio) -> None:
    settings = make_settings(database_url, fake_twilio, TWILIO_API_BASE_URL="http://127.0.0.1:9")
    app = create_app(settings, clock=clock)
    try:
        with TestClient(app, headers={"X-Api-Key": API_KEY}) as client:
            response = client.post(f"/v1/customers/{MARIO}/otp-challenges", json={"purpose": "payment"})
        assert response.status_code == 502 and error_code(response) == "sms_delivery_failed"
    finally:
        app.state.engine.dispose()


def test_console_mode_writes_outbox_and_masks_the_log(
    tmp_path,
    clock: FrozenClock,  # type: ignore[no-untyped-def]
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox = tmp_path / "outbox.jsonl"
    settings = Settings.from_env(
        {
            "BACKEND_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "SMS_OUTBOX_PATH": str(outbox),
            "BACKEND_API_KEY": API_KEY,
        }
    )
    assert settings.sms_mode == "console"
    app = create_app(settings, clock=clock)
    caplog.set_level(logging.INFO)
    try:
        with TestClient(app, headers={"X-Api-Key": API_KEY}) as client:
            response = client.post(f"/v1/customers/{MARCO}/otp-challenges", json={"purpose": "step_up"})
            assert response.status_code == 201
            [record] = [json.loads(line) for line in outbox.read_text().splitlines()]
            assert record["to"] == MOBILE[MARCO]
            code = re.search(r"\b(\d{5})\b", record["body"]).group(1)  # type: ignore[union-attr]
            assert code not in caplog.text
            assert "*****" in caplog.text and "+39 *** *** 1234" in caplog.text
            verified = client.post(
                f"/v1/customers/{MARCO}/otp-challenges/{response.json()['challenge_id']}/verify", json={"code": code}
            )
            assert verified.status_code == 200
    finally:
        app.state.engine.dispose()


def test_mode_configuration_errors() -> None:
    with pytest.raises(ValueError, match="TWILIO_ACCOUNT_SID"):
        make_sms_sender(Settings.from_env({"SMS_MODE": "twilio"}))
    with pytest.raises(ValueError, match="TWILIO_API_BASE_URL"):
        make_sms_sender(Settings.from_env({"SMS_MODE": "fake_twilio"}))
    real = make_sms_sender(
        Settings.from_env(
            {
                "SMS_MODE": "twilio",
                "TWILIO_ACCOUNT_SID": FAKE_TWILIO_SID,
                "TWILIO_AUTH_TOKEN": "t",
                "TWILIO_FROM": "+15005550006",
            }
        )
    )
    assert isinstance(real, TwilioSms) and real.client.api.base_url == "https://api.twilio.com"
