"""Queue fixtures: each test gets an empty database, SQLite always, PostgreSQL when it answers
on 127.0.0.1:5432 (tests/scale_out.py creates a database of its own and drops it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest

from handoff.clock import ROME
from handoff.queue import HandoffQueue
from tests.scale_out import created_database_url, postgres_answers

START = datetime(2026, 4, 13, 10, 0, tzinfo=ROME)


class StepClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, at: datetime = START) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, minutes: int) -> datetime:
        self.at += timedelta(minutes=minutes)
        return self.at


BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.skipif(
        not postgres_answers(), reason="no PostgreSQL server answers on 127.0.0.1:5432")),
]


@pytest.fixture(params=BACKENDS)
def queue_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'handoff.sqlite3'}"
    else:
        with created_database_url() as url:
            yield url


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def open_queue(queue_url: str, clock: StepClock) -> Iterator[Callable[[], HandoffQueue]]:
    """Opens queues on the test's database (a new object = a restarted process)."""
    opened: list[HandoffQueue] = []

    def factory() -> HandoffQueue:
        opened.append(HandoffQueue(queue_url, clock=clock))
        return opened[-1]

    yield factory
    for queue in opened:
        queue.dispose()


@pytest.fixture
def queue(open_queue: Callable[[], HandoffQueue]) -> HandoffQueue:
    return open_queue()
