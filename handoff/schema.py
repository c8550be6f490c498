"""The queue's one table, in SQLAlchemy Core (1.4 and 2.0 alike), for SQLite and PostgreSQL.

Why a partial unique index: «one open request per conversation» must hold even when two
processes enqueue the same conversation at once; the database refuses the second row, and
no lock held in a process is needed. Times are stored as naive UTC (SQLite keeps no zone)
and come back aware.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from handoff.clock import to_utc
from handoff.states import ACTIVE

metadata = sa.MetaData()


class UtcDateTime(TypeDecorator):
    """Aware datetimes in, naive UTC in the column, aware UTC out."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> datetime | None:
        return None if value is None else to_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


requests = sa.Table(
    "handoff_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("brand", sa.String(64), nullable=False),
    sa.Column("identity_level", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("operator_id", sa.String(255)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("taken_at", UtcDateTime),
    sa.Column("ended_at", UtcDateTime),
    sa.Column("ended_by", sa.String(16)),
)

_active = sa.text("status IN ({})".format(", ".join(f"'{s.value}'" for s in ACTIVE)))
sa.Index("handoff_one_open_request", requests.c.conversation_id, unique=True,
         sqlite_where=_active, postgresql_where=_active)
sa.Index("handoff_queue_order", requests.c.status, requests.c.brand, requests.c.id)

# Operators whose console asked for the queue lately (handoff/presence.py): «online» is a
# recent last_seen, so a closed browser tab goes offline by itself.
operators = sa.Table(
    "handoff_operators",
    metadata,
    sa.Column("operator_id", sa.String(255), primary_key=True),
    sa.Column("brands", sa.String(255), nullable=False),  # comma-separated brand codes
    sa.Column("last_seen", UtcDateTime, nullable=False),
)

# Callback requests left when no operator could take the conversation (WhatsApp out of
# hours): what the operators call back, with a masked transcript summary.
callbacks = sa.Table(
    "handoff_callbacks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(255), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("brand", sa.String(64), nullable=False),
    sa.Column("identity_level", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("done_at", UtcDateTime),
)
