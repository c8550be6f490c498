"""Faults on the running stack: the action server hung (stopped, not dead), PostgreSQL and
Redis going away under load; readiness and metrics say so.

* Action server stopped (SIGSTOP): a new conversation's FAQ answer within 3 s (the session
  starts in the Rasa process, bot/action_endpoint.py), readiness 503 naming it, 200 again
  once it runs (SIGCONT).
* Tracker store and lock store away (a TCP proxy in front of the machine's PostgreSQL and
  Redis cut, then back): every turn is answered, none with a trace, and once they are back
  every turn of every conversation is in the tracker store exactly once.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid

import pytest
import requests

from tests.e2e.stack import child_pids, running_stack
from tests.scale_out import fresh_database_url, postgres_answers, redis_answers
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e

FAQ = ["quali metodi di pagamento accettate", "non mi arriva il codice per sms",
       "come cambio il recapito dispositivo?", "come mi registro all'area clienti?"]


def post(url: str, sender: str, text: str, timeout: float = 30) -> tuple[float, requests.Response]:
    started = time.monotonic()
    reply = requests.post(f"{url}/webhooks/rest/webhook",
                          json={"sender": sender, "message": text,
                                "metadata": {"brand": "cavita"}}, timeout=timeout)
    return time.monotonic() - started, reply


def action_server_pid(stack) -> int:
    for pid in child_pids(stack.process.pid):
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            if b"actions.server" in cmdline.read():
                return pid
    raise LookupError("no action server")


def test_faq_answers_within_3_s_while_the_action_server_hangs(tmp_path):
    with running_stack(tmp_path, extra_env={"ACTION_TIMEOUT_SECONDS": "4"}) as stack:
        ready = requests.get(f"{stack.url}/webhooks/ops/ready", timeout=10)
        assert ready.status_code == 200, ready.text
        pid = action_server_pid(stack)
        import os

        os.kill(pid, signal.SIGSTOP)
        try:
            sender = f"hung-{uuid.uuid4().hex[:8]}"
            for text in FAQ[:2]:  # the first one starts the session
                seconds, reply = post(stack.url, sender, text)
                assert reply.status_code == 200 and reply.json(), reply.text
                assert seconds < 3, f"{text!r} took {seconds:.1f} s"
                assert "Traceback" not in reply.text
            # what needs the action server says why it cannot, after the time-out
            seconds, reply = post(stack.url, sender, "fammi vedere le mie polizze")
            assert "non riesco a raggiungere i sistemi" in reply.text, reply.text
            assert seconds < 4 + 3, f"{seconds:.1f} s"
            ready = requests.get(f"{stack.url}/webhooks/ops/ready", timeout=10)
            assert ready.status_code == 503
            assert ready.json()["checks"]["action_server"].startswith("failed")
            assert ready.json()["checks"]["model"] == "ok"
        finally:
            os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + 20
        while requests.get(f"{stack.url}/webhooks/ops/ready", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "not ready again after SIGCONT"
            time.sleep(1)
        metrics = requests.get(f"{stack.url}/webhooks/ops/metrics", timeout=10).text
        assert 'assistant_turns_total{channel="rest"}' in metrics
        assert "assistant_turn_seconds_bucket" in metrics


@pytest.mark.skipif(not (postgres_answers() and redis_answers()),
                    reason="PostgreSQL 127.0.0.1:5432 and Redis 127.0.0.1:6379 needed")
def test_tracker_and_lock_store_going_away_under_load_lose_no_turn(tmp_path):
    import psycopg2

    from tests.scale_out import POSTGRES_URL

    pg_port = int(POSTGRES_URL.rsplit(":", 1)[1].split("/")[0])
    with fresh_database_url() as direct_url, TcpProxy(pg_port) as pg, TcpProxy(6379) as red:
        proxied = direct_url.replace(f":{pg_port}/", f":{pg.port}/")
        env = {"RASA_TRACKER_URL": proxied, "REDIS_URL": f"redis://127.0.0.1:{red.port}/0",
               "REDIS_KEY_PREFIX": f"fault{uuid.uuid4().hex[:8]}"}
        with running_stack(tmp_path, extra_env=env) as stack:
            senders = [f"fault-{uuid.uuid4().hex[:8]}" for _ in range(4)]
            sent: dict[str, list[str]] = {s: [] for s in senders}
            problems: list[str] = []
            outage = threading.Event()

            def converse(sender: str) -> None:
                for _round in range(3):
                    for text in FAQ:
                        seconds, reply = post(stack.url, sender, text)
                        if reply.status_code != 200 or not reply.json() or (
                                "Traceback" in reply.text):
                            problems.append(f"{sender}: {reply.status_code} {reply.text[:200]}"
                                            f" (outage={outage.is_set()})")
                        sent[sender].append(text)

            threads = [threading.Thread(target=converse, args=(s,)) for s in senders]
            for thread in threads:
                thread.start()
            time.sleep(4)
            outage.set()
            pg.down()
            red.down()
            time.sleep(6)
            pg.up()
            red.up()
            outage.clear()
            for thread in threads:
                thread.join(timeout=240)
            assert not problems, problems
            # One more turn each after the outage: kept turns are written first.
            for sender in senders:
                _, reply = post(stack.url, sender, "grazie")
                assert reply.status_code == 200 and reply.json()
                sent[sender].append("grazie")
        conn = psycopg2.connect(direct_url)
        try:
            with conn.cursor() as cursor:
                for sender in senders:
                    cursor.execute("SELECT data FROM events WHERE sender_id = %s AND "
                                   "type_name = 'user' ORDER BY id", (f"rest:{sender}",))
                    stored = [json.loads(data)["text"] for (data,) in cursor.fetchall()]
                    assert stored == sent[sender], (sender, stored)
        finally:
            conn.close()


@pytest.mark.slow
@pytest.mark.skipif(not (postgres_answers() and redis_answers()),
                    reason="PostgreSQL 127.0.0.1:5432 and Redis 127.0.0.1:6379 needed")
def test_a_restart_of_the_whole_stack_mid_form_keeps_the_form_on_postgresql(tmp_path):
    """As with the SQLite default: the support form's answers (the e-mail is a live slot,
    kept apart in PostgreSQL: bot/tracker_store.py) survive a stop and start of everything."""
    import re

    def say(url: str, sender: str, text: str) -> str:
        reply = requests.post(f"{url}/webhooks/rest/webhook", timeout=60,
                              json={"sender": sender, "message": text,
                                    "metadata": {"brand": "cavita"}})
        reply.raise_for_status()
        return " ".join(m.get("text", "") for m in reply.json())

    sender = f"restart-{uuid.uuid4().hex[:8]}"
    with fresh_database_url() as tracker_url:
        env = {"RASA_TRACKER_URL": tracker_url, "REDIS_URL": "redis://127.0.0.1:6379/0",
               "REDIS_KEY_PREFIX": f"restart{uuid.uuid4().hex[:8]}"}
        with running_stack(tmp_path, extra_env=env) as stack:
            assert "e-mail" in say(stack.url, sender, "/apri_richiesta_supporto")
            assert "motivo" in say(stack.url, sender, "anna@example.it")
        with running_stack(tmp_path, extra_env=env) as stack:  # same database, new processes
            assert "richiesta" in say(stack.url, sender, "navigazione")
            summary = say(stack.url, sender, "non riesco a scaricare i documenti dall app")
            assert "anna@example.it" in summary, summary
            assert re.search(r"CV-TK-\d{4}-\d{6}", say(stack.url, sender, "/conferma"))
