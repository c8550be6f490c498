"""The backend client against the real backend stub over HTTP (fixture `backend`)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from aiohttp import web

from actions.backend_client import BackendClient, BackendRefused, BackendUnavailable
from identity import Identity
from tests.actions.conftest import free_port

RELEASE = web.AppKey("release", asyncio.Event)


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def client(backend):
    return BackendClient(base_url=backend.url, api_key=backend.api_key, timeout=5)


def refusal(coro) -> BackendRefused:
    with pytest.raises(BackendRefused) as exc:
        run(coro)
    return exc.value


def unavailable(coro) -> BackendUnavailable:
    with pytest.raises(BackendUnavailable) as exc:
        run(coro)
    return exc.value


# --- answers ----------------------------------------------------------------------


def test_settings_come_from_the_environment(backend, monkeypatch):
    monkeypatch.setenv("BACKEND_URL", backend.url + "/")
    monkeypatch.setenv("BACKEND_API_KEY", backend.api_key)
    monkeypatch.setenv("BACKEND_TIMEOUT_SECONDS", "2.5")
    client = BackendClient()
    assert (client.base_url, client.timeout) == (backend.url, 2.5)
    assert run(client.get_customer(1))["name"] == "Mario Rossi"
    monkeypatch.setenv("BACKEND_TIMEOUT_SECONDS", "soon")
    with pytest.raises(ValueError):
        BackendClient()


def test_customer_fetch(client):
    customer = run(client.get_customer(1))
    assert (customer["id"], customer["name"], customer["brand"]) == (1, "Mario Rossi", "alleanza")
    assert customer["agency"]["code"] == "AL-MI-001"
    assert customer["fiscal_code_masked"] != "RSSMRA80A01H501U"


def test_active_and_archived_policies(client):
    async def scenario():
        async with client as backend:
            active = await backend.get_active_policies(2)
            archived = await backend.get_archived_policies(2)
            cavita = await backend.get_policies(7, "archived")
            return active, archived, cavita

    active, archived, cavita = run(scenario())
    assert [p["number"] for p in active] == ["AL10000002"]
    assert [p["number"] for p in archived] == ["AL10000003"]
    # CA Vita shows policies ended within 24 months only: one shown, one hidden.
    assert len(cavita["policies"]) == 1 and cavita["hidden_archived_count"] == 1


def test_policy_installments_and_dry_run_refusal_for_sdd(client):
    """Luca Esposito's policy is paid by direct debit: not payable online (422)."""
    installments = run(client.get_installments(3, "AL 1000-0004"))
    assert installments["payment_method"] == "sdd"
    ids = [i["id"] for i in installments["installments"] if not i.get("paid_at")][:1]
    error = refusal(
        client.create_payment_request(
            3,
            policy_number="AL10000004",
            installment_ids=ids,
            method="card",
            card_network="visa",
            dry_run=True,
        )
    )
    assert (error.status, error.code) == (422, "sdd_not_payable")
    assert error.message


def test_lookup_and_contacts_are_masked(client):
    matches = run(client.lookup_customers(fiscal_code="RSSMRA80A01H501U"))
    assert [m["customer"]["id"] for m in matches] == [1]
    contacts = run(client.get_contacts(1))
    assert contacts["dispositive"]["masked"] == "+39 *** *** 4567"


def test_support_ticket_and_hours(client):
    ticket = run(
        client.create_support_ticket(
            brand="cavita",
            reply_email="mario.rossi@example.it",
            reason="navigazione",
            text="Non riesco ad accedere all'area clienti.",
        )
    )
    assert ticket["ticket_number"].startswith("CV-TK-")
    assert ticket["reply_email_masked"] == "m***@example.it"
    hours = run(client.support_hours("cavita", at="2025-03-03T10:00:00"))
    assert hours["phone_support"] and hours["open_now"]


def test_service_request_reaches_the_agency(client):
    result = run(
        client.create_service_request(
            8, kind="extra_payment", policy_number="CV20000005", details={"amount": "500.00"}
        )
    )
    assert result["request_number"].startswith("CV-SR-")
    assert result["agency"]["code"] == "CV-MI-0205"


def test_otp_challenge_wrong_code_cooldown_and_verify(client, backend):
    """Marco Colombo (CA Vita, 5-digit codes): the code arrives in the console outbox."""

    async def scenario():
        async with client as api:
            challenge = await api.create_otp_challenge(7, "step_up")
            with pytest.raises(BackendRefused) as cooldown:
                await api.create_otp_challenge(7, "step_up")
            code = backend.sent_codes("+393401231234")[-1]
            wrong = "00000" if code != "00000" else "11111"
            with pytest.raises(BackendRefused) as bad:
                await api.verify_otp(7, challenge["challenge_id"], wrong)
            verified = await api.verify_otp(7, challenge["challenge_id"], code)
            state = await api.get_otp_challenge(7, challenge["challenge_id"])
            return challenge, cooldown.value, bad.value, verified, state

    challenge, cooldown, bad, verified, state = run(scenario())
    assert challenge["code_length"] == 5
    assert challenge["destination_masked"] == "+39 *** *** 1234"
    assert (cooldown.status, cooldown.code) == (429, "otp_cooldown")
    assert 0 < cooldown.retry_after_seconds <= 30
    assert (bad.status, bad.code, bad.extra["attempts_left"]) == (400, "otp_wrong", 4)
    assert verified["status"] == "verified" and state["status"] == "verified"


