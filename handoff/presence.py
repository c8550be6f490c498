"""Who is online among the operators, and the callback requests left for them.

Why in the queue's database: the action server decides «queue or ticket» from whether an
operator of the brand is online, while the consoles are served by the Rasa replicas; both
must read the same answer, and a restart must not make operators look offline. An operator
is online while their console keeps asking for the queue (every second or so): the last
time it asked is ``last_seen``; ``HANDOFF_ONLINE_SECONDS`` without a request and they are
offline, so a closed tab needs no logout.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from handoff.clock import Clock, system_clock
from handoff.queue import HandoffDatabase
from handoff.schema import callbacks, operators
from handoff.settings import HandoffSettings
from handoff.states import IdentityLevel, Reason


@dataclass(frozen=True)
class Callback:
    """A request to be called back (or written to) when operators are in."""

    id: int
    conversation_id: str
    channel: str
    brand: str
    identity_level: str
    reason: str
    summary: str
    created_at: datetime


class Presence(HandoffDatabase):
    """Operators' heartbeats and callback requests, in the handoff database."""

    def __init__(self, url: str | None = None, clock: Clock = system_clock,
                 online_seconds: float | None = None) -> None:
        settings = HandoffSettings.from_env()
        super().__init__(url or settings.database_url, clock)
        self.online_seconds = online_seconds or settings.online_seconds

    def seen(self, operator_id: str, brands: Iterable[str]) -> None:
        """The operator's console asked for the queue now: they are online."""
        values = {"brands": ",".join(brands), "last_seen": self._now()}
        where = operators.c.operator_id == operator_id
        with self._engine.begin() as conn:
            if conn.execute(operators.update().where(where).values(**values)).rowcount:
                return
        try:
            with self._engine.begin() as conn:
                conn.execute(operators.insert().values(operator_id=operator_id, **values))
        except sa.exc.IntegrityError:  # a second console of the same operator, same instant
            with self._engine.begin() as conn:
                conn.execute(operators.update().where(where).values(**values))

    def gone(self, operator_id: str) -> None:
        """The operator logged out: offline at once."""
        with self._engine.begin() as conn:
            conn.execute(operators.delete().where(operators.c.operator_id == operator_id))

    def online(self, brand: str) -> int:
        """How many operators serving ``brand`` are online now."""
        since = self._now() - timedelta(seconds=self.online_seconds)
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(operators.c.brands)
                                .where(operators.c.last_seen >= since)).all()
        return sum(1 for (brands,) in rows if brand in brands.split(","))

    def ask_callback(self, conversation_id: str, channel: str, brand: str,
                     identity_level: IdentityLevel | str, reason: Reason | str,
                     summary: str) -> Callback:
        """Record a callback request (one more for the same conversation is kept too)."""
        values: dict[str, Any] = {
            "conversation_id": conversation_id, "channel": channel, "brand": brand,
            "identity_level": IdentityLevel(identity_level).value,
            "reason": Reason(reason).value, "summary": summary, "created_at": self._now(),
        }
        with self._engine.begin() as conn:
            new_id = conn.execute(callbacks.insert().values(**values)).inserted_primary_key[0]
        return Callback(id=new_id, **values)

    def callbacks(self, brand: str | None = None) -> list[Callback]:
        """Open callback requests, oldest first."""
        query = (sa.select(callbacks).where(callbacks.c.done_at.is_(None))
                 .order_by(callbacks.c.id))
        if brand is not None:
            query = query.where(callbacks.c.brand == brand)
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [Callback(**{k: row[k] for k in Callback.__dataclass_fields__}) for row in rows]
