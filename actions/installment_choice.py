"""Which of the listed installments the customer means, as people say it.

Why: the list is numbered, but customers answer with what they know about the installment:
«la prima», «1 e 2», «tutte», and just as often its month: «quella di marzo», «la rata di
questo mese», «quella del mese scorso», «quella di tre mesi fa». Months are read against
the due dates of the listed installments, in Italy's calendar.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, List, Sequence
from zoneinfo import ZoneInfo

from actions.support import plain

MONTHS = ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
          "settembre", "ottobre", "novembre", "dicembre")
_NUMBER_WORDS = {"un": 1, "uno": 1, "due": 2, "tre": 3, "quattro": 4, "cinque": 5, "sei": 6}
_ORDINALS = {"prima": 1, "primo": 1, "seconda": 2, "secondo": 2, "terza": 3, "terzo": 3,
             "quarta": 4, "quinta": 5, "piu vecchia": 1}
_MONTHS_AGO = re.compile(r"\b(\d{1,2}|un|uno|due|tre|quattro|cinque|sei)\s+mes[ei]\s+fa\b")
_THIS_MONTH = re.compile(r"\b(questo|corrente)\s+mese\b|\bmese\s+(corrente|in\s+corso)\b")
_LAST_MONTH = re.compile(r"\b(mese\s+scorso|scorso\s+mese|mese\s+passato|ultimo\s+mese)\b")


def rome_today() -> date:
    return datetime.now(ZoneInfo("Europe/Rome")).date()


def _month_back(today: date, months: int) -> tuple[int, int]:
    index = today.year * 12 + today.month - 1 - months
    return index // 12, index % 12 + 1


def months_named(text: str, today: date) -> List[tuple[int | None, int]]:
    """(year or None, month) the words name: «marzo», «questo mese», «due mesi fa»."""
    named: List[tuple[int | None, int]] = []
    for number, month in enumerate(MONTHS, start=1):
        if re.search(rf"\b{month}\b", text):
            named.append((None, number))
    if _THIS_MONTH.search(text):
        named.append(_month_back(today, 0))
    if _LAST_MONTH.search(text):
        named.append(_month_back(today, 1))
    for amount in _MONTHS_AGO.findall(text):
        months = int(amount) if amount.isdigit() else _NUMBER_WORDS[amount]
        named.append(_month_back(today, months))
    return named


def positions_by_month(text: str, due_dates: Sequence[Any], today: date) -> List[int]:
    """1-based positions of the installments due in the months named (a month without a
    year means the latest such month among the listed ones)."""
    dues = [date.fromisoformat(str(d)[:10]) if d else None for d in due_dates]
    picked: set[int] = set()
    for year, month in months_named(text, today):
        matches = [i for i, due in enumerate(dues, start=1)
                   if due and due.month == month and (year is None or due.year == year)]
        if year is None and matches:
            latest = max(dues[i - 1].year for i in matches)  # type: ignore[union-attr]
            matches = [i for i in matches if dues[i - 1].year == latest]  # type: ignore[union-attr]
        picked.update(matches)
    return sorted(picked)


def choice_in(
    text: Any, count: int, due_dates: Sequence[Any] | None = None, today: date | None = None
) -> List[int] | None:
    """1-based positions the customer chose: «1», «1 e 2», «la prima», «tutte», «l'ultima»,
    or (with the listed due dates) «quella di marzo», «la rata di questo mese»."""
    words = plain(str(text or ""))
    if "tutt" in words:
        return list(range(1, count + 1))
    ordinals = {**_ORDINALS, "ultima": count}
    found = [int(n) for n in re.findall(r"\b\d{1,2}\b", _MONTHS_AGO.sub(" ", words))]
    found += [v for w, v in ordinals.items() if re.search(rf"\b{w}\b", words)]
    today = today or rome_today()
    if due_dates and months_named(words, today):
        by_month = positions_by_month(words, due_dates, today)
        if not by_month:
            return None  # a month with no installment listed: not a position either
        found += by_month
    picked = sorted(set(found))
    return picked if picked and all(1 <= n <= count for n in picked) else None


def names_installments(text: Any) -> bool | None:
    """Whether ``text`` picks installments in any of those ways (True), else None: what the
    form needs to tell an answer from a question before the list is at hand."""
    words = plain(str(text or ""))
    if choice_in(words, 99) or months_named(words, rome_today()):
        return True
    return None
