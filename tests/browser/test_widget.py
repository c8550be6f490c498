"""The website chat widget in Chromium against the whole stack (``make run``'s servers).

Each test opens a host page the way an insurer's site embeds the widget: a page on another
origin (a small HTTP server of the test, on another loopback port) loads ``chat.css``,
``chat.js`` and the socket.io client from the Rasa server and mounts the widget with its
brand and, for a logged-in customer, a short-lived customer JWT minted here with the
development secret. So the widget is tested cross-origin, as deployed, and without the
development-only demo endpoints (the stack runs with ``DEMO_PAGES=0``).

The answers checked are the real ones: ``domain/`` (FAQ texts) and the action server with
the backend stub's demo data (customer 1 of Alleanza holds policy AL10000001).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from identity.minting import mint_customer_token

# Collected everywhere (`pytest tests`), importable only where Playwright is installed.
sync_api = pytest.importorskip("playwright.sync_api")
Page, expect = sync_api.Page, sync_api.expect

pytestmark = pytest.mark.e2e

HOST_PAGE = """<!doctype html>
<html lang="it">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Area Clienti - pagina di prova</title>
  <link rel="stylesheet" href="__CHAT__/webhooks/chat/widget/chat.css">
  <script src="__CHAT__/webhooks/chat/vendor/socket.io.min.js"></script>
  <script src="__CHAT__/webhooks/chat/widget/chat.js"></script>
</head>
<body>
  <main><h1>Area Clienti</h1><div id="chat"></div></main>
  <script>
    window.chat = AreaClientiChat.mount(document.getElementById("chat"), {
      brand: __BRAND__,
      floating: __FLOATING__,
      // The page's tokens, one per (re)connect; the last one is kept.
      getToken: function () {
        var tokens = __TOKENS__;
        window.tokenRequests = (window.tokenRequests || 0) + 1;
        return Promise.resolve(tokens[Math.min(window.tokenRequests, tokens.length) - 1] || null);
      }
    });
  </script>
