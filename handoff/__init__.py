"""Live handoff to human operators: hours, holidays and the queue (no channel wiring yet).

Why a top-level package: the assistant's actions, the channels (widget, WhatsApp) and the
operators' console will all ask the same questions (are operators in? who is waiting?), and
none of them should import another to get the answer.

Modules, one job each:

* ``clock``    - Rome's time, and an injectable clock for tests;
* ``schedule`` - weekly opening slots, from the registry or a one-line setting;
* ``closures`` - Italy's public holidays (``holidays``) and a brand's own closing days;
* ``settings`` - what the environment says (hours where the registry has none, database);
* ``hours``    - whether a brand's operators are in hours, and when they next are;
* ``states``   - identity levels, reasons and statuses of a request;
* ``schema``   - the queue's table (SQLAlchemy Core);
* ``queue``    - the queue's operations, atomic in the database.
"""

from __future__ import annotations

from handoff.hours import SupportHours, brand_hours
from handoff.queue import HandoffQueue, HandoffRequest, QueueEntry
from handoff.states import EndedBy, IdentityLevel, Reason, Status

__all__ = [
    "EndedBy",
    "HandoffQueue",
    "HandoffRequest",
    "IdentityLevel",
    "QueueEntry",
    "Reason",
    "Status",
    "SupportHours",
    "brand_hours",
]
