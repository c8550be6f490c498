"""What every form shares, so that each form module holds only its own questions.

A message typed while a form waits for an answer is not always the answer. Before the
form's own ``validate_<slot>`` sees it, :class:`GuidedForm` tells apart:

* a cancel («annulla», «lascia perdere») or a deferral («lascia stare per ora, devo cercare
  i documenti», «ci penso e ti faccio sapere»): the form stops and keeps the answers given
  so far for «riprendi» (actions/form_resume.py);
* a hold («aspetta un attimo», «boh», «fammi controllare»): nothing is stored, no failure
  is counted, the question stays open;
* a correction of an earlier answer («scusa, la mail giusta è ...», «cambia la mail», «no,
  la polizza è la CV...», «il motivo è l'altro»), at any step and at the summary: the new
  value goes through that answer's own validation, answers that depended on it are asked
  again, and the form goes on where it was;
* a question («quante cifre ha il codice?»): answered, then the same question is asked
  again.

Only then is the text an answer. Which of these it is depends on the answer expected: a
text that holds a value for the question asked (an e-mail when an e-mail is asked) is
always an answer. Typed button labels and numbers have already been turned into the
button's payload by the channel (bot/channels/typed_buttons.py).
"""

from __future__ import annotations

import re
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Dict, List

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.form_cancel import (
    ABORTED,
    SUSPENDED_SLOT,
    cancel_message,
    plain,
    saved_answers,
    wants_to_cancel,
)

REQUESTED = "requested_slot"
# Intents whose answer can be given in the middle of a form without leaving it.
QUESTION_INTENTS = ("faq_", "chi_sei", "cosa_sai_fare", "richiesta_operatore")
QUESTION_CONFIDENCE = 0.5  # for an answer that has a form (e-mail, date, amount...)
PROSE_QUESTION_CONFIDENCE = 0.85  # a free-text answer may itself be a question
ASKS = re.compile(
    r"^(ma |e |scusa |senti )?(come|quando|quant\w*|dove|perche|cosa|che cos\w*|chi|qual\w*|"
    r"posso|devo|si pu\w*|e possibile|serve|servono|bisogna|c e|ci sono|mi dici|mi spieghi|"
    r"sapete|sai)\b")
MAX_HOLD_WORDS = 8
MAX_DEFER_WORDS = 16
MAX_CORRECTION_WORDS = 20

HOLD = re.compile(
    r"^(aspett\w*|attend\w*|un (attimo|momento|secondo|sec|minuto|istante)|momento|"
    r"e+h+m*|m+h*|h+m+|boh+|mah+|bho|non (lo )?so|non (me lo )?ricordo|non saprei|"
    r"fammi (vedere|controllare|cercare|pensare|guardare)|sto (cercando|guardando|controllando)|"
    r"lo (cerco|controllo|guardo)|vediamo|ci (devo )?pens\w*|un attimino)\b"
)
# Stopping for now, said outright: wins over a hold in the same message («mmm no lascia
# stare», «ci penso e ti riscrivo»).
DEFER = re.compile(
    r"(lasci\w* (stare|perdere)|per ora no|per adesso no|non ora|non adesso|"
    r"ti faccio sapere|ci penso e ti|ci ho ripensato|piu tardi|magari dopo|un altra volta|"
    r"in un altro momento|non (mi )?interessa piu|"
    r"(ripasso|torno|riprendo|riscrivo|rifaccio|riprovo|ti riscrivo) ?(dopo|piu tardi|domani|"
    r"un altra volta|$))"
)
# Going to fetch something: a stop unless the message is a hold («aspetta, devo cercare
# il numero» waits).
DEFER_TO_FETCH = re.compile(
    r"((devo|vado a|prima devo) (cercar|prender|recuperar|controllar|trovar|chieder)\w*|"
    r"non (ce l ho|l ho|ho) (qui|sotto mano|a portata))"
)
CORRECTION_START = re.compile(
    r"^(scusa\w*|no|anzi|cambia\w*|correggi|modific\w*|ho sbagliato|volevo dire|errore|"
    r"rettific\w*|sbagliat\w*|aspetta)\b"
)
CORRECTION_CUE = re.compile(
    r"\b(scusa\w*|cambi\w*|modific\w*|corregg\w*|sbagliat\w*|giust[oa]|invece|anzi|"
    r"volevo dire|errore|rettific\w*|l altr[oa]|non e quell\w*)\b"
)
OTHER_CHOICE = re.compile(r"\b(l altr[oa]|quell altr[oa]|altro motivo|l opposto)\b")
YES = re.compile(
    r"^(si+|sì|ok|okay|okk?|certo|certamente|confermo|conferma|va bene|vabene|procedi|invia|"
    r"inviala|invialo|manda|mandala|vai|perfetto|esatto|giusto|d accordo|daccordo|yes|"
    r"assolutamente si|tutto giusto|tutto ok|corretto)\b"
)
NO = re.compile(r"^(no+|non (inviare|mandare|procedere|confermo)|nope|negativo)\b")


