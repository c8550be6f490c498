"""OTP challenges: delivery to the dispositive mobile, verification, expiry, limits, abuse."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from backend_stub.clock import FrozenClock
from backend_stub.fake_twilio import FakeTwilio
from backend_stub.models import OtpChallenge

from .conftest import error_code, last_code
from .demo import ANNA, ELENA, MARCO, MARIO, MOBILE, SARA


def ask(client: TestClient, customer: int, purpose: str = "step_up"):  # type: ignore[no-untyped-def]
    return client.post(f"/v1/customers/{customer}/otp-challenges", json={"purpose": purpose})


def verify(client: TestClient, customer: int, challenge_id: str, code: str):  # type: ignore[no-untyped-def]
    return client.post(f"/v1/customers/{customer}/otp-challenges/{challenge_id}/verify", json={"code": code})


def wrong_code(code: str) -> str:
    return str((int(code) + 1) % 10 ** len(code)).zfill(len(code))


def test_code_goes_to_the_dispositive_mobile_and_verifies(client: TestClient, fake_twilio: FakeTwilio) -> None:
    created = ask(client, SARA)
    assert created.status_code == 201
    body = created.json()
    assert body["destination_masked"] == "+39 *** *** 7788" and body["code_length"] == 5
    assert body["status"] == "pending" and body["attempts_left"] == 5
    # Sara's username is her email; the code goes only to her dispositive mobile.
    assert [m["to"] for m in fake_twilio.messages] == [MOBILE[SARA]]
    ok = verify(client, SARA, body["challenge_id"], last_code(fake_twilio, MOBILE[SARA]))
    assert ok.status_code == 200 and ok.json()["status"] == "verified"
    state = client.get(f"/v1/customers/{SARA}/otp-challenges/{body['challenge_id']}").json()
    assert state["status"] == "verified"
    again = verify(client, SARA, body["challenge_id"], last_code(fake_twilio, MOBILE[SARA]))
    assert again.status_code == 409 and error_code(again) == "otp_already_used"


def test_code_is_stored_hashed(client: TestClient, fake_twilio: FakeTwilio, app) -> None:  # type: ignore[no-untyped-def]
    challenge_id = ask(client, MARIO).json()["challenge_id"]
    code = last_code(fake_twilio, MOBILE[MARIO])
    with app.state.session_factory() as session:
        stored = session.get(OtpChallenge, challenge_id)
        assert stored is not None
        assert code not in stored.code_hash and len(stored.code_hash) == 64


def test_wrong_code_counts_attempts(client: TestClient, fake_twilio: FakeTwilio) -> None:
    challenge_id = ask(client, MARIO).json()["challenge_id"]
    code = last_code(fake_twilio, MOBILE[MARIO])
    wrong = verify(client, MARIO, challenge_id, wrong_code(code))
    assert wrong.status_code == 400 and error_code(wrong) == "otp_wrong"
    assert wrong.json()["error"]["attempts_left"] == 4
    assert verify(client, MARIO, challenge_id, code).status_code == 200


def test_brute_force_stops_at_the_attempt_limit(client: TestClient, fake_twilio: FakeTwilio) -> None:
    challenge_id = ask(client, MARIO).json()["challenge_id"]
    code = last_code(fake_twilio, MOBILE[MARIO])
    guesses = [g for g in (f"{n:06d}" for n in range(1000)) if g != code]
    statuses = []
    for guess in guesses[:20]:
        response = verify(client, MARIO, challenge_id, guess)
        statuses.append((response.status_code, error_code(response)))
    assert statuses[:4] == [(400, "otp_wrong")] * 4
    assert statuses[4] == (423, "otp_locked")
    assert set(statuses[5:]) == {(423, "otp_locked")}
    # Even the right code no longer works: the challenge is locked.
    final = verify(client, MARIO, challenge_id, code)
    assert final.status_code == 423 and error_code(final) == "otp_locked"


def test_expired_code(client: TestClient, fake_twilio: FakeTwilio, clock: FrozenClock) -> None:
    challenge_id = ask(client, MARCO).json()["challenge_id"]
    code = last_code(fake_twilio, MOBILE[MARCO])
    clock.advance(121)
    expired = verify(client, MARCO, challenge_id, code)
    assert expired.status_code == 410 and error_code(expired) == "otp_expired"
    assert client.get(f"/v1/customers/{MARCO}/otp-challenges/{challenge_id}").json()["status"] == "expired"


def test_code_valid_until_120_seconds(client: TestClient, fake_twilio: FakeTwilio, clock: FrozenClock) -> None:
    challenge_id = ask(client, MARCO).json()["challenge_id"]
    clock.advance(119)
    assert verify(client, MARCO, challenge_id, last_code(fake_twilio, MOBILE[MARCO])).status_code == 200


def test_resend_cooldown(client: TestClient, fake_twilio: FakeTwilio, clock: FrozenClock) -> None:
    first = ask(client, MARIO)
    assert first.status_code == 201
    clock.advance(10)
    too_soon = ask(client, MARIO)
    assert too_soon.status_code == 429 and error_code(too_soon) == "otp_cooldown"
    assert too_soon.json()["error"]["retry_after_seconds"] == 20
    assert too_soon.headers["Retry-After"] == "20"
    assert len(fake_twilio.messages) == 1
    clock.advance(20)
    second = ask(client, MARIO)
    assert second.status_code == 201
    # The first code is superseded by the new one.
    old = verify(client, MARIO, first.json()["challenge_id"], "000000")
    assert old.status_code == 409 and error_code(old) == "otp_superseded"


def test_hourly_cap(client: TestClient, clock: FrozenClock) -> None:
    for _ in range(5):
        assert ask(client, MARIO).status_code == 201
        clock.advance(31)
    capped = ask(client, MARIO)
    assert capped.status_code == 429 and error_code(capped) == "otp_hourly_limit"
    retry = capped.json()["error"]["retry_after_seconds"]
    assert 3600 - 5 * 31 <= retry <= 3600
    clock.advance(retry)
    assert ask(client, MARIO).status_code == 201


def test_limits_are_per_customer(client: TestClient) -> None:
    assert ask(client, MARIO).status_code == 201
    assert ask(client, MARCO).status_code == 201


def test_no_mobile_and_unconfirmed_mobile(client: TestClient, fake_twilio: FakeTwilio) -> None:
    none = ask(client, ANNA)
    assert none.status_code == 409 and error_code(none) == "no_dispositive_mobile"
    unconfirmed = ask(client, ELENA)
    assert unconfirmed.status_code == 409 and error_code(unconfirmed) == "dispositive_mobile_unconfirmed"
    assert fake_twilio.messages == []


def test_challenge_of_another_customer(client: TestClient) -> None:
    challenge_id = ask(client, MARIO).json()["challenge_id"]
    response = verify(client, MARCO, challenge_id, "12345")
    assert response.status_code == 404 and error_code(response) == "otp_challenge_not_found"


def test_sms_failure_stores_nothing(client: TestClient, fake_twilio: FakeTwilio, app) -> None:  # type: ignore[no-untyped-def]
    fake_twilio.credentials[next(iter(fake_twilio.credentials))] = "rotated-token"
    try:
        failed = ask(client, MARIO)
    finally:
        fake_twilio.credentials[next(iter(fake_twilio.credentials))] = "fake-twilio-token"
    assert failed.status_code == 502 and error_code(failed) == "sms_delivery_failed"
    with app.state.session_factory() as session:
        assert session.scalars(select(OtpChallenge)).all() == []
    # A failed send does not count against the cooldown.
    assert ask(client, MARIO).status_code == 201
