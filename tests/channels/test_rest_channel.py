"""The REST channel (bot/channels/rest.py) in a real Sanic server, no model: its own
conversation namespace, the service token in production, the common input checks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from rasa.core.channels.channel import UserMessage
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered

from bot.channels.rest import RestInput, conversation_id, refusal
from bot.settings import Settings
from identity import verify_token
from identity.minting import mint_customer_token
from tests.channels.conftest import WhatsAppServer

TOKEN = "rest-service-token-for-the-tests-0123456789"
PRODUCTION = Settings(env="production", allowed_origins=("https://www.alleanza.it",),
                      rest_service_token=TOKEN)
CONFIRM = [{"title": "Sì, invia", "payload": "/conferma"}, {"title": "No", "payload": "/nega"}]


@dataclass
class TrackingAgent:
    """Stands for Rasa's agent: records each message in a real in-memory tracker store and
    answers with a question and two buttons, as Rasa's processor would."""

    messages: list[UserMessage] = field(default_factory=list)
    tracker_store: InMemoryTrackerStore = field(
        default_factory=lambda: InMemoryTrackerStore(Domain.empty()))

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        tracker = await self.tracker_store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text))
        reply = BotUttered("La invio?", data={"buttons": CONFIRM})
        tracker.update(reply)
        await self.tracker_store.save(tracker)
        await message.output_channel.send_response(message.sender_id, reply.message())


class RestServer(WhatsAppServer):
    """The channel registered as ``rasa run`` does (the WhatsApp tests' server)."""

    def post(self, body: Any, authorization: str | None = None) -> requests.Response:
        headers = {"Authorization": authorization} if authorization else {}
        return requests.post(self.base_url + "/webhooks/rest/webhook", json=body,
                             headers=headers, timeout=10)


@pytest.fixture
def agent() -> TrackingAgent:
    return TrackingAgent()


@pytest.fixture
def start(agent: TrackingAgent) -> Iterator[Any]:
    servers: list[RestServer] = []

    def run(settings: Settings | None = None) -> RestServer:
        channel = RestInput(settings) if settings else RestInput.from_credentials(None)
        servers.append(RestServer(channel, agent).start())
        return servers[-1]

    yield run
    for server in servers:
        server.stop()


# --- conversation namespace -----------------------------------------------------------


def test_a_rest_sender_is_a_rest_conversation_whatever_it_names(start, agent) -> None:
    """The attack: a REST post naming a WhatsApp customer's mobile (or that conversation's
    id) as sender landed in the customer's WhatsApp conversation."""
    server = start()
    for sender in ("+393331234567", "whatsapp:+393331234567", "staff:AL-MI-001:S-1", "mario"):
        response = server.post({"sender": sender, "message": "ciao", "input_channel": "whatsapp"})
        assert response.status_code == 200
    assert [m.sender_id for m in agent.messages] == [
        "rest:+393331234567", "rest:whatsapp:+393331234567", "rest:staff:AL-MI-001:S-1",
        "rest:mario"]
    assert {m.input_channel for m in agent.messages} == {"rest"}  # never the claimed one
    assert agent.tracker_store.store.keys() == {m.sender_id for m in agent.messages}


def test_typed_buttons_still_work_in_the_rest_namespace(start, agent) -> None:
    server = start()
    server.post({"sender": "mario", "message": "apri una richiesta"})
    assert server.post({"sender": "mario", "message": "sì, invia"}).status_code == 200
    assert agent.messages[-1].text == "/conferma"  # the tracker was read as rest:mario


@pytest.mark.parametrize("body", [{"sender": 42, "message": "ciao"},
                                  {"sender": "x" * 129, "message": "ciao"},
                                  {"sender": "  ", "message": "ciao"}, ["ciao"]])
def test_unusable_senders_and_bodies_are_400(start, agent, body) -> None:
    response = start().post(body)
    assert response.status_code == 400 and response.json()["error"]
    assert agent.messages == []


def test_conversation_id() -> None:
    assert conversation_id("mario") == "rest:mario"
    assert conversation_id(None) == "rest:default"  # Rasa's own default sender
    assert conversation_id({"a": 1}) is None


# --- production: a service token ------------------------------------------------------


def test_in_production_only_the_service_token_opens_rest(start, agent) -> None:
    server = start(PRODUCTION)
    body = {"sender": "tool", "message": "ciao"}
    for authorization in (None, "Bearer sbagliato", f"Basic {TOKEN}", TOKEN):
        refused = server.post(body, authorization)
        assert refused.status_code == 401, authorization
        assert set(refused.json()) == {"error", "message"}
        assert "\n" not in refused.json()["message"]
    assert agent.messages == []
    accepted = server.post(body, f"Bearer {TOKEN}")
    assert accepted.status_code == 200 and accepted.json()[0]["text"] == "La invio?"
    health = requests.get(server.base_url + "/webhooks/rest/", timeout=5)
    assert health.json() == {"status": "ok"}


def test_without_a_configured_token_production_rest_is_disabled() -> None:
    disabled = Settings(env="production")
    assert refusal(disabled, f"Bearer {TOKEN}") == "rest_disabled"
    assert refusal(disabled, None) == "rest_disabled"
    assert refusal(PRODUCTION, f"Bearer {TOKEN}") is None
    assert refusal(Settings(), None) is None  # development: local tools need no token


def test_development_rest_needs_no_token(start, agent) -> None:
    assert start().post({"sender": "tool", "message": "ciao"}).status_code == 200


# --- input checks ---------------------------------------------------------------------


def test_a_long_message_gets_the_limit_in_the_reply_and_is_not_processed(start, agent) -> None:
    server = start()
    replies = server.post({"sender": "mario", "message": "a" * 1001}).json()
    assert [r["text"] for r in replies] == [
        "Il messaggio è troppo lungo: posso leggere al massimo 1000 caratteri. "
        "Puoi riscriverlo in breve, magari in più messaggi?"]
    assert agent.messages == [] and not agent.tracker_store.store


def test_invalid_characters_are_removed_before_the_nlu(start, agent) -> None:
    start().post({"sender": "mario", "message": "ciao\u0000 \ud800come\u001b va?"})
    assert agent.messages[0].text == "ciao come va?"


# --- owner: one identity per conversation --------------------------------------------


def test_another_identity_on_the_same_sender_is_another_conversation(start, agent) -> None:
    """The attack: a REST post with the same sender but another token (or none) read and
    changed the form another customer was filling in that conversation."""
    mario = mint_customer_token("1001", "alleanza")
    anna = mint_customer_token("1002", "alleanza")
    server = start()
    for token in (mario, anna, None, mario):
        body: dict[str, Any] = {"sender": "shared", "message": "ciao"}
        if token:
            body["metadata"] = {"identity_token": token}
        assert server.post(body).status_code == 200
    ids = [m.sender_id for m in agent.messages]
    assert ids[0] == ids[3] and len(set(ids)) == 3
    assert ids[2] == "rest:shared"  # anonymous: no owner part
    assert all(i.startswith("rest:shared~") for i in (ids[0], ids[1]))
    assert "1001" not in ids[0]  # the owner part does not show who it is


def test_a_sender_cannot_name_an_owner_part(start, agent) -> None:
    owned = conversation_id("shared", verify_token(mint_customer_token("1001", "alleanza")))
    response = start().post({"sender": owned.removeprefix("rest:"), "message": "ciao"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_sender"
    assert agent.messages == []
