"""The staff page (web/staff/, served by bot/channels/staff.py) in Chromium against the whole
stack (tests/browser/conftest.py: ``browser_stack``, ``page``, ``save_screenshot``).

The login and error checks need only the running stack. The lookups need a model trained
with the staff intents (bot/data/nlu/staff.yml + domain/staff.yml): with an older
model the questions are not recognised as staff lookups and those tests fail.
"""

from __future__ import annotations

import re

import pytest
import requests

from identity.minting import mint_customer_token, mint_staff_token

# Collected everywhere (`pytest tests`), importable only where Playwright is installed.
sync_api = pytest.importorskip("playwright.sync_api")
Page, expect = sync_api.Page, sync_api.expect

pytestmark = pytest.mark.e2e

MARIO_CF = "RSSMRA80A01H501U"
LUCA_CF = "SPSLCU68S30F839G"  # a customer of the Napoli agency
TIMEOUT_MS = 60_000  # a turn goes through NLU, the action server and the backend


@pytest.fixture
def staff_page(browser_stack, page: Page) -> Page:
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{browser_stack.url}/webhooks/staff/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ricerca clienti dell'agenzia")
    return page


def login(page: Page, token: str) -> None:
    page.get_by_label("Token staff").fill(token)
    page.get_by_role("button", name="Accedi").click()


def logged_in(page: Page, agency: str = "AL-MI-001", staff_id: str = "S-042") -> Page:
    login(page, mint_staff_token(staff_id, "agency_employee", agency))
    expect(page.locator("#chi")).to_have_text(f"{staff_id} – agenzia {agency}")
    return page


def search(page: Page, key: str, view: str) -> None:
    """Type the key and press the view's button; wait for the new result."""
    before = page.locator("article.scambio").count()
    page.get_by_label("Codice fiscale, partita IVA, cellulare o numero di polizza").fill(key)
    page.get_by_role("button", name=view, exact=True).click()
    expect(page.locator("article.scambio")).to_have_count(before + 1)


# --- needs only the stack -------------------------------------------------------------


def test_login_errors_are_shown_in_italian(staff_page: Page, save_screenshot) -> None:
    page = staff_page
    login(page, "abc")
    expect(page.get_by_role("alert")).to_contain_text("non è nel formato corretto")
    login(page, "aaa.bbb.ccc")
    expect(page.get_by_role("alert")).to_contain_text("Credenziali non valide")
    login(page, mint_customer_token(1, "alleanza"))
    expect(page.get_by_role("alert")).to_contain_text("riservata al personale di agenzia")
    login(page, mint_staff_token("S-042", "agency_employee", "AL-MI-001", ttl_minutes=-5))
    expect(page.get_by_role("alert")).to_contain_text("La sessione è scaduta")
    expect(page.get_by_role("heading", name="Cerca un cliente")).to_be_hidden()
    save_screenshot(page, "staff-page-login-errors")


def test_demo_login_follows_demo_pages(browser_stack, staff_page: Page) -> None:
    """``make run`` sets DEMO_PAGES=1 (scripts/run.sh); a deployment without it says so."""
    page = staff_page
    enabled = requests.get(f"{browser_stack.url}/webhooks/staff/demo-token", timeout=10).ok
    page.get_by_text("Accesso demo (solo sviluppo locale)").click()
    page.get_by_label("Agenzia", exact=True).select_option("CV-PR-0101")
    page.get_by_role("button", name="Ottieni un token demo").click()
    if enabled:
        expect(page.locator("#chi")).to_have_text("S-DEMO – agenzia CV-PR-0101")
    else:
        expect(page.get_by_role("alert")).to_contain_text("L'accesso demo non è attivo")


