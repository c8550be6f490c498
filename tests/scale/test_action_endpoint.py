"""bot/action_endpoint.py: session start in process, bounded calls, Rasa's error handling."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.actions.forms import FormAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig

from bot.action_endpoint import BoundedActionEndpoint, install, timeout_seconds


def run_action(name, endpoint, domain, slots=None):
    tracker = DialogueStateTracker("rest:t1", domain.slots)
    for slot, value in (slots or {}).items():
        tracker.update(SlotSet(slot, value))
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    return asyncio.run(RemoteAction(name, endpoint).run(
        CollectingOutputChannel(), nlg, tracker, domain))


def test_session_start_runs_in_process_without_any_action_server(domain):
    endpoint = BoundedActionEndpoint(url="http://127.0.0.1:9/webhook", timeout=1)
    events = run_action("action_session_start", endpoint, domain,
                        {"session_started_metadata": {"brand": "cavita"}})
    assert isinstance(events[0], SessionStarted)
    assert [e.value for e in events if isinstance(e, SlotSet) and e.key == "brand"] == ["cavita"]


@pytest.fixture()
def hung_server():
    """Accepts connections and never answers (a stopped process looks like this)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/webhook"
    sock.close()


def _texts(events):
    return [e.text for e in events if isinstance(e, BotUttered)]


APOLOGY = "non riesco a raggiungere i sistemi"


def test_a_hung_action_server_costs_the_time_out_and_the_customer_hears_why(domain, hung_server):
    endpoint = BoundedActionEndpoint(url=hung_server, timeout=0.5)
    started = time.monotonic()
    events = run_action("action_mostra_polizze", endpoint, domain)
    assert time.monotonic() - started < 3
    assert any(APOLOGY in text for text in _texts(events))
    silent = BoundedActionEndpoint(url=hung_server, timeout=0.3, apologise=False)
    with pytest.raises(RasaException):
        run_action("action_mostra_polizze", silent, domain)


def test_nobody_listening_gets_the_apology_too(domain):
    endpoint = BoundedActionEndpoint(url="http://127.0.0.1:9/webhook", timeout=1)
    assert any(APOLOGY in text for text in _texts(
        run_action("action_mostra_polizze", endpoint, domain)))


def test_session_start_remote_when_asked_starts_in_process_when_nobody_answers(domain,
                                                                                hung_server):
    endpoint = BoundedActionEndpoint(url=hung_server, timeout=0.3, local_session_start=False)
    events = run_action("action_session_start", endpoint, domain,
                        {"session_started_metadata": {"brand": "cavita"}})
    assert isinstance(events[0], SessionStarted)


def test_a_form_whose_validation_gets_no_answer_says_so_and_asks_again(domain, hung_server):
    """Through Rasa's own FormAction: the requested slot stays empty, the form is not
    rejected (a rejection dropped the apology: the customer got nothing)."""
    endpoint = BoundedActionEndpoint(url=hung_server, timeout=0.3)
    tracker = DialogueStateTracker.from_events("rest:t2", [
        ActionExecuted("action_listen"),
        UserUttered("voglio inviare una richiesta", {"name": "invia_richiesta_agenzia"}),
        ActionExecuted("service_request_form"),
        ActiveLoop("service_request_form"),
        SlotSet("requested_slot", "sr_kind"),
        ActionExecuted("action_listen"),
        UserUttered("riscatto totale", {"name": "faq_riscatto"}),
    ], slots=domain.slots)
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    events = asyncio.run(FormAction("service_request_form", endpoint).run(
        CollectingOutputChannel(), nlg, tracker, domain))
    texts = _texts(events)
    assert APOLOGY in texts[0]
    assert any("Che richiesta" in text for text in texts[1:]), texts
    assert SlotSet("requested_slot", "sr_kind") in events


class _Rejecting(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.endswith("/reject"):
            body, status = {"error": "action_rejected", "action_name": "action_x"}, 400
        elif self.path.endswith("/broken"):
            body, status = {"error": "internal_error"}, 500
        else:
            body, status = {"events": [{"event": "slot", "name": "brand", "value": "cavita"}],
                            "responses": [{"text": "fatto"}]}, 200
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def action_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Rejecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_answers_and_rejections_reach_rasa_as_with_its_own_endpoint(domain, action_server):
    endpoint = BoundedActionEndpoint(url=f"{action_server}/ok", timeout=2,
                                     headers={"Authorization": "Bearer x"})
    events = run_action("action_mostra_polizze", endpoint, domain)
    assert [getattr(e, "text", None) for e in events][0] == "fatto"
    assert any(isinstance(e, SlotSet) and e.value == "cavita" for e in events)
    rejecting = BoundedActionEndpoint(url=f"{action_server}/reject", timeout=2)
    with pytest.raises(ActionExecutionRejection):
        run_action("action_mostra_polizze", rejecting, domain)
    broken = BoundedActionEndpoint(url=f"{action_server}/broken", timeout=2)
    assert any(APOLOGY in text for text in _texts(
        run_action("action_mostra_polizze", broken, domain)))


def test_install_replaces_the_agents_and_processors_endpoint():
    class Holder:
        pass

    agent, processor = Holder(), Holder()
    agent.action_endpoint = EndpointConfig(url="http://a/webhook", headers={"A": "b"})
    processor.action_endpoint = agent.action_endpoint
    agent.processor = processor
    assert install(agent)
    assert isinstance(agent.action_endpoint, BoundedActionEndpoint)
    assert processor.action_endpoint is agent.action_endpoint
    assert agent.action_endpoint.headers == {"A": "b"}
    assert not install(agent)  # already in place


@pytest.mark.parametrize("raw,expected", [("", 10.0), ("2.5", 2.5)])
def test_timeout_setting(raw, expected):
    assert timeout_seconds({"ACTION_TIMEOUT_SECONDS": raw}) == expected


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "1000"])
def test_bad_timeout_is_refused(raw):
    with pytest.raises(ValueError):
        timeout_seconds({"ACTION_TIMEOUT_SECONDS": raw})


def test_idle_connections_are_dropped_before_the_action_server_closes_them():
    from sanic.config import DEFAULT_CONFIG

    from bot.action_endpoint import KEEPALIVE_SECONDS

    assert KEEPALIVE_SECONDS < DEFAULT_CONFIG["KEEP_ALIVE_TIMEOUT"]

    async def pooled_keepalive() -> float:
        endpoint = BoundedActionEndpoint(url="http://127.0.0.1:9/webhook", timeout=1)
        try:
            return endpoint._pooled_session().connector._keepalive_timeout
        finally:
            await endpoint.close()

    assert asyncio.run(pooled_keepalive()) == KEEPALIVE_SECONDS
