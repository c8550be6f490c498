"""The handoff queue: idempotent enqueue, positions per brand, one winner when operators
race, release/close/leave, and state that survives a restart (a new store on the same
database). Every test runs on SQLite and, when it answers, on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from handoff.clock import ROME
from handoff.queue import HandoffQueue, make_engine
from handoff.settings import DATABASE_URL_ENV
from handoff.states import EndedBy, IdentityLevel, Reason, Status
from tests.handoff.conftest import START, StepClock

WEB, WHATSAPP = "socketio", "whatsapp"


def ask(queue: HandoffQueue, conversation: str, brand: str = "cavita",
        reason: Reason = Reason.EXPLICIT_REQUEST):
    return queue.enqueue(conversation, WEB, brand, IdentityLevel.VERIFIED_CUSTOMER, reason)


def positions(queue: HandoffQueue, brand: str | None = None) -> list[tuple[int, str]]:
    return [(e.position, e.request.conversation_id) for e in queue.waiting(brand)]


def test_enqueue_records_the_request(queue: HandoffQueue):
    request = queue.enqueue("wa-1", WHATSAPP, "alleanza", "whatsapp_stepped_up", "anger")
    assert request.id > 0
    assert (request.conversation_id, request.channel, request.brand) == (
        "wa-1", WHATSAPP, "alleanza")
    assert request.identity_level is IdentityLevel.WHATSAPP_STEPPED_UP
    assert request.reason is Reason.ANGER
    assert request.status is Status.WAITING
    assert request.created_at == datetime(2026, 4, 13, 8, 0, tzinfo=timezone.utc)
    assert request.created_at == START
    assert (request.operator_id, request.taken_at, request.ended_at, request.ended_by) == (
        None, None, None, None)


def test_enqueue_is_idempotent_while_waiting_or_taken(queue: HandoffQueue, clock: StepClock):
    first = ask(queue, "c1")
    clock.advance(5)
    again = ask(queue, "c1", reason=Reason.TWO_MISUNDERSTANDINGS)
    assert again == first  # same row, first reason and time kept
    assert again.reason is Reason.EXPLICIT_REQUEST
    assert positions(queue) == [(1, "c1")]
    assert queue.take("c1", "op-anna")
    taken = ask(queue, "c1")
    assert (taken.id, taken.status, taken.operator_id) == (first.id, Status.TAKEN, "op-anna")
    assert positions(queue) == []


def test_a_returned_conversation_can_ask_again_and_queues_last(queue: HandoffQueue):
    first = ask(queue, "c1")
    ask(queue, "c2")
    assert queue.take("c1", "op-anna") and queue.release("c1", "op-anna")
    second = ask(queue, "c1")
    assert second.id != first.id and second.status is Status.WAITING
    assert positions(queue) == [(1, "c2"), (2, "c1")]


def test_positions_count_per_brand_in_arrival_order(queue: HandoffQueue):
    for conversation, brand in [("c1", "cavita"), ("a1", "alleanza"), ("c2", "cavita"),
                                ("c3", "cavita"), ("a2", "alleanza")]:
        ask(queue, conversation, brand)
    assert positions(queue) == [(1, "c1"), (1, "a1"), (2, "c2"), (3, "c3"), (2, "a2")]
    assert positions(queue, "cavita") == [(1, "c1"), (2, "c2"), (3, "c3")]
    assert [queue.position_of(c) for c in ("c1", "c2", "c3", "a1", "a2")] == [1, 2, 3, 1, 2]
    assert queue.position_of("unknown") is None

    assert queue.take("c1", "op-anna")
    assert queue.position_of("c1") is None
    assert [queue.position_of(c) for c in ("c2", "c3")] == [1, 2]
    assert queue.leave("c2")
    assert queue.position_of("c3") == 1
    assert queue.position_of("a2") == 2  # another brand's moves change nothing
    assert positions(queue) == [(1, "a1"), (1, "c3"), (2, "a2")]


def test_take_records_operator_and_time(queue: HandoffQueue, clock: StepClock):
    ask(queue, "c1")
    clock.advance(3)
    assert queue.take("c1", "op-anna")
    taken = queue.active("c1")
    assert (taken.status, taken.operator_id) == (Status.TAKEN, "op-anna")
    assert taken.taken_at == datetime(2026, 4, 13, 10, 3, tzinfo=ROME)
    assert not queue.take("c1", "op-bruno")  # already taken
    assert queue.active("c1").operator_id == "op-anna"
    assert not queue.take("never-asked", "op-bruno")


@pytest.mark.parametrize("operators", [2, 8])
def test_operators_racing_for_one_conversation_one_wins(
        open_queue: Callable[[], HandoffQueue], operators: int):
    ask(open_queue(), "c1")
    # One store per operator, as separate console processes would have.
    stores = [open_queue() for _ in range(operators)]
    start = threading.Barrier(operators)
    results: dict[str, bool] = {}

    def take(store: HandoffQueue, operator: str) -> None:
        start.wait()
        results[operator] = store.take("c1", operator)

    threads = [threading.Thread(target=take, args=(store, f"op-{i}"))
               for i, store in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == operators
    winners = [operator for operator, won in results.items() if won]
    assert len(winners) == 1
    assert stores[0].active("c1").operator_id == winners[0]


def test_concurrent_enqueues_of_one_conversation_make_one_request(
        open_queue: Callable[[], HandoffQueue]):
    stores = [open_queue() for _ in range(4)]
    start = threading.Barrier(len(stores))
    ids: list[int] = []

    def enqueue(store: HandoffQueue) -> None:
        start.wait()
        ids.append(ask(store, "c1").id)

    threads = [threading.Thread(target=enqueue, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(ids) == 4 and len(set(ids)) == 1
    assert positions(stores[0]) == [(1, "c1")]


def test_release_gives_the_conversation_back(queue: HandoffQueue, clock: StepClock):
    ask(queue, "c1")
    assert queue.take("c1", "op-anna")
    assert not queue.release("c1", "op-bruno")  # only the operator who took it
    clock.advance(10)
    assert queue.release("c1", "op-anna")
    assert queue.active("c1") is None
    assert not queue.release("c1", "op-anna")  # once


def test_close_ends_the_conversation(queue: HandoffQueue):
    first = ask(queue, "c1")
    assert not queue.close("c1", "op-anna")  # nobody took it yet
    assert queue.take("c1", "op-anna")
    assert not queue.close("c1", "op-bruno")
    assert queue.close("c1", "op-anna")
    assert queue.active("c1") is None
    assert not queue.take("c1", "op-bruno")
    ended = queue.get(first.id)
    assert (ended.status, ended.ended_by, ended.operator_id) == (
        Status.CLOSED, EndedBy.OPERATOR, "op-anna")
    assert ended.ended_at == START


def test_released_and_left_requests_are_returned(queue: HandoffQueue, clock: StepClock):
    released, left = ask(queue, "c1"), ask(queue, "c2")
    assert queue.take("c1", "op-anna")
    clock.advance(7)
    assert queue.release("c1", "op-anna") and queue.leave("c2")
    after_release = queue.get(released.id)
    after_leave = queue.get(left.id)
    assert (after_release.status, after_release.ended_by) == (Status.RETURNED, EndedBy.OPERATOR)
    assert (after_leave.status, after_leave.ended_by) == (Status.RETURNED, EndedBy.CUSTOMER)
    assert after_leave.ended_at == datetime(2026, 4, 13, 10, 7, tzinfo=ROME)
    assert after_leave.operator_id is None


def test_leave_only_while_waiting(queue: HandoffQueue):
    ask(queue, "c1")
    ask(queue, "c2")
    assert queue.take("c2", "op-anna")
    assert not queue.leave("c2")  # an operator is already talking to them
    assert queue.active("c2").status is Status.TAKEN
    assert queue.leave("c1")
    assert not queue.leave("c1")
    assert not queue.take("c1", "op-bruno")
    assert positions(queue) == []


def test_a_restart_keeps_the_queue(open_queue: Callable[[], HandoffQueue]):
    before = open_queue()
    for conversation in ("c1", "c2", "c3"):
        ask(before, conversation)
    assert before.take("c1", "op-anna")
    before.dispose()

    after = open_queue()  # a new process on the same database
    assert positions(after) == [(1, "c2"), (2, "c3")]
    assert after.active("c1").operator_id == "op-anna"
    assert ask(after, "c2").id == before.active("c2").id  # still idempotent
    assert after.close("c1", "op-anna")
    assert after.take("c2", "op-bruno")
    assert open_queue().position_of("c3") == 1


def test_bad_values_are_refused(queue: HandoffQueue):
    with pytest.raises(ValueError):
        queue.enqueue("c1", WEB, "cavita", "anonymous", Reason.ANGER)
    with pytest.raises(ValueError):
        queue.enqueue("c1", WEB, "cavita", IdentityLevel.VISITOR, "boredom")
    with pytest.raises(KeyError):
        queue.enqueue("c1", WEB, "nessuno", IdentityLevel.VISITOR, Reason.ANGER)
    assert positions(queue) == []


def test_the_default_database_is_an_sqlite_file_from_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "nested" / "handoff.sqlite3"
    monkeypatch.setenv(DATABASE_URL_ENV, f"sqlite:///{path}")
    queue = HandoffQueue(clock=StepClock())
    try:
        ask(queue, "c1")
        assert path.is_file()
        assert queue.url == f"sqlite:///{path}"
    finally:
        queue.dispose()


def test_an_in_memory_database_is_shared_by_threads():
    engine_queue = HandoffQueue("sqlite://", clock=StepClock())
    try:
        ask(engine_queue, "c1")
        seen: list[int | None] = []
        thread = threading.Thread(target=lambda: seen.append(engine_queue.position_of("c1")))
        thread.start()
        thread.join()
        assert seen == [1]
    finally:
        engine_queue.dispose()
    assert make_engine("sqlite://").dialect.name == "sqlite"
