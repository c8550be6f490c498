"""Rasa's Redis lock store that keeps answering while Redis is away.

endpoints.yml names it ``type: bot.lock_store.ResilientRedisLockStore`` with the settings of
Rasa's ``type: redis`` (bot/endpoints_config.py renders them from ``REDIS_URL``).

Why: with Rasa's own store, a Redis that stops answering makes every turn fail with a
``LockError`` (the customer gets nothing). Here a turn whose ticket cannot be issued or
checked in Redis takes a lock of this process instead (Rasa's in-memory lock store) and goes
on; a warning is logged once per outage and ``assistant_lock_fallbacks_total`` counts
them (bot/ops_metrics.py). Once Redis answers again, turns use it again.

What that gives up, during the outage only: two replicas may handle two messages of one
conversation at the same moment (a person typing on one channel waits for the answers, so
this needs two fast messages landing on two replicas). The tracker store keeps every event
either way (bot/tracker_store.py).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator

from rasa.core.lock import TicketLock
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


class ResilientRedisLockStore(RedisLockStore):
    """Rasa's ``RedisLockStore``; a process-local lock while Redis is away (docstring)."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url, **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)
        self._local = InMemoryLockStore()
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
