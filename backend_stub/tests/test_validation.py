"""Validation of Italian identifiers with real, hand-checked examples."""

from __future__ import annotations

from datetime import date

import pytest

from backend_stub.validation import (
    InvalidValue,
    build_fiscal_code,
    fiscal_code_check_char,
    is_valid_fiscal_code,
    is_valid_partita_iva,
    omocode,
    partita_iva_check_digit,
    validate_email,
    validate_fiscal_code,
    validate_iban,
    validate_partita_iva,
    validate_phone,
    validate_policy_number,
)

# Wikipedia's example (Matteo Moretti, Milano 9 April 1925) and the classic Mario Rossi code;
# MRTMTT25D09F20RU is its first omocodic variant (check character computed by hand).
VALID_CF = ["MRTMTT25D09F205Z", "RSSMRA80A01H501U", "MRTMTT25D09F20RU"]


@pytest.mark.parametrize("code", VALID_CF)
def test_valid_fiscal_codes(code: str) -> None:
    assert validate_fiscal_code(code) == code


def test_fiscal_code_is_normalised() -> None:
    assert validate_fiscal_code(" mrtmtt25d09 f205z ") == "MRTMTT25D09F205Z"


@pytest.mark.parametrize(
    "code",
    [
        "MRTMTT25D09F205A",  # wrong check character
        "MRTMTT25D09F20RZ",  # omocodic variant keeping the original check character
        "MRTMTT25D09F205",  # 15 characters
        "MRTMTT25D09F205ZZ",  # 17 characters
        "MRTMTTA5D09F205Z",  # 'A' is not an omocodia letter
        "MRTMTT25K09F205Z",  # 'K' is not a month letter
        "1RTMTT25D09F205Z",  # digit in the surname part
        "",
    ],
)
def test_invalid_fiscal_codes(code: str) -> None:
    with pytest.raises(InvalidValue) as info:
        validate_fiscal_code(code)
    assert info.value.code == "invalid_fiscal_code"
    assert not is_valid_fiscal_code(code)


@pytest.mark.parametrize("first15", ["RSSMRA80B30H501", "RSSMRA80A32H501", "RSSMRA80A00H501", "RSSMRA81B69H501"])
def test_impossible_birth_dates_are_refused_even_with_right_check_char(first15: str) -> None:
    code = first15 + fiscal_code_check_char(first15)
    with pytest.raises(InvalidValue, match="birth date"):
        validate_fiscal_code(code)


def test_women_have_day_plus_40_and_leap_day() -> None:
    assert build_fiscal_code("Rossi", "Maria", date(1980, 1, 1), "F", "H501")[9:11] == "41"
    first15 = "RSSMRA80B69H501"  # 29 February 1980, a woman
    assert is_valid_fiscal_code(first15 + fiscal_code_check_char(first15))


def test_build_fiscal_code_matches_known_codes() -> None:
    assert build_fiscal_code("Moretti", "Matteo", date(1925, 4, 9), "M", "F205") == "MRTMTT25D09F205Z"
    assert build_fiscal_code("Rossi", "Mario", date(1980, 1, 1), "M", "H501") == "RSSMRA80A01H501U"


def test_omocode_replaces_digits_from_the_right() -> None:
    assert omocode("MRTMTT25D09F205Z", 1) == "MRTMTT25D09F20RU"
    fully = omocode("MRTMTT25D09F205Z", 7)
    assert not any(ch.isdigit() for ch in fully)
    assert is_valid_fiscal_code(fully)


# Partita IVA: 00934061003 and 04123450159 checked by hand (Luhn, doubling even positions;
# digits 8-10 name a tax office).
@pytest.mark.parametrize(
    "raw,expected",
    [
        ("00934061003", "00934061003"),
        ("IT 00934061003", "00934061003"),
        ("it041.2345.0159", "04123450159"),
    ],
)
def test_valid_partita_iva(raw: str, expected: str) -> None:
    assert validate_partita_iva(raw) == expected


@pytest.mark.parametrize(
    "raw", ["12345678901", "00934061004", "1234567890", "123456789031", "00000000000", "1234567890A", ""]
)
def test_invalid_partita_iva(raw: str) -> None:
    assert not is_valid_partita_iva(raw)


def test_a_partita_iva_must_name_a_tax_office() -> None:
    # The Luhn digit of 1234567890 is 3, but office 890 does not exist.
    assert partita_iva_check_digit("1234567890") == 3
    with pytest.raises(InvalidValue, match="tax office"):
        validate_partita_iva("12345678903")


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("AL10000001", "AL10000001"),
        ("al-1000 0001", "AL10000001"),
        ("CV 2000 0005", "CV20000005"),
    ],
)
def test_policy_numbers(raw: str, expected: str) -> None:
    assert validate_policy_number(raw) == expected


@pytest.mark.parametrize("raw", ["XX10000001", "AL1234567", "AL123456789", "ALABCDEFGH", "10000001", ""])
def test_invalid_policy_numbers(raw: str) -> None:
    with pytest.raises(InvalidValue) as info:
        validate_policy_number(raw)
    assert info.value.code == "invalid_policy_number"


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("Mario.Rossi@Example.IT", "mario.rossi@example.it"),
        (" m+tag@sub.example.com ", "m+tag@sub.example.com"),
    ],
)
def test_valid_emails(raw: str, expected: str) -> None:
    assert validate_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "mario@",
        "@example.it",
        "mario rossi@example.it",
        "mario@example",
        "mario..rossi@example.it",
        "a" * 65 + "@example.it",
        "mario@-example.it",
        "",
    ],
)
def test_invalid_emails(raw: str) -> None:
    with pytest.raises(InvalidValue):
        validate_email(raw)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("+39 333 123 4567", "+393331234567"),
        ("333-1234567", "+393331234567"),
        ("0039 333 1234567", "+393331234567"),
        ("39 333 1234567", "+393331234567"),
        ("(02) 1234567", "+39021234567"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_numbers_become_e164(raw: str, expected: str) -> None:
    assert validate_phone(raw) == expected


@pytest.mark.parametrize("raw", ["12345", "+39 123", "333 12a4567", "+0 333 1234567", "5551234567", "", "+"])
def test_invalid_phone_numbers(raw: str) -> None:
    with pytest.raises(InvalidValue) as info:
        validate_phone(raw)
    assert info.value.code == "invalid_phone"


def test_iban() -> None:
    assert validate_iban("IT60 X054 2811 1010 0000 0123 456") == "IT60X0542811101000000123456"
    for bad in ("IT61X0542811101000000123456", "IT60X054281110100000012345", "60IT0542811101000000123456"):
        with pytest.raises(InvalidValue):
            validate_iban(bad)
