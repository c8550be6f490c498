"""The queue of conversations waiting for, or talking with, a human operator.

Why all state in the database: the Rasa processes, the operators' console and a restart must
all see the same queue, so nothing is kept in a process. Every change is one conditional
UPDATE whose row count says whether it happened: when two operators take the same
conversation at once, the database lets exactly one of them win. SQLite (a file) by default,
PostgreSQL by URL (``HANDOFF_DATABASE_URL``) where several processes share the queue.

Positions count per brand, in arrival order: each insurer has its own operators.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool

import brand_registry
from handoff.clock import Clock, system_clock, to_utc
from handoff.schema import metadata, requests
from handoff.settings import HandoffSettings
from handoff.states import ACTIVE, EndedBy, IdentityLevel, Reason, Status

# Seconds an SQLite writer waits for another's lock before failing (racing operators).
SQLITE_BUSY_SECONDS = 30
_ENQUEUE_ATTEMPTS = 3


@dataclass(frozen=True)
class HandoffRequest:
    """One request for a person, as the database holds it (times aware, in UTC)."""

    id: int
    conversation_id: str
    channel: str
    brand: str
    identity_level: IdentityLevel
    reason: Reason
    status: Status
    created_at: datetime
    operator_id: str | None = None
    taken_at: datetime | None = None
    ended_at: datetime | None = None
    ended_by: EndedBy | None = None


@dataclass(frozen=True)
class QueueEntry:
    """A waiting request and its place among its brand's waiting ones (1 = next)."""

    position: int
    request: HandoffRequest


def _request(row: Mapping[str, Any]) -> HandoffRequest:
    return HandoffRequest(
        id=row["id"],
        conversation_id=row["conversation_id"],
        channel=row["channel"],
        brand=row["brand"],
        identity_level=IdentityLevel(row["identity_level"]),
        reason=Reason(row["reason"]),
        status=Status(row["status"]),
        created_at=row["created_at"],
        operator_id=row["operator_id"],
        taken_at=row["taken_at"],
        ended_at=row["ended_at"],
        ended_by=EndedBy(row["ended_by"]) if row["ended_by"] else None,
    )