def words_of(text: Any) -> str:
    """Lower case, no accents, punctuation as spaces."""
    return " ".join(re.sub(r"[^\w@.+-]+", " ", plain(str(text or ""))).replace("'", " ").split())


def latest_text(tracker: Tracker) -> str:
    return str((tracker.latest_message or {}).get("text") or "")


def intent_and_confidence(tracker: Tracker) -> tuple[str | None, float]:
    intent = (tracker.latest_message or {}).get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def yes_or_no(text: Any, intent: str | None = None) -> str | None:
    """«sì, invia» / «si procedi» / «ok» -> ``si``; «no» / «non inviare» -> ``no``."""
    words = words_of(str(text or "").lstrip("/")).strip(" .!")
    if NO.match(words):
        return "no"
    if YES.match(words) or words in ("conferma", "affermativo"):
        return "si"
    # The classifier alone decides only for a few plain words: an IBAN, an amount or an
    # e-mail typed at a confirmation is never a «sì».
    plain_words = len(words.split()) <= 4 and not re.search(r"[\d@]", words)
    if intent == "conferma" and plain_words:
        return "si"
    if intent == "negazione" and plain_words:
        return "no"
    return None


FILLER = frozenset(
    "ciao salve buongiorno buonasera grazie prego ok okay si no boh mah allora quindi dunque "
    "niente nulla cosa come quando perche non lo la le il gli un una uno di da del della per "
    "con che chi mi ti ci vi si e ed o ma poi ora adesso qui li la questo quello tutto fatto "
    "sto sono ho hai ha va bene vabbe certo aspetta attimo momento scusa ehm hmm".split()
)


def prose_answer(text: Any) -> bool:
    """Does a free-text answer say something? Three words or more, two of them not filler
    («ok va bene grazie», «boh non so» and «aspetta un attimo» are not a description)."""
    words = words_of(text).split()
    content = [w for w in words if len(w) >= 3 and w not in FILLER]
    return len(words) >= 3 and len(content) >= 2


def fresh_answer(tracker: Tracker, form: str) -> bool:
    """True when this validation call judges a new user message (not a re-run of the form
    after another action, such as a rule sending a new code, in the same turn)."""
    events = list(tracker.events or [])
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    actions = [e.get("name") for e in events[last_user + 1:] if e.get("event") == "action"]
    others = [a for a in actions if a not in ("action_extract_slots", form)]
    return not others and actions.count(form) <= 1


def _same(value: Any, stored: Any) -> bool:
    shown = value.isoformat() if hasattr(value, "isoformat") else value
    return stored is not None and str(shown).casefold() == str(stored).casefold()


def drop_cleared_candidates(tracker: Tracker) -> None:
    """Rasa hands the form every slot set since the user's message as a candidate, also
    the ones an action has just cleared (the step-up resets its code before the form
    starts). A cleared slot is not an answer: judging it printed «non mi sembra il codice»
    before the customer had typed anything."""
    events = list(tracker.events or [])
    start = len(events)
    while start > 0 and events[start - 1].get("event") == "slot":
        start -= 1
    kept = [e for e in events[start:] if e.get("value") is not None
            or e.get("name") == REQUESTED]
    tracker.events = events[:start] + kept


