"""Reads an unsure follow-up in the light of the previous question's family of intents.

Why: the follow-up table (topics.yml) lists the follow-ups someone thought of; customers ask
others («cosa mi chiedono?» after registration, «e se lo perdo?» after the FEA). On its own
such a message is unsure, but the classifier's ranking usually still holds the right
reading a few places down, inside the same family as the question just answered. The
families are the domain's own files, one per subject (domain/registrazione_accesso.yml,
domain/pagamenti.yml, ...): a subject added to the domain brings its family with it, and
nothing here lists phrasings.

A dependent message (a reference or a dependent opening, see topics.yml) that the
classifier reads below ``trust_above`` takes the best reading of the ranking that belongs
to the family of the previous question, when that reading is at least ``floor``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Sequence

import yaml

from bot.domain_files import DOMAIN_DIR, domain_files
from bot.nlu.topic_table import Topics, plain_text

# Families that are no subject: small talk answers nothing a follow-up could depend on.
NO_SUBJECT_FILES = frozenset({"core"})


def intent_families(directory: Path = DOMAIN_DIR) -> Dict[str, str]:
    """Intent -> the name of the domain file that declares it (its family)."""
    families: Dict[str, str] = {}
    for path in domain_files(directory):
        if path.stem in NO_SUBJECT_FILES:
            continue
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in raw.get("intents") or ():
            name = next(iter(item)) if isinstance(item, dict) else str(item)
            families[name] = path.stem
    return families


@dataclass(frozen=True)
class ContextRanking:
    families: Mapping[str, str]
    floor: float = 0.05
    trust_above: float = 0.8
    max_words: int = 10
    # A message naming another subject keeps a reading this sure (the fallback's threshold:
    # below it the customer would be asked back anyway).
    names_other_above: float = 0.4

    @classmethod
    def load(cls, topics_file: Path, directory: Path = DOMAIN_DIR) -> ContextRanking:
        """Its thresholds from topics.yml (``in_context``), its families from the domain."""
        raw = yaml.safe_load(topics_file.read_text(encoding="utf-8")) or {}
        settings = raw.get("in_context") or {}
        return cls(families=intent_families(directory),
                   floor=float(settings.get("floor", 0.05)),
                   trust_above=float(settings.get("trust_above", 0.8)),
                   max_words=int(settings.get("max_words", 10)),
                   names_other_above=float(settings.get("names_other_above", 0.4)))

    def family_of(self, intent: str) -> frozenset[str]:
        """Every intent in the family of ``intent`` (none for small talk)."""
        family = self.families.get(intent)
        return frozenset(i for i, f in self.families.items() if f == family) \
            if family else frozenset()

    def choose(self, words: str, ranking: Sequence[Mapping[str, Any]],
               family: frozenset[str], weak_readings: frozenset[str], previous: str,
               names: Callable[[str, str], bool | None]) -> str | None:
        """The in-family reading for an unsure dependent message, or None.

        ``words``: the plain text, already known to be dependent; ``family``: the intents
        of the previous question's family. A family is a whole domain file: another of its
        intents beats the previous question only when the message names its subject
        (``names``) or the previous question is not in the ranking at all: «quanto tempo
        ci vuole?» after the change of address is that change, not the code's validity."""
        if not words or len(words.split()) > self.max_words or not ranking:
            return None
        top = ranking[0]
        top_name, top_confidence = str(top.get("name") or ""), float(top.get("confidence") or 0)
        if top_name not in weak_readings and top_confidence >= self.trust_above:
            return None
        plausible = [str(e.get("name") or "") for e in ranking
                     if float(e.get("confidence") or 0) >= self.floor]
        chosen = next((name for name in plausible if name in family), None)
        if (chosen is not None and chosen != previous
                and previous in plausible and names(chosen, words) is False):
            return previous
        return chosen


def in_context(ranker: ContextRanking, topics: Topics, text: str, recent: Sequence[str],
               form: str | None, reading: Mapping[str, Any],
               ranking: Sequence[Mapping[str, Any]]) -> str | None:
    """The in-family reading of a dependent message, or None: inside a form (its own
    questions lead), for a refusal, without a previous question, or when the message names
    another subject and the classifier is sure enough of it to answer without asking back."""
    words = plain_text(text)
    if (form or topics.never_when.search(words)
            or not (topics.dependent.search(words) or topics.references.search(words))):
        return None
    previous = topics.previous_question(recent)
    if previous is None:
        return None
    family = ranker.family_of(previous)
    own = [t for t in topics.topics if t.opened_by & family]
    if (topics.names_another_subject(words, own)
            and float(reading.get("confidence") or 0.0) >= ranker.names_other_above):
        return None
    return ranker.choose(words, ranking_of(reading, ranking), family, topics.weak_readings,
                         previous, topics.names_subject_of)


def ranking_of(reading: Mapping[str, Any], ranking: Sequence[Mapping[str, Any]]
               ) -> List[Mapping[str, Any]]:
    """The classifier's ranking, best first, with its top reading at the head."""
    ordered = sorted(ranking, key=lambda r: -float(r.get("confidence") or 0))
    if reading.get("name") and (not ordered or ordered[0].get("name") != reading.get("name")):
        ordered.insert(0, reading)
    return ordered
