"""A customer token's brand is checked against the backend's customer record (actions/guard.py)."""

from __future__ import annotations

import logging

import pytest

from identity import DEV_SECRETS, STEP_UP_SLOT, step_up_marker, verify_token
from identity.minting import mint_channel_assertion, mint_customer_token

PHONE = "+393331234567"


@pytest.fixture(autouse=True)
def _dev_secrets(monkeypatch):
    """Each test starts from the documented development secrets."""
    for name in DEV_SECRETS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def on_backend(monkeypatch, backend):
    """The actions pointed at the session's backend stub (README demo customers)."""
    monkeypatch.setenv("BACKEND_URL", backend.url)
    monkeypatch.setenv("BACKEND_API_KEY", backend.api_key)
    return backend


def _refusal_of(metadata: dict, action=None):
    from actions.policies import ActionMostraPolizze
    from tests.actions.helpers import make_tracker, run

    return run(action or ActionMostraPolizze(), make_tracker(metadata))


def test_a_token_of_the_other_brand_is_refused_like_an_invalid_one(on_backend, caplog):
    """Customer 1 is Alleanza's Mario Rossi: a validly signed CA Vita token naming him
    gets exactly the answer of a forged token, and none of his data."""
    from actions.contacts import ActionMostraRecapitoDispositivo

    forged = {"identity_token": mint_customer_token(1, "alleanza", secret="f" * 40),
              "brand": "alleanza"}
    other_brand = {"identity_token": mint_customer_token(1, "cavita"), "brand": "cavita"}
    unknown = {"identity_token": mint_customer_token(999, "cavita"), "brand": "cavita"}
    for action in (None, ActionMostraRecapitoDispositivo()):
        expected = _refusal_of(forged, action)
        assert [m.get("response") for m in expected[0]] == ["utter_identificazione_necessaria"]
        with caplog.at_level(logging.WARNING):
            assert _refusal_of(other_brand, action) == expected
            assert _refusal_of(unknown, action) == expected
    assert "reason=wrong_brand" in caplog.text


def test_the_right_brand_still_sees_its_data(on_backend):
    messages, _ = _refusal_of({"identity_token": mint_customer_token(1, "alleanza")})
    assert messages[0]["response"] == "utter_polizze_attive" and "AL1" in str(messages)
    messages, _ = _refusal_of({"identity_token": mint_customer_token(7, "cavita")})
    assert messages[0]["response"] == "utter_polizze_attive" and "CV2" in str(messages)


def test_a_whatsapp_step_up_is_checked_against_the_channel_brand(on_backend):
    from actions.policies import ActionMostraPolizze
    from tests.actions.helpers import make_tracker, run

    sender = verify_token(mint_channel_assertion(PHONE, brand="cavita"))
    slots = {STEP_UP_SLOT: step_up_marker(sender, 1)}  # customer 1 is Alleanza's
    metadata = {"identity_token": mint_channel_assertion(PHONE, brand="cavita")}
    messages, _ = run(ActionMostraPolizze(), make_tracker(metadata, slots))
    assert [m.get("response") for m in messages] == ["utter_identificazione_necessaria"]
