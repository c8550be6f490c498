"""Identity comes only from a verified token in the message metadata."""

from __future__ import annotations

import base64
import json
import logging
import time

import jwt
import pytest
from rasa_sdk import Tracker

from identity import (
    AUDIENCE,
    CHANNEL_SECRET_ENV,
    CUSTOMER_SECRET_ENV,
    DEV_SECRETS,
    ISSUER_CHANNEL,
    ISSUER_CUSTOMER,
    ISSUER_STAFF,
    MAX_LIFETIME_SECONDS,
    STAFF_SECRET_ENV,
    STEP_UP_SLOT,
    Identity,
    identity_from_metadata,
    identity_from_tracker,
    needs_step_up,
    personal_data_customer,
    step_up_marker,
    stepped_up_customer,
    verify_token,
)
from identity.minting import mint_channel_assertion, mint_customer_token, mint_staff_token
from scripts.mint_token import main

PHONE = "+393331234567"
HOUR = 3600


@pytest.fixture(autouse=True)
def _dev_secrets(monkeypatch):
    """Each test starts from the documented development secrets."""
    for name in DEV_SECRETS:
        monkeypatch.delenv(name, raising=False)


def tracker(metadata=None, slots=None) -> Tracker:
    latest = {"text": "le mie polizze", "intent": {"name": "x"}, "entities": []}
    if metadata is not None:
        latest["metadata"] = metadata
    return Tracker("u1", slots or {}, latest, [], False, None, {}, "action_listen")


