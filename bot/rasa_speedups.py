"""Rasa 3.6 checks every action server answer against its JSON schema with
``jsonschema.validate``, which first validates the schema itself against the JSON-Schema
meta-schema and builds a new validator: about 70-100 ms of CPU per action call on these
machines (scripts/profile_turn.py), i.e. more than the whole NLU, for every custom action
and every session start.

:func:`install` replaces ``RemoteAction._validate_action_result`` with the same check
against the same schema (``RemoteAction.action_response_format_spec()``) by a validator
built once: same errors (``jsonschema.ValidationError`` with Rasa's hint appended), about
2 ms. It changes a method of a class loaded in this process; nothing in site-packages is
edited. bot/channels/ops.py installs it when the server starts; ``RASA_SPEEDUPS=0`` leaves
Rasa as it is. The test (tests/scale/test_rasa_speedups.py) compares both on valid and
invalid answers.
"""

from __future__ import annotations

import functools
import os
from typing import Any

_ORIGINAL: Any = None


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    from jsonschema import ValidationError, exceptions
    from rasa.shared.constants import DOCS_BASE_URL

    error = exceptions.best_match(_validator().iter_errors(result))
    if error is None:
        return True
    assert isinstance(error, ValidationError)
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> bool:
    """Returns whether the faster check is in place (``RASA_SPEEDUPS=0``: not)."""
    global _ORIGINAL
    if os.environ.get("RASA_SPEEDUPS", "1").lower() in ("0", "false", "no", "off"):
        return False
    from rasa.core.actions.action import RemoteAction

    if RemoteAction._validate_action_result is not validate_action_result:
        _ORIGINAL = RemoteAction._validate_action_result
        RemoteAction._validate_action_result = validate_action_result
    return True
