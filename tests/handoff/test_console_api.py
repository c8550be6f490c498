"""The operators' console API (bot/channels/operators.py) on a real in-process Sanic server,
with the handoff part of the channels' wrapper (bot/channels/turn_context.py) in front of a
stand-in agent that keeps a real Rasa tracker store and lock store and, like Rasa's
MessageProcessor, only logs a message while the tracker is paused.

Covers: tokens and brands, queue listing, take (two operators racing: one wins, SQLite and
PostgreSQL), the customer's messages reaching the operator while the assistant is silent,
the operator's reaching the customer's channel, handback and close (the assistant answers
again), leaving the queue, and WhatsApp's 24-hour window."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage, register
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, ConversationPaused, UserUttered
from sanic import Sanic

from bot.channels import handoff_turns, outbound
from bot.channels.operators import OperatorsInput
from bot.channels.turn_context import with_turn_context
from bot.settings import Settings
from handoff.presence import Presence
from handoff.queue import HandoffQueue
from handoff.settings import HandoffSettings
from identity.minting import mint_staff_token
from identity.operators import mint_operator_token

Sanic.test_mode = True

ASSISTANT_REPLY = "Risposta dell'assistente"


class StandInAgent:
    """Rasa's agent as far as the handoff sees it: tracker store, lock store, and a turn
    that is skipped while the tracker is paused; /richiesta_operatore queues and pauses
    like action_richiedi_operatore."""

    def __init__(self, queue_url: str) -> None:
        self.tracker_store = InMemoryTrackerStore(Domain.empty())
        self.lock_store = InMemoryLockStore()
        self.queue_url = queue_url

    async def handle_message(self, message: UserMessage) -> None:
        sender = message.sender_id
        replies = []
        async with self.lock_store.lock(sender):
            tracker = await self.tracker_store.get_or_create_tracker(sender)
            tracker.update(UserUttered(message.text, metadata=message.metadata))
            if not tracker.is_paused():
                if message.text == "/richiesta_operatore":
                    HandoffQueue(self.queue_url).enqueue(
                        sender, sender.split(":")[0], "alleanza", "visitor", "explicit_request")
                    replies.append("Sei in coda")
                    tracker.update(BotUttered("Sei in coda"))
                    tracker.update(ConversationPaused())
                else:
                    replies.append(ASSISTANT_REPLY)
                    tracker.update(BotUttered(ASSISTANT_REPLY))
            await self.tracker_store.save(tracker)
        for text in replies:
            await message.output_channel.send_text_message(sender, text)


class ConsoleServer:
    def __init__(self, agent: StandInAgent, queue_url: str) -> None:
        self.agent = agent
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self._sock.getsockname()[1]}/webhooks/operators"
        self.channel = OperatorsInput(Settings(demo_pages=True),
                                      HandoffSettings(database_url=queue_url))
        self.handler = with_turn_context(agent.handle_message, agent_of=lambda: agent,
                                         max_chars=1000)
        self.delivered: list[tuple[str, str]] = []
        self.senders: list[str] = []

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    async def _deliver(self, conversation: str, text: str, ts: float, who: str,
                       state: str) -> bool:
        self.delivered.append((conversation, text))
        self.senders.append(who)
        return True

    async def _start(self) -> None:
        app = Sanic(f"operators_test_{uuid.uuid4().hex[:8]}")
        app.ctx.agent = self.agent
        register([self.channel], app, route="/webhooks/")
        self._server = await app.create_server(sock=self._sock, return_asyncio_server=True,
                                               access_log=False)
        await self._server.startup()
        await self._server.before_start()
        await self._server.after_start()

    def start(self) -> ConsoleServer:
        outbound.register("web:", self._deliver)
        outbound.register("whatsapp:", self._deliver)
        self._thread.start()
        self.call(self._start())
        return self

    def stop(self) -> None:
        async def _stop() -> None:
            await self._server.before_stop()
            self._server.close()
            await self._server.wait_closed()
        try:
            self.call(_stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self._sock.close()
            outbound.unregister("web:")
            outbound.unregister("whatsapp:")

    def customer(self, conversation: str, text: str) -> list[str]:
        """A customer message through the channels' wrapper; the replies on its channel."""
        output = CollectingOutputChannel()
        self.call(self.handler(UserMessage(text, output, conversation, input_channel="test")))
        return [m.get("text") for m in output.messages]

    def get(self, path: str, token: str | None, **params: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(f"{self.base}/{path}", params=params, headers=headers, timeout=10)

    def post(self, path: str, token: str, **body: Any) -> requests.Response:
        return requests.post(f"{self.base}/{path}", json=body, timeout=10,
                             headers={"Authorization": f"Bearer {token}"})

    def events(self, conversation: str) -> list[Any]:
        tracker = self.call(self.agent.tracker_store.retrieve(conversation))
        return list(tracker.events)


@pytest.fixture
def server(queue_url, monkeypatch):
    monkeypatch.setenv("HANDOFF_DATABASE_URL", queue_url)
    handoff_turns._queue.cache_clear()
    console = ConsoleServer(StandInAgent(queue_url), queue_url).start()
    yield console
    console.stop()
    handoff_turns._queue.cache_clear()


def op(operator_id: str = "OP-1", brands: tuple[str, ...] = ("alleanza",)) -> str:
    return mint_operator_token(operator_id, "operator", list(brands))


def test_the_console_needs_an_operator_token(server):
    assert server.get("queue", None).status_code == 401
    staff = mint_staff_token("S-1", "agency_employee", "AL-MI-001")
    refused = server.get("queue", staff)
    assert refused.status_code == 401 and "accesso" in refused.json()["error"]["message"]
    assert server.get("me", op()).json()["brands"] == ["alleanza"]
    page = requests.get(server.base + "/", timeout=10)
    assert page.status_code == 200 and "Console operatori" in page.text
    assert requests.get(server.base + "/secret.txt", timeout=10).status_code == 404


def test_the_whole_handoff_on_the_widget(server):
    conv = "web:anon-live"
    assert server.customer(conv, "ciao") == [ASSISTANT_REPLY]
    assert server.customer(conv, "/richiesta_operatore") == ["Sei in coda"]
    # Waiting: the assistant is silent, the customer hears the position.
    server.customer(conv, "il codice non arriva, mail mario@example.it")
    assert server.delivered[-1][1].startswith("Ho aggiunto il messaggio")
    queue = server.get("queue", op()).json()
    assert [(w["conversation_id"], w["position"], w["channel"], w["identity_level"],
             w["reason"]) for w in queue["waiting"]] == [
        (conv, 1, "web", "visitor", "explicit_request")]
    assert server.get("queue", op("OP-CV", ("cavita",))).json()["waiting"] == []
    view = server.get("conversation", op(), id=conv).json()
    texts = [m["text"] for m in view["messages"]]
    assert "il codice non arriva, mail m***@example.it" in texts
    assert ASSISTANT_REPLY in texts and view["request"]["status"] == "waiting"

    assert server.post("take", op(), conversation_id=conv).json() == {"taken": True}
    assert server.delivered[-1][1].startswith("Un operatore dell'assistenza")
    assert server.post("send", op(), conversation_id=conv,
                       text="Buongiorno, sono Laura: controllo subito").json()["sent"]
    assert server.delivered[-1] == (conv, "Buongiorno, sono Laura: controllo subito")
    assert server.senders[-2:] == ["system", "operator"]
    # Held: the customer's message reaches the operator, the assistant says nothing.
    assert server.customer(conv, "grazie Laura") == []
    view = server.get("conversation", op(), id=conv, since=view["next"]).json()
    assert [(m["who"], m["text"]) for m in view["messages"]][-1] == ("customer", "grazie Laura")
    assert server.get("queue", op()).json()["mine"][0]["conversation_id"] == conv
    # Another operator can neither read nor write it.
    assert server.get("conversation", op("OP-2"), id=conv).status_code == 404
    assert server.post("send", op("OP-2"), conversation_id=conv, text="x").status_code == 409

    assert server.post("handback", op(), conversation_id=conv).json() == {"handback": True}
    assert server.delivered[-1][1].startswith("Sono di nuovo l'assistente virtuale")
    assert server.customer(conv, "come pago la rata?") == [ASSISTANT_REPLY]
    kinds = [e.type_name for e in server.events(conv)]
    assert "pause" in kinds and "resume" in kinds
    assert HandoffQueue(server.channel.queue.url).active(conv) is None


def test_closing_ends_the_conversation_and_the_assistant_answers_again(server):
    conv = "web:anon-close"
    server.customer(conv, "/richiesta_operatore")
    server.post("take", op(), conversation_id=conv)
    assert server.post("close", op(), conversation_id=conv).json() == {"close": True}
    assert server.delivered[-1][1].startswith("L'operatore ha chiuso")
    assert server.customer(conv, "ciao") == [ASSISTANT_REPLY]
    assert server.post("send", op(), conversation_id=conv, text="x").status_code == 404


def test_the_customer_leaves_the_queue(server):
    conv = "web:anon-leave"
    server.customer(conv, "/richiesta_operatore")
    server.customer(conv, "non importa")
    assert server.delivered[-1][1].startswith("Sei uscito dalla coda")
    assert server.get("queue", op()).json()["waiting"] == []
    assert server.customer(conv, "ciao") == [ASSISTANT_REPLY]
    assert server.post("take", op(), conversation_id=conv).status_code == 404


def test_an_angry_message_becomes_a_request_for_a_person(server):
    conv = "web:anon-angry"
    assert server.customer(conv, "SIETE INUTILI, NON FUNZIONA NIENTE") == ["Sei in coda"]
    user = [e for e in server.events(conv) if e.type_name == "user"][-1]
    assert user.text == "/richiesta_operatore"
    assert user.metadata["handoff_reason"] == "anger"
    said = server.get("conversation", op(), id=conv).json()["messages"][0]["text"]
    assert said == "SIETE INUTILI, NON FUNZIONA NIENTE"


def test_two_operators_taking_the_same_conversation_one_wins(server):
    conv = "web:anon-race"
    server.customer(conv, "/richiesta_operatore")
    tokens = [op(f"OP-{i}") for i in range(4)]
    with ThreadPoolExecutor(len(tokens)) as pool:
        answers = list(pool.map(lambda t: server.post("take", t, conversation_id=conv),
                                tokens))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409, 409, 409]
    loser = next(a for a in answers if a.status_code == 409).json()["error"]
    assert loser["code"] == "already_taken"
    winner = tokens[[a.status_code for a in answers].index(200)]
    assert server.get("queue", winner).json()["mine"][0]["conversation_id"] == conv


