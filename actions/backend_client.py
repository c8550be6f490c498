"""The one HTTP client the actions use to reach the insurer backend (``backend_stub``).

Why one client: every action gets the same timeout, API key, staff scoping and, above all,
the same two failure types, so each can answer in Italian and offer the support form:

* :class:`BackendUnavailable` - nothing usable came back: connection refused, timeout,
  a 5xx, a redirect or a body that is not JSON. Retrying later may help.
* :class:`BackendRefused` - the backend said no with a 4xx and its machine-readable error
  (``code``, ``message``, extra fields such as ``attempts_left`` or
  ``retry_after_seconds``). The code tells the action what to explain.

Settings (read when a client is built): ``BACKEND_URL`` (``http://127.0.0.1:8000``),
``BACKEND_API_KEY`` (``dev-backend-key``), ``BACKEND_TIMEOUT_SECONDS`` (5, total per request).
Staff sessions pass ``staff_agency`` and ``staff_id`` (from the verified staff token) so the
backend hides customers of other agencies and writes every lookup to its staff audit
(``X-Staff-Agency``, ``X-Staff-Id``).

Nothing personal is logged: log lines name the route template (``/v1/customers/{id}``),
never ids, numbers, codes or bodies.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_API_KEY = "dev-backend-key"
DEFAULT_TIMEOUT_SECONDS = 5.0

_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Policy numbers as users type them: the backend ignores spaces, dashes and case.
_POLICY_RE = re.compile(r"^[A-Za-z0-9 -]{1,32}$")
_AGENCY_RE = re.compile(r"^[A-Z]{2}-[A-Z]{2}-\d{3,4}$")
_STAFF_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

PolicyStatus = Literal["active", "archived", "all"]
AuditOutcome = Literal["found", "not_found", "other_agency"]
OtpPurpose = Literal["step_up", "payment", "service_request"]


class BackendError(Exception):
    """Base of the client's failures (catch this to treat both alike)."""


class BackendUnavailable(BackendError):
    """No usable answer: ``reason`` is ``connection_failed``, ``timeout``, ``server_error``
    or ``bad_response``; ``status``/``code`` are set when the backend did answer."""

    def __init__(self, reason: str, status: int | None = None, code: str | None = None) -> None:
        super().__init__(f"backend unavailable: {reason}" + (f" (HTTP {status})" if status else ""))
        self.reason = reason
        self.status = status
        self.code = code


