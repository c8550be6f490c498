"""Channel memory: a SQLite file (seen ids) by default, shared through a real Redis when
REDIS_URL is set.

The Redis tests use the server the machines run on 127.0.0.1:6379 (``TEST_REDIS_URL``
overrides it) under a key prefix of their own, and skip, saying so, where none answers.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator

import pytest

from bot.channels.channel_state import (
    DEFAULT_STATE_DB,
    MemoryChannelState,
    RedisChannelState,
    SQLiteChannelState,
    TTLCache,
    channel_state_from_env,
)
from tests.channels.conftest import whatsapp_form, whatsapp_post
from tests.scale_out import REDIS_URL, redis_answers

needs_redis = pytest.mark.skipif(
    not redis_answers(), reason="no Redis server answers on 127.0.0.1:6379"
)


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def redis_state(prefix: str) -> Iterator[RedisChannelState]:
    state = RedisChannelState(REDIS_URL, "whatsapp", prefix)
    yield state
    asyncio.run(state.close())


def test_ttl_cache_expires_and_stays_bounded():
    now = [0.0]
    cache = TTLCache(max_items=3, clock=lambda: now[0])
    assert cache.add("a", 1, ttl=10) and not cache.add("a", 1, ttl=10)
    now[0] = 11
    assert cache.add("a", 1, ttl=10)  # expired, so new again
    for key in "bcd":
        cache.add(key, 1, ttl=10)
    assert len(cache) == 3 and cache.pop("a") is None  # the oldest went first


def test_ttl_cache_checks_each_entry_expiry():
    now = [0.0]
    cache = TTLCache(max_items=10, clock=lambda: now[0])
    cache.put("long", "x", ttl=100)
    cache.put("short", "y", ttl=1)  # behind a longer-lived entry
    now[0] = 2
    assert cache.pop("short") is None and cache.pop("long") == "x"


def test_memory_state_dedups_and_pops_choices_once():
    state = MemoryChannelState()

    async def scenario() -> None:
        assert await state.first_time("SM1", 60) is True
        assert await state.first_time("SM1", 60) is False
        await state.put_choices("+39333", [("Sì", "/affirm")], 60)
        assert await state.pop_choices("+39333") == [("Sì", "/affirm")]
        assert await state.pop_choices("+39333") is None

    asyncio.run(scenario())


def test_state_from_env_picks_redis_only_when_configured(tmp_path):
    default = channel_state_from_env("whatsapp", {})
    assert isinstance(default, SQLiteChannelState) and default.path == DEFAULT_STATE_DB
    assert DEFAULT_STATE_DB.parent.name == "var"
    blank = channel_state_from_env("whatsapp", {"REDIS_URL": " ",
                                                "CHANNEL_STATE_DB": str(tmp_path / "s.db")})
    assert isinstance(blank, SQLiteChannelState) and blank.path == tmp_path / "s.db"
    state = channel_state_from_env("whatsapp", {"REDIS_URL": REDIS_URL, "REDIS_KEY_PREFIX": "x:"})
    assert isinstance(state, RedisChannelState)
    asyncio.run(state.close())


def test_without_redis_a_replayed_message_after_a_restart_is_ignored(tmp_path):
    path = tmp_path / "channel_state.sqlite3"

    async def scenario() -> None:
        before = SQLiteChannelState(path, "whatsapp")
        assert await before.first_time("SM1", 60) is True
        assert await before.first_time("SM1", 60) is False
        await before.close()
        after = SQLiteChannelState(path, "whatsapp")  # the process restarted
        assert await after.first_time("SM1", 60) is False
        assert await after.first_time("SM2", 60) is True
        other = SQLiteChannelState(path, "sms")  # another channel's ids are its own
        assert await other.first_time("SM1", 60) is True
        for state in (after, other):
            await state.close()

    asyncio.run(scenario())


def test_persisted_ids_expire_and_are_purged(tmp_path):
    now = [1000.0]
    path = tmp_path / "channel_state.sqlite3"

    async def scenario() -> None:
        state = SQLiteChannelState(path, "whatsapp", clock=lambda: now[0])
        assert await state.first_time("SMold", 10) is True
        now[0] += 11
        assert await state.first_time("SMold", 10) is True  # expired: new again
        now[0] += 100
        assert await state.first_time("SMnew", 10) is True
        await state.close()

    asyncio.run(scenario())
    import sqlite3

    with sqlite3.connect(path) as conn:
        keys = [key for (key,) in conn.execute("select key from seen_messages")]
    assert keys == ["SMnew"]  # the expired ones are gone from the file


def test_sqlite_choices_stay_in_memory_and_off_the_disk(tmp_path):
    path = tmp_path / "channel_state.sqlite3"

    async def scenario() -> None:
        state = SQLiteChannelState(path, "whatsapp")
        await state.first_time("SM1", 60)
        await state.put_choices("whatsapp:+393331234567", [("Sì", "/affirm")], 60)
        assert await state.pop_choices("whatsapp:+393331234567") == [("Sì", "/affirm")]
        await state.close()

    asyncio.run(scenario())
    assert b"3331234567" not in path.read_bytes()


def test_an_unusable_state_file_falls_back_to_memory(tmp_path):
    state = SQLiteChannelState(tmp_path, "whatsapp")  # a directory: SQLite cannot open it

    async def scenario() -> None:
        assert await state.first_time("SM1", 60) is True
        assert await state.first_time("SM1", 60) is False  # still deduplicated in-process
        await state.close()

    asyncio.run(scenario())


def test_whatsapp_answers_a_replay_after_a_restart_once(
    monkeypatch, tmp_path, whatsapp_env, whatsapp_server_factory, whatsapp_agent
):
    """A Twilio retry (or a replayed request) reaching the channel after Rasa restarted."""
    monkeypatch.setenv("CHANNEL_STATE_DB", str(tmp_path / "channel_state.sqlite3"))
    form = whatsapp_form(Body="ciao")
    first = whatsapp_server_factory()
    assert whatsapp_post(first.url, form).status_code == 200
    whatsapp_agent.wait_for(1)
    first.drain()
    restarted = whatsapp_server_factory()  # a new process: its memory is empty
    assert whatsapp_post(restarted.url, form).status_code == 200
    restarted.drain()
    time.sleep(0.3)
    assert len(whatsapp_agent.messages) == 1


@needs_redis
def test_redis_state_dedups_across_instances(prefix: str):
    async def scenario() -> None:
        one = RedisChannelState(REDIS_URL, "whatsapp", prefix)
        two = RedisChannelState(REDIS_URL, "whatsapp", prefix)  # another replica
        try:
            assert await one.first_time("SMabc", 60) is True
            assert await two.first_time("SMabc", 60) is False
            await one.put_choices("+393331234567", [("Sì", "/affirm"), ("No", "/deny")], 60)
            assert await two.pop_choices("+393331234567") == [("Sì", "/affirm"), ("No", "/deny")]
            assert await one.pop_choices("+393331234567") is None  # answered once only
        finally:
            await one.close()
            await two.close()

    asyncio.run(scenario())


@needs_redis
def test_redis_state_keys_expire(redis_state: RedisChannelState):
    async def scenario() -> None:
        assert await redis_state.first_time("SMshort", 1) is True
        await redis_state.put_choices("+39", [("A", "/a")], 1)
        await asyncio.sleep(1.3)
        assert await redis_state.first_time("SMshort", 1) is True
        assert await redis_state.pop_choices("+39") is None

    asyncio.run(scenario())


@needs_redis
def test_redis_prefixes_keep_deployments_apart(prefix: str):
    async def scenario() -> None:
        ours = RedisChannelState(REDIS_URL, "whatsapp", prefix)
        theirs = RedisChannelState(REDIS_URL, "whatsapp", prefix + "other:")
        try:
            assert await ours.first_time("SMsame", 60)
            assert await theirs.first_time("SMsame", 60)
        finally:
            await ours.close()
            await theirs.close()

    asyncio.run(scenario())


@needs_redis
def test_unreadable_choices_are_ignored(redis_state: RedisChannelState, prefix: str):
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.set(f"{prefix}whatsapp:choices:+39333", b"not json")
    client.set(f"{prefix}whatsapp:choices:+39334", b'{"a": 1}')
    client.close()

    async def scenario() -> None:
        assert await redis_state.pop_choices("+39333") is None
        assert await redis_state.pop_choices("+39334") is None

    asyncio.run(scenario())


def test_unreachable_redis_lets_messages_through_quickly():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = RedisChannelState(f"redis://127.0.0.1:{port}/0", "whatsapp")

    async def scenario() -> None:
        started = time.monotonic()
        assert await state.first_time("SM1", 60) is True
        assert await state.first_time("SM1", 60) is True  # no memory: a double beats a loss
        await state.put_choices("+39", [("A", "/a")], 60)
        assert await state.pop_choices("+39") is None
        assert time.monotonic() - started < 10
        await state.close()

    asyncio.run(scenario())


@needs_redis
def test_two_whatsapp_replicas_share_duplicates_and_choices(
    monkeypatch, prefix, whatsapp_env, whatsapp_server_factory, whatsapp_agent
):
    """A Twilio retry, and a typed number, reaching the replica that did not see the first."""
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("REDIS_KEY_PREFIX", prefix)
    replica_a, replica_b = whatsapp_server_factory(), whatsapp_server_factory()
    buttons = [{"title": "Sì", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
    whatsapp_agent.reply = lambda m: [{"text": "Confermi?", "buttons": buttons}]

    form = whatsapp_form(Body="ciao")
    assert whatsapp_post(replica_a.url, form).status_code == 200
    whatsapp_env.wait_for(1)
    assert whatsapp_post(replica_b.url, form).status_code == 200  # the retry, elsewhere
    replica_b.drain()
    time.sleep(0.3)
    assert len(whatsapp_agent.messages) == 1

    whatsapp_post(replica_b.url, whatsapp_form(Body="2"))
    assert whatsapp_agent.wait_for(2)[1].text == "/deny"
