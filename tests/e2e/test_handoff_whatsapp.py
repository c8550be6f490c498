"""The live handoff over signed WhatsApp on the stack `make run` starts, replies through the
fake Twilio API: queue and position, an operator takes the conversation (of two racing,
one wins), the assistant stays silent while the operator and the customer write, handback
and the assistant answering again; leaving the queue by its numbered choice."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from backend_stub.fake_twilio import FakeTwilio
from scripts.whatsapp_send import DEV_ACCOUNT_SID, SANDBOX_NUMBER, twilio_signature
from tests.e2e.handoff_env import Console, handoff_env, operator_token
from tests.e2e.stack import Stack, running_stack

pytestmark = pytest.mark.e2e

TIMEOUT = 90.0


@pytest.fixture(scope="module")
def stack_and_twilio(
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, FakeTwilio]]:
    workdir = tmp_path_factory.mktemp("handoff-whatsapp")
    with FakeTwilio() as twilio:
        env = {**handoff_env(workdir), "TWILIO_API_BASE_URL": twilio.url,
               "WHATSAPP_BRAND": "alleanza"}
        with running_stack(workdir, extra_env=env) as stack:
            yield stack, twilio


class Phone:
    """A WhatsApp customer: signed Twilio posts in, the fake Twilio API's messages out."""

    def __init__(self, stack: Stack, twilio: FakeTwilio, number: str) -> None:
        self.url = f"{stack.url}/webhooks/whatsapp/webhook"
        self.twilio, self.number = twilio, number

    def received(self) -> list[str]:
        return [m.get("Body") or m.get("body") or ""
                for m in self.twilio.messages_to(f"whatsapp:{self.number}")]

    def send(self, text: str) -> None:
        sid = "SM" + uuid.uuid4().hex
        form = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": DEV_ACCOUNT_SID,
                "From": f"whatsapp:{self.number}", "To": SANDBOX_NUMBER, "Body": text,
                "NumMedia": "0", "ProfileName": "Cliente"}
        signature = twilio_signature(self.url, form, "fake-twilio-token")
        requests.post(self.url, data=form, headers={"X-Twilio-Signature": signature},
                      timeout=30).raise_for_status()

    def wait_for(self, fragment: str, after: int = 0) -> list[str]:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            got = self.received()[after:]
            if any(fragment in body for body in got):
                return got
            time.sleep(0.2)
        raise AssertionError(f"{fragment!r} never arrived; got {self.received()[after:]}")


def test_whatsapp_customer_operator_and_handback(stack_and_twilio) -> None:
    stack, twilio = stack_and_twilio
    laura, marco = Console(stack.url, operator_token("OP-LAURA")), Console(
        stack.url, operator_token("OP-MARCO"))
    laura.queue(), marco.queue()  # both consoles open: two operators online
    phone = Phone(stack, twilio, "+393471112233")
    conversation = f"whatsapp:{phone.number}"

    phone.send("voglio parlare con un operatore")
    got = phone.wait_for("Sei in posizione 1")
    assert any("1. Esci dalla coda" in body for body in got)
    waiting = laura.queue()["waiting"]
    assert [(w["conversation_id"], w["channel"], w["identity_level"], w["position"])
            for w in waiting] == [(conversation, "whatsapp", "visitor", 1)]

    # While waiting, a message goes to the operator and the customer hears the position.
    phone.send("non riesco a entrare nell'app da ieri")
    phone.wait_for("Ho aggiunto il messaggio", after=len(got))

    # Two operators take it at once: exactly one wins.
    before = len(phone.received())
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda c: c.post("take", conversation_id=conversation),
                                [laura, marco]))
    assert sorted(a.status_code for a in answers) == [200, 409]
    winner = laura if answers[0].status_code == 200 else marco
    loser = marco if winner is laura else laura
    phone.wait_for("preso in carico la conversazione", after=before)

    # Held: the customer's message reaches the operator; the assistant says nothing.
    count = len(phone.received())
    phone.send("come mi registro all'area clienti?")
    deadline = time.monotonic() + TIMEOUT
    texts: list[str] = []
    while time.monotonic() < deadline and "come mi registro" not in " ".join(texts):
        view = winner.get("conversation", id=conversation).json()
        texts = [m["text"] for m in view["messages"] if m["who"] == "customer"]
        time.sleep(0.3)
    assert "come mi registro all'area clienti?" in texts
    assert view["whatsapp_window_open"] is True
    time.sleep(3)
    assert len(phone.received()) == count, phone.received()[count:]
    assert loser.get("conversation", id=conversation).status_code == 404

    assert winner.post("send", conversation_id=conversation,
                       text="Buongiorno, sono l'operatore: ti guido io.").status_code == 200
    phone.wait_for("ti guido io", after=count)

    assert winner.post("handback", conversation_id=conversation).status_code == 200
    phone.wait_for("Sono di nuovo l'assistente virtuale", after=count)
    after = len(phone.received())
    phone.send("come mi registro all'area clienti?")
    answer = phone.wait_for("regist", after=after)
    assert not any("operatore" in body for body in answer[:1]), answer


def test_leaving_the_queue_by_its_numbered_choice(stack_and_twilio) -> None:
    stack, twilio = stack_and_twilio
    Console(stack.url, operator_token("OP-LAURA")).queue()
    phone = Phone(stack, twilio, "+393479998877")
    phone.send("vorrei parlare con un operatore")
    got = phone.wait_for("Sei in posizione")
    phone.send("1")  # 1. Esci dalla coda
    phone.wait_for("Sei uscito dalla coda", after=len(got))
    queue = Console(stack.url, operator_token("OP-LAURA")).queue()
    assert f"whatsapp:{phone.number}" not in [w["conversation_id"] for w in queue["waiting"]]