def customer_claims(**overrides):
    now = int(time.time())
    claims = {
        "iss": ISSUER_CUSTOMER,
        "aud": AUDIENCE,
        "sub": "1",
        "brand": "alleanza",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(claims, secret=DEV_SECRETS[CUSTOMER_SECRET_ENV], alg="HS256") -> str:
    return jwt.encode(claims, secret, algorithm=alg)


# --- valid tokens -----------------------------------------------------------------


def test_customer_token_gives_a_verified_customer():
    token = mint_customer_token(1, "alleanza")
    identity = identity_from_tracker(tracker({"identity_token": token}))
    assert identity == Identity(
        kind="customer",
        level="verified",
        channel="web",
        customer_id="1",
        brand="alleanza",
        expires_at=identity.expires_at,
    )
    assert identity.expires_at > time.time()
    assert not identity.is_anonymous


def test_staff_token_gives_role_and_agency():
    token = mint_staff_token("S-042", "agency_manager", "AL-MI-001")
    identity = identity_from_tracker(tracker({"identity_token": token}))
    assert (identity.kind, identity.level, identity.channel) == ("staff", "verified", "staff")
    assert (identity.staff_id, identity.role, identity.agency) == (
        "S-042",
        "agency_manager",
        "AL-MI-001",
    )
    assert identity.customer_id is None


def test_whatsapp_assertion_is_only_a_claim():
    token = mint_channel_assertion(PHONE, brand="cavita")
    identity = identity_from_tracker(tracker({"identity_token": token}))
    assert (identity.kind, identity.level, identity.channel) == ("whatsapp", "claimed", "whatsapp")
    assert identity.phone == PHONE and identity.brand == "cavita"
    assert identity.customer_id is None
    assert PHONE not in repr(identity)
    assert identity.phone_masked == "+39 *** *** 4567"


def test_secrets_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(CUSTOMER_SECRET_ENV, "x" * 48)
    assert verify_token(mint_customer_token(7, "cavita")).customer_id == "7"
    dev_token = sign(customer_claims())
    assert verify_token(dev_token).reason == "bad_signature"


def test_small_clock_skew_is_tolerated():
    token = sign(customer_claims(exp=int(time.time()) - 5))
    assert verify_token(token).kind == "customer"


# --- refusals ---------------------------------------------------------------------


def test_expired_token():
    token = mint_customer_token(1, "alleanza", now=time.time() - HOUR)
    identity = verify_token(token)
    assert identity.is_anonymous and identity.reason == "expired"


@pytest.mark.parametrize(
    "mint",
    [
        lambda secret: mint_customer_token(1, "alleanza", secret=secret),
        lambda secret: mint_staff_token("S-1", "agency_employee", "AL-MI-001", secret=secret),
        lambda secret: mint_channel_assertion(PHONE, secret=secret),
    ],
)
def test_wrong_secret(mint):
    assert verify_token(mint("not-the-right-secret-but-long-enough-xx")).reason == "bad_signature"


def test_one_kind_secret_cannot_mint_another_kind():
    """A customer-secret holder cannot claim to be staff: the issuer picks the key."""
    token = mint_staff_token(
        "S-1", "agency_manager", "AL-MI-001", secret=DEV_SECRETS[CUSTOMER_SECRET_ENV]
    )
    assert verify_token(token).reason == "bad_signature"


@pytest.mark.parametrize(
    "overrides,reason",
    [
        ({"iss": "someone-else"}, "wrong_issuer"),
        ({"iss": None}, "wrong_issuer"),
        ({"iss": "assistente-step-up"}, "wrong_issuer"),
        ({"aud": "another-app"}, "wrong_audience"),
        ({"aud": None}, "missing_claim"),
        ({"brand": None}, "missing_claim"),
        ({"iat": None}, "missing_claim"),
        ({"exp": None}, "missing_claim"),
        ({"brand": "generali"}, "invalid_claim"),
        ({"brand": "CA Vita"}, "invalid_claim"),
        ({"sub": "1/../../admin"}, "invalid_claim"),
        ({"sub": 1}, "invalid_claim"),
        ({"iat": int(time.time()) + HOUR}, "not_yet_valid"),
        ({"nbf": int(time.time()) + HOUR}, "not_yet_valid"),
    ],
)
def test_claims_are_checked(overrides, reason):
    identity = verify_token(sign(customer_claims(**overrides)))
    assert identity.is_anonymous and identity.reason == reason


def test_staff_role_and_agency_are_checked():
    from identity import STAFF_SECRET_ENV

    now = int(time.time())
    base = {
        "iss": "area-clienti-staff",
        "aud": AUDIENCE,
        "sub": "S-1",
        "role": "agency_employee",
        "agency": "AL-MI-001",
        "iat": now,
        "exp": now + 600,
    }
    secret = DEV_SECRETS[STAFF_SECRET_ENV]
    assert verify_token(sign(base, secret)).kind == "staff"
    assert verify_token(sign({**base, "role": "admin"}, secret)).reason == "invalid_claim"
    assert verify_token(sign({**base, "agency": "Milano"}, secret)).reason == "invalid_claim"
    assert verify_token(sign({**base, "agency": None}, secret)).reason == "missing_claim"


def test_whatsapp_channel_and_phone_are_checked():
    from identity import CHANNEL_SECRET_ENV

    base = {
        "iss": "assistente-channel",
        "aud": AUDIENCE,
        "channel": "whatsapp",
        "phone": PHONE,
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
    }
    secret = DEV_SECRETS[CHANNEL_SECRET_ENV]
    assert verify_token(sign(base, secret)).kind == "whatsapp"
    assert verify_token(sign({**base, "channel": "sms"}, secret)).reason == "invalid_claim"
    assert verify_token(sign({**base, "phone": "3331234567"}, secret)).reason == "invalid_claim"
    assert verify_token(sign({**base, "brand": "x"}, secret)).reason == "invalid_claim"


def test_alg_none_is_refused():
    token = jwt.encode(customer_claims(), None, algorithm="none")
    assert verify_token(token).reason == "bad_algorithm"


@pytest.mark.filterwarnings("ignore::jwt.InsecureKeyLengthWarning")
def test_other_algorithms_are_refused_even_with_the_right_key():
    token = sign(customer_claims(), alg="HS512")
    assert verify_token(token).reason == "bad_algorithm"


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_tampered_payload_is_refused():
    header, _payload, signature = mint_customer_token(1, "alleanza").split(".")
    forged = ".".join([header, b64(customer_claims(sub="2")), signature])
    assert verify_token(forged).reason == "bad_signature"


def test_header_swapped_to_none_is_refused():
    _header, payload, signature = mint_customer_token(1, "alleanza").split(".")
    forged = ".".join([b64({"alg": "none", "typ": "JWT"}), payload, ""])
    assert verify_token(forged).reason == "bad_algorithm"


@pytest.mark.parametrize(
    "token,reason",
    [
        (None, "missing"),
        ("", "missing"),
        ("not-a-jwt", "malformed"),
        ("a.b.c", "malformed"),
        ({"sub": "1", "brand": "alleanza"}, "malformed"),
        (12345, "malformed"),
        ("x" * 5000, "malformed"),
    ],
)
def test_missing_or_malformed_token(token, reason):
    assert verify_token(token) == Identity(reason=reason)


def test_short_secret_is_not_accepted(monkeypatch):
    monkeypatch.setenv(CUSTOMER_SECRET_ENV, "short")
    token = mint_customer_token(1, "alleanza", secret="short" * 8)
    assert verify_token(token).reason == "not_configured"


# --- metadata and tracker ---------------------------------------------------------


def test_forged_plain_metadata_grants_nothing():
    forged = {
        "customer_id": "1",
        "brand": "alleanza",
        "role": "agency_manager",
        "agency": "AL-MI-001",
        "kind": "customer",
        "level": "verified",
        "phone": PHONE,
        "sub": "1",
        "verified": True,
    }
    identity = identity_from_tracker(tracker(forged, slots={"customer_id": "1"}))
    assert identity == Identity(reason="missing")
    assert personal_data_customer(identity, {"customer_id": "1"}) is None


def test_claims_as_a_plain_object_instead_of_a_token_grant_nothing():
    metadata = {"identity_token": customer_claims()}
    assert identity_from_metadata(metadata).reason == "malformed"


def test_no_metadata_or_no_message_is_anonymous():
    assert identity_from_tracker(tracker()).reason == "missing"
    empty = Tracker("u1", {}, {}, [], False, None, {}, "action_listen")
    assert identity_from_tracker(empty).is_anonymous
    assert identity_from_metadata("identity_token=abc").is_anonymous


def test_refusals_are_logged_without_token_or_personal_data(caplog):
    token = mint_channel_assertion(PHONE, now=time.time() - HOUR)
    with caplog.at_level(logging.DEBUG, logger="identity"):
        assert verify_token(token).reason == "expired"
        verify_token(sign(customer_claims(iss="RSSMRA80A01H501U")))
    text = caplog.text
    assert "reason=expired" in text and "reason=wrong_issuer" in text
    for secret in (token, token.split(".")[1], PHONE, "3331234567", "RSSMRA80A01H501U"):
        assert secret not in text


# --- WhatsApp step-up -------------------------------------------------------------


def whatsapp(phone=PHONE) -> Identity:
    return verify_token(mint_channel_assertion(phone))


def test_whatsapp_sender_needs_a_step_up_until_a_valid_marker():
    sender = whatsapp()
    assert needs_step_up(sender, {})
    assert personal_data_customer(sender, {}) is None
    slots = {STEP_UP_SLOT: step_up_marker(sender, 1)}
    assert not needs_step_up(sender, slots)
    assert stepped_up_customer(sender, slots) == "1"
    assert personal_data_customer(sender, slots) == "1"
    assert PHONE not in slots[STEP_UP_SLOT] and "3331234567" not in str(
        jwt.decode(slots[STEP_UP_SLOT], options={"verify_signature": False})
    )


def test_step_up_does_not_travel_to_another_number_or_outlive_its_ttl():
    marker = step_up_marker(whatsapp(), 1)
    assert needs_step_up(whatsapp("+393471112233"), {STEP_UP_SLOT: marker})
    old = step_up_marker(whatsapp(), 1, ttl_seconds=60, now=time.time() - HOUR)
    assert needs_step_up(whatsapp(), {STEP_UP_SLOT: old})


def test_forged_step_up_slot_is_ignored():
    sender = whatsapp()
    for value in ("1", "verified", True, {"customer_id": "1"}, mint_customer_token(1, "alleanza")):
        assert needs_step_up(sender, {STEP_UP_SLOT: value})


def test_step_up_only_concerns_whatsapp():
    customer = verify_token(mint_customer_token(1, "alleanza"))
    staff = verify_token(mint_staff_token("S-1", "agency_employee", "AL-MI-001"))
    assert not needs_step_up(customer, {}) and not needs_step_up(staff, {})
    assert personal_data_customer(customer, {}) == "1"
    assert personal_data_customer(staff, {}) is None
    assert personal_data_customer(Identity(), {}) is None
    with pytest.raises(ValueError):
        step_up_marker(customer, 1)


# --- the minting script -----------------------------------------------------------


def test_mint_script_prints_a_token_the_verifier_accepts(capsys):
    assert main(["--customer", "2", "--brand", "CA Vita", "--ttl", "5"]) == 0
    identity = verify_token(capsys.readouterr().out.strip())
    assert (identity.customer_id, identity.brand) == ("2", "cavita")
    assert identity.expires_at - time.time() <= 5 * 60

    assert main(["--whatsapp", PHONE, "--json"]) == 0
    metadata = json.loads(capsys.readouterr().out)
    assert identity_from_metadata(metadata).phone == PHONE


@pytest.mark.parametrize(
    "argv",
    [
        ["--customer", "1"],
        ["--customer", "1", "--brand", "generali"],
        ["--staff", "S-1"],
        ["--staff", "S-1", "--agency", "milano"],
        ["--whatsapp", "3331234567"],
    ],
)
def test_mint_script_refuses_what_the_verifier_would_refuse(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


# --- iat, lifetime by kind, tokens from the future ------------------------------------

KIND_CLAIMS = {
    "customer": ({"iss": ISSUER_CUSTOMER, "sub": "1", "brand": "alleanza"}, CUSTOMER_SECRET_ENV),
    "staff": ({"iss": ISSUER_STAFF, "sub": "S-1", "role": "agency_employee",
               "agency": "AL-MI-001"}, STAFF_SECRET_ENV),
    "whatsapp": ({"iss": ISSUER_CHANNEL, "channel": "whatsapp", "phone": PHONE},
                 CHANNEL_SECRET_ENV),
}
KINDS = sorted(KIND_CLAIMS)


def token_of(kind: str, iat: float | None, exp: float) -> str:
    claims, secret_env = KIND_CLAIMS[kind]
    times = {"exp": int(exp)} if iat is None else {"iat": int(iat), "exp": int(exp)}
    return sign({**claims, "aud": AUDIENCE, **times}, DEV_SECRETS[secret_env])


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_needs_iat(kind):
    now = time.time()
    assert verify_token(token_of(kind, now, now + 300)).kind == kind
    refused = verify_token(token_of(kind, None, now + 300))
    assert refused.is_anonymous and refused.reason == "missing_claim"


def test_lifetimes_by_kind():
    assert MAX_LIFETIME_SECONDS == {"customer": HOUR, "staff": 8 * HOUR, "whatsapp": 600}


@pytest.mark.parametrize("kind", KINDS)
def test_a_token_may_not_live_longer_than_its_kind_allows(kind):
    issued = time.time() - 10
    longest = MAX_LIFETIME_SECONDS[kind]
    assert verify_token(token_of(kind, issued, issued + longest)).kind == kind
    refused = verify_token(token_of(kind, issued, issued + longest + 1))
    assert refused.is_anonymous and refused.reason == "lifetime_too_long"


@pytest.mark.parametrize("kind", KINDS)
def test_an_old_iat_with_a_fresh_exp_is_still_too_long(kind):
    """A key holder cannot keep a token alive by pushing exp: exp - iat counts."""
    now = time.time()
    old = verify_token(token_of(kind, now - 9 * HOUR, now + 60))
    assert old.is_anonymous and old.reason == "lifetime_too_long"


@pytest.mark.parametrize("kind", KINDS)
def test_a_token_issued_in_the_future_is_refused(kind):
    now = time.time()
    future = verify_token(token_of(kind, now + 120, now + 300))
    assert future.is_anonymous and future.reason == "not_yet_valid"
    skewed = verify_token(token_of(kind, now + 10, now + 300))  # within the clock leeway
    assert skewed.kind == kind


@pytest.mark.parametrize("iat", ["yesterday", True, None])
def test_iat_must_be_a_number(iat):
    now = int(time.time())
    claims = {**customer_claims(), "iat": iat, "exp": now + 60}
    assert verify_token(sign(claims)).is_anonymous


def test_the_minting_helpers_refuse_what_the_verifier_would_refuse():
    with pytest.raises(ValueError, match="at most 60 minutes"):
        mint_customer_token(1, "alleanza", ttl_minutes=61)
    with pytest.raises(ValueError, match="at most 480 minutes"):
        mint_staff_token("S-1", "agency_employee", "AL-MI-001", ttl_minutes=8 * 60 + 1)
    with pytest.raises(ValueError, match="at most 10 minutes"):
        mint_channel_assertion(PHONE, ttl_minutes=11)
    for token in (mint_customer_token(1, "alleanza", ttl_minutes=60),
                  mint_staff_token("S-1", "agency_employee", "AL-MI-001", ttl_minutes=480),
                  mint_channel_assertion(PHONE)):
        claims = jwt.decode(token, options={"verify_signature": False})
        assert "iat" in claims and not verify_token(token).is_anonymous
    # Expired on purpose (demo pages, tests): still minted, refused as expired.
    assert verify_token(mint_customer_token(1, "alleanza", ttl_minutes=-5)).reason == "expired"


def test_the_channels_mint_tokens_the_verifier_accepts():
    """The WhatsApp channel and both demo pages mint their own: their lifetimes must fit."""
    from bot.channels import socketio_jwt, staff, whatsapp

    assert verify_token(whatsapp.mint_identity_token(PHONE, "cavita")).kind == "whatsapp"
    assert whatsapp.TOKEN_TTL_SECONDS <= MAX_LIFETIME_SECONDS["whatsapp"]
    demo_customer = mint_customer_token(1, "alleanza", socketio_jwt.DEMO_TOKEN_TTL_MINUTES)
    assert verify_token(demo_customer).kind == "customer"
    demo_staff = mint_staff_token("S-1", "agency_employee", "AL-MI-001",
                                  staff.DEMO_TOKEN_TTL_MINUTES)
    assert verify_token(demo_staff).kind == "staff"


@pytest.mark.parametrize("argv", [
    ["--customer", "1", "--brand", "alleanza", "--ttl", "90"],
    ["--whatsapp", PHONE, "--ttl", "30"],
])
def test_mint_script_refuses_lifetimes_too_long(argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_production_never_falls_back_to_the_development_secrets(monkeypatch):
    token = mint_customer_token(1, "alleanza")  # signed with the public development secret
    monkeypatch.setenv("ASSISTANT_ENV", "production")
    assert verify_token(token).reason == "not_configured"
    monkeypatch.setenv(CUSTOMER_SECRET_ENV, DEV_SECRETS[CUSTOMER_SECRET_ENV])
    assert verify_token(token).reason == "not_configured"
    monkeypatch.setenv(CUSTOMER_SECRET_ENV, "p" * 40)
    assert verify_token(mint_customer_token(1, "alleanza")).kind == "customer"