def test_login_logout_and_empty_search(staff_page: Page, save_screenshot) -> None:
    page = logged_in(staff_page)
    expect(page.get_by_role("heading", name="Accesso")).to_be_hidden()
    page.get_by_role("button", name="Polizze", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Scrivi il codice fiscale")
    save_screenshot(page, "staff-page-logged-in")
    page.get_by_role("button", name="Esci").click()
    expect(page.get_by_role("heading", name="Accesso")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('staffToken')") is None


def test_an_expired_session_asks_to_log_in_again(staff_page: Page) -> None:
    page = logged_in(staff_page)
    expired = mint_staff_token("S-042", "agency_employee", "AL-MI-001", ttl_minutes=-5)
    page.evaluate("t => sessionStorage.setItem('staffToken', t)", expired)
    search_box = page.get_by_label("Codice fiscale, partita IVA, cellulare o numero di polizza")
    search_box.fill(MARIO_CF)
    page.get_by_role("button", name="Polizze", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("La sessione è scaduta")
    expect(page.get_by_role("heading", name="Accesso")).to_be_visible()


# --- needs a model trained with the staff intents ----------------------------------------


def test_policies_contacts_and_requests_of_an_own_agency_customer(
    staff_page: Page, save_screenshot
) -> None:
    page = logged_in(staff_page)
    search(page, MARIO_CF, "Polizze")
    latest = page.locator("article.scambio").first
    expect(latest.locator(".domanda")).to_have_text(
        "Richiesta: polizze del cliente RSS************U")
    expect(latest.get_by_role("heading", level=3)).to_have_text("Mario Rossi (cliente 1)")
    policies = latest.get_by_role("table", name="Polizze attive")
    expect(policies.get_by_role("cell", name="AL10000001")).to_be_visible()
    expect(policies.get_by_role("cell", name="Alleanza Piano Risparmio")).to_be_visible()
    save_screenshot(page, "staff-page-policies")

    search(page, MARIO_CF, "Recapiti")
    contacts = page.locator("article.scambio").first.get_by_role("table", name="Recapiti")
    expect(contacts.get_by_role("cell", name="+39 *** *** 4567")).to_be_visible()
    expect(contacts.get_by_role("cell", name="Username, Dispositivo")).to_be_visible()
    save_screenshot(page, "staff-page-contacts")

    search(page, MARIO_CF, "Richieste aperte")
    expect(page.locator("article.scambio").first).to_contain_text("Nessuna richiesta aperta.")

    body = page.locator("body").inner_text()
    assert MARIO_CF not in body and "3331234567" not in body
    assert not re.search(r"mario\.rossi@", body)


def test_free_text_question_and_keyboard_submit(staff_page: Page) -> None:
    page = logged_in(staff_page)
    question = page.get_by_label("Oppure scrivi la domanda")
    question.fill("recapito dispositivo di +39 333 1234567")
    question.press("Enter")
    latest = page.locator("article.scambio").first
    expect(latest.get_by_role("table", name="Recapiti")).to_be_visible()
    expect(latest.locator(".domanda")).to_have_text(
        "Richiesta: recapito dispositivo di +39 *** *** 4567")
    key = page.get_by_label("Codice fiscale, partita IVA, cellulare o numero di polizza")
    key.fill("04123450159")
    key.press("Enter")  # the first button of the group: Polizze
    expect(page.locator("article.scambio").first.get_by_role("heading", level=3)).to_have_text(
        "Costruzioni Verdi S.r.l. (cliente 5)")


def test_customer_of_another_agency_is_not_found(staff_page: Page, save_screenshot) -> None:
    page = logged_in(staff_page)
    search(page, LUCA_CF, "Polizze")
    latest = page.locator("article.scambio").first
    expect(latest).to_contain_text("Non ho trovato nessun cliente della tua agenzia (AL-MI-001)")
    expect(latest.get_by_role("table")).to_have_count(0)
    assert "Esposito" not in page.locator("body").inner_text()
    save_screenshot(page, "staff-page-other-agency")
    # The Napoli agency sees its own customer.
    page.get_by_role("button", name="Esci").click()
    logged_in(page, "AL-NA-002", "S-100")
    search(page, LUCA_CF, "Polizze")
    expect(page.locator("article.scambio").first.get_by_role("heading", level=3)).to_have_text(
        "Luca Esposito (cliente 3)")