def test_whatsapp_replies_respect_the_24_hour_window(server):
    conv = "whatsapp:+393331234567"
    server.customer(conv, "/richiesta_operatore")
    server.post("take", op(), conversation_id=conv)
    assert server.post("send", op(), conversation_id=conv, text="Eccomi").status_code == 200
    # The customer's last message is 25 hours old.
    late = time.time() + 25 * 3600
    from bot.channels import handoff_live

    sent = server.call(handoff_live.operator_says(server.agent, conv, "OP-1", "Ci sei?",
                                                  now=lambda: late))
    assert sent.refused == "whatsapp_window" and not sent.delivered
    assert server.delivered[-1] == (conv, "Eccomi")


def test_the_queue_poll_is_the_heartbeat(server):
    presence = Presence(server.channel.queue.url)
    assert presence.online("alleanza") == 0
    server.get("queue", op())
    assert presence.online("alleanza") == 1
    server.post("logout", op(), conversation_id="")
    assert presence.online("alleanza") == 0


def test_demo_tokens_only_in_development_with_demo_pages(server):
    demo = server.get("demo-token", None, operator="OP-7", brands="cavita")
    assert demo.status_code == 200
    assert server.get("me", demo.json()["token"]).json()["brands"] == ["cavita"]
    server.channel.settings = Settings(demo_pages=False)
    assert server.get("demo-token", None).status_code == 404


def test_a_second_replica_and_a_restart_lose_nothing(server, queue_url):
    """Replica B (another process on the same queue database and tracker store) sees the
    queue replica A filled, and continues the conversation A's operator took; a restarted
    replica (a new channel object) too."""
    conv = "web:anon-replicas"
    server.customer(conv, "/richiesta_operatore")
    replica = ConsoleServer(server.agent, queue_url).start()  # re-registers the routes
    try:
        assert [w["conversation_id"] for w in replica.get("queue", op()).json()["waiting"]] == [
            conv]
        assert server.post("take", op(), conversation_id=conv).status_code == 200
        assert replica.post("send", op(), conversation_id=conv, text="Da B").status_code == 200
        assert replica.delivered[-1] == (conv, "Da B")
        assert replica.customer(conv, "ricevuto") == []  # still held, seen through B
        assert replica.post("handback", op(), conversation_id=conv).status_code == 200
        assert server.customer(conv, "ciao") == [ASSISTANT_REPLY]
    finally:
        replica.stop()
        outbound.register("web:", server._deliver)
        outbound.register("whatsapp:", server._deliver)
