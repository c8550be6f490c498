"""Run our actions the way the action server does: a rasa_sdk Tracker built from what a
channel would send (metadata with a signed identity_token), a real dispatcher, and the
real backend stub behind BACKEND_URL."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.domain_files import domain_dict
from identity.minting import mint_channel_assertion, mint_customer_token

_RESPONSES = domain_dict()["responses"]


def customer_metadata(customer_id: int, brand: str = "alleanza") -> dict:
    return {"identity_token": mint_customer_token(customer_id, brand), "brand": brand}


def whatsapp_metadata(phone: str, brand: str | None = None) -> dict:
    return {"identity_token": mint_channel_assertion(phone, brand=brand)}


def make_tracker(
    metadata: dict | None = None,
    slots: dict | None = None,
    text: str = "messaggio",
    intent: str = "x",
    active_loop: str | None = None,
) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []}
    if metadata is not None:
        latest["metadata"] = metadata
    loop = {"name": active_loop} if active_loop else {}
    return Tracker("u1", dict(slots or {}), latest, [], False, None, loop, "action_listen")


def run(action, tracker: Tracker, domain: dict | None = None):
    """(messages, events) of one action run."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain or {}))
    return dispatcher.messages, events


def slots_of(events) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def responses(messages) -> list[str]:
    return [m.get("response") for m in messages]


def render(message: dict, brand: str = "alleanza") -> str:
    """The Italian text the user sees: the brand's variation, placeholders filled."""
    variations = _RESPONSES[message["response"]]
    chosen = next(
        (v for v in variations if v.get("condition") and v["condition"][0]["value"] == brand),
        next(v for v in variations if not v.get("condition")),
    )
    values = {k: v for k, v in message.items() if k not in ("response", "template")}
    values.update(message.get("kwargs") or {})
    text = chosen["text"]
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text