class BackendRefused(BackendError):
    """A 4xx with the backend's error object; ``extra`` holds its other fields."""

    def __init__(
        self, code: str, message: str, status: int, extra: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(f"backend refused: {code} (HTTP {status})")
        self.code = code
        self.message = message
        self.status = status
        self.extra: dict[str, Any] = dict(extra or {})

    @property
    def retry_after_seconds(self) -> int | None:
        """For cooldowns and caps (429): when the customer may ask again."""
        value = self.extra.get("retry_after_seconds")
        return int(value) if isinstance(value, (int, float)) else None


def _timeout_from_env() -> float:
    raw = os.environ.get("BACKEND_TIMEOUT_SECONDS")
    if raw is None or raw.strip() == "":
        return DEFAULT_TIMEOUT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("BACKEND_TIMEOUT_SECONDS must be a number of seconds") from None
    if not 0 < value <= 120:
        raise ValueError("BACKEND_TIMEOUT_SECONDS must be between 0 and 120")
    return value


def _segment(value: str | int) -> str:
    """An id for a URL path; anything else is a bug in the caller, not user input."""
    text = str(value)
    if not _SEGMENT_RE.match(text):
        raise ValueError("invalid identifier for a backend path")
    return text


def _policy_segment(number: str) -> str:
    """A typed policy number; shapes that cannot be one are refused like the backend does."""
    if not isinstance(number, str) or not _POLICY_RE.match(number) or not number.strip():
        raise BackendRefused("invalid_policy_number", "policy number is not valid", 422)
    return quote(number.strip(), safe="")


class BackendClient:
    """Async client; use ``async with BackendClient() as backend:`` to share a connection
    pool across calls, or call methods directly (each call then opens its own session)."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | None = None,
        staff_agency: str | None = None,
        staff_id: str | None = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get("BACKEND_URL") or DEFAULT_URL).rstrip("/")
        # None: from the environment; "" sends no key (useful to test the refusal).
        self.api_key = (
            api_key if api_key is not None else os.environ.get("BACKEND_API_KEY", DEFAULT_API_KEY)
        )
        self.timeout = timeout if timeout is not None else _timeout_from_env()
        if staff_agency is not None and not _AGENCY_RE.match(staff_agency):
            raise ValueError("staff_agency looks like AL-MI-001")
        self.staff_agency = staff_agency
        # The backend audits who looked a customer up; an id without its agency is refused.
        if staff_id is not None and (staff_agency is None or not _STAFF_ID_RE.match(staff_id)):
            raise ValueError("staff_id needs staff_agency and looks like S-042")
        self.staff_id = staff_id
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def for_identity(cls, identity: Any, **kwargs: Any) -> BackendClient:
        """A client scoped to a staff member's agency (and audited under their id) when the
        identity is staff."""
        is_staff = getattr(identity, "kind", None) == "staff"
        agency = identity.agency if is_staff else None
        staff_id = identity.staff_id if is_staff else None
        return cls(staff_agency=agency, staff_id=staff_id, **kwargs)

    # --- session handling ---------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["X-Api-Key"] = self.api_key
        if self.staff_agency:
            headers["X-Staff-Agency"] = self.staff_agency
        if self.staff_id:
            headers["X-Staff-Id"] = self.staff_id
        return headers

    def _new_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            headers=self._headers(), timeout=aiohttp.ClientTimeout(total=self.timeout)
        )

    async def __aenter__(self) -> BackendClient:
        self._session = self._new_session()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- the one request path -----------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        route: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send, then map the outcome to a dict or one of the two failure types.

        ``route`` is the path template, the only thing logged about the request.
        """
        session = self._session or self._new_session()
        started = time.monotonic()
        try:
            async with session.request(
                method,
                self.base_url + path,
                json=json_body,
                params=params,
                allow_redirects=False,  # never carry the API key elsewhere
            ) as response:
                status = response.status
                raw = await response.read()
                retry_after = response.headers.get("Retry-After")
        except asyncio.TimeoutError:
            log.warning("backend %s %s: timeout after %.1fs", method, route, self.timeout)
            raise BackendUnavailable("timeout") from None
        except aiohttp.ClientError as exc:
            log.warning("backend %s %s: %s", method, route, type(exc).__name__)
            raise BackendUnavailable("connection_failed") from None
        finally:
            if session is not self._session:
                await session.close()
        elapsed_ms = (time.monotonic() - started) * 1000
        log.debug("backend %s %s -> %d in %.0f ms", method, route, status, elapsed_ms)

        body = _json_or_none(raw)
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        if 200 <= status < 300:
            if not isinstance(body, dict):
                log.warning("backend %s %s: %d without a JSON object", method, route, status)
                raise BackendUnavailable("bad_response", status)
            return body
        if 400 <= status < 500:
            code = str(error.get("code") or f"http_{status}")
            extra = {k: v for k, v in error.items() if k not in ("code", "message")}
            if retry_after and "retry_after_seconds" not in extra and retry_after.isdigit():
                extra["retry_after_seconds"] = int(retry_after)
            log.info("backend %s %s refused: %s (%d)", method, route, code, status)
            raise BackendRefused(code, str(error.get("message") or ""), status, extra)
        code = error.get("code") if isinstance(error.get("code"), str) else None
        log.warning("backend %s %s: HTTP %d %s", method, route, status, code or "")
        reason = "server_error" if status >= 500 else "bad_response"
        raise BackendUnavailable(reason, status, code)

    # --- endpoints ----------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        """``{"status": "ok", "database": ..., "sms_mode": ...}``."""
        return await self._request("GET", "/health", "/health")

    async def get_customer(self, customer_id: str | int) -> dict[str, Any]:
        """The customer (fiscal code masked; company: partita IVA, legal representative)."""
        path = f"/v1/customers/{_segment(customer_id)}"
        return await self._request("GET", path, "/v1/customers/{id}")

    async def lookup_customers(
        self,
        *,
        fiscal_code: str | None = None,
        vat_number: str | None = None,
        mobile: str | None = None,
        policy_number: str | None = None,
        brand: str | None = None,
        agency: str | None = None,
    ) -> list[dict[str, Any]]:
        """Matches for exactly one identifier (POST, so identifiers stay out of URLs);
        ``policy_number`` finds the policy's holder."""
        fields = {
            "fiscal_code": fiscal_code,
            "vat_number": vat_number,
            "mobile": mobile,
            "policy_number": policy_number,
            "brand": brand,
            "agency": agency,
        }
        body = {k: v for k, v in fields.items() if v is not None}
        result = await self._request(
            "POST", "/v1/customers/lookup", "/v1/customers/lookup", json_body=body
        )
        matches = result.get("matches")
        return matches if isinstance(matches, list) else []

    async def get_contacts(self, customer_id: str | int) -> dict[str, Any]:
        """Masked contacts with roles, plus ``dispositive`` and ``username`` (or None)."""
        path = f"/v1/customers/{_segment(customer_id)}/contacts"
        return await self._request("GET", path, "/v1/customers/{id}/contacts")

    async def get_policies(
        self, customer_id: str | int, status: PolicyStatus = "active"
    ) -> dict[str, Any]:
        """``policies`` with ``status`` active/archived/all and ``hidden_archived_count``."""
        if status not in ("active", "archived", "all"):
            raise ValueError("status is active, archived or all")
        path = f"/v1/customers/{_segment(customer_id)}/policies"
        return await self._request(
            "GET", path, "/v1/customers/{id}/policies", params={"status": status}
        )

    async def get_active_policies(self, customer_id: str | int) -> list[dict[str, Any]]:
        return list((await self.get_policies(customer_id, "active")).get("policies") or [])

    async def get_archived_policies(self, customer_id: str | int) -> list[dict[str, Any]]:
        return list((await self.get_policies(customer_id, "archived")).get("policies") or [])

    async def get_open_requests(self, customer_id: str | int) -> dict[str, Any]:
        """Open ``support_tickets``, ``service_requests`` and ``payment_requests`` (pending
        links and consultant appointments), plus ``total``; e-mails masked, no links."""
        path = f"/v1/customers/{_segment(customer_id)}/open-requests"
        return await self._request("GET", path, "/v1/customers/{id}/open-requests")

    async def staff_lookup_audit(
        self,
        agency: str,
        *,
        staff_id: str | None = None,
        customer_id: str | int | None = None,
        outcome: AuditOutcome | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> dict[str, Any]:
        """The agency's staff lookups, newest first: ``entries`` (who, when, which customer,
        masked key, outcome) and ``next_before_id`` for the next page."""
        if not _AGENCY_RE.match(agency):
            raise ValueError("agency looks like AL-MI-001")
        params = {"agency": agency, "limit": str(int(limit))}
        if staff_id is not None:
            params["staff_id"] = _segment(staff_id)
        if customer_id is not None:
            params["customer_id"] = _segment(customer_id)
        if outcome is not None:
            params["outcome"] = outcome
        if before_id is not None:
            params["before_id"] = str(int(before_id))
        return await self._request(
            "GET", "/v1/audit/staff-lookups", "/v1/audit/staff-lookups", params=params
        )

    async def get_policy(self, customer_id: str | int, policy_number: str) -> dict[str, Any]:
        """One policy of this customer; others' and unknown ones are ``policy_not_owned``."""
        path = f"/v1/customers/{_segment(customer_id)}/policies/{_policy_segment(policy_number)}"
        return await self._request("GET", path, "/v1/customers/{id}/policies/{number}")

    async def get_installments(self, customer_id: str | int, policy_number: str) -> dict[str, Any]:
        """Installments with ``payable`` and ``reason``, plus accepted methods and networks."""
        path = (
            f"/v1/customers/{_segment(customer_id)}/policies/"
            f"{_policy_segment(policy_number)}/installments"
        )
        return await self._request("GET", path, "/v1/customers/{id}/policies/{number}/installments")

    async def create_otp_challenge(
        self, customer_id: str | int, purpose: OtpPurpose = "step_up"
    ) -> dict[str, Any]:
        """Send a code to the dispositive mobile (also the resend): ``challenge_id``,
        ``destination_masked``, ``code_length``, ``expires_at``, ``resend_available_at``."""
        path = f"/v1/customers/{_segment(customer_id)}/otp-challenges"
        return await self._request(
            "POST", path, "/v1/customers/{id}/otp-challenges", json_body={"purpose": purpose}
        )

    async def get_otp_challenge(self, customer_id: str | int, challenge_id: str) -> dict[str, Any]:
        path = f"/v1/customers/{_segment(customer_id)}/otp-challenges/{_segment(challenge_id)}"
        return await self._request("GET", path, "/v1/customers/{id}/otp-challenges/{cid}")

    async def verify_otp(
        self, customer_id: str | int, challenge_id: str, code: str
    ) -> dict[str, Any]:
        """``verified`` and ``usable_until``; wrong/expired/locked codes are refusals."""
        path = (
            f"/v1/customers/{_segment(customer_id)}/otp-challenges/{_segment(challenge_id)}/verify"
        )
        return await self._request(
            "POST",
            path,
            "/v1/customers/{id}/otp-challenges/{cid}/verify",
            json_body={"code": code},
        )

    async def create_payment_request(
        self,
        customer_id: str | int,
        *,
        policy_number: str,
        installment_ids: Sequence[int],
        method: str,
        card_network: str | None = None,
        otp_challenge_id: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """A payment link (``request_number``, ``payment_link``, ``amount``), or with
        ``dry_run`` only the rules check (no OTP needed, nothing written)."""
        body: dict[str, Any] = {
            "policy_number": policy_number,
            "installment_ids": list(installment_ids),
            "method": method,
            "dry_run": dry_run,
        }
        if card_network is not None:
            body["card_network"] = card_network
        if otp_challenge_id is not None:
            body["otp_challenge_id"] = otp_challenge_id
        path = f"/v1/customers/{_segment(customer_id)}/payment-requests"
        return await self._request(
            "POST", path, "/v1/customers/{id}/payment-requests", json_body=body
        )

    async def create_service_request(
        self,
        customer_id: str | int,
        *,
        kind: str,
        details: Mapping[str, Any],
        policy_number: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """A request for the agency (claim, surrender_total/partial, extra_payment,
        suspension, reactivation, address_change): ``request_number`` and ``agency``.
        ``dry_run``: only whether the kind applies to the policy (asked before the details)."""
        body: dict[str, Any] = {"kind": kind, "details": dict(details), "dry_run": dry_run}
        if policy_number is not None:
            body["policy_number"] = policy_number
        path = f"/v1/customers/{_segment(customer_id)}/service-requests"
        return await self._request(
            "POST", path, "/v1/customers/{id}/service-requests", json_body=body
        )

    async def create_support_ticket(
        self,
        *,
        brand: str,
        reply_email: str,
        reason: str,
        text: str,
        customer_id: str | int | None = None,
        policy_number: str | None = None,
    ) -> dict[str, Any]:
        """The support form (anonymous allowed): ``ticket_number``, ``reply_email_masked``."""
        body: dict[str, Any] = {
            "brand": brand,
            "reply_email": reply_email,
            "reason": reason,
            "text": text,
        }
        if customer_id is not None:
            body["customer_id"] = int(_segment(customer_id))
        if policy_number is not None:
            body["policy_number"] = policy_number
        return await self._request(
            "POST", "/v1/support-tickets", "/v1/support-tickets", json_body=body
        )

    async def support_hours(self, brand: str, at: str | None = None) -> dict[str, Any]:
        """Phone schedule, ``open_now``, ``closes_at``, ``next_opening`` (Europe/Rome)."""
        params = {"brand": brand}
        if at is not None:
            params["at"] = at
        return await self._request("GET", "/v1/support/hours", "/v1/support/hours", params=params)

    async def registration_eligibility(
        self,
        *,
        brand: str,
        fiscal_code: str | None = None,
        vat_number: str | None = None,
        policy_number: str | None = None,
    ) -> dict[str, Any]:
        """May this person/company register to the Area Clienti (``eligible``, ``reason``)."""
        fields = {
            "brand": brand,
            "fiscal_code": fiscal_code,
            "vat_number": vat_number,
            "policy_number": policy_number,
        }
        body = {k: v for k, v in fields.items() if v is not None}
        return await self._request(
            "POST",
            "/v1/registration/eligibility",
            "/v1/registration/eligibility",
            json_body=body,
        )


def _json_or_none(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
