"""Short-lived channel memory (seen message ids, the last list of choices) shared by replicas.

One Rasa process keeps it in memory. Several replicas behind a load balancer must share it,
or a Twilio retry of the same ``MessageSid`` (or a typed "2" answering a list another
replica sent) reaches a replica that never saw it: with ``REDIS_URL`` set it lives in Redis,
the same server the Rasa lock store uses for those replicas.

Without Redis the seen ids are kept in a small SQLite file (``CHANNEL_STATE_DB``, default
``var/channel_state.sqlite3``), so a Twilio retry or a replayed ``MessageSid`` arriving after a
restart is still ignored within its TTL; they expire like the Redis keys. The numbered
choices stay in memory there: they are keyed by the sender's number, which this file should
not keep, and losing them in a restart only makes a typed «2» plain text.

Redis (or that file) being unavailable must not silence the assistant: a failed dedup check
falls back to this process's memory (a rare double answer beats a lost question) and a
failed choice lookup leaves the typed text as it is.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

REDIS_URL_ENV = "REDIS_URL"
KEY_PREFIX_ENV = "REDIS_KEY_PREFIX"  # deployments (or test runs) sharing one Redis
DEFAULT_KEY_PREFIX = "area-clienti:"
REDIS_TIMEOUT_SECONDS = 2.0
STATE_DB_ENV = "CHANNEL_STATE_DB"
DEFAULT_STATE_DB = Path(__file__).resolve().parents[2] / "var" / "channel_state.sqlite3"
SQLITE_TIMEOUT_SECONDS = 2.0
SQLITE_PURGE_SECONDS = 60.0  # expired ids are deleted at most this often

Choices = list[tuple[str, str]]


class ChannelState(Protocol):
    async def first_time(self, key: str, ttl: float) -> bool:
        """Record ``key``; True the first time it is recorded within ``ttl`` seconds."""
        ...

    async def put_choices(self, key: str, choices: Choices, ttl: float) -> None: ...

    async def pop_choices(self, key: str) -> Choices | None:
        """The choices stored under ``key``, removed (a choice answers the latest list only)."""
        ...

    async def close(self) -> None: ...


class TTLCache:
    """Bounded in-memory map whose entries expire; oldest entries go first when full."""

    def __init__(self, max_items: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_items, self._clock = max_items, clock
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def _purge(self, now: float) -> None:
        # Each cache is used with one TTL, so insertion order is expiry order: expired
        # entries are in front. (_live re-checks the entry itself, whatever the TTLs.)
        while self._items and next(iter(self._items.values()))[0] <= now:
            self._items.popitem(last=False)
        while len(self._items) > self.max_items:
            self._items.popitem(last=False)

    def _live(self, key: str, now: float) -> bool:
        entry = self._items.get(key)
        if entry is not None and entry[0] <= now:
            del self._items[key]
            return False
        return entry is not None

    def add(self, key: str, value: Any, ttl: float) -> bool:
        """Store ``key`` unless present; True if it was new (the dedup check-and-set)."""
        now = self._clock()
        self._purge(now)
        if self._live(key, now):
            return False
        self.put(key, value, ttl)
        return True

    def put(self, key: str, value: Any, ttl: float) -> None:
        now = self._clock()
        self._items.pop(key, None)
        self._items[key] = (now + ttl, value)
        self._purge(now)

    def pop(self, key: str) -> Any | None:
        now = self._clock()
        self._purge(now)
        if not self._live(key, now):
            return None
        return self._items.pop(key)[1]

    def __len__(self) -> int:
        self._purge(self._clock())
        return len(self._items)


class MemoryChannelState:
    """One process only: fine for a single replica or sticky routing on the sender."""

    def __init__(self, max_seen: int = 50_000, max_choices: int = 20_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seen = TTLCache(max_seen, clock)
        self.choices = TTLCache(max_choices, clock)

    async def first_time(self, key: str, ttl: float) -> bool:
        return self.seen.add(key, True, ttl)

    async def put_choices(self, key: str, choices: Choices, ttl: float) -> None:
        self.choices.put(key, list(choices), ttl)

    async def pop_choices(self, key: str) -> Choices | None:
        return self.choices.pop(key)

    async def close(self) -> None:
        return None


class SQLiteChannelState(MemoryChannelState):
    """One host without Redis: seen ids survive a restart; choices stay in memory.

    Wall-clock expiry (``time.time``), since the entries outlive the process. Several
    processes may share the file (SQLite locks it); the insert is the check-and-set.
    """

    def __init__(self, path: str | Path, namespace: str,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.path, self.namespace, self._clock = Path(path), namespace, clock
        self._lock = threading.Lock()
        self._purged_at = 0.0
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=SQLITE_TIMEOUT_SECONDS,
                                   check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS seen_messages (namespace TEXT NOT NULL, "
                         "key TEXT NOT NULL, expires_at REAL NOT NULL, "
                         "PRIMARY KEY (namespace, key))")
            conn.execute("CREATE INDEX IF NOT EXISTS seen_messages_expiry "
                         "ON seen_messages (expires_at)")
            self._conn = conn
        return self._conn

    def _record(self, key: str, ttl: float) -> bool:
        now = self._clock()
        with self._lock:
            conn = self._connection()
            with conn:  # one transaction: the expired entry goes, the new one comes
                conn.execute("BEGIN IMMEDIATE")
                if now - self._purged_at >= SQLITE_PURGE_SECONDS:
                    conn.execute("DELETE FROM seen_messages WHERE expires_at <= ?", (now,))
                    self._purged_at = now
                else:
                    conn.execute("DELETE FROM seen_messages WHERE namespace = ? AND key = ? "
                                 "AND expires_at <= ?", (self.namespace, key, now))
                inserted = conn.execute(
                    "INSERT OR IGNORE INTO seen_messages (namespace, key, expires_at) "
                    "VALUES (?, ?, ?)", (self.namespace, key, now + ttl)).rowcount
        return inserted == 1

    async def first_time(self, key: str, ttl: float) -> bool:
        try:
            return await asyncio.to_thread(self._record, key, ttl)
        except (sqlite3.Error, OSError) as exc:
            log.warning("channel state file unavailable for the duplicate check (%s): "
                        "this process's memory decides", type(exc).__name__)
            return await super().first_time(key, ttl)

    async def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class RedisChannelState:
    """Shared by every replica: ``SET NX EX`` for the dedup, ``GETDEL`` for the choices."""

    def __init__(self, url: str, namespace: str, key_prefix: str = DEFAULT_KEY_PREFIX) -> None:
        import redis.asyncio as redis  # only needed when Redis is configured

        self._redis = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
        )
        self._prefix = f"{key_prefix}{namespace}:"

    async def first_time(self, key: str, ttl: float) -> bool:
        try:
            stored = await self._redis.set(f"{self._prefix}seen:{key}", 1, nx=True,
                                           ex=max(1, int(ttl)))
        except Exception as exc:  # redis errors and timeouts: see the module docstring
            log.warning("Redis unavailable for the duplicate check (%s): message let through",
                        type(exc).__name__)
            return True
        return bool(stored)

    async def put_choices(self, key: str, choices: Choices, ttl: float) -> None:
        try:
            await self._redis.set(f"{self._prefix}choices:{key}", json.dumps(choices),
                                  ex=max(1, int(ttl)))
        except Exception as exc:
            log.warning("Redis unavailable: choices not stored (%s)", type(exc).__name__)

    async def pop_choices(self, key: str) -> Choices | None:
        try:
            raw = await self._redis.getdel(f"{self._prefix}choices:{key}")  # Redis >= 6.2
        except Exception as exc:
            log.warning("Redis unavailable: choices not read (%s)", type(exc).__name__)
            return None
        if raw is None:
            return None
        try:
            return [(str(title), str(payload)) for title, payload in json.loads(raw)]
        except (ValueError, TypeError):  # not ours (a shared Redis): the text stays text
            log.warning("Unreadable choices in Redis: ignored")
            return None

    async def close(self) -> None:
        await self._redis.aclose() if hasattr(self._redis, "aclose") else await self._redis.close()


def channel_state_from_env(namespace: str, env: Mapping[str, str] | None = None) -> ChannelState:
    """Redis when ``REDIS_URL`` is set, otherwise a SQLite file (seen ids) and memory."""
    env = os.environ if env is None else env
    url = env.get(REDIS_URL_ENV, "").strip()
    if url:
        return RedisChannelState(url, namespace, env.get(KEY_PREFIX_ENV) or DEFAULT_KEY_PREFIX)
    return SQLiteChannelState(env.get(STATE_DB_ENV, "").strip() or DEFAULT_STATE_DB, namespace)