def make_engine(url: str) -> Engine:
    """An engine for ``url``; an SQLite file's folder is created, its lock waits are long."""
    parsed = make_url(url)
    options: dict[str, Any] = {"future": True}
    if parsed.get_backend_name() == "sqlite":
        options["connect_args"] = {"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False}
        if parsed.database in (None, "", ":memory:"):
            options["poolclass"] = StaticPool  # one in-memory database for every thread
        else:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(url, **options)


class HandoffDatabase:
    """The handoff database at ``url`` (``HANDOFF_DATABASE_URL`` by default), its tables
    created on first use, and the clock its times are taken from."""

    def __init__(self, url: str | None = None, clock: Clock = system_clock) -> None:
        self.url = url or HandoffSettings.from_env().database_url
        self._engine = make_engine(self.url)
        self._clock = clock
        metadata.create_all(self._engine)

    def dispose(self) -> None:
        """Close the pooled connections (the state stays in the database)."""
        self._engine.dispose()

    def _now(self) -> datetime:
        return to_utc(self._clock())


class HandoffQueue(HandoffDatabase):
    """Enqueue, list, take, release, close and leave handoff requests (see the module doc)."""

    def _one(self, where: Any) -> HandoffRequest | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(requests).where(where)).mappings().first()
        return _request(row) if row else None

    def get(self, request_id: int) -> HandoffRequest | None:
        """One request by id, whatever its status (how a request ended)."""
        return self._one(requests.c.id == request_id)

    def active(self, conversation_id: str) -> HandoffRequest | None:
        """The conversation's waiting or taken request, if it has one."""
        return self._one(sa.and_(requests.c.conversation_id == conversation_id,
                                 requests.c.status.in_([s.value for s in ACTIVE])))

    def enqueue(self, conversation_id: str, channel: str, brand: str,
                identity_level: IdentityLevel | str, reason: Reason | str) -> HandoffRequest:
        """Put the conversation in its brand's queue; while it already has a waiting or taken
        request, that request is returned unchanged (asking twice keeps the place)."""
        brand_registry.brand(brand)  # KeyError for an unregistered brand
        values = {
            "conversation_id": conversation_id,
            "channel": channel,
            "brand": brand,
            "identity_level": IdentityLevel(identity_level).value,
            "reason": Reason(reason).value,
            "status": Status.WAITING.value,
        }
        for _ in range(_ENQUEUE_ATTEMPTS):
            existing = self.active(conversation_id)
            if existing is not None:
                return existing
            try:
                with self._engine.begin() as conn:
                    result = conn.execute(requests.insert().values(created_at=self._now(),
                                                                   **values))
                    new_id = result.inserted_primary_key[0]
            except sa.exc.IntegrityError:
                continue  # another process enqueued it first: return theirs
            created = self.get(new_id)
            assert created is not None
            return created
        raise RuntimeError(f"could not enqueue {conversation_id!r}: it keeps changing")

    def waiting(self, brand: str | None = None) -> list[QueueEntry]:
        """Waiting requests in arrival order, each with its position in its brand's queue."""
        query = (sa.select(requests).where(requests.c.status == Status.WAITING.value)
                 .order_by(requests.c.id))
        if brand is not None:
            query = query.where(requests.c.brand == brand)
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        seen: Counter[str] = Counter()
        entries = []
        for row in rows:
            seen[row["brand"]] += 1
            entries.append(QueueEntry(seen[row["brand"]], _request(row)))
        return entries

    def held_by(self, operator_id: str) -> list[HandoffRequest]:
        """The conversations an operator has taken and not yet ended, oldest first."""
        query = (sa.select(requests)
                 .where(requests.c.status == Status.TAKEN.value,
                        requests.c.operator_id == operator_id)
                 .order_by(requests.c.id))
        with self._engine.connect() as conn:
            return [_request(row) for row in conn.execute(query).mappings().all()]

    def position_of(self, conversation_id: str) -> int | None:
        """1 for the next one served in its brand's queue; None when it is not waiting."""
        mine = requests.alias("mine")
        query = (
            sa.select(sa.func.count())
            .select_from(requests.join(mine, requests.c.brand == mine.c.brand))
            .where(mine.c.conversation_id == conversation_id,
                   mine.c.status == Status.WAITING.value,
                   requests.c.status == Status.WAITING.value,
                   requests.c.id <= mine.c.id)
        )
        with self._engine.connect() as conn:
            ahead_and_me = conn.execute(query).scalar_one()
        return ahead_and_me or None

    def _change(self, where: Any, **values: Any) -> bool:
        with self._engine.begin() as conn:
            return conn.execute(requests.update().where(where).values(**values)).rowcount == 1

    def take(self, conversation_id: str, operator_id: str) -> bool:
        """The operator takes the waiting conversation; False when someone else was first
        (or it is not waiting): of operators racing for it, exactly one gets True."""
        return self._change(
            sa.and_(requests.c.conversation_id == conversation_id,
                    requests.c.status == Status.WAITING.value),
            status=Status.TAKEN.value, operator_id=operator_id, taken_at=self._now())

    def _end_taken(self, conversation_id: str, operator_id: str, status: Status) -> bool:
        return self._change(
            sa.and_(requests.c.conversation_id == conversation_id,
                    requests.c.status == Status.TAKEN.value,
                    requests.c.operator_id == operator_id),
            status=status.value, ended_at=self._now(), ended_by=EndedBy.OPERATOR.value)

    def release(self, conversation_id: str, operator_id: str) -> bool:
        """The operator who took it gives the conversation back to the assistant."""
        return self._end_taken(conversation_id, operator_id, Status.RETURNED)

    def close(self, conversation_id: str, operator_id: str) -> bool:
        """The operator who took it ends the conversation."""
        return self._end_taken(conversation_id, operator_id, Status.CLOSED)

    def leave(self, conversation_id: str) -> bool:
        """The customer leaves the queue before an operator takes it; the assistant goes on."""
        return self._change(
            sa.and_(requests.c.conversation_id == conversation_id,
                    requests.c.status == Status.WAITING.value),
            status=Status.RETURNED.value, ended_at=self._now(),
            ended_by=EndedBy.CUSTOMER.value)
