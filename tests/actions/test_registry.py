"""The action server loads the actions package the way `rasa run actions` does: every
custom action the domain names is registered, and no helper base class breaks loading."""

from __future__ import annotations

from rasa_sdk.executor import ActionExecutor

from bot.domain_files import domain_dict


def test_every_domain_action_is_served_by_the_action_server():
    executor = ActionExecutor()
    executor.register_package("actions")  # raises if a registered class cannot be built
    domain = domain_dict()
    custom = {a for a in domain["actions"] if a.startswith(("action_", "validate_"))}
    assert custom <= set(executor.actions), sorted(custom - set(executor.actions))