@dataclass(frozen=True)
class Answer:
    """One answer the form collects, as far as the shared mechanics need to know it."""

    slot: str
    # How a customer names this answer when correcting it («la mail», «il motivo»).
    mentions: re.Pattern[str]
    # A value for this answer found in free text, or None (None: no parser, prose).
    parse: Callable[[str], Any] | None = None
    # Free text (ticket text, claim description): a question can be an answer too.
    prose: bool = False
    # Answers that depend on this one and are asked again when it changes.
    clears: tuple[str, ...] = ()
    # «l'altro»: the other of two choices, for answers that have exactly two.
    other: Callable[[Any], Any] | None = None
    # The value names the answer by itself (an IBAN, a date, an amount typed at the summary
    # is a change of that answer without «cambia ...»).
    evident: bool = False


class GuidedForm(FormValidationAction):
    """Base of every form validation: cancel, hold, defer, correct, ask, then answer."""

    form_slots: tuple[str, ...] = ()
    answers: tuple[Answer, ...] = ()

    @abstractmethod
    def name(self) -> str:
        """Abstract, so the action server does not register this base class as an action."""

    # --- what a form may override ---------------------------------------------------
    def optional_answers(self, tracker: Tracker) -> set[str]:
        """Answers the form does not ask but takes when given (a claim's IBAN)."""
        return set()

    async def active_answers(self, tracker: Tracker, domain: Dict[str, Any]) -> List[Answer]:
        """The answers this form asks in this conversation (dynamic forms narrow it)."""
        required = await self.required_slots(
            self.domain_slots(domain), CollectingDispatcher(), tracker, domain)
        # Also answers given before that this form no longer asks (the request kind).
        wanted = set(required) | self.optional_answers(tracker)
        return [a for a in self.answers
                if a.slot in wanted or tracker.get_slot(a.slot) not in (None, ABORTED)]

    # --- the turn ---------------------------------------------------------------------
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        drop_cleared_candidates(tracker)
        asking = tracker.get_slot(REQUESTED)
        active = (tracker.active_loop or {}).get("name") == self.form_name()
        if not (active and asking and fresh_answer(tracker, self.form_name())):
            return await super().run(dispatcher, tracker, domain)
        text = latest_text(tracker)
        words = words_of(text)
        answers = {a.slot: a for a in await self.active_answers(tracker, domain)}
        expected = answers.get(asking)
        has_value = self._has_value(expected, text)
        count = len(words.split())
        # «aspetta, ma l'OTP di quante cifre è?» is a question, not a hold.
        holds = (not has_value and count <= MAX_HOLD_WORDS and bool(HOLD.match(words))
                 and "?" not in text)
        defers = not has_value and count <= MAX_DEFER_WORDS and (
            bool(DEFER.search(words)) or (bool(DEFER_TO_FETCH.search(words)) and not holds))
        if wants_to_cancel(tracker) or defers:
            return self.suspend(dispatcher, tracker)
        if holds:
            dispatcher.utter_message(response="utter_modulo_attendo")
            return await self.ask_again(dispatcher, tracker, domain, asking, [])
        correction = self._correction(answers, asking, text, words, dict(tracker.slots),
                                      has_value)
        if correction is not None:
            return await self.correct(dispatcher, tracker, domain, asking, correction, text)
        question = None if has_value else self._question(tracker, expected, text)
        if question:
            dispatcher.utter_message(response=f"utter_{question}")
            dispatcher.utter_message(response="utter_riprendiamo")
            return await self.ask_again(dispatcher, tracker, domain, asking, [])
        return await super().run(dispatcher, tracker, domain)

    # --- the pieces -------------------------------------------------------------------
    @staticmethod
    def _has_value(expected: Answer | None, text: str) -> bool:
        if expected is None or expected.parse is None:
            return False
        try:
            return expected.parse(text) is not None
        except Exception:  # a parser is never a reason to lose the message
            return False

    @staticmethod
    def _question(tracker: Tracker, expected: Answer | None, text: str) -> str | None:
        """A question to answer before going on: phrased as one, and understood."""
        name, confidence = intent_and_confidence(tracker)
        if not isinstance(name, str) or not name.startswith(QUESTION_INTENTS):
            return None
        asks = "?" in text or bool(ASKS.match(words_of(text)))
        if expected is not None and expected.prose:
            # A description may start like a question («serve aggiornare il documento...»):
            # only a short one with a question mark is taken as a question.
            short = len(text.split()) <= 14
            return name if "?" in text and short and confidence >= PROSE_QUESTION_CONFIDENCE \
                else None
        if asks and confidence >= QUESTION_CONFIDENCE:
            return name
        return name if confidence >= PROSE_QUESTION_CONFIDENCE and len(text.split()) >= 3 \
            and not re.search(r"[\d@]", text) else None

    def _correction(
        self, answers: Dict[str, Answer], asking: str, text: str, words: str,
        current: Dict[str, Any] | None = None, has_value: bool = False,
    ) -> tuple[Answer, Any] | None:
        """(answer, new value or None) when the message changes an earlier answer."""
        if len(words.split()) > MAX_CORRECTION_WORDS:
            return None
        current = current or {}
        asked = answers.get(asking)
        starts = bool(CORRECTION_START.match(words))
        cue = starts or bool(CORRECTION_CUE.search(words))
        for answer in answers.values():
            if answer.slot == asking:
                continue
            value = answer.parse(text) if answer.parse else None
            evident = answer.evident and value is not None and not has_value and (
                asked is None or not asked.prose)
            if not evident and not answer.mentions.search(words):
                continue
            if value is not None and _same(value, current.get(answer.slot)):
                continue  # «500 euro di versamento» names the kind already chosen
            if asked is not None and asked.prose and not starts:
                continue  # prose may name things («la polizza auto...») without correcting
            if has_value and not cue:
                continue  # an answer to this question that also names another one
            if value is not None or cue or evident:
                return answer, value
        return None

    async def correct(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[str, Any],
        asking: str,
        correction: tuple[Answer, Any],
        text: str,
    ) -> List[EventType]:
        answer, value = correction
        raw: Any = text  # the validator parses the customer's own words
        current = tracker.get_slot(answer.slot)
        if value is None and answer.other is not None and current and OTHER_CHOICE.search(
                words_of(text)):
            value = raw = answer.other(current)
        events: List[EventType] = [SlotSet(s, None) for s in answer.clears]
        if value is None:  # «cambia la mail»: that question is asked again
            events.append(SlotSet(answer.slot, None))
        else:
            validate = getattr(self, f"validate_{answer.slot}", None)
            result = await validate(raw, dispatcher, tracker, domain) if validate else {
                answer.slot: value}
            if result.get("form_aborted"):
                return [SlotSet(k, v) for k, v in result.items()] + [SlotSet(REQUESTED, None)]
            new = result.get(answer.slot)
            events += [SlotSet(k, v) for k, v in result.items()]
            if new not in (None, ABORTED):
                dispatcher.utter_message(response="utter_modulo_corretto")
        if asking not in answer.clears and asking != answer.slot:
            events.append(SlotSet(asking, None))
        return await self.ask_again(dispatcher, tracker, domain, None, events)

    async def ask_again(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[str, Any],
        slot: str | None,
        events: List[EventType],
    ) -> List[EventType]:
        """Leave ``slot`` (or the next unanswered question) open; the form asks it."""
        if slot is not None:
            events = [*events, SlotSet(slot, None)]
        tracker.add_slots(events)
        following = await self.next_requested_slot(dispatcher, tracker, domain)
        return events + ([following] if following else [])

    def suspend(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
        """Stop here; the answers given so far wait for «riprendi»."""
        saved = saved_answers(tracker, self.form_name())
        cancel_message(dispatcher, saved)
        # form_aborted makes the submit action close quietly; requested_slot None ends it.
        return [SlotSet(s, None) for s in self.form_slots] + [
            SlotSet(SUSPENDED_SLOT, saved),
            SlotSet("form_failures", 0.0),
            SlotSet("form_aborted", True),
            SlotSet(REQUESTED, None),
        ]
