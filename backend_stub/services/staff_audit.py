"""Audit of staff lookups: every access by agency staff to a customer's data is recorded.

Why here and not in each route: the staff scope (``X-Staff-Agency``) is enforced by one
dependency (``deps.staff_agency_guard``) and one lookup route, so those two places see every
staff access, including the refused ones (customer of another agency, unknown customer).

Rows are committed before the answer is built (the caller's read-only session is committed
with them: SQLite allows one writer, so a second session would wait on the first): a lookup
that later fails is still on record, and if the audit cannot be written the request fails
(503) rather than showing data nobody can account for.

Search keys are never stored in clear: a masked form for people reading the audit and a
keyed HMAC (the service's ``BACKEND_OTP_SECRET`` with a domain prefix, so a phone number
cannot be found by hashing all 10^10 of them without the secret).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..masking import mask_fiscal_code, mask_phone
from ..models import StaffLookupAudit

log = logging.getLogger("backend_stub.staff_audit")

_HASH_DOMAIN = b"staff-lookup-audit|"


@dataclass(frozen=True)
class SearchKey:
    """What the staff member searched with, already normalised by the API's validators."""

    kind: str  # one of models.STAFF_QUERY_KINDS
    value: str

    def masked(self) -> str:
        """Enough to recognise the key in the audit, not enough to reuse it."""
        if self.kind == "fiscal_code":
            return mask_fiscal_code(self.value)
        if self.kind == "mobile":
            return mask_phone(self.value)
        if self.kind == "vat_number":
            return self.value[:3] + "*****" + self.value[-3:]
        return self.value  # policy number or customer id: not personal data

    def digest(self, secret: str) -> str | None:
        """Keyed hash of personal keys; None for ids that are stored in clear anyway."""
        if self.kind in ("customer_id", "policy_number"):
            return None
        message = _HASH_DOMAIN + f"{self.kind}|{self.value}".encode()
        return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def record(
    session: Session,
    *,
    now: datetime,
    secret: str,
    staff_id: str | None,
    agency: str,
    endpoint: str,
    key: SearchKey,
    outcomes: Iterable[tuple[int | None, str]],
) -> list[int]:
    """One row per (customer id or None, outcome), committed; returns the new row ids.

    ``session`` must hold no uncommitted changes of its own: they would be committed too.
    """
    rows = [
        StaffLookupAudit(
            created_at=now,
            staff_id=staff_id,
            agency_code=agency,
            customer_id=customer_id,
            query_kind=key.kind,
            key_masked=key.masked(),
            key_hash=key.digest(secret),
            endpoint=endpoint,
            outcome=outcome,
        )
        for customer_id, outcome in outcomes
    ]
    if not rows:
        return []
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("the audit commits its session: it must hold no other changes")
    session.add_all(rows)
    session.commit()
    ids = [row.id for row in rows]
    for row in rows:
        # Staff id, agency and customer id are not secrets; the key is logged masked only.
        log.info(
            "staff lookup: staff=%s agency=%s customer=%s kind=%s outcome=%s",
            row.staff_id or "-",
            row.agency_code,
            row.customer_id if row.customer_id is not None else "-",
            row.query_kind,
            row.outcome,
        )
    return ids


def outcome_for(customer_agency: str | None, staff_agency: str) -> str:
    """found / other_agency / not_found for one customer (None: no such customer)."""
    if customer_agency is None:
        return "not_found"
    return "found" if customer_agency == staff_agency else "other_agency"


def list_entries(
    session: Session,
    *,
    agency: str,
    staff_id: str | None = None,
    customer_id: int | None = None,
    outcome: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[StaffLookupAudit]:
    """Newest first; ``before_id`` pages back (stable while new rows are being added)."""
    query = select(StaffLookupAudit).where(StaffLookupAudit.agency_code == agency)
    if staff_id is not None:
        query = query.where(StaffLookupAudit.staff_id == staff_id)
    if customer_id is not None:
        query = query.where(StaffLookupAudit.customer_id == customer_id)
    if outcome is not None:
        query = query.where(StaffLookupAudit.outcome == outcome)
    if before_id is not None:
        query = query.where(StaffLookupAudit.id < before_id)
    return list(session.scalars(query.order_by(StaffLookupAudit.id.desc()).limit(limit)))
