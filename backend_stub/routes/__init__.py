"""HTTP routes, one module per area; they parse, call a service, commit, present."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from ..errors import ApiError
from ..validation import InvalidValue, validate_policy_number

CustomerId = Annotated[int, Path(ge=1, le=2**31 - 1, description="customer id")]
PolicyNumberPath = Annotated[str, Path(max_length=32, description="e.g. AL10000001 or CV20000001")]


def parse_policy_number(raw: str) -> str:
    try:
        return validate_policy_number(raw)
    except InvalidValue as exc:
        raise ApiError(422, exc.code, exc.message) from None
