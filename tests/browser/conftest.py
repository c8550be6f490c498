"""Fixtures for browser tests: the whole stack, Debian's Chromium driven by Playwright.

Reusable by any page's tests (the widget, the staff page):

* ``browser_stack`` (session) - ``scripts/run.sh`` on free ports (``tests/e2e/stack.py``),
  started once for all browser tests; ``browser_stack.url`` is the Rasa server. It runs
  like a production deployment: ``DEMO_PAGES=0`` (no demo token endpoints), so what the
  tests exercise is what the insurers' pages get.
* ``browser`` (session) - Chromium from the system (``/usr/bin/chromium``, or
  ``CHROMIUM_PATH``), never a browser downloaded by Playwright: ``scripts/setup_web.sh``
  installs the Debian package and only the Python ``playwright`` package.
* ``page`` (function) - a fresh context (Italian locale, no shared cookies or storage) and
  page; when the test fails, a screenshot ``FAILED-<test>.png`` is saved.
* ``save_screenshot`` - ``save_screenshot(page, name)`` saves ``results/screenshots/<name>.png``
  (``SCREENSHOT_DIR`` moves it), the artefacts CI keeps.

The tests are marked ``e2e`` (they need a trained model and start servers).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.e2e.stack import Stack, running_stack

try:  # Collected by `pytest tests` everywhere; usable only where playwright is installed.
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = expect = None  # type: ignore[assignment]
    Browser = Page = Any  # type: ignore[misc,assignment]

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "results" / "screenshots"))
# Long enough for a turn through NLU, the action server and the backend on 2 busy cores.
DEFAULT_TIMEOUT_MS = 60_000  # page actions (click, goto, fill)
EXPECT_TIMEOUT_MS = 30_000  # expect(...) assertions; Playwright's own default is 5 s


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as ``results/screenshots/<name>.png`` and return the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "screenshot"
    path = SCREENSHOTS / f"{safe}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def save_screenshot() -> Callable[[Page, str], Path]:
    """``save_screenshot(page, name)``: see :func:`screenshot`."""
    return screenshot


@pytest.fixture(scope="session")
def browser_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole stack as ``make run`` starts it, once per test session."""
    with contextlib.ExitStack() as exits:
        # Only run.sh's environment gets DEMO_PAGES=0; in-process tests keep theirs.
        with pytest.MonkeyPatch.context() as env:
            env.setenv("DEMO_PAGES", "0")
            stack = exits.enter_context(running_stack(tmp_path_factory.mktemp("browser-stack")))
        yield stack


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless. Fails (not skips) when it is missing: a setup problem."""
    if sync_playwright is None:
        pytest.skip("playwright not installed: run scripts/setup_web.sh")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: run scripts/setup_web.sh (apt package chromium)")
    args = ["--disable-dev-shm-usage"]  # containers have a small /dev/shm
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to run sandboxed as root
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=args)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test item, so ``page`` knows whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A new page in a fresh context; a screenshot is kept when the test fails."""
    context = browser.new_context(locale="it-IT", timezone_id="Europe/Rome")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    new_page = context.new_page()
    try:
        yield new_page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed and not new_page.is_closed():
            with contextlib.suppress(Exception):  # never hide the test's own failure
                screenshot(new_page, f"FAILED-{request.node.name}")
        context.close()
