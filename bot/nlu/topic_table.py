"""The follow-up table (bot/nlu/topics.yml) as data: subjects, their follow-ups, boundaries.

Why its own module: the table is read by the follow-up component (bot/nlu/follow_ups.py)
and by the in-context ranking (bot/nlu/context_ranking.py); neither owns it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, Dict, List, Sequence

import yaml

from actions.form_cancel import plain

TOPICS_FILE = Path(__file__).with_name("topics.yml")


def plain_text(text: str) -> str:
    """Lower case, no accents (actions/form_cancel.plain), words separated by single spaces."""
    return " ".join(re.findall(r"[a-z0-9]+", plain(text)))


def _starts(cues: Sequence[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(f"(?:{cue})" for cue in cues) + ")")


@dataclass(frozen=True)
class Ask:
    cues: re.Pattern[str]
    intent: str


@dataclass(frozen=True)
class Topic:
    name: str
    opened_by: frozenset[str]
    names: re.Pattern[str]
    asks: tuple[Ask, ...]
    answered_by: frozenset[str] = frozenset()
    # Words pointing at the subject's object («i SUOI recapiti», «che polizze HA») make a
    # matching follow-up win over any reading of the message alone.
    points_at: re.Pattern[str] = re.compile("(?!)")
    earliest_cue: bool = False


@dataclass(frozen=True)
class Boundary:
    """``source`` read as ``target`` when the message matches ``when`` and not ``unless``."""

    source: str
    target: str
    when: re.Pattern[str]
    unless: re.Pattern[str]


@dataclass(frozen=True)
class Topics:
    topics: tuple[Topic, ...]
    carry_over: frozenset[str]
    other_subjects: re.Pattern[str]
    never_when: re.Pattern[str]
    max_words: int
    trust_above: float = 1.01
    trust_above_with_reference: float = 1.01
    trust_above_after_answer: float = 1.01
    same_subject_below: float = 0.0
    same_subject_max_words: int = 8
    dependent: re.Pattern[str] = re.compile("(?!)")
    same_subject_intents: re.Pattern[str] = re.compile("(?!)")
    # Readings that are never a question («grazie», «ciao», «ok»): a dependent message that
    # asks something («e allora come faccio?») and reads as one of them is misread, however
    # sure the classifier is.
    never_questions: frozenset[str] = frozenset()
    question: re.Pattern[str] = re.compile("(?!)")
    weak_readings: frozenset[str] = frozenset()
    references: re.Pattern[str] = re.compile("(?!)")
    forms: Dict[str, str] = field(default_factory=dict)
    boundaries: tuple[Boundary, ...] = ()
    siblings: tuple[frozenset[str], ...] = ()

    @classmethod
    def load(cls, path: Path = TOPICS_FILE) -> Topics:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        topics = tuple(
            Topic(
                name=name,
                opened_by=frozenset(spec.get("opened_by") or ()),
                names=_starts(spec.get("names") or ["(?!)"]),
                asks=tuple(Ask(_starts(ask["cues"]), str(ask["intent"]))
                           for ask in spec.get("asks") or ()),
                answered_by=frozenset(spec.get("answered_by") or ()),
                points_at=re.compile("|".join(spec.get("points_at") or ["(?!)"])),
                earliest_cue=bool(spec.get("earliest_cue")),
            )
            for name, spec in (raw.get("topics") or {}).items()
        )
        return cls(
            topics=topics,
            carry_over=frozenset(raw.get("carry_over") or ()),
            other_subjects=_starts(raw.get("other_subjects") or ["(?!)"]),
            never_when=re.compile("|".join(raw.get("never_when") or ["(?!)"])),
            max_words=int(raw.get("max_words") or 12),
            trust_above=float(raw.get("trust_above") or 1.01),
            trust_above_with_reference=float(raw.get("trust_above_with_reference") or 1.01),
            trust_above_after_answer=float(raw.get("trust_above_after_answer") or 1.01),
            same_subject_below=float((raw.get("same_subject") or {}).get("below") or 0.0),
            same_subject_max_words=int((raw.get("same_subject") or {}).get("max_words") or 8),
            dependent=re.compile("|".join((raw.get("same_subject") or {}).get("dependent")
                                          or ["(?!)"])),
            same_subject_intents=re.compile("|".join(
                (raw.get("same_subject") or {}).get("intents") or ["(?!)"])),
            never_questions=frozenset((raw.get("same_subject") or {}).get("never_questions")
                                      or ()),
            question=re.compile("|".join((raw.get("same_subject") or {}).get("question")
                                         or ["(?!)"])),
            weak_readings=frozenset(raw.get("weak_readings") or ()),
            references=re.compile("|".join(raw.get("references") or ["(?!)"])),
            forms={str(k): str(v) for k, v in (raw.get("forms") or {}).items()},
            boundaries=tuple(
                Boundary(str(b["from"]), str(b["to"]), re.compile("|".join(b["when"])),
                         re.compile("|".join(b.get("unless") or ["(?!)"])))
                for b in raw.get("boundaries") or ()),
            siblings=tuple(frozenset(map(str, group)) for group in raw.get("siblings") or ()),
        )

    def form_topic(self, form: str) -> Topic | None:
        """The subject a form in progress keeps open, if any."""
        name = self.forms.get(form)
        return next((t for t in self.topics if t.name == name), None)

    def across_boundary(self, text: str, intent: str | None) -> str | None:
        """The neighbour ``intent`` should be read as, when the wording says so."""
        words = plain_text(text)
        for b in self.boundaries:
            if b.source == intent and b.when.search(words) and not b.unless.search(words):
                return b.target
        return None

    def same_answer(self, first: str, second: str) -> bool:
        """Whether two readings are siblings: either answer serves the question."""
        return any(first in group and second in group for group in self.siblings)

    def keeps(self, text: str, intent: str | None, confidence: float) -> bool:
        """Whether the classifier's own reading stands, before any follow-up is looked up."""
        if not intent or intent in self.weak_readings:
            return False
        refers = bool(self.references.search(plain_text(text)))
        return confidence >= (self.trust_above_with_reference if refers else self.trust_above)

    def open_topics(self, recent_intents: Sequence[str]) -> List[Topic]:
        """The subjects still open, newest first: small talk is skipped, a question on a
        subject without follow-ups closes the older ones («come lo cambio?» after the
        dispositive contact and then the code abroad is still about the contact). One answer
        can open several subjects (the code that did not arrive: the code and its number)."""
        found: List[Topic] = []
        for intent in recent_intents:
            if not intent or intent in self.carry_over:
                continue
            opened = [t for t in self.topics if intent in t.opened_by]
            if not opened:
                break
            found.extend(t for t in opened if t not in found)
        return found

    def pointed_follow_up(self, text: str, recent_intents: Sequence[str],
                          form: str | None = None) -> tuple[Topic, str] | None:
        """A follow-up that points at the open subject's object («e i suoi recapiti?» after
        a staff lookup): it stands against any reading of the message alone."""
        if form:
            return None
        words = plain_text(text)
        topics = [t for t in self.open_topics(recent_intents) if t.points_at.search(words)]
        return self._match(words, topics)

    def previous_question(self, recent_intents: Sequence[str]) -> str | None:
        """The newest intent that asked something (small talk carries the subject over)."""
        return next((i for i in recent_intents if i and i not in self.carry_over), None)

    def names_subject_of(self, intent: str, words: str) -> bool | None:
        """Whether ``words`` name a subject that ``intent`` answers (opens); None when it
        opens none (nothing to tell)."""
        opened = [t for t in self.topics if intent in t.opened_by]
        if not opened:
            return None
        return any(t.names.search(words) for t in opened)

    def names_another_subject(self, words: str, besides: Collection[Topic]) -> bool:
        """Whether ``words`` name a subject other than those ``besides``: one of
        `other_subjects`, or a subject opened by questions (a refusal's words, «scadute»,
        name none). A word one of ``besides`` names too is theirs: «qual e il numero?» after
        the dispositive contact names its number, not the assistance's phone number."""
        if self.other_subjects.search(words):
            return True
        theirs = " ".join(w for w in words.split() if not any(t.names.search(w) for t in besides))
        return any(t.names.search(theirs)
                   for t in self.topics if t.opened_by and t not in besides)

    def same_subject(self, text: str, recent_intents: Sequence[str], form: str | None,
                     intent: str | None, confidence: float) -> str | None:
        """The previous answer's intent, for a short follow-up that depends on it («e dall'app?»,
        «cosa mi chiedono?», «e allora come faccio?») and that the classifier cannot place:
        that answer holds the detail asked, a «non ho capito» holds nothing."""
        words = plain_text(text)
        misread = intent in self.never_questions and bool(
            self.question.search(words) or text.rstrip().endswith("?"))
        if form or (confidence >= self.same_subject_below and not misread):
            return None
        if (not words or len(words.split()) > self.same_subject_max_words
                or self.never_when.search(words) or not self.dependent.search(words)):
            return None
        previous = self.previous_question(recent_intents)
        if previous is None or not self.same_subject_intents.match(previous):
            return None
        own = [t for t in self.topics if previous in t.opened_by]
        if self.names_another_subject(words, own):
            return None  # «e il codice?» after the contact: another subject
        return previous

    def answer_topics(self, last_answers: Sequence[str]) -> List[Topic]:
        """Subjects the assistant's last answer opened by itself (a refusal said inside a
        form: «la polizza è pagata con SDD»), whatever the customer had asked."""
        said = set(last_answers)
        return [t for t in self.topics if t.answered_by & said]

    def after_answer(self, text: str, last_answers: Sequence[str], intent: str | None,
                     confidence: float) -> tuple[Topic, str] | None:
        """(topic, intent) when ``text`` follows up the last answer's own subject: «e come
        faccio a cambiare?» right after the SDD refusal. Only a reading this sure stands."""
        topics = self.answer_topics(last_answers)
        if not topics or (intent and intent not in self.weak_readings
                          and confidence >= self.trust_above_after_answer):
            return None
        return self._match(plain_text(text), topics)

    def follow_up(self, text: str, recent_intents: Sequence[str],
                  form: str | None = None) -> tuple[Topic, str] | None:
        """(topic, intent) when ``text`` is a follow-up on a subject still open: the form's
        own subject inside a form, the recent answers' subjects otherwise."""
        if form:
            own = self.form_topic(form)
            candidates = [own] if own else []
        else:
            candidates = self.open_topics(recent_intents)
        return self._match(plain_text(text), candidates)

    def _match(self, words: str, candidates: Sequence[Topic]) -> tuple[Topic, str] | None:
        if not words or len(words.split()) > self.max_words or self.never_when.search(words):
            return None
        for topic in candidates:
            if self.names_another_subject(words, [topic]) and not topic.names.search(words):
                continue  # «e la mail come si cambia?» is about the e-mail, not this subject
            hits = [(m.start(), i, ask) for i, ask in enumerate(topic.asks)
                    if (m := ask.cues.search(words))]
            if hits:
                # the listed order decides, or (earliest_cue) what the message names first:
                # «le polizze del cellulare …» asks the policies, not the contacts
                chosen = min(hits, key=lambda h: (h[0], h[1]) if topic.earliest_cue else h[1])
                return topic, chosen[2].intent
        return None
