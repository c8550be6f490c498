"""One brand registry for every process: a third brand is an entry, not code.

The fixture writes a registry with a third insurer and points ``BRAND_REGISTRY_PATH`` at
it; the actions, the channels and the backend's rules all pick it up from there alone.
The last test checks that no Python module outside the registry names a brand, so adding
one needs only the registry and its responses in domain/.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import yaml

import brand_registry
from tests.conftest import ROOT

THIRD = {
    "display_name": "Nuova Vita Assicurazioni",
    "aliases": ["nuova vita", "nuovavita"],
    "policy_prefix": "NV",
    "agency_prefix": "NV-",
    "otp": {"digits": 4, "validity_seconds": 90},
    "archive_months": 12,
    "registration": {"policy_number_required": True, "ended_policy_months": 12},
    "payments": {"methods": ["mybank"], "card_networks": [], "consultant_appointment": False},
    "support": {"phone_hours": {"mon": [["08:30", "12:30"]]}, "channels": ["phone"]},
    "sms_template": "Nuova Vita: codice {code}",
}


@pytest.fixture
def third_brand(tmp_path, monkeypatch):
    entries = yaml.safe_load(brand_registry.DEFAULT_PATH.read_text(encoding="utf-8"))
    path = tmp_path / "brands.yml"
    path.write_text(yaml.safe_dump({**entries, "nuovavita": THIRD}, allow_unicode=True))
    monkeypatch.setenv(brand_registry.REGISTRY_ENV, str(path))
    # Reloaded in place (module-level constants); modules holding actions are not reloaded,
    # they read the registry when called.
    modules = ["identity.brands", "backend_stub.config"]
    yield [importlib.reload(importlib.import_module(m)) for m in modules]
    monkeypatch.delenv(brand_registry.REGISTRY_ENV)
    for m in modules:
        importlib.reload(importlib.import_module(m))


def test_the_shipped_registry_has_both_insurers_with_their_own_facts():
    alleanza, cavita = brand_registry.brand("alleanza"), brand_registry.brand("cavita")
    assert (alleanza.otp_digits, cavita.otp_digits) == (6, 5)
    assert (alleanza.archive_months, cavita.archive_months) == (None, 24)
    assert alleanza.consultant_appointment and not cavita.consultant_appointment
    assert cavita.phone_hours[4] == (("09:00", "13:30"), ("14:30", "17:00"))


def test_a_third_brand_reaches_actions_channels_and_backend(third_brand):
    brands, backend_config = third_brand
    payments = importlib.import_module("actions.payments")
    assert brands.BRANDS[-1] == "nuovavita"
    assert brands.normalise_brand("Nuova Vita") == "nuovavita"
    assert brands.brand_from_metadata({"brand": "nuovavita"}) == "nuovavita"
    assert payments.offered_methods("nuovavita") == ["mybank"]
    assert payments.offered_methods("alleanza") == ["visa", "mastercard", "mybank", "consulente"]
    rules = backend_config.rules_for("nuovavita")
    assert (rules.otp_length, rules.otp_ttl_seconds, rules.number_prefix) == (4, 90, "NV")
    assert rules.archived_visible_months == 12 and rules.payment_methods == ("mybank",)
    assert [s.start.isoformat("minutes") for s in rules.phone_hours[0]] == ["08:30"]
    assert brand_registry.brand_for_prefix("NV-RM-001") == "nuovavita"
    assert re.fullmatch(brand_registry.policy_prefix_pattern(), "NV")


def test_no_module_outside_the_registry_names_a_brand():
    """Brand codes in code would have to be edited for every new brand."""
    literal = re.compile(r"""["'](alleanza|cavita)["']""")
    offenders = []
    for folder in ("actions", "bot", "brand_registry", "backend_stub", "handoff"):
        for path in (ROOT / folder).rglob("*.py"):
            if "tests" in path.parts or path.name == "seed.py" or ".venv" in path.parts:
                continue  # seed.py is demo data: customers belong to a brand
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if literal.search(line):
                    offenders.append(f"{Path(path).relative_to(ROOT)}:{number}")
    assert offenders == []
