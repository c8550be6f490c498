"""Shared fixtures: paths and the parsed domain and training data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT.parent / "shared" / "seeds"
SEED_FILES = {
    "alleanza": SEEDS / "000_f3a0688f24807ae7.txt",
    "cavita": SEEDS / "004_83dcd89d08f8cc61.txt",
}


@pytest.fixture(scope="session")
def domain():
    """Rasa's Domain of the domain/ directory (all topic files merged by Rasa)."""
    from bot.domain_files import rasa_domain

    return rasa_domain()


@pytest.fixture(scope="session")
def training_data():
    from rasa.shared.nlu.training_data.loading import load_data

    from bot.domain_files import nlu_files

    files = nlu_files()  # bot/data/nlu/*.yml: one file per topic, and the regexes
    first = load_data(str(files[0]))
    return first.merge(*(load_data(str(f)) for f in files[1:]))


@pytest.fixture(scope="session")
def heldout_data():
    """Every held-out file (tests/data/heldout_*.yml): the FAQ set and the actions/staff set."""
    from rasa.shared.nlu.training_data.loading import load_data

    files = sorted((ROOT / "tests" / "data").glob("heldout_*.yml"))
    data = load_data(str(files[0]))
    return data.merge(*(load_data(str(f)) for f in files[1:]))


@pytest.fixture(scope="session")
def intents():
    """The intents this assistant declares (Domain.intents adds Rasa's built-in ones)."""
    from bot.domain_files import domain_dict

    return domain_dict()["intents"]
