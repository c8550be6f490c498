"""Parallel requests: the attempt limit and the resend cooldown hold under concurrency."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from backend_stub.fake_twilio import FakeTwilio

from .conftest import error_code, last_code
from .demo import MARIO, MOBILE


def test_parallel_brute_force_is_still_capped(client: TestClient, fake_twilio: FakeTwilio) -> None:
    challenge_id = client.post(f"/v1/customers/{MARIO}/otp-challenges", json={"purpose": "payment"}).json()[
        "challenge_id"
    ]
    code = last_code(fake_twilio, MOBILE[MARIO])
    guesses = [g for g in (f"{n:06d}" for n in range(40)) if g != code][:24]

    def attempt(guess: str) -> tuple[int, str]:
        response = client.post(f"/v1/customers/{MARIO}/otp-challenges/{challenge_id}/verify", json={"code": guess})
        return response.status_code, error_code(response)

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = Counter(pool.map(attempt, guesses))
    # Exactly max_attempts wrong answers are counted: 4 "wrong" then locked for everyone.
    assert outcomes[(400, "otp_wrong")] == 4, outcomes
    assert outcomes[(423, "otp_locked")] == len(guesses) - 4, outcomes
    state = client.get(f"/v1/customers/{MARIO}/otp-challenges/{challenge_id}").json()
    assert state["status"] == "locked" and state["attempts_left"] == 0


def test_parallel_resends_send_one_sms(client: TestClient, fake_twilio: FakeTwilio) -> None:
    def ask(_: int) -> int:
        return client.post(f"/v1/customers/{MARIO}/otp-challenges", json={"purpose": "step_up"}).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = Counter(pool.map(ask, range(6)))
    assert statuses == Counter({201: 1, 429: 5}), statuses
    assert len(fake_twilio.messages_to(MOBILE[MARIO])) == 1
