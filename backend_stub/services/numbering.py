"""Human-readable numbers for tickets and requests: ``<brand>-<kind>-<year>-<id>``."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Numbered(Protocol):
    id: int
    number: str | None


def assign_number(obj: Numbered, brand_prefix: str, kind: str, now: datetime) -> str:
    """Set ``obj.number`` from its (flushed) primary key, e.g. ``CV-TK-2025-000012``."""
    obj.number = f"{brand_prefix}-{kind}-{now:%Y}-{obj.id:06d}"
    return obj.number