</body>
</html>
"""

MOBILE = {"width": 375, "height": 740}


class _HostPage(BaseHTTPRequestHandler):
    """``/?brand=..&token=..[&token=..]&floating=1``: what the insurer's server renders."""

    chat_url = ""

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        query = parse_qs(urlparse(self.path).query)
        body = (HOST_PAGE.replace("__CHAT__", self.chat_url)
                .replace("__BRAND__", json.dumps(query.get("brand", ["alleanza"])[0]))
                .replace("__FLOATING__", json.dumps(query.get("floating") == ["1"]))
                .replace("__TOKENS__", json.dumps(query.get("token", [])))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # quiet
        return None


@pytest.fixture(scope="session")
def host_site(browser_stack: Any) -> Iterator[str]:
    """The insurer's site stand-in, on its own origin; its URL."""
    handler = type("HostPage", (_HostPage,), {"chat_url": browser_stack.url})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def open_widget(host_site: str, page: Page) -> Iterator[Callable[..., Page]]:
    """``open_widget(brand, token=None, viewport=None, floating=False)``: the host page.

    ``token`` may be a list: the page's ``getToken()`` returns them in turn at each
    (re)connect, as an Area Clienti page renewing the customer's token."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def open_(brand: str, token: str | list[str] | None = None, viewport: dict | None = None,
              floating: bool = False) -> Page:
        tokens = [token] if isinstance(token, str) else token or []
        query = [("brand", brand), *(("token", t) for t in tokens)]
        if floating:
            query.append(("floating", "1"))
        if viewport:
            page.set_viewport_size(viewport)
        page.goto(host_site + "?" + urlencode(query))
        return page

    yield open_
    assert errors == [], f"JavaScript errors in the page: {errors}"


def chat_input(page: Page) -> Any:
    return page.get_by_label("Scrivi la tua domanda")


def status(page: Page) -> Any:
    return page.locator(".acc-chat").get_by_role("status")


def connected(page: Page, customer: bool = False) -> None:
    expected = "Connesso: cliente identificato" if customer else "Connesso"
    expect(status(page)).to_have_text(expected)
    expect(chat_input(page)).to_be_enabled()


def test_anonymous_visitor_gets_a_faq_answer(open_widget, save_screenshot) -> None:
    page = open_widget("alleanza")
    expect(page.get_by_role("heading", name="Assistente Alleanza")).to_be_visible()
    connected(page)
    chat_input(page).fill("non mi arriva la mail di conferma")
    chat_input(page).press("Enter")
    # While the bot works: the typing indicator; the input keeps the focus and is empty.
    expect(page.get_by_text("L'assistente sta scrivendo…")).to_be_visible()
    expect(chat_input(page)).to_be_focused()
    expect(chat_input(page)).to_have_value("")
    answer = page.locator(".acc-bot").filter(has_text="spam")
    expect(answer).to_contain_text("controlla la cartella «spam» della tua posta")
    expect(page.get_by_text("L'assistente sta scrivendo…")).to_be_hidden()
    # The conversation is announced to screen readers as it grows.
    assert page.locator(".acc-log").get_attribute("aria-live") == "polite"
    save_screenshot(page, "widget-anonymous-faq")


def test_logged_in_customer_sees_own_policies(open_widget, save_screenshot) -> None:
    page = open_widget("alleanza", mint_customer_token(1, "alleanza", ttl_minutes=10))
    connected(page, customer=True)
    chat_input(page).fill("le mie polizze")
    chat_input(page).press("Enter")
    answer = page.locator(".acc-bot").filter(has_text="Ecco le tue polizze attive")
    expect(answer).to_contain_text("AL10000001")
    save_screenshot(page, "widget-customer-policies")


def test_quick_reply_by_keyboard_on_a_phone(open_widget, save_screenshot) -> None:
    page = open_widget("cavita", viewport=MOBILE)
    expect(page.get_by_role("heading", name="Assistente CA Vita")).to_be_visible()
    connected(page)
    chat_input(page).fill("cosa sai fare?")
    chat_input(page).press("Enter")
    choices = page.get_by_role("group", name="Risposte rapide").last
    button = choices.get_by_role("button", name="Come mi registro")
    expect(button).to_be_visible()
    save_screenshot(page, "widget-quick-replies-mobile")
    # Keyboard only: focus the button and press Enter. The title is shown, the payload sent.
    page.evaluate("""() => {
        const socket = window.chat.socket, emit = socket.emit.bind(socket);
        window.sent = [];
        socket.emit = (...args) => { window.sent.push(args); return emit(...args); };
    }""")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".acc-user").last).to_have_text("Tu: Come mi registro")
    assert page.evaluate("window.sent") == [["user_uttered", {"message": "/faq_registrazione"}]]
    answer = page.locator(".acc-bot").filter(
        has_text="Ecco come registrarti all'Area Clienti CA Vita")
    expect(answer).to_be_visible()
    # Addresses in answers are links (opening in a new tab).
    link = answer.get_by_role("link", name="https://areaclienti.ca-vita.it")
    expect(link).to_have_attribute("target", "_blank")
    expect(button).to_be_disabled()  # one answer per question
    # Mobile layout: nothing wider than the screen.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= MOBILE["width"], f"page {width}px wide on a {MOBILE['width']}px screen"
    save_screenshot(page, "widget-quick-reply-answered-mobile")


@pytest.mark.parametrize(
    "case, brand, token, message",
    [
        ("invalid", "alleanza", "non-un-token", "Non riesco a verificare il tuo accesso"),
        ("expired", "alleanza", mint_customer_token(1, "alleanza", ttl_minutes=-5),
         "La sessione dell'Area Clienti è scaduta"),
        ("wrong-brand", "alleanza", mint_customer_token(7, "cavita"),
         "Questa chat appartiene a un'altra compagnia"),
    ],
    ids=["invalid", "expired", "wrong-brand"],
)
def test_a_bad_token_is_refused_with_an_italian_error(
    open_widget, save_screenshot, case: str, brand: str, token: str, message: str
) -> None:
    page = open_widget(brand, token)
    expect(page.get_by_role("alert")).to_contain_text(message)
    expect(status(page)).to_have_text("Chat non disponibile")
    # Never silently anonymous: nothing can be typed, no greeting, no retry loop.
    expect(chat_input(page)).to_be_disabled()
    expect(page.locator(".acc-bot")).to_have_count(0)
    page.wait_for_timeout(1500)  # longer than the first reconnection delay
    expect(page.get_by_role("alert")).to_have_count(1)
    save_screenshot(page, f"widget-refused-{case}")


def test_reconnects_and_resumes_the_same_conversation(open_widget, save_screenshot) -> None:
    """A visitor's connection drops: visible status, automatic reconnection, same
    conversation (also after a reload of the page)."""
    page = open_widget("alleanza")
    connected(page)
    first = page.evaluate("window.chat.sessionId")
    assert first and first.startswith("web:anon-")
    # The connection drops (as on a flaky mobile network): the status says so at once...
    shown, disabled = page.evaluate(
        "() => { window.chat.socket.io.engine.close();"
        " return [document.querySelector('.acc-status').textContent,"
        " document.querySelector('.acc-input').disabled]; }")
    assert "Connessione persa" in shown and disabled
    # ...then socket.io reconnects by itself and the server resumes the same conversation.
    connected(page)
    assert page.evaluate("window.chat.sessionId") == first
    expect(page.locator(".acc-bot")).to_have_count(1)  # the greeting is not repeated
    chat_input(page).fill("non mi arriva la mail di conferma")
    chat_input(page).press("Enter")
    expect(page.locator(".acc-bot").filter(has_text="spam")).to_be_visible()
    save_screenshot(page, "widget-reconnected")
    # A reload in the same tab resumes it too (the server-signed ticket in sessionStorage).
    page.reload()
    connected(page)
    assert page.evaluate("window.chat.sessionId") == first


def test_a_reply_missed_while_offline_is_shown_after_the_reconnect(
    open_widget, save_screenshot
) -> None:
    """The widget is left exactly as if the last answer had arrived while the connection was
    down (answer not shown, cursor on the previous one); after the reconnect the server
    re-sends it from the tracker store, once."""
    page = open_widget("alleanza")
    connected(page)
    bubbles = page.locator(".acc-bot")
    chat_input(page).fill("con che carte posso pagare?")
    chat_input(page).press("Enter")
    expect(bubbles).to_have_count(2)
    cursor = page.evaluate("window.chat.lastBotTs")
    assert isinstance(cursor, float)
    chat_input(page).fill("non mi arriva la mail di conferma")
    chat_input(page).press("Enter")
    expect(bubbles).to_have_count(3)
    answer = bubbles.nth(2).text_content() or ""
    assert "spam" in answer
    page.evaluate(
        "(cursor) => { document.querySelectorAll('.acc-bot')[2].remove();"
        " Object.keys(window.chat.seenReplies).forEach((key) => {"
        "   if (parseFloat(key) > cursor) delete window.chat.seenReplies[key]; });"
        " window.chat.lastBotTs = cursor; window.chat.socket.io.engine.close(); }", cursor)
    connected(page)
    expect(bubbles).to_have_count(3)
    expect(bubbles.nth(2)).to_have_text(answer)
    page.wait_for_timeout(500)
    expect(bubbles).to_have_count(3)  # re-sent once, the earlier answer not again
    assert page.evaluate("window.chat.lastBotTs") > cursor
    save_screenshot(page, "widget-missed-reply-replayed")


def test_every_part_of_a_reply_is_shown_once(open_widget) -> None:
    """Rasa sends a reply with paragraphs as several messages with one timestamp (buttons on
    the last): all parts are shown, and a part arriving twice (live and replayed) once."""
    page = open_widget("alleanza")
    connected(page)
    page.evaluate(
        "() => { const deliver = window.chat.socket.listeners('bot_uttered')[0];"
        " const parts = [{text: 'Primo paragrafo', ts: 1700000000.25, part: 0},"
        "  {text: 'Secondo paragrafo', ts: 1700000000.25, part: 1,"
        "   quick_replies: [{title: 'Va bene', payload: '/conferma'}]}];"
        " parts.forEach(deliver); parts.forEach(deliver); }")
    expect(page.locator(".acc-bot").filter(has_text="Primo paragrafo")).to_have_count(1)
    expect(page.locator(".acc-bot").filter(has_text="Secondo paragrafo")).to_have_count(1)
    expect(page.get_by_role("button", name="Va bene")).to_have_count(1)


def test_floating_widget_opens_and_closes_from_the_keyboard(open_widget) -> None:
    page = open_widget("alleanza", floating=True)
    launcher = page.get_by_role("button", name="Chatta con l'assistente")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_role("heading", name="Assistente Alleanza")).to_be_hidden()
    launcher.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Assistente Alleanza")).to_be_visible()
    expect(chat_input(page)).to_be_focused()  # typing can start at once
    page.keyboard.press("Escape")
    expect(page.get_by_role("heading", name="Assistente Alleanza")).to_be_hidden()
    expect(launcher).to_be_focused()  # focus goes back where it came from
    expect(launcher).to_have_attribute("aria-expanded", "false")


def test_an_expiring_token_is_renewed_and_the_question_answered(open_widget) -> None:
    """The token expires mid-conversation: the server says so, the widget asks the page for
    a fresh token, reconnects to the same conversation and sends the question again."""
    from identity import LEEWAY_SECONDS

    now = time.time()
    # Valid at connect only thanks to the clock-skew leeway; expired 8 s later.
    almost = mint_customer_token(1, "alleanza", ttl_minutes=0,
                                 now=now - LEEWAY_SECONDS + 8)
    fresh = mint_customer_token(1, "alleanza", ttl_minutes=10)
    page = open_widget("alleanza", [almost, fresh])
    connected(page, customer=True)
    first = page.evaluate("window.chat.sessionId")
    page.wait_for_timeout(max(0.0, (now + 10 - time.time()) * 1000))
    chat_input(page).fill("le mie polizze")
    chat_input(page).press("Enter")
    expect(page.locator(".acc-bot").filter(has_text="AL10000001")).to_be_visible()
    assert page.evaluate("window.tokenRequests") == 2
    assert page.evaluate("window.chat.sessionId") == first
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator(".acc-user")).to_have_count(1)  # asked once, answered once
