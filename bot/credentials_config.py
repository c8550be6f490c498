"""credentials.yml as Rasa runs it: the file, plus the operations channel if it is missing.

bot/channels/ops.py (readiness, metrics, bounded action calls) is a channel of every Rasa
process. credentials.yml should name it (``bot.channels.ops.OpsInput: {}``); until it does,
scripts/run.sh runs Rasa with this rendering, which adds it, so no process runs without it.
``OPS_CHANNEL=0`` leaves the file as it is.

    python -m bot.credentials_config > /tmp/credentials.yml
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BASE_CREDENTIALS = ROOT / "credentials.yml"
OPS_CHANNEL = "bot.channels.ops.OpsInput"


def render(env: Mapping[str, str] | None = None, base: Path = BASE_CREDENTIALS) -> dict[str, Any]:
    env = os.environ if env is None else env
    credentials = yaml.safe_load(base.read_text(encoding="utf-8")) or {}
    if env.get("OPS_CHANNEL", "1") not in ("0", "false", "no") and OPS_CHANNEL not in credentials:
        credentials[OPS_CHANNEL] = {}
    return credentials


def main() -> int:
    sys.stdout.write(yaml.safe_dump(render(), sort_keys=False, allow_unicode=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
