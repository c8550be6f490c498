"""Demo data: valid identifiers, every advertised case present, idempotent, README in sync."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select

from backend_stub.app import create_app
from backend_stub.clock import FrozenClock, add_months
from backend_stub.fake_twilio import FakeTwilio
from backend_stub.models import Contact, Customer, Installment, Policy
from backend_stub.seed import demo_customers, markdown_table
from backend_stub.validation import (
    is_valid_fiscal_code,
    is_valid_partita_iva,
    policy_number_brand,
    validate_phone,
)

from .conftest import make_settings

TODAY = date(2025, 3, 15)


def test_identifiers_are_valid() -> None:
    demos = demo_customers(TODAY)
    assert len(demos) >= 8 and {d.brand for d in demos} == {"alleanza", "cavita"}
    assert [d.id for d in demos] == list(range(1, len(demos) + 1))
    for d in demos:
        if d.kind == "person":
            assert d.fiscal_code and is_valid_fiscal_code(d.fiscal_code), d.name
        else:
            assert d.vat_number and is_valid_partita_iva(d.vat_number), d.name
            assert d.legal_rep and is_valid_fiscal_code(d.legal_rep[1])
        for p in d.policies:
            assert policy_number_brand(p.number) == d.brand
        for c in d.contacts:
            if c.kind == "mobile":
                assert validate_phone(c.value) == c.value
        assert sum("dispositive" in c.roles for c in d.contacts) <= 1
    omocodic = [
        d for d in demos if d.fiscal_code and any(d.fiscal_code[i].isalpha() for i in (6, 7, 9, 10, 12, 13, 14))
    ]
    assert omocodic  # at least one omocodic code


def test_every_advertised_case_is_seeded() -> None:
    demos = demo_customers(TODAY)
    policies = [p for d in demos for p in d.policies]

    def due(offset: int | date) -> date:
        return offset if isinstance(offset, date) else TODAY + timedelta(days=offset)

    assert any(p.method == "sdd" for p in policies)
    protection = [p for p in policies if p.line == "protezione"]
    assert any(
        any(not paid and 0 <= (due(o) - TODAY).days <= 30 for o, _, paid in p.installments)
        and any(not paid and (due(o) - TODAY).days > 30 for o, _, paid in p.installments)
        for p in protection
    )
    assert any(not paid and due(o) < add_months(TODAY, -6) for p in policies for o, _, paid in p.installments)
    assert any(sum(not paid and due(o) < TODAY for o, _, paid in p.installments) >= 3 for p in policies)
    assert any(d.kind == "company" and d.legal_rep for d in demos)
    assert any(not any(c.kind == "mobile" for c in d.contacts) for d in demos)
    cavita_archived = [
        p.end_months_ago for d in demos if d.brand == "cavita" for p in d.policies if p.status != "active"
    ]
    assert 10 in cavita_archived and 30 in cavita_archived
    assert any(not c.confirmed for d in demos for c in d.contacts)
    for d in demos:
        username = next((c for c in d.contacts if "username" in c.roles), None)
        dispositive = next((c for c in d.contacts if "dispositive" in c.roles), None)
        if username and dispositive and username is not dispositive:
            break
    else:
        raise AssertionError("no customer whose username differs from the dispositive contact")


def test_seeding_is_idempotent(database_url: str, clock: FrozenClock, fake_twilio: FakeTwilio) -> None:
    counts = []
    for _ in range(2):
        app = create_app(make_settings(database_url, fake_twilio), clock=clock)
        with app.state.session_factory() as session:
            counts.append(
                tuple(
                    session.scalar(select(func.count()).select_from(model))
                    for model in (Customer, Contact, Policy, Installment)
                )
            )
        app.state.engine.dispose()
    assert counts[0] == counts[1] and counts[0][0] == len(demo_customers(TODAY))


def test_readme_lists_the_demo_customers() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for line in markdown_table(TODAY).splitlines()[2:]:
        assert line in readme, f"README.md is missing: {line}"
