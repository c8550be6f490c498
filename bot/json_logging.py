"""JSON log lines without personal data, for the Rasa processes (``LOG_FORMAT=json``).

One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
``process`` (pid, to tell replicas apart) and, for an exception, ``exception`` (its type) and
``where`` (file:line function of the innermost frames), never the exception's message or
local values. The message goes through bot/redaction.py's text rules (tokens, e-mail
addresses, IBANs, fiscal codes, phone numbers, 5-6 digit codes masked), so a log line holds
no more than the tracker store does.

scripts/run.sh passes ``--logging-config-file scripts/configs/logging_json.yml`` to Rasa
when ``LOG_FORMAT=json``; that file names :class:`JsonFormatter`.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from pathlib import Path

from bot.redaction import redact_text

MAX_MESSAGE_CHARS = 2000


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the line
            message = str(record.msg)
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact_text(message[:MAX_MESSAGE_CHARS], codes=True),
            "process": record.process,
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
            frames = traceback.extract_tb(record.exc_info[2])[-4:]
            entry["where"] = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}"
                                        for f in reversed(frames))
        return json.dumps(entry, ensure_ascii=False)
