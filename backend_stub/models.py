"""Tables of the stub (SQLAlchemy 2 declarative).

Enumerations are plain strings guarded by CHECK constraints so that SQLite and
PostgreSQL behave the same and the schema stays readable in a SQL shell.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from brand_registry import codes
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base, UTCDateTime

CUSTOMER_KINDS = ("person", "company")
CONTACT_KINDS = ("email", "mobile")
CONTACT_ROLES = ("username", "dispositive", "paperless", "fea")
PRODUCT_LINES = ("vita", "danni", "protezione", "previdenza")
POLICY_STATUSES = ("active", "expired", "surrendered")
POLICY_PAYMENT_METHODS = ("card", "mybank", "sdd", "agency")
OTP_PURPOSES = ("step_up", "payment", "service_request")
OTP_STATUSES = ("pending", "verified", "consumed", "superseded", "locked")
TICKET_REASONS = ("navigazione", "informazioni_polizza")
PAYMENT_STATUSES = ("pending", "paid", "superseded", "appointment")
SERVICE_REQUEST_KINDS = (
    "claim",
    "surrender_total",
    "surrender_partial",
    "extra_payment",
    "suspension",
    "reactivation",
    "address_change",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Agency(Base):
    """An agency (Alleanza) or bank branch (CA Vita) that owns customers and requests."""

    __tablename__ = "agencies"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    brand: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    city: Mapped[str] = mapped_column(String(80))
    email: Mapped[str] = mapped_column(String(254))


class Customer(Base):
    """A policy holder: a person (codice fiscale) or a company (partita IVA)."""

    __tablename__ = "customers"
    __table_args__ = (
        CheckConstraint(_in("kind", CUSTOMER_KINDS), name="ck_customer_kind"),
        CheckConstraint(_in("brand", codes()), name="ck_customer_brand"),
        CheckConstraint(
            "(kind = 'person' AND fiscal_code IS NOT NULL) OR "
            "(kind = 'company' AND vat_number IS NOT NULL AND legal_rep_name IS NOT NULL)",
            name="ck_customer_identity",
        ),
        UniqueConstraint("brand", "fiscal_code", name="uq_customer_brand_cf"),
        UniqueConstraint("brand", "vat_number", name="uq_customer_brand_piva"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    brand: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(10))
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"))
    name: Mapped[str] = mapped_column(String(160))
    fiscal_code: Mapped[str | None] = mapped_column(String(16))
    vat_number: Mapped[str | None] = mapped_column(String(11))
    legal_rep_name: Mapped[str | None] = mapped_column(String(160))
    legal_rep_fiscal_code: Mapped[str | None] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(240))

    agency: Mapped[Agency] = relationship(lazy="joined")
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="customer", order_by="Contact.id", cascade="all, delete-orphan"
    )
    policies: Mapped[list[Policy]] = relationship(
        back_populates="customer", order_by="Policy.number", cascade="all, delete-orphan"
    )


class Contact(Base):
    """An email or mobile number of a customer; it may hold several roles at once."""

    __tablename__ = "contacts"
    __table_args__ = (
        CheckConstraint(_in("kind", CONTACT_KINDS), name="ck_contact_kind"),
        CheckConstraint("NOT is_dispositive OR kind = 'mobile'", name="ck_dispositive_is_mobile"),
        UniqueConstraint("customer_id", "kind", "value", name="uq_contact_value"),
        # At most one dispositive contact per customer.
        Index(
            "uq_one_dispositive",
            "customer_id",
            unique=True,
            sqlite_where=text("is_dispositive"),
            postgresql_where=text("is_dispositive"),
        ),
        Index("ix_contact_value", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(254))  # E.164 or lower-case email
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    is_username: Mapped[bool] = mapped_column(Boolean, default=False)
    is_dispositive: Mapped[bool] = mapped_column(Boolean, default=False)
    is_paperless: Mapped[bool] = mapped_column(Boolean, default=False)
    is_fea: Mapped[bool] = mapped_column(Boolean, default=False)

    customer: Mapped[Customer] = relationship(back_populates="contacts")

    @property
    def roles(self) -> list[str]:
        flags = (self.is_username, self.is_dispositive, self.is_paperless, self.is_fea)
        return [role for role, on in zip(CONTACT_ROLES, flags, strict=True) if on]


class Policy(Base):
    """An insurance contract held by one customer."""

    __tablename__ = "policies"
    __table_args__ = (
        CheckConstraint(_in("product_line", PRODUCT_LINES), name="ck_policy_line"),
        CheckConstraint(_in("status", POLICY_STATUSES), name="ck_policy_status"),
        CheckConstraint(_in("payment_method", POLICY_PAYMENT_METHODS), name="ck_policy_method"),
        CheckConstraint("status = 'active' OR end_date IS NOT NULL", name="ck_policy_end"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(12), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    product_line: Mapped[str] = mapped_column(String(12))
    product_name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(12))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    payment_method: Mapped[str] = mapped_column(String(8))
    allows_extra_payments: Mapped[bool] = mapped_column(Boolean, default=False)

    customer: Mapped[Customer] = relationship(back_populates="policies")
    installments: Mapped[list[Installment]] = relationship(
        back_populates="policy", order_by="Installment.due_date", cascade="all, delete-orphan"
    )


class Installment(Base):
    """A premium installment (rata) of a policy; amounts in euro cents."""

    __tablename__ = "installments"
    __table_args__ = (
        UniqueConstraint("policy_id", "due_date", name="uq_installment_due"),
        CheckConstraint("amount_cents > 0", name="ck_installment_amount"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"), index=True)
    due_date: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(Integer)
    paid: Mapped[bool] = mapped_column(Boolean, default=False)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    policy: Mapped[Policy] = relationship(back_populates="installments")


class OtpChallenge(Base):
    """A one-time code sent to the dispositive mobile; only its HMAC is stored."""

    __tablename__ = "otp_challenges"
    __table_args__ = (
        CheckConstraint(_in("purpose", OTP_PURPOSES), name="ck_otp_purpose"),
        CheckConstraint(_in("status", OTP_STATUSES), name="ck_otp_status"),
        Index("ix_otp_customer_created", "customer_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    code_length: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sms_sid: Mapped[str | None] = mapped_column(String(64))

    contact: Mapped[Contact] = relationship(lazy="joined")


class SupportTicket(Base):
    """A request for help from the support form (reply email, reason, text)."""

    __tablename__ = "support_tickets"
    __table_args__ = (CheckConstraint(_in("reason", TICKET_REASONS), name="ck_ticket_reason"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str | None] = mapped_column(String(24), unique=True)
    brand: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    policy_number: Mapped[str | None] = mapped_column(String(12))
    reply_email: Mapped[str] = mapped_column(String(254))
    reason: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PaymentRequest(Base):
    """An online payment of installments; the link token is stored hashed."""

    __tablename__ = "payment_requests"
    __table_args__ = (CheckConstraint(_in("status", PAYMENT_STATUSES), name="ck_payment_status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str | None] = mapped_column(String(24), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(8))
    card_network: Mapped[str | None] = mapped_column(String(12))
    amount_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    otp_challenge_id: Mapped[str] = mapped_column(ForeignKey("otp_challenges.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    policy: Mapped[Policy] = relationship(lazy="joined")
    items: Mapped[list[PaymentRequestInstallment]] = relationship(cascade="all, delete-orphan")


class PaymentRequestInstallment(Base):
    """Which installments a payment request covers."""

    __tablename__ = "payment_request_installments"

    payment_request_id: Mapped[int] = mapped_column(
        ForeignKey("payment_requests.id", ondelete="CASCADE"), primary_key=True
    )
    installment_id: Mapped[int] = mapped_column(ForeignKey("installments.id", ondelete="CASCADE"), primary_key=True)

    installment: Mapped[Installment] = relationship(lazy="joined")


class ServiceRequest(Base):
    """A request handed to the customer's agency (claim, surrender, ...)."""

    __tablename__ = "service_requests"
    __table_args__ = (CheckConstraint(_in("kind", SERVICE_REQUEST_KINDS), name="ck_sr_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str | None] = mapped_column(String(24), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default="received")
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


STAFF_QUERY_KINDS = ("fiscal_code", "vat_number", "mobile", "policy_number", "customer_id")
STAFF_LOOKUP_OUTCOMES = ("found", "not_found", "other_agency")


class StaffLookupAudit(Base):
    """One access by agency staff to customer data: who, when, which customer, how.

    Written for every call that carries ``X-Staff-Agency`` (lookups and per-customer
    reads), in a transaction of its own so that refused and failed calls are recorded too.
    ``customer_id`` has no foreign key on purpose: the audit must outlive the customer row.
    The search key is kept only masked (``key_masked``, for people) and as a keyed HMAC
    (``key_hash``, so compliance can ask "who searched for this codice fiscale?" without
    the table ever holding one in clear).
    """

    __tablename__ = "staff_lookup_audit"
    __table_args__ = (
        CheckConstraint(_in("query_kind", STAFF_QUERY_KINDS), name="ck_staff_audit_kind"),
        CheckConstraint(_in("outcome", STAFF_LOOKUP_OUTCOMES), name="ck_staff_audit_outcome"),
        Index("ix_staff_audit_agency_id", "agency_code", "id"),
        Index("ix_staff_audit_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    staff_id: Mapped[str | None] = mapped_column(String(64))  # None: caller sent no X-Staff-Id
    agency_code: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int | None] = mapped_column(Integer)
    query_kind: Mapped[str] = mapped_column(String(16))
    key_masked: Mapped[str] = mapped_column(String(40))
    key_hash: Mapped[str | None] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(120))  # route template, never a filled-in path
    outcome: Mapped[str] = mapped_column(String(16))
