"""Anger and insistence: when the customer should be offered a person without asking.

Why a lexicon and not the NLU: the intent classifier reads what a message asks, not how
upset its writer is; «è la terza volta che ve lo chiedo, siete inutili» is about a code that
never arrived, and answering the code FAQ a fourth time is exactly what angers. Two signs,
both deliberately conservative (a wrong trigger sends a calm customer to a queue):

* **anger**: an insult or an exasperated phrase from :data:`ANGRY_PHRASES` (Italian, with
  the usual chat spellings), or shouting: most of a message of some length in capitals, or
  a run of exclamation marks with a complaint word;
* **insistence**: the same request three times in a row (this message and the two user
  messages before it read alike, :data:`SIMILAR`), or an explicit «ve l'ho già chiesto».

Pure functions: bot/channels/handoff_turns.py reads the previous texts from the tracker.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from difflib import SequenceMatcher

SIMILAR = 0.8
MIN_SHOUT_LETTERS = 12

ANGRY_PHRASES = (
    "siete inutili", "sei inutile", "vergogna", "vergognatevi", "schifo",
    "fate schifo", "fa schifo", "ridicolo", "ridicoli", "incompetenti", "incapaci",
    "truffa", "truffatori", "ladri", "basta con", "sono stufo", "sono stufa",
    "non ne posso piu", "mi avete stufato", "mi hai stufato", "mi sono rotto",
    "mi sono rotta", "incazzato", "incazzata", "che palle", "cazzo", "vaffanculo",
    "pessimo servizio", "servizio pessimo", "servizio vergognoso", "e assurdo",
    "e una presa in giro", "presa in giro", "mi prendete in giro", "mi prendi in giro",
    "non capisci niente", "non capisci nulla", "non servi a niente", "non servi a nulla",
    "denuncia all ivass", "faccio reclamo",
)
INSISTING_PHRASES = (
    "ve l ho gia chiesto", "te l ho gia chiesto", "te l ho gia detto", "ve l ho gia detto",
    "l ho gia scritto", "lo ripeto", "ripeto per l ennesima volta", "per l ennesima volta",
    "e la terza volta", "e la quarta volta", "quante volte devo",
)
COMPLAINT_WORDS = ("non funziona", "ancora", "sempre", "niente", "nessuno", "mai")

_WORD_RE = re.compile(r"[a-z0-9]+")


def plain(text: str) -> str:
    """Lower case, no accents or punctuation: «È la 3ª volta!!» -> «e la 3a volta»."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(_WORD_RE.findall(folded))


def _has(phrases: Sequence[str], text: str) -> bool:
    padded = f" {text} "
    return any(f" {p} " in padded for p in phrases)


def shouting(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= MIN_SHOUT_LETTERS and sum(c.isupper() for c in letters) / len(
            letters) > 0.8:
        return True
    return "!!!" in text and _has(COMPLAINT_WORDS, plain(text))


def angry(text: str) -> bool:
    return _has(ANGRY_PHRASES, plain(text)) or shouting(text)


def similar(a: str, b: str) -> bool:
    a, b = plain(a), plain(b)
    return bool(a) and bool(b) and SequenceMatcher(None, a, b).ratio() >= SIMILAR


def insisting(text: str, previous: Sequence[str]) -> bool:
    """``previous``: the customer's earlier texts, newest first."""
    if _has(INSISTING_PHRASES, plain(text)):
        return True
    return len(previous) >= 2 and all(similar(text, p) for p in previous[:2])


def upset(text: str, previous: Sequence[str]) -> bool:
    """Whether this message should go to a person (anger or insistence)."""
    if not text or text.startswith("/"):
        return False
    return angry(text) or insisting(text, previous)
