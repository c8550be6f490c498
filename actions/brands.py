"""Which insurer a conversation belongs to.

The brand only selects which company's answers are shown; it never grants access to
personal data, so it may come from channel metadata the client sends.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

BRANDS = ("alleanza", "cavita")
DEFAULT_BRAND_ENV = "ASSISTANT_DEFAULT_BRAND"

_ALIASES = {
    "alleanza": "alleanza",
    "alleanza assicurazioni": "alleanza",
    "cavita": "cavita",
    "ca vita": "cavita",
    "ca-vita": "cavita",
    "ca_vita": "cavita",
    "credit agricole vita": "cavita",
}


def normalise_brand(value: Any) -> str | None:
    """Map what a channel may send ("CA Vita", "ca-vita", ...) to a slot value."""
    if not isinstance(value, str):
        return None
    return _ALIASES.get(" ".join(value.strip().lower().split()))


def default_brand() -> str:
    """The deployment's brand; a typo in the setting falls back to alleanza, loudly."""
    configured = os.environ.get(DEFAULT_BRAND_ENV, "alleanza")
    brand = normalise_brand(configured)
    if brand is None:
        raise ValueError(
            f"{DEFAULT_BRAND_ENV}={configured!r} is not one of {', '.join(BRANDS)}"
        )
    return brand


def brand_from_metadata(
    metadata: Mapping[str, Any] | None, fallback: str | None = None
) -> str:
    """Brand from the channel's metadata, else `fallback`, else the deployment default."""
    if metadata:
        brand = normalise_brand(metadata.get("brand"))
        if brand:
            return brand
    return normalise_brand(fallback) or default_brand()
