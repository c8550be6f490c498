"""Conversation locks when a holder dies: the waiting turn keeps its ticket (bot/lock_store.py).

Rasa lets a waiting turn's ticket expire like the holder's; a turn that took its ticket just
after a replica died holding the lock saw both expire together and then waited for ever.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from bot.lock_store import PatientInMemoryLockStore, ResilientRedisLockStore, renew
from tests.scale_out import redis_answers

LIFETIME = 1.0


async def _turn_after_a_dead_holder(store) -> float:
    conversation = f"c-{uuid.uuid4().hex[:8]}"
    store.issue_ticket(conversation, LIFETIME)  # taken by a replica that then died
    started = time.monotonic()
    async with store.lock(conversation, LIFETIME, wait_time_in_seconds=0.2):
        waited = time.monotonic() - started
    assert store.get_lock(conversation) is None  # nothing left behind for the next turn
    return waited


def test_a_turn_behind_a_dead_holder_goes_on_once_its_ticket_expires():
    waited = asyncio.run(asyncio.wait_for(
        _turn_after_a_dead_holder(PatientInMemoryLockStore()), timeout=10))
    assert LIFETIME - 0.3 <= waited < LIFETIME + 1.5


@pytest.mark.skipif(not redis_answers(), reason="Redis 127.0.0.1:6379 needed")
def test_the_same_on_redis_shared_by_replicas():
    store = ResilientRedisLockStore(host="127.0.0.1", port=6379,
                                    key_prefix=f"locktest{uuid.uuid4().hex[:6]}:")
    waited = asyncio.run(asyncio.wait_for(_turn_after_a_dead_holder(store), timeout=10))
    assert LIFETIME - 0.3 <= waited < LIFETIME + 1.5


def test_turns_of_one_conversation_still_go_one_at_a_time_in_order():
    store = PatientInMemoryLockStore()
    order: list[int] = []

    async def turn(number: int) -> None:
        async with store.lock("c", 5.0, wait_time_in_seconds=0.05):
            order.append(number)
            await asyncio.sleep(0.1)
            order.append(number)

    async def scenario() -> None:
        tasks = []
        for number in range(3):
            tasks.append(asyncio.create_task(turn(number)))
            await asyncio.sleep(0.01)
        await asyncio.gather(*tasks)

    asyncio.run(asyncio.wait_for(scenario(), timeout=5))
    assert order == [0, 0, 1, 1, 2, 2]


def test_an_expired_ticket_goes_back_in_its_place_and_a_fresh_one_is_left_alone():
    store = PatientInMemoryLockStore()
    first = store.issue_ticket("c", 5.0)
    mine = store.issue_ticket("c", 5.0)
    later = store.issue_ticket("c", 5.0)
    lock = store.get_lock("c")
    next(t for t in lock.tickets if t.number == mine).expires = time.time() - 1  # expired
    assert renew(lock, mine, 5.0)
    assert [t.number for t in lock.tickets] == [first, mine, later]
    assert not renew(lock, later, 5.0)  # more than half its life left: no write
