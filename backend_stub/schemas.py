"""Request and response bodies (pydantic 2); they are also the OpenAPI description.

Validators raise ``PydanticCustomError`` whose context carries a stable ``code`` so the
error handler can answer ``invalid_fiscal_code`` rather than a generic ``invalid_request``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from brand_registry import codes
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from . import validation as v
from .models import SERVICE_REQUEST_KINDS

Brand = Literal.__getitem__(codes())  # the brand registry's codes
DbInt = Annotated[int, Field(ge=1, le=2**31 - 1)]
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _wrap(func: Callable[[str], str]) -> Callable[[str], str]:
    """Turn a ``validation.validate_*`` function into a pydantic validator."""

    def check(value: str) -> str:
        try:
            return func(value)
        except v.InvalidValue as exc:
            raise PydanticCustomError(exc.code, exc.message, {"code": exc.code}) from None

    return check


def _clean_text(value: str) -> str:
    """Free text: trimmed, without control characters (PostgreSQL refuses NUL)."""
    if _CONTROL.search(value):
        raise PydanticCustomError("invalid_text", "text holds control characters", {"code": "invalid_text"})
    value = value.strip()
    if not value:
        raise PydanticCustomError("invalid_text", "text is empty", {"code": "invalid_text"})
    return value


FiscalCode = Annotated[str, Field(max_length=32), AfterValidator(_wrap(v.validate_fiscal_code))]
VatNumber = Annotated[str, Field(max_length=32), AfterValidator(_wrap(v.validate_partita_iva))]
PolicyNumber = Annotated[str, Field(max_length=32), AfterValidator(_wrap(v.validate_policy_number))]
Email = Annotated[str, Field(max_length=254), AfterValidator(_wrap(v.validate_email))]
Phone = Annotated[str, Field(max_length=32), AfterValidator(_wrap(v.validate_phone))]
Iban = Annotated[str, Field(max_length=40), AfterValidator(_wrap(v.validate_iban))]
AgencyCode = Annotated[str, Field(pattern=r"^[A-Z]{2}-[A-Z]{2}-\d{3,4}$")]
Amount = Annotated[Decimal, Field(gt=0, le=1_000_000, max_digits=9, decimal_places=2)]


LongText = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(_clean_text)]
NoteText = Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_clean_text)]
LineText = Annotated[str, Field(min_length=1, max_length=160), AfterValidator(_clean_text)]


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")


# --- customers --------------------------------------------------------------------


class AgencyOut(BaseModel):
    code: str
    name: str
    city: str
    email: str


class LegalRepresentativeOut(BaseModel):
    name: str
    fiscal_code_masked: str | None


class CustomerOut(BaseModel):
    id: int
    kind: Literal["person", "company"]
    brand: Brand
    name: str
    agency: AgencyOut
    fiscal_code_masked: str | None = None
    vat_number: str | None = None
    legal_representative: LegalRepresentativeOut | None = None
    has_dispositive_mobile: bool


class LookupRequest(Strict):
    """Exactly one identifier; ``agency`` restricts the search to one agency (staff).

    ``policy_number`` finds the holder of a policy (staff asking "di chi è la polizza ...").
    """

    fiscal_code: FiscalCode | None = None
    vat_number: VatNumber | None = None
    mobile: Phone | None = None
    policy_number: PolicyNumber | None = None
    brand: Brand | None = None
    agency: AgencyCode | None = None

    @model_validator(mode="after")
    def _one_identifier(self) -> LookupRequest:
        keys = (self.fiscal_code, self.vat_number, self.mobile, self.policy_number)
        given = [x for x in keys if x is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                "one_identifier_required",
                "give exactly one of fiscal_code, vat_number, mobile, policy_number",
                {"code": "one_identifier_required"},
            )
        return self

    def search_key(self) -> tuple[str, str]:
        """(kind, normalised value) of the one identifier given."""
        for kind in ("fiscal_code", "vat_number", "mobile", "policy_number"):
            value = getattr(self, kind)
            if value is not None:
                return kind, value
        raise AssertionError("validated: exactly one identifier")  # pragma: no cover


class LookupMatch(BaseModel):
    customer: CustomerOut
    matched_contact: ContactOut | None = None


class LookupResponse(BaseModel):
    matches: list[LookupMatch]


class ContactOut(BaseModel):
    id: int
    kind: Literal["email", "mobile"]
    masked: str
    confirmed: bool
    roles: list[Literal["username", "dispositive", "paperless", "fea"]]


class ContactsResponse(BaseModel):
    customer_id: int
    contacts: list[ContactOut]
    dispositive: ContactOut | None
    username: ContactOut | None


# --- policies and installments --------------------------------------------------


class PolicyOut(BaseModel):
    number: str
    product_line: Literal["vita", "danni", "protezione", "previdenza"]
    product_name: str
    status: Literal["active", "expired", "surrendered"]
    archived: bool
    start_date: date
    end_date: date | None
    payment_method: Literal["card", "mybank", "sdd", "agency"]
    allows_extra_payments: bool


class PoliciesResponse(BaseModel):
    customer_id: int
    status: Literal["active", "archived", "all"]
    policies: list[PolicyOut]
    hidden_archived_count: int = Field(
        description="archived policies not shown because they ended too long ago (CA Vita: 24 months)"
    )


class InstallmentOut(BaseModel):
    id: int
    due_date: date
    amount: str
    amount_cents: int
    currency: Literal["EUR"] = "EUR"
    paid: bool
    paid_at: datetime | None
    payable: bool
    reason: str | None = Field(description="why it cannot be paid online now; null when payable")


class InstallmentsResponse(BaseModel):
    policy_number: str
    payment_method: str
    installments: list[InstallmentOut]
    payable_methods: list[str]
    card_networks: list[str]


# --- OTP ------------------------------------------------------------------------


class OtpChallengeCreate(Strict):
    purpose: Literal["step_up", "payment", "service_request"]


class OtpChallengeOut(BaseModel):
    challenge_id: str
    purpose: str
    status: Literal["pending", "verified", "consumed", "superseded", "locked", "expired"]
    destination_masked: str
    code_length: int
    created_at: datetime
    expires_at: datetime
    attempts_left: int
    resend_available_at: datetime


class OtpVerify(Strict):
    code: Annotated[str, Field(min_length=1, max_length=16)]


class OtpVerifyOut(BaseModel):
    challenge_id: str
    status: Literal["verified"]
    purpose: str
    verified_at: datetime
    usable_until: datetime


# --- support --------------------------------------------------------------------


class SupportTicketCreate(Strict):
    brand: Brand
    reply_email: Email
    reason: Literal["navigazione", "informazioni_polizza"]
    text: LongText
    customer_id: DbInt | None = None
    policy_number: PolicyNumber | None = None


class SupportTicketOut(BaseModel):
    ticket_number: str
    brand: str
    reason: str
    reply_email_masked: str
    created_at: datetime


class PhoneSlotOut(BaseModel):
    start: str
    end: str


class PhoneDayOut(BaseModel):
    weekday: int = Field(description="0 = Monday")
    slots: list[PhoneSlotOut]


class SupportHoursOut(BaseModel):
    brand: Brand
    timezone: str
    phone_support: bool
    schedule: list[PhoneDayOut]
    at: datetime
    open_now: bool
    closes_at: datetime | None
    next_opening: datetime | None
    channels: list[str]
    note: str | None = None


# --- payments -------------------------------------------------------------------


class PaymentRequestCreate(Strict):
    policy_number: PolicyNumber
    installment_ids: Annotated[list[DbInt], Field(min_length=1, max_length=24)]
    method: Annotated[str, Field(min_length=1, max_length=20)]
    card_network: Annotated[str, Field(min_length=1, max_length=20)] | None = None
    otp_challenge_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,64}$")] | None = None
    dry_run: bool = Field(False, description="check the rules only: no OTP needed, nothing written")


class PaymentRequestOut(BaseModel):
    dry_run: bool
    request_number: str | None
    policy_number: str
    installment_ids: list[int]
    amount: str
    amount_cents: int
    currency: Literal["EUR"] = "EUR"
    method: str
    card_network: str | None
    payment_link: str | None
    expires_at: datetime | None
    status: str


# --- service requests -----------------------------------------------------------


class ClaimDetails(Strict):
    description: LongText
    event_date: date
    iban: Iban | None = None


class SurrenderTotalDetails(Strict):
    iban: Iban
    notes: NoteText | None = None


class SurrenderPartialDetails(Strict):
    iban: Iban
    amount: Amount
    notes: NoteText | None = None


class ExtraPaymentDetails(Strict):
    amount: Amount
    method: Literal["card", "mybank"] | None = None
    notes: NoteText | None = None


class SuspensionDetails(Strict):
    effective_date: date
    effective_time: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] | None = None
    notes: NoteText | None = None


class AddressChangeDetails(Strict):
    address_type: Literal["residenza", "domicilio"]
    street: LineText
    postal_code: Annotated[str, Field(pattern=r"^\d{5}$")]
    city: LineText
    province: Annotated[str, Field(pattern=r"^[A-Za-z]{2}$")]


DETAILS_MODELS: dict[str, type[Strict]] = {
    "claim": ClaimDetails,
    "surrender_total": SurrenderTotalDetails,
    "surrender_partial": SurrenderPartialDetails,
    "extra_payment": ExtraPaymentDetails,
    "suspension": SuspensionDetails,
    "reactivation": SuspensionDetails,
    "address_change": AddressChangeDetails,
}


class ServiceRequestCreate(Strict):
    kind: Literal[SERVICE_REQUEST_KINDS]  # one list of kinds, kept in models.py
    policy_number: PolicyNumber | None = None
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="by kind: claim {description, event_date, iban?}; surrender_total {iban}; "
        "surrender_partial {iban, amount}; extra_payment {amount, method?}; "
        "suspension/reactivation {effective_date, effective_time?}; "
        "address_change {address_type, street, postal_code, city, province}",
    )
    dry_run: bool = Field(
        False,
        description="check only that this kind applies to this policy (ownership, product line, "
        "status, extra payments allowed): details are not needed, nothing is written",
    )


class ServiceRequestOut(BaseModel):
    dry_run: bool = False
    request_number: str | None
    kind: str
    status: str
    policy_number: str | None
    agency: AgencyOut
    created_at: datetime


class RegistrationCheck(Strict):
    """Codice fiscale or partita IVA; CA Vita also needs a policy number."""

    brand: Brand
    fiscal_code: FiscalCode | None = None
    vat_number: VatNumber | None = None
    policy_number: PolicyNumber | None = None

    @model_validator(mode="after")
    def _one_identifier(self) -> RegistrationCheck:
        if (self.fiscal_code is None) == (self.vat_number is None):
            raise PydanticCustomError(
                "one_identifier_required",
                "give exactly one of fiscal_code, vat_number",
                {"code": "one_identifier_required"},
            )
        return self


class RegistrationOut(BaseModel):
    brand: Brand
    eligible: bool
    reason: str | None


class HealthOut(BaseModel):
    status: Literal["ok"]
    database: str
    sms_mode: str


LookupMatch.model_rebuild()


# --- staff: open requests of a customer, lookup audit --------------------------------


class OpenSupportTicketOut(BaseModel):
    ticket_number: str
    reason: str
    status: str
    policy_number: str | None
    reply_email_masked: str
    created_at: datetime


class OpenServiceRequestOut(BaseModel):
    request_number: str
    kind: str
    status: str
    policy_number: str | None
    created_at: datetime


class OpenPaymentRequestOut(BaseModel):
    request_number: str
    policy_number: str
    status: Literal["pending", "appointment"] = Field(
        description="pending: link sent, not paid yet; appointment: the consultant must call the customer"
    )
    method: str
    amount: str
    amount_cents: int
    currency: Literal["EUR"] = "EUR"
    created_at: datetime
    expires_at: datetime | None = Field(description="until when the payment link works (pending only)")


class OpenRequestsResponse(BaseModel):
    customer_id: int
    support_tickets: list[OpenSupportTicketOut]
    service_requests: list[OpenServiceRequestOut]
    payment_requests: list[OpenPaymentRequestOut]
    total: int


class StaffLookupAuditOut(BaseModel):
    id: int
    at: datetime
    staff_id: str | None
    agency: str
    customer_id: int | None
    query_kind: Literal["fiscal_code", "vat_number", "mobile", "policy_number", "customer_id"]
    key_masked: str
    endpoint: str
    outcome: Literal["found", "not_found", "other_agency"]


class StaffLookupAuditResponse(BaseModel):
    agency: str
    entries: list[StaffLookupAuditOut]
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page; null at the end")
