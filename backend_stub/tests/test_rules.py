"""Unit tests of the business rules, without database or HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from backend_stub.clock import ROME, add_months
from backend_stub.config import BRAND_RULES, Settings
from backend_stub.errors import ApiError
from backend_stub.masking import mask_email, mask_fiscal_code, mask_phone, redact_text
from backend_stub.services.otp import generate_code, hash_code
from backend_stub.services.payments import InstallmentFacts, PolicyFacts, assess, check_selection
from backend_stub.services.policies import is_visible
from backend_stub.services.support import phone_hours

TODAY = date(2025, 3, 15)
ALLEANZA, CAVITA = BRAND_RULES["alleanza"], BRAND_RULES["cavita"]
VITA = PolicyFacts("vita", "active", "card")
PROTEZIONE = PolicyFacts("protezione", "active", "card")


def inst(id_: int, days: int, paid: bool = False) -> InstallmentFacts:
    return InstallmentFacts(id_, TODAY + timedelta(days=days), paid, 1000)


def test_brand_rules_from_the_seeds() -> None:
    assert (ALLEANZA.otp_length, CAVITA.otp_length) == (6, 5)
    assert ALLEANZA.otp_ttl_seconds == CAVITA.otp_ttl_seconds == 120
    assert CAVITA.archived_visible_months == 24 and ALLEANZA.archived_visible_months is None
    assert set(ALLEANZA.payment_methods) == {"card", "mybank"}
    assert set(ALLEANZA.card_networks) == {"visa", "mastercard"}


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert add_months(date(2025, 3, 15), -24) == date(2023, 3, 15)
    assert add_months(date(2025, 1, 15), -1) == date(2024, 12, 15)


def test_sdd_and_inactive_policies_are_not_payable() -> None:
    items = [inst(1, -10), inst(2, 5)]
    assert set(assess(PolicyFacts("vita", "active", "sdd"), items, ALLEANZA, TODAY).values()) == {"sdd_not_payable"}
    assert set(assess(PolicyFacts("vita", "expired", "card"), items, ALLEANZA, TODAY).values()) == {"policy_not_active"}


def test_six_months_boundary() -> None:
    six_months = (TODAY - add_months(TODAY, -6)).days
    on_edge = assess(VITA, [inst(1, -six_months)], ALLEANZA, TODAY)
    past_edge = assess(VITA, [inst(1, -six_months - 1)], ALLEANZA, TODAY)
    assert on_edge[1] is None
    assert past_edge[1] == "overdue_more_than_6_months"


def test_protection_payable_from_30_days_before_due() -> None:
    reasons = assess(PROTEZIONE, [inst(1, 30), inst(2, 31)], ALLEANZA, TODAY)
    assert reasons == {1: None, 2: "protection_not_yet_due"}


def test_only_current_installment_and_arrears() -> None:
    reasons = assess(VITA, [inst(1, -40, paid=True), inst(2, -10), inst(3, 20), inst(4, 50)], ALLEANZA, TODAY)
    assert reasons == {1: "already_paid", 2: None, 3: None, 4: "not_yet_due"}


def test_current_installment_far_in_the_future_is_not_yet_due() -> None:
    assert assess(VITA, [inst(1, 200)], ALLEANZA, TODAY)[1] == "not_yet_due"


def test_old_arrears_block_everything_after() -> None:
    reasons = assess(VITA, [inst(1, -250), inst(2, -100), inst(3, -10)], ALLEANZA, TODAY)
    assert reasons == {
        1: "overdue_more_than_6_months",
        2: "older_installment_not_payable",
        3: "older_installment_not_payable",
    }


def refusal(items: list[InstallmentFacts], selected: list[int], policy: PolicyFacts = VITA) -> ApiError:
    with pytest.raises(ApiError) as info:
        check_selection(policy, items, selected, ALLEANZA, TODAY)
    return info.value


def test_selection_must_be_the_oldest_unpaid_first() -> None:
    items = [inst(1, -70), inst(2, -40), inst(3, -10)]
    assert [i.id for i in check_selection(VITA, items, [2, 1], ALLEANZA, TODAY)] == [1, 2]
    err = refusal(items, [2])
    assert err.code == "installment_skipped" and err.extra["missing_installment_ids"] == [1]
    err = refusal(items, [1, 3])
    assert err.code == "installment_skipped" and err.extra["missing_installment_ids"] == [2]


def test_selection_refusals() -> None:
    items = [inst(1, -70, paid=True), inst(2, -40), inst(3, 90)]
    assert refusal(items, [2, 2]).code == "duplicate_installments"
    assert refusal(items, [99]).code == "installment_not_found"
    assert refusal(items, [1]).code == "installment_already_paid"
    assert refusal(items, [2, 3]).code == "not_yet_due"
    assert refusal([inst(1, -300), inst(2, -10)], [1]).code == "overdue_more_than_6_months"
    err = refusal([inst(1, -300), inst(2, -10)], [2])
    assert err.code == "installment_skipped"
    assert err.extra["missing_not_payable_reasons"] == ["overdue_more_than_6_months"]
    assert refusal([inst(1, 10), inst(2, 40)], [1, 2], PROTEZIONE).code == "protection_not_yet_due"
    assert refusal(items, [2], PolicyFacts("vita", "active", "sdd")).code == "sdd_not_payable"


def _policy(status: str, end: date | None) -> SimpleNamespace:
    return SimpleNamespace(status=status, end_date=end)


def test_archived_visibility_per_brand() -> None:
    ended_10 = _policy("expired", add_months(TODAY, -10))
    ended_24 = _policy("expired", add_months(TODAY, -24))
    ended_30 = _policy("surrendered", add_months(TODAY, -30))
    assert is_visible(ended_10, CAVITA, TODAY)  # type: ignore[arg-type]
    assert is_visible(ended_24, CAVITA, TODAY)  # type: ignore[arg-type]
    assert not is_visible(ended_30, CAVITA, TODAY)  # type: ignore[arg-type]
    assert is_visible(ended_30, ALLEANZA, TODAY)  # type: ignore[arg-type]
    assert is_visible(_policy("active", None), CAVITA, TODAY)  # type: ignore[arg-type]


def rome(*args: int) -> datetime:
    return datetime(*args, tzinfo=ROME)


@pytest.mark.parametrize(
    "when,open_now",
    [
        (rome(2025, 7, 7, 10, 0), True),  # Monday morning
        (rome(2025, 7, 7, 13, 45), False),  # lunch break
        (rome(2025, 7, 10, 17, 15), True),  # Thursday until 17:30
        (rome(2025, 7, 11, 17, 15), False),  # Friday until 17:00
        (rome(2025, 7, 11, 16, 59), True),
        (rome(2025, 7, 12, 10, 0), False),  # Saturday
        (rome(2025, 7, 7, 8, 59), False),
        (rome(2025, 7, 7, 17, 30), False),  # closing time is excluded
    ],
)
def test_cavita_phone_hours(when: datetime, open_now: bool) -> None:
    assert phone_hours(CAVITA, when)["open_now"] is open_now


def test_phone_hours_next_opening_and_timezone() -> None:
    lunch = phone_hours(CAVITA, rome(2025, 7, 7, 13, 45))
    assert lunch["next_opening"] == rome(2025, 7, 7, 14, 30)
    saturday = phone_hours(CAVITA, rome(2025, 7, 12, 10, 0))
    assert saturday["next_opening"] == rome(2025, 7, 14, 9, 0)
    # 07:30 UTC is 09:30 in summer (CEST, open) but 08:30 in winter (CET, closed).
    assert phone_hours(CAVITA, datetime(2025, 7, 7, 7, 30, tzinfo=UTC))["open_now"] is True
    assert phone_hours(CAVITA, datetime(2025, 1, 13, 7, 30, tzinfo=UTC))["open_now"] is False
    morning = phone_hours(CAVITA, rome(2025, 7, 7, 10, 0))
    assert morning["closes_at"] == rome(2025, 7, 7, 13, 30)


def test_alleanza_has_no_phone_line_but_other_channels() -> None:
    hours = phone_hours(ALLEANZA, rome(2025, 7, 7, 10, 0))
    assert hours["phone_support"] is False and hours["open_now"] is False and hours["schedule"] == []
    assert {"support_form", "consulente"} <= set(hours["channels"])


def test_masking() -> None:
    assert mask_phone("+393331234567") == "+39 *** *** 4567"
    assert mask_phone("+442079460958") == "+44 *** *** 0958"
    assert mask_email("mario.rossi@example.it") == "m***@example.it"
    assert mask_fiscal_code("RSSMRA80A01H501U") == "RSS************U"
    scrubbed = redact_text("cf RSSMRA80A01H501U code 123456 link /pay/abcDEF_123-xyz")
    assert "RSSMRA80A01H501U" not in scrubbed and "123456" not in scrubbed and "abcDEF" not in scrubbed


def test_otp_codes_and_hashes() -> None:
    codes = {generate_code(6) for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes) and len(codes) > 150
    assert hash_code("s", "a", "123456") != hash_code("s", "b", "123456")
    assert hash_code("s", "a", "123456") != hash_code("t", "a", "123456")
    assert "123456" not in hash_code("s", "a", "123456")


def test_settings_from_env() -> None:
    settings = Settings.from_env({"BACKEND_PORT": "9000", "SMS_MODE": "fake_twilio"})
    assert settings.port == 9000 and settings.public_base_url == "http://127.0.0.1:9000"
    assert settings.database_url.endswith("var/backend.sqlite3")
    assert settings.twilio_account_sid.startswith("AC")
    with pytest.raises(ValueError):
        Settings.from_env({"SMS_MODE": "carrier-pigeon"})
