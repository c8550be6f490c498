"""Demo data: customers that exercise every rule, with dates relative to "today".

Seeded only into an empty database (idempotent). Because dates are relative to the day of
seeding, restart with ``python -m backend_stub --reset`` to move them to a new today.
``python -m backend_stub.seed`` prints the table that README.md shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from .clock import add_months
from .models import Agency, Contact, Customer, Installment, Policy
from .validation import build_fiscal_code, omocode, partita_iva_check_digit


def _piva(first10: str) -> str:
    return first10 + str(partita_iva_check_digit(first10))


@dataclass
class DemoPolicy:
    number: str
    line: str
    name: str
    method: str
    status: str = "active"
    start_offset_months: int = -36
    end_months_ago: int | None = None  # for archived policies
    installments: list[tuple[int | date, int, bool]] = field(default_factory=list)  # (days or date, cents, paid)
    extra_payments: bool = False


@dataclass
class DemoContact:
    kind: str
    value: str
    confirmed: bool = True
    roles: tuple[str, ...] = ()


@dataclass
class DemoCustomer:
    id: int
    brand: str
    agency: str
    name: str
    demonstrates: str
    contacts: list[DemoContact]
    policies: list[DemoPolicy]
    fiscal_code: str | None = None
    vat_number: str | None = None
    legal_rep: tuple[str, str] | None = None  # (name, fiscal code)
    address: str | None = None

    @property
    def kind(self) -> str:
        return "company" if self.vat_number else "person"

    @property
    def mobile(self) -> str | None:
        return next((c.value for c in self.contacts if c.kind == "mobile" and "dispositive" in c.roles), None)


AGENCIES = [
    Agency(
        code="AL-MI-001",
        brand="alleanza",
        name="Agenzia Alleanza Milano Centro",
        city="Milano",
        email="milano.centro@agenzie.example.it",
    ),
    Agency(
        code="AL-NA-002",
        brand="alleanza",
        name="Agenzia Alleanza Napoli Vomero",
        city="Napoli",
        email="napoli.vomero@agenzie.example.it",
    ),
    Agency(
        code="CV-PR-0101",
        brand="cavita",
        name="Filiale Parma Centro",
        city="Parma",
        email="parma.centro@filiali.example.it",
    ),
    Agency(
        code="CV-MI-0205",
        brand="cavita",
        name="Filiale Milano Porta Nuova",
        city="Milano",
        email="milano.portanuova@filiali.example.it",
    ),
]


def demo_customers(today: date) -> list[DemoCustomer]:
    """The demo cases; installment offsets are days from ``today`` unless a date is given."""
    seven_months_ago = add_months(today, -7)
    cf = build_fiscal_code
    return [
        DemoCustomer(
            1,
            "alleanza",
            "AL-MI-001",
            "Mario Rossi",
            "several unpaid installments (pay oldest first, no skipping); extra payments allowed; happy path",
            fiscal_code=cf("Rossi", "Mario", date(1980, 1, 1), "M", "H501"),
            contacts=[
                DemoContact("mobile", "+393331234567", roles=("username", "dispositive")),
                DemoContact("email", "mario.rossi@example.it", roles=("paperless",)),
            ],
            policies=[
                DemoPolicy(
                    "AL10000001",
                    "vita",
                    "Alleanza Piano Risparmio",
                    "card",
                    extra_payments=True,
                    installments=[
                        (-100, 12000, True),
                        (-70, 12000, False),
                        (-40, 12000, False),
                        (-10, 12000, False),
                        (20, 12000, False),
                        (50, 12000, False),
                    ],
                )
            ],
            address="Via Roma 1, 00184 Roma RM",
        ),
        DemoCustomer(
            2,
            "alleanza",
            "AL-MI-001",
            "Giulia Bianchi",
            "protection product: installment due in 12 days payable, one due in 42 days not yet; "
            "Alleanza shows an archived policy ended 40 months ago",
            fiscal_code=cf("Bianchi", "Giulia", date(1975, 6, 15), "F", "F205"),
            contacts=[
                DemoContact("mobile", "+393471112233", roles=("username", "dispositive")),
                DemoContact("email", "giulia.bianchi@example.it", roles=("paperless", "fea")),
            ],
            policies=[
                DemoPolicy(
                    "AL10000002",
                    "protezione",
                    "Alleanza Protezione Famiglia",
                    "card",
                    installments=[(-18, 4500, True), (12, 4500, False), (42, 4500, False)],
                ),
                DemoPolicy(
                    "AL10000003",
                    "danni",
                    "Alleanza Casa",
                    "card",
                    status="expired",
                    start_offset_months=-100,
                    end_months_ago=40,
                    installments=[(-1250, 30000, True)],
                ),
            ],
        ),
        DemoCustomer(
            3,
            "alleanza",
            "AL-NA-002",
            "Luca Esposito",
            "SDD (direct debit) policy: not payable online; other agency (Napoli) for staff checks",
            fiscal_code=cf("Esposito", "Luca", date(1968, 11, 30), "M", "F839"),
            contacts=[
                DemoContact("mobile", "+393205556677", roles=("username", "dispositive")),
                DemoContact("email", "luca.esposito@example.it", roles=("paperless",)),
            ],
            policies=[
                DemoPolicy(
                    "AL10000004",
                    "vita",
                    "Alleanza Vita Sicura",
                    "sdd",
                    installments=[(-35, 8000, True), (-5, 8000, False), (25, 8000, False)],
                )
            ],
        ),
        DemoCustomer(
            4,
            "alleanza",
            "AL-NA-002",
            "Francesca Romano",
            "arrears older than 6 months: the oldest installment is not payable online, so nothing after it is",
            fiscal_code=cf("Romano", "Francesca", date(1990, 3, 8), "F", "F839"),
            contacts=[
                DemoContact("mobile", "+393389998877", roles=("username", "dispositive")),
                DemoContact("email", "francesca.romano@example.it", roles=("paperless",)),
            ],
            policies=[
                DemoPolicy(
                    "AL10000005",
                    "previdenza",
                    "Alleanza Piano Pensione",
                    "card",
                    installments=[(seven_months_ago, 15000, False), (-140, 15000, False), (-50, 15000, False)],
                )
            ],
        ),
        DemoCustomer(
            5,
            "alleanza",
            "AL-MI-001",
            "Costruzioni Verdi S.r.l.",
            "company (partita IVA) with legal representative Paolo Verdi, whose mobile is the dispositive one",
            vat_number=_piva("0412345015"),
            legal_rep=("Paolo Verdi", cf("Verdi", "Paolo", date(1965, 9, 21), "M", "F205")),
            contacts=[
                DemoContact("mobile", "+393351234000", roles=("username", "dispositive")),
                DemoContact("email", "amministrazione@costruzioniverdi.example.it", roles=("paperless",)),
            ],
            policies=[
                DemoPolicy(
                    "AL10000006",
                    "danni",
                    "Alleanza Impresa Sicura",
                    "card",
                    installments=[(-355, 250000, True), (10, 250000, False)],
                )
            ],
        ),
        DemoCustomer(
            6,
            "cavita",
            "CV-PR-0101",
            "Anna Ferrari",
            "no mobile at all: an OTP cannot be sent (no_dispositive_mobile)",
            fiscal_code=cf("Ferrari", "Anna", date(1958, 2, 14), "F", "G337"),
            contacts=[DemoContact("email", "anna.ferrari@example.it", roles=("username", "paperless"))],
            policies=[
                DemoPolicy(
                    "CV20000001",
                    "vita",
                    "CA Vita Investimento",
                    "mybank",
                    installments=[(-350, 50000, True), (15, 50000, False)],
                )
            ],
        ),
        DemoCustomer(
            7,
            "cavita",
            "CV-PR-0101",
            "Marco Colombo",
            "CA Vita archive: CV20000003 expired 10 months ago shown, CV20000004 expired 30 months "
            "ago hidden; CV20000002 active danni policy for suspension/reactivation; 5-digit OTP",
            fiscal_code=cf("Colombo", "Marco", date(1972, 7, 4), "M", "A944"),
            contacts=[
                DemoContact("mobile", "+393401231234", roles=("username", "dispositive")),
                DemoContact("email", "marco.colombo@example.it", roles=("paperless",)),
            ],
            policies=[
                DemoPolicy(
                    "CV20000002",
                    "danni",
                    "CA Casa e Famiglia",
                    "card",
                    installments=[(-357, 21000, True), (8, 21000, False)],
                ),
                DemoPolicy(
                    "CV20000003",
                    "vita",
                    "CA Vita Temporanea",
                    "card",
                    status="expired",
                    start_offset_months=-70,
                    end_months_ago=10,
                ),
                DemoPolicy(
                    "CV20000004",
                    "vita",
                    "CA Vita Rendita",
                    "card",
                    status="expired",
                    start_offset_months=-90,
                    end_months_ago=30,
                ),
            ],
        ),
        DemoCustomer(
            8,
            "cavita",
            "CV-MI-0205",
            "Sara Ricci",
            "username (email) differs from the dispositive mobile; unconfirmed mobile and email; "
            "extra payments and surrender allowed",
            fiscal_code=cf("Ricci", "Sara", date(1985, 12, 1), "F", "F205"),
            contacts=[
                DemoContact("email", "sara.ricci@example.it", roles=("username", "paperless")),
                DemoContact("mobile", "+393486667788", roles=("dispositive", "fea")),
                DemoContact("mobile", "+393471230000", confirmed=False),
                DemoContact("email", "s.ricci.old@example.it", confirmed=False),
            ],
            policies=[
                DemoPolicy(
                    "CV20000005",
                    "vita",
                    "CA Vita Multiramo",
                    "card",
                    extra_payments=True,
                    installments=[(-25, 10000, True), (5, 10000, False)],
                )
            ],
        ),
        DemoCustomer(
            9,
            "cavita",
            "CV-MI-0205",
            "Davide Greco",
            "omocodic codice fiscale; protection product with an overdue and an upcoming installment; "
            "surrendered policy (archived, shown)",
            fiscal_code=omocode(cf("Greco", "Davide", date(1995, 5, 20), "M", "L219"), 1),
            contacts=[DemoContact("mobile", "+393391112222", roles=("username", "dispositive"))],
            policies=[
                DemoPolicy(
                    "CV20000006",
                    "protezione",
                    "CA Protezione Salute",
                    "mybank",
                    installments=[(-20, 3000, False), (10, 3000, False), (40, 3000, False)],
                ),
                DemoPolicy(
                    "CV20000007",
                    "previdenza",
                    "CA Previdenza Futuro",
                    "card",
                    status="surrendered",
                    start_offset_months=-60,
                    end_months_ago=5,
                ),
            ],
        ),
        DemoCustomer(
            10,
            "alleanza",
            "AL-MI-001",
            "Elena Marino",
            "dispositive mobile not confirmed yet: OTP refused (dispositive_mobile_unconfirmed)",
            fiscal_code=cf("Marino", "Elena", date(1982, 10, 10), "F", "D612"),
            contacts=[
                DemoContact("email", "elena.marino@example.it", roles=("username",)),
                DemoContact("mobile", "+393381234999", confirmed=False, roles=("dispositive",)),
            ],
            policies=[
                DemoPolicy("AL10000007", "danni", "Alleanza Auto Plus", "card", installments=[(15, 40000, False)])
            ],
        ),
        DemoCustomer(
            11,
            "cavita",
            "CV-PR-0101",
            "Agricola Po S.S.",
            "CA Vita company with legal representative Giovanni Gallo; SDD policy",
            vat_number=_piva("0287654034"),
            legal_rep=("Giovanni Gallo", cf("Gallo", "Giovanni", date(1960, 4, 2), "M", "G337")),
            contacts=[
                DemoContact("mobile", "+393299876543", roles=("username", "dispositive")),
                DemoContact("email", "info@agricolapo.example.it", roles=("paperless",)),
            ],
            policies=[
                DemoPolicy("CV20000008", "danni", "CA Impresa Agricola", "sdd", installments=[(-3, 90000, False)])
            ],
        ),
    ]


def _due(offset: int | date, today: date) -> date:
    return offset if isinstance(offset, date) else today + timedelta(days=offset)


def build_rows(today: date) -> list[Customer]:
    """ORM rows for the demo customers (not yet added to a session)."""
    rows = []
    for demo in demo_customers(today):
        customer = Customer(
            id=demo.id,
            brand=demo.brand,
            kind=demo.kind,
            agency_code=demo.agency,
            name=demo.name,
            fiscal_code=demo.fiscal_code,
            vat_number=demo.vat_number,
            legal_rep_name=demo.legal_rep[0] if demo.legal_rep else None,
            legal_rep_fiscal_code=demo.legal_rep[1] if demo.legal_rep else None,
            address=demo.address,
        )
        for c in demo.contacts:
            customer.contacts.append(
                Contact(
                    kind=c.kind,
                    value=c.value,
                    confirmed=c.confirmed,
                    is_username="username" in c.roles,
                    is_dispositive="dispositive" in c.roles,
                    is_paperless="paperless" in c.roles,
                    is_fea="fea" in c.roles,
                )
            )
        for p in demo.policies:
            end = add_months(today, -p.end_months_ago) if p.end_months_ago is not None else None
            policy = Policy(
                number=p.number,
                product_line=p.line,
                product_name=p.name,
                status=p.status,
                start_date=add_months(today, p.start_offset_months),
                end_date=end,
                payment_method=p.method,
                allows_extra_payments=p.extra_payments,
            )
            for offset, cents, paid in p.installments:
                due = _due(offset, today)
                # A paid installment was paid on its due date (noon UTC).
                paid_at = datetime.combine(due, time(12), UTC) if paid else None
                policy.installments.append(Installment(due_date=due, amount_cents=cents, paid=paid, paid_at=paid_at))
            customer.policies.append(policy)
        rows.append(customer)
    return rows


def seed_if_empty(session: Session, today: date) -> int:
    """Insert the demo data unless customers exist; returns how many customers were added."""
    if session.scalar(select(func.count(Customer.id))):
        return 0
    for agency in AGENCIES:
        if session.get(Agency, agency.code) is None:
            session.add(
                Agency(code=agency.code, brand=agency.brand, name=agency.name, city=agency.city, email=agency.email)
            )
    session.flush()
    rows = build_rows(today)
    session.add_all(rows)
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        # Explicit ids do not move the sequence; keep it ahead for any later insert.
        session.execute(
            text("SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT max(id) FROM customers))")
        )
    return len(rows)


def markdown_table(today: date) -> str:
    """The demo customers as the Markdown table of README.md."""
    lines = [
        "| id | name | brand | agency | demonstrates | dispositive mobile | policies |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in demo_customers(today):
        policies = ", ".join(p.number for p in d.policies)
        lines.append(
            f"| {d.id} | {d.name} | {d.brand} | {d.agency} | {d.demonstrates} | {d.mobile or 'none'} | {policies} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table(date.today()))
