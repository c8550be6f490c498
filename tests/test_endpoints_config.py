"""The endpoints scripts/run.sh gives Rasa: embedded default, PostgreSQL and Redis by URL.

The last tests build Rasa's own tracker and lock stores from the rendered file and use them
against the real PostgreSQL and Redis servers (skipped, saying so, where none answers).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from bot.endpoints_config import (
    LOCK_STORE_TYPE,
    TRACKER_STORE_TYPE,
    EndpointsConfigError,
    render,
)
from tests.conftest import ROOT
from tests.scale_out import (
    REDIS_URL,
    count_rows,
    fresh_database_url,
    postgres_answers,
    redis_answers,
)


def test_default_is_the_embedded_sqlite_tracker_without_lock_store():
    endpoints = render({})
    assert endpoints["tracker_store"] == {"type": TRACKER_STORE_TYPE, "dialect": "sqlite",
                                          "db": "var/rasa_tracker.sqlite3"}
    assert "lock_store" not in endpoints
    assert endpoints["action_endpoint"]["url"] == "http://127.0.0.1:5055/webhook"


def test_ports_and_sqlite_file_follow_the_environment():
    endpoints = render({"ACTIONS_PORT": "6055", "RASA_TRACKER_DB": "/tmp/x.sqlite3"})
    assert endpoints["action_endpoint"]["url"] == "http://127.0.0.1:6055/webhook"
    assert endpoints["tracker_store"]["db"] == "/tmp/x.sqlite3"
    remote = render({"ACTIONS_PORT": "6055", "ACTION_SERVER_URL": "http://actions:5055/webhook"})
    assert remote["action_endpoint"]["url"] == "http://actions:5055/webhook"


# --- action endpoint: the shared token (actions/server.py) -----------------------------

ACTION_TOKEN = "1e3" + "a" * 40  # also: YAML must not read it as a number


def test_action_server_token_goes_in_a_bearer_header_never_in_the_url(tmp_path: Path):
    """Rasa's EndpointConfig sends ``headers`` with every action call; its ``token`` option
    would put the secret in the query string, hence in access logs."""
    from rasa.utils.endpoints import read_endpoint_config

    env = {"PATH": "/usr/bin:/bin", "ACTION_SERVER_TOKEN": ACTION_TOKEN, "ACTIONS_PORT": "6055"}
    out = subprocess.run([sys.executable, "-m", "bot.endpoints_config"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    path = tmp_path / "endpoints.yml"
    path.write_text(out.stdout)
    endpoint = read_endpoint_config(str(path), "action_endpoint")
    assert endpoint.url == "http://127.0.0.1:6055/webhook"
    assert endpoint.headers == {"Authorization": f"Bearer {ACTION_TOKEN}"}
    assert endpoint.token is None and endpoint.combine_parameters() == {}


def test_without_a_token_development_calls_the_action_server_plainly():
    assert render({})["action_endpoint"] == {"url": "http://127.0.0.1:5055/webhook"}
    assert "headers" not in render({"ACTION_SERVER_TOKEN": "  "})["action_endpoint"]


@pytest.mark.parametrize("env,reason", [
    ({"ASSISTANT_ENV": "production"}, "ACTION_SERVER_TOKEN of at least 32"),
    ({"ASSISTANT_ENV": "production", "ACTION_SERVER_TOKEN": "short"}, "at least 32"),
    ({"ACTION_SERVER_TOKEN": "has spaces " + "x" * 40}, "printable ASCII"),
    ({"ACTION_SERVER_TOKEN": "x" * 40 + "\nX-Injected: 1"}, "printable ASCII"),
])
def test_unusable_action_server_tokens_are_refused(env, reason):
    with pytest.raises(EndpointsConfigError, match=reason):
        render(env)


def test_production_refusal_on_the_command_line_is_one_line():
    bad = subprocess.run([sys.executable, "-m", "bot.endpoints_config"], cwd=ROOT,
                         env={"PATH": "/usr/bin:/bin", "ASSISTANT_ENV": "production"},
                         capture_output=True, text=True)
    lines = [line for line in bad.stderr.splitlines() if line.startswith("endpoints:")]
    assert bad.returncode == 2 and len(lines) == 1 and "ACTION_SERVER_TOKEN" in lines[0]
    assert "Traceback" not in bad.stderr


def test_postgresql_url_becomes_rasa_sql_tracker_settings():
    store = render({"RASA_TRACKER_URL": "postgresql://rasa:p%40ss@db.internal:6543/conversations"})[
        "tracker_store"]
    assert store == {"type": TRACKER_STORE_TYPE, "dialect": "postgresql", "url": "db.internal",
                     "port": 6543,
                     "db": "conversations", "login_db": "postgres", "username": "rasa",
                     "password": "p@ss", "query": {"connect_timeout": "3"}}


def test_redis_url_becomes_a_redis_lock_store():
    lock = render({"REDIS_URL": "rediss://:s3cret@cache:6380/0"})["lock_store"]
    assert lock == {"type": LOCK_STORE_TYPE, "url": "cache", "port": 6380, "db": 1, "use_ssl": True,
                    "socket_timeout": 2, "password": "s3cret"}
    prefixed = render({"REDIS_URL": "redis://cache", "REDIS_KEY_PREFIX": "area-clienti:prod:"})
    assert prefixed["lock_store"]["key_prefix"] == "areaclientiprod"  # Rasa: alphanumerics
    other_db = render({"REDIS_URL": "redis://cache", "RASA_LOCK_REDIS_DB": "3"})
    assert other_db["lock_store"]["db"] == 3


def test_postgresql_query_and_login_database_options():
    store = render({"RASA_TRACKER_URL": "postgresql://rasa@db/conv?sslmode=verify-full",
                    "RASA_TRACKER_LOGIN_DB": ""})["tracker_store"]
    assert store["query"] == {"sslmode": "verify-full", "connect_timeout": "3"}
    assert "login_db" not in store
    assert store["port"] == 5432


def test_passwords_that_look_like_numbers_stay_strings(tmp_path: Path):
    """YAML would read 1e3 as a float and 0o17 as 15: the file Rasa reads quotes them."""
    from rasa.utils.endpoints import read_endpoint_config

    env = {"PATH": "/usr/bin:/bin", "RASA_TRACKER_URL": "postgresql://0o17:1e3@db:5432/007",
           "REDIS_URL": "redis://:1e3@cache:6379/0"}
    out = subprocess.run([sys.executable, "-m", "bot.endpoints_config"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    path = tmp_path / "endpoints.yml"
    path.write_text(out.stdout)
    tracker = read_endpoint_config(str(path), "tracker_store")
    assert (tracker.kwargs["username"], tracker.kwargs["password"], tracker.kwargs["db"]) == (
        "0o17", "1e3", "007")
    assert tracker.kwargs["port"] == 5432
    lock = read_endpoint_config(str(path), "lock_store")
    assert lock.kwargs["password"] == "1e3" and lock.kwargs["port"] == 6379


@pytest.mark.parametrize("env", [
    {"RASA_TRACKER_URL": "mysql://root@db/rasa"},
    {"RASA_TRACKER_URL": "postgresql://db:5432/"},
    {"RASA_TRACKER_URL": "postgresql://db:port/rasa"},
    {"REDIS_URL": "http://cache:6379"},
    {"REDIS_URL": "redis://cache:abc/0"},
])
def test_unusable_urls_are_refused_with_a_hint(env):
    with pytest.raises(EndpointsConfigError, match="must look like|not a number"):
        render(env)


def test_command_line_writes_yaml_and_fails_cleanly(tmp_path: Path):
    env = {"PATH": "/usr/bin:/bin", "REDIS_URL": "redis://127.0.0.1:6379/0"}
    out = subprocess.run([sys.executable, "-m", "bot.endpoints_config"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    assert yaml.safe_load(out.stdout)["lock_store"]["type"] == LOCK_STORE_TYPE
    bad = subprocess.run([sys.executable, "-m", "bot.endpoints_config"], cwd=ROOT,
                         env={**env, "RASA_TRACKER_URL": "mysql://x/y"},
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "RASA_TRACKER_URL must look like" in bad.stderr
    assert "Traceback" not in bad.stderr


def _write(endpoints: dict, tmp_path: Path) -> str:
    path = tmp_path / "endpoints.yml"
    path.write_text(yaml.safe_dump(endpoints))
    return str(path)


def test_endpoints_yml_and_both_dialects_name_the_redacting_store(tmp_path: Path, domain):
    """Rasa falls back to an in-memory store, with a mere warning, on a wrong type name."""
    from rasa.core.tracker_store import TrackerStore
    from rasa.utils.endpoints import read_endpoint_config

    from bot.tracker_store import RedactingSQLTrackerStore

    shipped = yaml.safe_load((ROOT / "endpoints.yml").read_text())["tracker_store"]
    assert shipped == render({})["tracker_store"]
    assert render({"RASA_TRACKER_URL": "postgresql://db/x"})["tracker_store"]["type"] == (
        TRACKER_STORE_TYPE)
    endpoints = render({"RASA_TRACKER_DB": str(tmp_path / "t.sqlite3")})
    config = read_endpoint_config(_write(endpoints, tmp_path), "tracker_store")
    store = TrackerStore.create(config, domain)
    assert isinstance(store, RedactingSQLTrackerStore)
    assert (tmp_path / "t.sqlite3").exists()


@pytest.mark.skipif(not postgres_answers(), reason="no PostgreSQL server answers on 127.0.0.1:5432")
def test_rasa_keeps_conversations_in_postgresql(tmp_path: Path, domain):
    """Rasa's own factory builds the redacting store on PostgreSQL: no token in its rows,
    the form's e-mail still read back, and the retention's queries run there too."""
    from rasa.core.tracker_store import TrackerStore
    from rasa.shared.core.events import SlotSet, UserUttered
    from rasa.utils.endpoints import read_endpoint_config

    from bot.tracker_store import RedactingSQLTrackerStore
    from identity.minting import mint_customer_token

    token = mint_customer_token(7, "cavita")
    with fresh_database_url() as url:
        config = read_endpoint_config(_write(render({"RASA_TRACKER_URL": url}), tmp_path),
                                      "tracker_store")
        sender = f"pg-{uuid.uuid4().hex[:8]}"

        async def scenario() -> int:
            store = TrackerStore.create(config, domain)  # creates the database
            assert isinstance(store, RedactingSQLTrackerStore)
            tracker = await store.get_or_create_tracker(sender)
            tracker.update(UserUttered("ciao, non mi arriva il codice",
                                       metadata={"identity_token": token, "brand": "cavita"}))
            tracker.update(SlotSet("support_email", "anna.ferrari@example.it"))
            await store.save(tracker)
            again = await TrackerStore.create(config, domain).retrieve(sender)
            assert again is not None
            assert again.get_slot("support_email") == "anna.ferrari@example.it"
            assert store.delete_older_than(30) == (0, 0)
            return len([e for e in again.events if isinstance(e, UserUttered)])

        assert asyncio.run(scenario()) == 1
        assert count_rows(url, "select count(*) from events where sender_id = %s", sender) >= 1
        assert count_rows(url, "select count(*) from events where data like %s or data like %s",
                          f"%{token}%", "%anna.ferrari@%") == 0


@pytest.mark.skipif(not redis_answers(), reason="no Redis server answers on 127.0.0.1:6379")
def test_rasa_lock_store_in_redis_is_shared(tmp_path: Path):
    from rasa.core.lock_store import LockStore, RedisLockStore
    from rasa.utils.endpoints import read_endpoint_config

    config = read_endpoint_config(_write(render({"REDIS_URL": REDIS_URL}), tmp_path), "lock_store")
    replica_a, replica_b = LockStore.create(config), LockStore.create(config)
    assert isinstance(replica_a, RedisLockStore)
    conversation = f"lock-{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        async with replica_a.lock(conversation):
            # The other replica's turn for the same conversation has to wait for this one.
            ticket = replica_b.issue_ticket(conversation)
            lock = replica_b.get_lock(conversation)
            assert lock is not None and lock.is_locked(ticket)
            replica_b.cleanup(conversation, ticket)
        assert replica_b.get_lock(conversation) is None  # released and deleted

    asyncio.run(scenario())
