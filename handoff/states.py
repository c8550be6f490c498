"""The words a handoff request is made of: who asks, why, and where it stands.

Why enums with string values: the values are what the database stores and what the
console and the channels will send, so they must read the same in SQL, JSON and logs.

A request's life::

    waiting --take--> taken --release--> returned   (the assistant answers again)
       |                 \\--close----> closed     (the operator ended the conversation)
       \\--leave (customer)-----------> returned
"""

from __future__ import annotations

from enum import Enum


class IdentityLevel(str, Enum):
    """How sure the assistant is of who is writing (what an operator may discuss)."""

    VISITOR = "visitor"
    VERIFIED_CUSTOMER = "verified_customer"   # the site's identity token
    WHATSAPP_STEPPED_UP = "whatsapp_stepped_up"  # WhatsApp number plus an OTP


class Reason(str, Enum):
    """Why the conversation goes to a person."""

    EXPLICIT_REQUEST = "explicit_request"
    TWO_MISUNDERSTANDINGS = "two_misunderstandings"
    ANGER = "anger"


class Status(str, Enum):
    WAITING = "waiting"
    TAKEN = "taken"
    CLOSED = "closed"
    RETURNED = "returned"


# A conversation has at most one request in these states at a time.
ACTIVE = (Status.WAITING, Status.TAKEN)


class EndedBy(str, Enum):
    """Who ended a request: the operator (release, close) or the customer (leave)."""

    OPERATOR = "operator"
    CUSTOMER = "customer"
