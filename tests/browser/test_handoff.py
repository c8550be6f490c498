"""The live handoff in Chromium: two browser contexts, the customer's widget on an
insurer's page and the operators' console, against the whole stack (``make run``'s servers,
``DEMO_PAGES=0``; the operator's token is minted here as the operator portal would).

In hours (Alleanza, the operators' clock stopped on a Friday at 17:15): the customer asks
for a person and sees the position, the operator takes the conversation, they write to each
other while the assistant stays silent, the operator hands back and the assistant answers
again. Out of hours (CA Vita closes at 17:00 on Fridays): the customer is told so plainly
with the next opening, and the callback request appears in the console. Screenshots of both
sides under results/screenshots/handoff-*.png.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest

from identity.minting import mint_customer_token
from tests.browser.test_widget import _HostPage
from tests.e2e.handoff_env import handoff_env, operator_token
from tests.e2e.stack import Stack, running_stack

sync_api = pytest.importorskip("playwright.sync_api")
Page, expect = sync_api.Page, sync_api.expect

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def handoff_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("handoff-browser")
    with running_stack(workdir, extra_env=handoff_env(workdir)) as stack:
        yield stack


@pytest.fixture(scope="module")
def insurer_site(handoff_stack: Stack) -> Iterator[str]:
    handler = type("HostPage", (_HostPage,), {"chat_url": handoff_stack.url})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def contexts(browser: Any) -> Iterator[tuple[Page, Page]]:
    """(customer page, operator page), each in its own browser context."""
    opened = [browser.new_context(locale="it-IT", timezone_id="Europe/Rome")
              for _ in range(2)]
    for context in opened:
        context.set_default_timeout(60_000)
    yield opened[0].new_page(), opened[1].new_page()
    for context in opened:
        context.close()


def open_widget(page: Page, site: str, brand: str, token: str) -> None:
    page.goto(site + "?" + urlencode([("brand", brand), ("token", token)]))
    expect(page.locator(".acc-chat").get_by_role("status")).to_have_text(
        "Connesso: cliente identificato")


def say(page: Page, text: str) -> None:
    box = page.get_by_label("Scrivi la tua domanda")
    expect(box).to_be_enabled()
    box.fill(text)
    box.press("Enter")


def open_console(page: Page, stack: Stack, token: str) -> None:
    page.goto(f"{stack.url}/webhooks/operators/")
    expect(page.get_by_role("heading", name="Console operatori")).to_be_visible()
    page.get_by_label("Token operatore (dal portale operatori)").fill(token)
    page.get_by_role("button", name="Accedi").click()
    expect(page.locator("#chi")).to_have_text("OP-LAURA")


def test_whole_handoff_widget_and_console(handoff_stack, insurer_site, contexts,
                                          save_screenshot) -> None:
    customer, operator = contexts
    open_console(operator, handoff_stack, operator_token("OP-LAURA", ("alleanza",)))
    expect(operator.get_by_text("Nessun cliente in attesa.")).to_be_visible()

    open_widget(customer, insurer_site, "alleanza", mint_customer_token(1, "alleanza"))
    say(customer, "vorrei parlare con un operatore")
    expect(customer.locator(".acc-bot").filter(has_text="Sei in posizione 1")).to_be_visible()
    say(customer, "la rata di marzo risulta ancora da pagare, scrivo da mario@example.it")

    waiting = operator.locator("#elenco-coda li").first
    expect(waiting).to_contain_text("#1 in coda")
    expect(waiting).to_contain_text("Alleanza · Sito (widget) · Cliente verificato")
    expect(waiting).to_contain_text("Ha chiesto un operatore")
    waiting.click()
    transcript = operator.locator("#trascrizione")
    expect(transcript).to_contain_text("la rata di marzo risulta ancora da pagare")
    expect(transcript).to_contain_text("m***@example.it")
    expect(transcript).not_to_contain_text("mario@example.it")
    save_screenshot(operator, "handoff-console-waiting")

    operator.get_by_role("button", name="Prendi in carico").click()
    expect(customer.locator(".acc-bot").filter(
        has_text="ha preso in carico la conversazione")).to_be_visible()
    expect(operator.locator("#elenco-miei li")).to_have_count(1)

    bot_before = customer.locator(".acc-bot").count()
    say(customer, "come mi registro?")  # held: the operator reads it, the assistant is silent
    expect(transcript.locator(".msg.customer").last).to_have_text("Cliente" + "come mi registro?")
    # A person answers when they can: the widget does not say the assistant is typing.
    expect(customer.get_by_text("L'assistente sta scrivendo…")).to_be_hidden()
    operator.get_by_label("Risposta al cliente").fill(
        "Buongiorno, sono Laura dell'assistenza: verifico subito la rata di marzo.")
    operator.get_by_role("button", name="Invia").click()
    expect(customer.locator(".acc-bot").filter(has_text="sono Laura")).to_be_visible()
    assert customer.locator(".acc-bot").count() == bot_before + 1  # only the operator spoke
    save_screenshot(customer, "handoff-widget-with-operator")
    save_screenshot(operator, "handoff-console-conversation")

    operator.get_by_role("button", name="Ripassa all'assistente").click()
    expect(operator.locator("#conv-info")).to_have_text(
        "Conversazione ripassata all'assistente virtuale.")
    expect(customer.locator(".acc-bot").filter(
        has_text="Sono di nuovo l'assistente virtuale")).to_be_visible()
    say(customer, "non mi arriva la mail di conferma")
    expect(customer.locator(".acc-bot").filter(has_text="spam")).to_be_visible()
    save_screenshot(customer, "handoff-widget-after-handback")


def test_out_of_hours_a_callback_request(handoff_stack, insurer_site, contexts,
                                         save_screenshot) -> None:
    customer, operator = contexts
    open_console(operator, handoff_stack, operator_token("OP-LAURA", ("cavita",)))
    open_widget(customer, insurer_site, "cavita", mint_customer_token(7, "cavita"))
    say(customer, "vorrei parlare con un operatore")
    answer = customer.locator(".acc-bot").filter(has_text="non posso passarti a un operatore")
    expect(answer).to_contain_text("siamo fuori dall'orario dell'assistenza")
    expect(answer).to_contain_text("lunedì 13 aprile alle 9:00")
    expect(customer.locator(".acc-bot").filter(has_text="richiesta di essere ricontattato")
           ).to_contain_text("ai recapiti registrati nella tua Area Clienti")
    expect(customer.get_by_role("button", name="Apri una richiesta di assistenza qui in chat")
           ).to_be_visible()
    save_screenshot(customer, "handoff-widget-out-of-hours")
    expect(operator.locator("#n-richiami")).to_have_text("1")
    operator.get_by_text("Richieste di ricontatto").click()
    expect(operator.locator("#elenco-richiami li").first).to_contain_text(
        "Cliente: vorrei parlare con un operatore")
    expect(operator.get_by_text("Nessun cliente in attesa.")).to_be_visible()
    save_screenshot(operator, "handoff-console-callbacks")
