"""Rasa's Redis lock store that keeps answering while Redis is away.

endpoints.yml names it ``type: bot.lock_store.ResilientRedisLockStore`` with the settings of
Rasa's ``type: redis`` (bot/endpoints_config.py renders them from ``REDIS_URL``).

Why: with Rasa's own store, a Redis that stops answering makes every turn fail with a
``LockError`` (the customer gets nothing). Here a turn whose ticket cannot be issued or
checked in Redis takes a lock of this process instead (Rasa's in-memory lock store) and goes
on; a warning is logged once per outage and ``assistant_lock_fallbacks_total`` counts
them (bot/ops_metrics.py). Once Redis answers again, turns use it again.

A turn waiting for the lock keeps its ticket alive (:class:`PatientWaiting`). Rasa lets
the waiter's ticket expire like the holder's: when a replica died holding a conversation's
lock, the turn sent again to another replica had taken its ticket a moment after the dead
one, both expired within the same second, and unless a poll fell in between, the waiter
found no ticket at all, read it as "someone else is served" and waited for ever (HAProxy
answered 504 after 60 s: tests/e2e/test_scale_out.py failed 2 runs in 3).

What that gives up, during the outage only: two replicas may handle two messages of one
conversation at the same moment (a person typing on one channel waits for the answers, so
this needs two fast messages landing on two replicas). The tracker store keeps every event
either way (bot/tracker_store.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

log = logging.getLogger(__name__)


def _redis_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def _is_outage(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, _redis_errors()):
            return True
        if isinstance(seen, LockError) and "Error while acquiring lock" in str(seen):
            return any(name in str(seen) for name in ("Connection", "Timeout", "connect"))
        seen = seen.__cause__ or seen.__context__
    return False


class PatientWaiting:
    """A lock store mix-in: the waiting turn renews its ticket while it waits (docstring
    of the module); the holder's ticket still expires, which frees a dead replica's lock.
    It replaces ``_acquire_lock``, the wait Rasa's own ``lock()`` runs."""

    async def _acquire_lock(self, conversation_id: str, ticket: int,
                            wait_time_in_seconds: float) -> TicketLock:
        lifetime: float | None = None
        while True:
            lock = self.get_lock(conversation_id)  # type: ignore[attr-defined]
            if lock is None:
                raise LockError(f"Could not acquire lock for conversation_id "
                                f"'{conversation_id}'.")
            if lifetime is None:  # the ticket was just issued: its lifetime is what is left
                lifetime = life_left(lock, ticket)
            if not lock.is_locked(ticket):
                return lock
            # written back only when half its life is gone: each write may undo a
            # concurrent one (Rasa's stores read and write the whole lock)
            if renew(lock, ticket, lifetime):
                self.save_lock(lock)  # type: ignore[attr-defined]
                if not lock.is_locked(ticket):
                    return lock
            await asyncio.sleep(wait_time_in_seconds)


def life_left(lock: TicketLock, number: int) -> float:
    """Seconds ``number``'s ticket has left (Rasa's lifetime if it is already gone)."""
    ticket = next((t for t in lock.tickets if t.number == number), None)
    left = ticket.expires - time.time() if ticket is not None else 0.0
    return left if left > 0 else float(LOCK_LIFETIME)


def renew(lock: TicketLock, number: int, lifetime: float) -> bool:
    """``number``'s ticket valid for ``lifetime`` from now, put back in its place in the
    queue if it had expired (the queue is in ticket order). False when it still had more
    than half its lifetime, and nothing changed."""
    lock.remove_expired_tickets()
    now = time.time()
    for ticket in lock.tickets:
        if ticket.number == number:
            if ticket.expires - now > lifetime / 2:
                return False
            ticket.expires = now + lifetime
            return True
    expires = now + lifetime
    queue = sorted([*lock.tickets, Ticket(number, expires)], key=lambda t: t.number)
    lock.tickets.clear()
    lock.tickets.extend(queue)
    return True


class PatientInMemoryLockStore(PatientWaiting, InMemoryLockStore):
    """Rasa's in-memory lock store whose waiting turns keep their tickets."""


class ResilientRedisLockStore(PatientWaiting, RedisLockStore):
    """Rasa's ``RedisLockStore``; a process-local lock while Redis is away (docstring)."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)
        self._local = PatientInMemoryLockStore()
        self._redis_away = False
        # Tickets whose release failed while Redis was away: released as soon as it is back,
        # or the next turn of those conversations would wait for the ticket's lifetime.
        self._unreleased: dict[tuple[str, int], None] = {}

    def _release_unreleased(self) -> None:
        for conversation_id, ticket in list(self._unreleased):
            self.cleanup(conversation_id, ticket)  # raises while Redis is still away
            self._unreleased.pop((conversation_id, ticket), None)

    def _away(self, error: BaseException) -> None:
        from bot.ops_metrics import REGISTRY

        REGISTRY.inc("assistant_lock_fallbacks_total")
        if not self._redis_away:
            self._redis_away = True
            log.warning("lock store: Redis does not answer (%s); conversations are locked in "
                        "this process until it does", type(error).__name__)

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        acquired: TicketLock | None = None
        ticket = None
        try:
            if self._unreleased:
                self._release_unreleased()
            ticket = self.issue_ticket(conversation_id, lock_lifetime)
            acquired = await self._acquire_lock(conversation_id, ticket, wait_time_in_seconds)
        except Exception as error:
            if not _is_outage(error):
                raise
            self._away(error)
        if acquired is None:
            async with self._local.lock(conversation_id, lock_lifetime,
                                        wait_time_in_seconds) as local:
                yield local
            return
        if self._redis_away:
            self._redis_away = False
            log.warning("lock store: Redis answers again")
        try:
            yield acquired
        finally:
            try:
                self.cleanup(conversation_id, ticket)
            except _redis_errors() as error:
                self._unreleased[(conversation_id, ticket)] = None
                self._away(error)
