"""One settings object per Rasa process (bot/settings.py): what makes production unsafe,
and every channel refusing to start on it."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import bot.settings
from bot.settings import Settings, UnsafeConfiguration, current
from identity import DEV_SECRETS

SAFE_PRODUCTION = {
    "ASSISTANT_ENV": "production",
    "CUSTOMER_JWT_SECRET": "c" * 40,
    "STAFF_JWT_SECRET": "s" * 40,
    "CHANNEL_ASSERTION_SECRET": "w" * 40,
    "OPERATOR_JWT_SECRET": "o" * 40,
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "t" * 32,
    "CHAT_ALLOWED_ORIGINS": "https://www.alleanza.it, https://www.ca-vita.it",
    "REST_SERVICE_TOKEN": "r" * 40,
}


def test_defaults_are_a_development_stack_on_loopback() -> None:
    settings = Settings.from_env({})
    assert settings.env == "development" and not settings.production
    assert settings.max_message_chars == 1000
    assert settings.bind_host == "127.0.0.1"
    assert settings.demo_pages is False and settings.allowed_origins == ()
    assert set(settings.dev_secrets) == {*DEV_SECRETS, "TWILIO_AUTH_TOKEN"}


def test_a_safe_production_configuration_has_no_problems() -> None:
    settings = Settings.from_env(SAFE_PRODUCTION)
    assert settings.production
    assert settings.allowed_origins == ("https://www.alleanza.it", "https://www.ca-vita.it")
    assert settings.problems() == []
    settings.check_startup()  # does not raise
    assert "r" * 40 not in repr(settings)  # the service token never reaches a log line


@pytest.mark.parametrize("change, expected", [
    ({"CUSTOMER_JWT_SECRET": None}, "CUSTOMER_JWT_SECRET"),
    ({"STAFF_JWT_SECRET": DEV_SECRETS["STAFF_JWT_SECRET"]}, "STAFF_JWT_SECRET"),
    ({"CHANNEL_ASSERTION_SECRET": ""}, "CHANNEL_ASSERTION_SECRET"),
    ({"TWILIO_AUTH_TOKEN": "fake-twilio-token"}, "TWILIO_AUTH_TOKEN"),
    ({"DEMO_PAGES": "1"}, "DEMO_PAGES"),
    ({"CHAT_ALLOWED_ORIGINS": None}, "CHAT_ALLOWED_ORIGINS is empty"),
    ({"CHAT_ALLOWED_ORIGINS": "https://www.alleanza.it,*"}, "CHAT_ALLOWED_ORIGINS contains"),
    ({"REST_SERVICE_TOKEN": None}, "REST_SERVICE_TOKEN is not set"),
    ({"REST_SERVICE_TOKEN": "corto"}, "REST_SERVICE_TOKEN is shorter"),
])
def test_each_unsafe_setting_is_a_problem(change: dict[str, Any], expected: str) -> None:
    env = {k: v for k, v in {**SAFE_PRODUCTION, **change}.items() if v is not None}
    settings = Settings.from_env(env)
    [problem] = settings.problems()
    assert problem.startswith(expected)
    with pytest.raises(UnsafeConfiguration) as refused:
        settings.check_startup()
    assert "\n" not in str(refused.value) and expected in str(refused.value)


@pytest.mark.parametrize("env", [{"ASSISTANT_ENV": "staging"}, {"MAX_MESSAGE_CHARS": "0"},
                                 {"MAX_MESSAGE_CHARS": "mille"}])
def test_nonsense_values_stop_the_process(env: dict[str, str]) -> None:
    with pytest.raises(UnsafeConfiguration):
        Settings.from_env(env)


def test_settings_are_read_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "500")
    first = current()
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "900")
    assert current() is first and first.max_message_chars == 500


def _channels() -> list[Any]:
    from bot.channels.operators import OperatorsInput
    from bot.channels.rest import RestInput
    from bot.channels.socketio_jwt import VerifiedSocketIOInput
    from bot.channels.staff import StaffInput
    from bot.channels.whatsapp import WhatsAppInput

    return [RestInput, VerifiedSocketIOInput, WhatsAppInput, StaffInput, OperatorsInput]


@pytest.mark.parametrize("channel", _channels(), ids=lambda c: c.__name__)
def test_every_channel_refuses_an_unsafe_production_start(
    monkeypatch: pytest.MonkeyPatch, channel: Any
) -> None:
    for name, value in SAFE_PRODUCTION.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DEMO_PAGES", "1")
    with pytest.raises(UnsafeConfiguration, match="DEMO_PAGES"):
        channel.from_credentials(None)
    monkeypatch.setenv("DEMO_PAGES", "0")
    bot.settings.reset()
    assert channel.from_credentials(None) is not None  # the same, made safe, starts


def test_a_development_stack_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DEMO_PAGES", "1")
    caplog.set_level(logging.WARNING)
    for channel in _channels():
        channel.from_credentials(None)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
             and r.name.startswith("bot.")]
    assert len(lines) == 1, lines
    assert lines[0].startswith("DEVELOPMENT STACK") and "DEMO_PAGES" in lines[0]
