"""Which insurer a conversation belongs to, and what that insurer has.

The facts live in the shared brand registry (``brand_registry/brands.yml``); this module
maps what channels send to a registered brand, for the channels, the actions, the scripts
and the token checks (a customer token names its brand). The brand only selects which company's
answers are shown; it never grants access to personal data, so it may come from channel
metadata the client sends.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from brand_registry import Brand, brand, codes, registry

BRANDS = codes()
DEFAULT_BRAND_ENV = "ASSISTANT_DEFAULT_BRAND"

__all__ = ["BRANDS", "DEFAULT_BRAND_ENV", "Brand", "brand", "brand_facts", "normalise_brand",
           "default_brand", "brand_from_metadata"]


def brand_facts(code: str | None) -> Brand:
    """The registry entry of ``code``, else of the deployment default."""
    return brand(normalise_brand(code) or default_brand())


def normalise_brand(value: Any) -> str | None:
    """Map what a channel may send ("CA Vita", "ca-vita", ...) to a slot value."""
    if not isinstance(value, str):
        return None
    wanted = " ".join(value.strip().lower().split())
    for code, entry in registry().items():
        if wanted == code or wanted in entry.aliases:
            return code
    return None


def default_brand() -> str:
    """The deployment's brand; a typo in the setting stops the process, loudly."""
    configured = os.environ.get(DEFAULT_BRAND_ENV, BRANDS[0])
    found = normalise_brand(configured)
    if found is None:
        raise ValueError(
            f"{DEFAULT_BRAND_ENV}={configured!r} is not one of {', '.join(BRANDS)}"
        )
    return found


def brand_from_metadata(
    metadata: Mapping[str, Any] | None, fallback: str | None = None
) -> str:
    """Brand from the channel's metadata, else `fallback`, else the deployment default."""
    if metadata:
        found = normalise_brand(metadata.get("brand"))
        if found:
            return found
    return normalise_brand(fallback) or default_brand()
