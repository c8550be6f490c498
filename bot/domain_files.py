"""Where the domain and the training data live, and the domain as one dict.

The domain is the directory ``domain/`` (one file per topic, see ``domain/core.yml``); Rasa
merges its files itself (``--domain domain``). Python code that only needs the plain YAML
(tests, scripts) reads it here, merged the way Rasa merges it: lists (intents, entities,
actions) concatenated in file order, mappings (slots, forms, responses) joined. A name
declared in two files is an error here, where Rasa would let one silently win.

``rasa_domain()`` is Rasa's own ``Domain`` of the same directory, for code that needs one.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List

import yaml

ROOT = Path(__file__).resolve().parent.parent
DOMAIN_DIR = ROOT / "domain"
DATA_DIR = ROOT / "bot" / "data"
NLU_DIR = DATA_DIR / "nlu"

LIST_KEYS = ("intents", "entities", "actions")
MAPPING_KEYS = ("slots", "forms", "responses")


def domain_files(directory: Path = DOMAIN_DIR) -> List[Path]:
    """The domain's YAML files, in a stable order."""
    return sorted(p for p in directory.rglob("*") if p.suffix in (".yml", ".yaml"))


def nlu_files(directory: Path = NLU_DIR) -> List[Path]:
    """The NLU training files (one per topic, plus the regexes), in a stable order."""
    return sorted(directory.rglob("*.yml"))


def _name(item: Any) -> str:
    """``saluto`` or ``{codice_fiscale: {...}}`` -> the declared name."""
    return next(iter(item)) if isinstance(item, dict) else str(item)


def merge(parts: List[Dict[str, Any]], sources: List[str] | None = None) -> Dict[str, Any]:
    """Domain dicts merged into one; a name declared twice raises ``ValueError``."""
    sources = sources or [f"part {n}" for n in range(len(parts))]
    merged: Dict[str, Any] = {}
    seen: Dict[tuple, str] = {}
    for part, source in zip(parts, sources, strict=True):
        for key, value in (part or {}).items():
            if key in LIST_KEYS:
                for item in value or []:
                    where = seen.setdefault((key, _name(item)), source)
                    if where != source:
                        raise ValueError(f"{key[:-1]} {_name(item)!r} in {where} and {source}")
                    merged.setdefault(key, []).append(item)
            elif key in MAPPING_KEYS:
                for name, body in (value or {}).items():
                    where = seen.setdefault((key, name), source)
                    if where != source:
                        raise ValueError(f"{key} {name!r} in {where} and {source}")
                    merged.setdefault(key, {})[name] = body
            elif key in merged and merged[key] != value:
                raise ValueError(f"{key!r} differs between files ({source})")
            else:
                merged[key] = value
    return merged


@lru_cache(maxsize=4)
def _domain_dict(directory: Path) -> Dict[str, Any]:
    files = domain_files(directory)
    if not files:
        raise FileNotFoundError(f"no domain files under {directory}")
    parts = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in files]
    return merge(parts, [str(p.relative_to(directory)) for p in files])


def domain_dict(directory: Path = DOMAIN_DIR) -> Dict[str, Any]:
    """The whole domain as plain YAML data (a fresh copy each call: callers may edit it)."""
    import copy

    return copy.deepcopy(_domain_dict(Path(directory)))


def rasa_domain(directory: Path = DOMAIN_DIR) -> Any:
    """Rasa's ``Domain`` of the directory (imports Rasa: not for the action server)."""
    from rasa.shared.core.domain import Domain

    return Domain.load(str(directory))
