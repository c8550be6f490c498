"""Readiness, metrics, JSON logs, HAProxy and credentials rendering (no running server)."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import subprocess
import sys

import pytest
import yaml

from bot import credentials_config, endpoints_config
from bot.channels.ops import is_ready, readiness
from bot.json_logging import JsonFormatter
from bot.ops_metrics import ErrorCounter, MetricsBroker, Registry, record_events
from scripts import haproxy_config


def user(channel="rest", intent="faq_pagamenti", ts=None):
    return {"event": "user", "input_channel": channel, "timestamp": ts,
            "parse_data": {"intent": {"name": intent}}, "text": "x"}


def action(name):
    return {"event": "action", "name": name}


def test_turns_latency_fallbacks_and_handoffs_are_counted_per_channel():
    registry = Registry()
    record_events([user("rest", ts=99.8), action("utter_x"), action("action_listen")],
                  registry, now=100.0)
    record_events([user("whatsapp", "nlu_fallback", ts=100.0),
                   action("action_default_fallback"), action("action_listen")],
                  registry, now=100.1)
    record_events([user("web", "parla_operatore"), action("utter_handoff_operatore")], registry)
    assert registry.value("assistant_turns_total", channel="rest") == 1
    assert registry.value("assistant_fallbacks_total", channel="whatsapp") == 2
    assert registry.value("assistant_handoffs_total", channel="web") == 1
    assert registry.count("assistant_turn_seconds", channel="rest") == 1
    text = registry.exposition()
    assert 'assistant_turns_total{channel="rest"} 1' in text
    assert 'assistant_turn_seconds_bucket{channel="rest",le="0.2"} 0' in text
    assert 'assistant_turn_seconds_bucket{channel="rest",le="0.4"} 1' in text
    assert "# TYPE assistant_turn_seconds histogram" in text


def test_the_broker_counts_a_save_published_event_by_event():
    registry = Registry()
    broker = MetricsBroker(registry)
    for event in [user("rest"), action("utter_a"), action("action_listen"),
                  user("rest"), action("utter_b")]:
        broker.publish(event)
    assert registry.value("assistant_turns_total", channel="rest") == 1
    asyncio.run(broker.close())
    assert registry.value("assistant_turns_total", channel="rest") == 2


def test_errors_are_counted_by_a_log_handler():
    registry = Registry()
    logger = logging.getLogger("test.ops.errors")
    handler = ErrorCounter(registry)
    logger.addHandler(handler)
    try:
        logger.error("boom")
        logger.warning("not counted")
    finally:
        logger.removeHandler(handler)
    assert registry.value("assistant_errors_total", channel="-") == 1


def test_the_metrics_broker_is_in_the_rendered_endpoints(tmp_path):
    assert endpoints_config.render({})["event_broker"] == {
        "type": "bot.ops_metrics.MetricsBroker"}
    assert "event_broker" not in endpoints_config.render({"OPS_METRICS": "0"})
    base = tmp_path / "endpoints.yml"
    base.write_text(yaml.safe_dump({"action_endpoint": {"url": "http://a/webhook"},
                                    "event_broker": {"type": "pika", "url": "mq"}}))
    assert endpoints_config.render({}, base)["event_broker"]["type"] == "pika"


def test_the_ops_channel_is_added_to_the_credentials_once(tmp_path):
    base = tmp_path / "credentials.yml"
    base.write_text("bot.channels.rest.RestInput:\n")
    rendered = credentials_config.render({}, base)
    assert list(rendered) == ["bot.channels.rest.RestInput", "bot.channels.ops.OpsInput"]
    base.write_text("bot.channels.ops.OpsInput:\n  x: 1\n")
    assert credentials_config.render({}, base) == {"bot.channels.ops.OpsInput": {"x": 1}}
    base.write_text("bot.channels.rest.RestInput:\n")
    assert "bot.channels.ops.OpsInput" not in credentials_config.render({"OPS_CHANNEL": "0"},
                                                                        base)


class _Agent:
    def __init__(self, ready=True):
        self._ready = ready
        self.tracker_store = None
        self.lock_store = None
        self.action_endpoint = None

    def is_ready(self):
        return self._ready


def test_readiness_says_which_check_failed_without_details():
    results = asyncio.run(readiness(_Agent(), timeout=0.5, backend_url=""))
    assert results["model"] == "ok"
    assert results["tracker_store"].startswith("failed")
    assert results["backend"] == "not configured"
    assert not is_ready(results)
    only = asyncio.run(readiness(_Agent(), timeout=0.5, only=("model",)))
    assert only == {"model": "ok"} and is_ready(only)
    assert not is_ready(asyncio.run(readiness(_Agent(False), only=("model",))))
    assert not is_ready({})


def test_readiness_pings_the_sql_tracker_and_the_lock_store(tmp_path):
    import sqlalchemy as sa

    class Store:
        engine = sa.create_engine(f"sqlite:///{tmp_path}/t.sqlite3")

    class Red:
        def ping(self):
            raise ConnectionError("down")

    agent = _Agent()
    agent.tracker_store = Store()
    agent.lock_store = type("Lock", (), {"red": Red()})()
    results = asyncio.run(readiness(agent, timeout=1, only=("tracker_store", "lock_store")))
    assert results == {"tracker_store": "ok", "lock_store": "failed (ConnectionError)"}


def test_json_log_lines_hold_no_personal_data():
    record = logging.LogRecord("rasa.x", logging.ERROR, __file__, 1,
                               "turn of %s: mail %s, code %s", ("RSSMRA80A01H501U",
                                                                "mario.rossi@example.it",
                                                                "123456"), None)
    try:
        raise ValueError("secret value 654321")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "error" and line["logger"] == "rasa.x"
    assert "RSSMRA80A01H501U" not in line["message"]
    assert "mario.rossi" not in line["message"] and "123456" not in line["message"]
    assert line["exception"] == "ValueError" and "654321" not in json.dumps(line)


def test_haproxy_configuration_balances_replicas_and_sticks_socketio(tmp_path):
    text = haproxy_config.render(5005, [5101, 5102], 5055, [5151, 5152])
    assert "server rasa1 127.0.0.1:5101 check cookie r1" in text
    assert "server actions2 127.0.0.1:5152 check" in text
    assert "cookie RASA_REPLICA insert" in text and "retry-on conn-failure" in text
    assert "/webhooks/ops/ready?only=model" in text
    if shutil.which("haproxy"):
        path = tmp_path / "haproxy.cfg"
        path.write_text(text)
        checked = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True,
                                 text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    else:
        pytest.skip("haproxy not installed (make setup installs it)")


def test_a_turn_gets_a_local_lock_while_redis_is_away():
    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import EndpointConfig

    from bot.lock_store import ResilientRedisLockStore
    from bot.ops_metrics import REGISTRY

    # Nothing listens on port 9: every Redis call fails at once.
    store = LockStore.create(EndpointConfig(type="bot.lock_store.ResilientRedisLockStore",
                                            url="127.0.0.1", port=9, socket_timeout=0.5))
    assert isinstance(store, ResilientRedisLockStore)
    before = REGISTRY.value("assistant_lock_fallbacks_total")

    async def turn() -> bool:
        async with store.lock("rest:x") as lock:
            return lock is not None

    assert asyncio.run(turn())
    assert REGISTRY.value("assistant_lock_fallbacks_total") == before + 1


def test_a_ticket_left_in_redis_by_an_outage_is_released_when_redis_is_back():
    from tests.scale_out import redis_answers

    if not redis_answers():
        pytest.skip("no Redis on 127.0.0.1:6379")
    import uuid

    from rasa.utils.endpoints import EndpointConfig

    from bot.lock_store import ResilientRedisLockStore

    store = ResilientRedisLockStore(EndpointConfig(url="127.0.0.1", port=6379, db=1,
                                                   key_prefix=f"t{uuid.uuid4().hex[:8]}"))
    conversation = "rest:outage"

    async def scenario() -> float:
        original = store.cleanup

        def away(*args):
            import redis

            raise redis.exceptions.ConnectionError("away")

        async with store.lock(conversation):
            store.cleanup = away  # Redis goes away while the turn runs
        store.cleanup = original
        assert store._unreleased
        started = asyncio.get_running_loop().time()
        async with store.lock(conversation, wait_time_in_seconds=0.2):
            pass
        return asyncio.get_running_loop().time() - started

    assert asyncio.run(scenario()) < 1  # not the ticket's 60 s lifetime
    assert not store._unreleased


def test_the_logging_config_rasa_is_given_writes_json_lines():
    """Checked without applying it to this process's loggers (pytest's own stay in place)."""
    import importlib
    import logging.config

    from tests.conftest import ROOT

    config = yaml.safe_load((ROOT / "scripts" / "configs" / "logging_json.yml").read_text())
    factory = config["formatters"]["json"]["()"]
    module, _, name = factory.rpartition(".")
    formatter = getattr(importlib.import_module(module), name)()
    assert isinstance(formatter, JsonFormatter)
    assert config["handlers"]["stderr"]["formatter"] == "json"
    assert "stderr" in config["root"]["handlers"] and "stderr" in config["loggers"]["rasa"][
        "handlers"]
    logging.config.DictConfigurator(config).configure_formatter(config["formatters"]["json"])
    record = logging.LogRecord("rasa.core.processor", logging.INFO, __file__, 1,
                               "utente anna.ferrari@example.it", (), None)
    entry = json.loads(formatter.format(record))
    assert entry["logger"] == "rasa.core.processor" and "anna.ferrari" not in entry["message"]
