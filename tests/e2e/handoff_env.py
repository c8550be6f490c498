"""The stack settings the live-handoff tests share (tests/e2e, tests/browser).

``HANDOFF_CLOCK`` stops the operators' clock on Friday 10 April 2026 at 17:15 (Rome): in
hours for Alleanza (the default ``mon-fri 09:00-18:00``), out of hours for CA Vita (its
guide's Friday closes at 17:00), so one stack shows both paths. The handoff queue gets a
database of its own in the test's directory.
"""

from __future__ import annotations

from pathlib import Path

import requests

from identity.operators import mint_operator_token

FRIDAY_17_15 = "2026-04-10T17:15:00+02:00"


def handoff_env(workdir: Path) -> dict[str, str]:
    return {
        "HANDOFF_DATABASE_URL": f"sqlite:///{workdir / 'handoff.sqlite3'}",
        "HANDOFF_CLOCK": FRIDAY_17_15,
        "DEMO_PAGES": "0",
    }


def operator_token(operator_id: str = "OP-1", brands: tuple[str, ...] = ("alleanza",)) -> str:
    return mint_operator_token(operator_id, "operator", list(brands), ttl_minutes=60)


class Console:
    """The operators' console API, as the page calls it."""

    def __init__(self, rasa_url: str, token: str) -> None:
        self.base = f"{rasa_url}/webhooks/operators"
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **params: str) -> requests.Response:
        return requests.get(f"{self.base}/{path}", params=params, headers=self.headers,
                            timeout=30)

    def post(self, path: str, **body: str) -> requests.Response:
        return requests.post(f"{self.base}/{path}", json=body, headers=self.headers,
                             timeout=30)

    def queue(self) -> dict:
        answer = self.get("queue")
        answer.raise_for_status()
        return answer.json()