# --- refusals ---------------------------------------------------------------------


def test_unknown_customer_is_refused_with_its_code(client):
    error = refusal(client.get_customer(999999))
    assert (error.status, error.code) == (404, "customer_not_found")


def test_another_customers_policy_is_refused(client):
    error = refusal(client.get_policy(1, "AL10000002"))
    assert (error.status, error.code) == (404, "policy_not_owned")


def test_invalid_policy_number_never_reaches_a_path(client):
    for number in ("../../customers/2", "AL1000/0001", "", "AL.1"):
        assert refusal(client.get_policy(1, number)).code == "invalid_policy_number"
    with pytest.raises(ValueError):
        run(client.get_customer("1/../2"))


def test_missing_or_wrong_api_key_is_refused(backend):
    for key in ("", "wrong-key"):
        error = refusal(BackendClient(base_url=backend.url, api_key=key).get_customer(1))
        assert (error.status, error.code) == (401, "unauthorized")


def test_staff_see_only_their_own_agency(backend):
    staff = Identity(
        kind="staff", level="verified", staff_id="S-1", role="agency_employee", agency="AL-MI-001"
    )
    client = BackendClient.for_identity(staff, base_url=backend.url, api_key=backend.api_key)
    assert run(client.get_customer(1))["id"] == 1
    assert refusal(client.get_customer(3)).code == "customer_not_found"  # Napoli agency
    assert refusal(client.lookup_customers(mobile="+393205556677")).code == "customer_not_found"
    customer_session = BackendClient.for_identity(Identity(kind="customer"), base_url=backend.url)
    assert customer_session.staff_agency is None


# --- unavailability ---------------------------------------------------------------


def test_closed_port_is_unavailable():
    client = BackendClient(base_url=f"http://127.0.0.1:{free_port()}", api_key="k", timeout=2)
    assert unavailable(client.get_customer(1)).reason == "connection_failed"


async def _with_fake_server(handler, call):
    """A tiny local HTTP server that misbehaves as `handler` says; hung handlers are
    released (``app[RELEASE]``) before it stops, so stopping is immediate."""
    app = web.Application()
    app[RELEASE] = asyncio.Event()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        return await call(f"http://127.0.0.1:{port}")
    finally:
        app[RELEASE].set()
        await runner.cleanup()


def test_slow_backend_times_out():
    async def slow(request):
        await request.app[RELEASE].wait()  # answers only after the client gave up
        return web.json_response({})

    async def call(url):
        client = BackendClient(base_url=url, api_key="k", timeout=0.3)
        started = time.monotonic()
        with pytest.raises(BackendUnavailable) as exc:
            await client.get_customer(1)
        return exc.value, time.monotonic() - started

    error, elapsed = run(_with_fake_server(slow, call))
    assert error.reason == "timeout" and elapsed < 2


@pytest.mark.parametrize(
    "status,body,reason",
    [
        (503, {"error": {"code": "database_unavailable", "message": "retry"}}, "server_error"),
        (502, {"error": {"code": "sms_delivery_failed", "message": "x"}}, "server_error"),
        (500, "<html>boom</html>", "server_error"),
        (200, "<html>not json</html>", "bad_response"),
        (302, None, "bad_response"),
    ],
)
def test_server_errors_and_junk_are_unavailable(status, body, reason):
    async def handler(_request):
        if isinstance(body, dict):
            return web.json_response(body, status=status)
        headers = {"Location": "http://example.invalid/"} if status == 302 else None
        return web.Response(text=body or "", status=status, headers=headers)

    async def call(url):
        with pytest.raises(BackendUnavailable) as exc:
            await BackendClient(base_url=url, api_key="k", timeout=2).get_customer(1)
        return exc.value

    error = run(_with_fake_server(handler, call))
    assert (error.reason, error.status) == (reason, status)
    if isinstance(body, dict):
        assert error.code == body["error"]["code"]


def test_non_json_4xx_is_still_a_refusal_with_retry_after():
    async def handler(_request):
        return web.Response(text="slow down", status=429, headers={"Retry-After": "12"})

    async def call(url):
        with pytest.raises(BackendRefused) as exc:
            await BackendClient(base_url=url, api_key="k", timeout=2).get_customer(1)
        return exc.value

    error = run(_with_fake_server(handler, call))
    assert (error.code, error.status, error.retry_after_seconds) == ("http_429", 429, 12)


def test_client_logs_hold_no_personal_data(client, caplog):
    with caplog.at_level(logging.DEBUG, logger="actions.backend_client"):
        run(client.lookup_customers(fiscal_code="RSSMRA80A01H501U"))
        with pytest.raises(BackendRefused):
            run(client.get_policy(1, "AL10000002"))
    assert "/v1/customers/lookup" in caplog.text
    for secret in ("RSSMRA80A01H501U", "AL10000002", client.api_key):
        assert secret not in caplog.text
