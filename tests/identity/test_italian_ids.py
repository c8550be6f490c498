"""Codice fiscale, partita IVA and IBAN checks (identity/italian_ids.py, python-stdnum)."""

from __future__ import annotations

import pytest

from identity import (
    fiscal_code_check_char,
    mask_fiscal_code,
    mask_iban,
    mask_vat_number,
    valid_fiscal_code,
    valid_iban,
    valid_vat_number,
)

MARIO = "RSSMRA80A01H501U"  # the classic example: Mario Rossi, Roma, 1 January 1980
MATTEO = "MRTMTT25D09F205Z"  # Wikipedia's example: Matteo Moretti, Milano, 9 April 1925


# --- codice fiscale -----------------------------------------------------------------------


@pytest.mark.parametrize("raw,expected", [
    (MARIO, MARIO),
    (MATTEO, MATTEO),
    ("rssmra80a01h501u", MARIO),  # lower case
    (" RSS MRA 80A01 H501U ", MARIO),  # spaces as people type them
    ("MRTMTT25D09F20RU", "MRTMTT25D09F20RU"),  # omocodia: last digit 5 -> R, check char again
    ("GRCDVD95E20L21VO", "GRCDVD95E20L21VO"),  # omocodic code of the demo data
    ("RSSMRA80A41H501Y", "RSSMRA80A41H501Y"),  # a woman: day + 40
])
def test_valid_fiscal_codes_come_back_normalised(raw, expected):
    assert valid_fiscal_code(raw) == expected


@pytest.mark.parametrize("raw", [
    "RSSMRA80A01H501X",  # wrong check character
    "MRTMTT25D09F20RZ",  # omocodic variant that kept the original check character
    "RSSMRA80Z01H501U",  # no month Z
    "MRTMTTA5D09F205Z",  # A is not an omocodia letter
    "RSSMRA80A01H501",  # 15 characters
    "RSSMRA80A01H501UU",  # 17 characters
    "00934061003",  # a company's 11-digit code is a partita IVA, not a person's code
    "",
    None,
    12345,
])
def test_invalid_fiscal_codes_are_refused(raw):
    assert valid_fiscal_code(raw) is None


@pytest.mark.parametrize("first15", [
    "RSSMRA80B30H501",  # 30 February
    "RSSMRA81B69H501",  # 29 February 1981 (a woman), not a leap year
    "RSSMRA80A00H501",  # day 0
    "RSSMRA80A32H501",  # day 32
    "RSSMRA80A81H501",  # day 81: stdnum reads the day modulo 40, the code has no such day
])
def test_impossible_birth_days_are_refused_even_with_the_right_check_character(first15):
    code = first15 + fiscal_code_check_char(first15)
    assert valid_fiscal_code(code) is None


def test_leap_day_of_a_leap_year_is_a_birth_day():
    first15 = "RSSMRA80B69H501"  # 29 February 1980, a woman
    assert valid_fiscal_code(first15 + fiscal_code_check_char(first15)) is not None


def test_the_check_character_is_the_published_one():
    assert fiscal_code_check_char(MARIO[:15]) == "U"
    assert fiscal_code_check_char(MATTEO[:15].lower()) == "Z"


# --- partita IVA --------------------------------------------------------------------------


@pytest.mark.parametrize("raw,expected", [
    ("00934061003", "00934061003"),
    ("IT 00934061003", "00934061003"),
    ("it04123450159", "04123450159"),
    ("041.2345.0159", "04123450159"),
])
def test_valid_partita_iva(raw, expected):
    assert valid_vat_number(raw) == expected


@pytest.mark.parametrize("raw", [
    "00934061004",  # bad check digit
    "04123450158",  # bad check digit
    "12345678903",  # right Luhn digit, but office 890 does not exist
    "00000000000",
    "0093406100",  # 10 digits
    "009340610031",  # 12 digits
    "0093406100A",
    "",
    None,
])
def test_invalid_partita_iva(raw):
    assert valid_vat_number(raw) is None


# --- IBAN ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raw,expected", [
    ("IT60X0542811101000000123456", "IT60X0542811101000000123456"),
    ("IT60 X054 2811 1010 0000 0123 456", "IT60X0542811101000000123456"),
    ("it60 x054 2811 1010 0000 0123 456", "IT60X0542811101000000123456"),
    ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),  # foreign IBANs are IBANs too
    ("GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"),
])
def test_valid_ibans_come_back_compact_and_upper_case(raw, expected):
    assert valid_iban(raw) == expected


@pytest.mark.parametrize("raw", [
    "IT61X0542811101000000123456",  # check digits off by one
    "IT60X054281110100000012345",  # 26 characters: an Italian IBAN has 27
    "IT60X05428111010000001234567",  # 28
    "IT6010542811101000000123456",  # the CIN must be a letter (Italian layout)
    "DE89370400440532013001",  # German IBAN with a changed digit
    "60IT0542811101000000123456",
    "XX60X0542811101000000123456",  # no such country
    "",
    None,
])
def test_invalid_ibans(raw):
    assert valid_iban(raw) is None


# --- masking ------------------------------------------------------------------------------


def test_masks_keep_only_what_the_assistant_shows():
    assert mask_fiscal_code("rssmra80a01h501u") == "RSS************U"
    assert mask_vat_number("04123450159") == "041*****159"
    assert mask_iban("IT60 X054 2811 1010 0000 0123 456") == "IT** **** 3456"
