"""Browser tests: Playwright driving Debian Chromium against the whole stack."""
