"""Phone numbers to E.164 and Italian mobiles (identity/phones.py, phonenumbers)."""

from __future__ import annotations

import pytest

from identity import is_e164, mask_phone, to_e164, valid_mobile

MOBILE = "+393331234567"


@pytest.mark.parametrize("raw", [
    "+393331234567",
    "+39 333 123 4567",
    "0039 333 1234567",
    "0039 333.123.4567",
    "333 1234567",
    "333-123-4567",
    "(333) 1234567",
])
def test_an_italian_mobile_however_written_becomes_e164(raw):
    assert valid_mobile(raw) == MOBILE


def test_a_nine_digit_mobile_is_a_mobile_too():
    assert valid_mobile("333 123456") == "+39333123456"


@pytest.mark.parametrize("raw", [
    "06 1234567",  # Rome landline
    "+39 02 1234567",  # Milan landline
    "+44 7911 123456",  # a British mobile: not an Italian one
    "+39 300 1234567",  # 30x is no mobile range
    "333 12a4567",  # letters are not keypad digits here
    "12345",
    "+39 123",
    "",
    "+",
    None,
    3331234567,
])
def test_landlines_foreign_numbers_and_garbage_are_no_italian_mobile(raw):
    assert valid_mobile(raw) is None


@pytest.mark.parametrize("raw,expected", [
    ("+39 333 123 4567", MOBILE),
    ("3331234567", MOBILE),
    ("06 1234567", "+39061234567"),  # the Italian trunk 0 stays in the number
    ("(02) 1234567", "+39021234567"),
    ("+44 20 7946 0958", "+442079460958"),
    ("0044 20 7946 0958", "+442079460958"),
])
def test_any_valid_number_becomes_e164(raw, expected):
    assert to_e164(raw) == expected


def test_strict_needs_a_number_that_exists_not_only_a_plausible_length():
    assert to_e164("+39 300 1234567") is None
    assert to_e164("+39 300 1234567", strict=False) == "+393001234567"
    assert to_e164("+0 333 1234567", strict=False) is None
    assert to_e164("ciao", strict=False) is None


def test_e164_shape():
    assert is_e164(MOBILE) and is_e164("+14155238886")
    assert not is_e164("393331234567") and not is_e164("+39 333 1234567")
    assert not is_e164("+0123456789") and not is_e164(None)


@pytest.mark.parametrize("raw,expected", [
    (MOBILE, "+39 *** *** 4567"),
    ("0039 333 1234567", "+39 *** *** 4567"),
    ("+442079460958", "+*** *** 0958"),
    ("333 1234567", "*** *** 4567"),
    ("12", "***"),
])
def test_mask_keeps_the_last_four_digits(raw, expected):
    assert mask_phone(raw) == expected
