"""Where the NLU training time goes: seconds per DIET epoch for variants of config.yml.

Each variant is config.yml with some DIET or featurizer settings changed; it is trained on
the project's NLU data twice, for a few epochs and for a few more, so that the difference
is the cost of the epochs alone (featurising, which a first one-epoch run puts in Rasa's
cache for the runs that follow, cancels out). Prints one line per variant and writes
results/training_profile.json.

    .venv/bin/python scripts/profile_training.py                    # every variant
    .venv/bin/python scripts/profile_training.py --variant current --variant one_layer
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

Config = Dict[str, Any]


def _component(config: Config, name: str, **match: Any) -> Dict[str, Any]:
    for step in config["pipeline"]:
        if step["name"] == name and all(step.get(k) == v for k, v in match.items()):
            return step
    raise KeyError(name)


def _diet(**settings: Any) -> Callable[[Config], None]:
    def change(config: Config) -> None:
        _component(config, "DIETClassifier").update(settings)
    return change


def _char_ngrams(max_ngram: int) -> Callable[[Config], None]:
    def change(config: Config) -> None:
        _component(config, "CountVectorsFeaturizer", analyzer="char_wb")["max_ngram"] = max_ngram
    return change


VARIANTS: Dict[str, Callable[[Config], None]] = {
    "current": lambda config: None,
    "one_layer": _diet(number_of_transformer_layers=1),
    "size_128": _diet(transformer_size=128),
    "one_layer_128": _diet(number_of_transformer_layers=1, transformer_size=128),
    "no_transformer": _diet(number_of_transformer_layers=0),
    "batch_128_512": _diet(batch_size=[128, 512]),
    "char_2_4": _char_ngrams(4),
}


def variant_config(base: Config, name: str, epochs: int) -> Config:
    config = copy.deepcopy(base)
    VARIANTS[name](config)
    _component(config, "DIETClassifier")["epochs"] = epochs
    config["policies"] = []  # NLU only
    return config


def train_seconds(config: Config, workdir: Path) -> float:
    import yaml
    from rasa.model_training import train_nlu

    path = workdir / "config.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    started = time.perf_counter()
    train_nlu(str(path), str(ROOT / "bot" / "data"), str(workdir / "models"),
              domain=str(ROOT / "domain"))
    return time.perf_counter() - started


def main(argv: List[str] | None = None) -> int:
    import yaml

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS))
    parser.add_argument("--few", type=int, default=2, help="epochs of the short run")
    parser.add_argument("--more", type=int, default=8, help="epochs of the long run")
    args = parser.parse_args(argv)
    base = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    results = []
    with tempfile.TemporaryDirectory() as cache:
        os.environ["RASA_CACHE_DIRECTORY"] = cache  # featurisers trained once for all runs
        for name in args.variant or list(VARIANTS):
            with tempfile.TemporaryDirectory() as work:  # warms the cache for this variant
                train_seconds(variant_config(base, name, 1), Path(work))
            with tempfile.TemporaryDirectory() as work:
                few = train_seconds(variant_config(base, name, args.few), Path(work))
            with tempfile.TemporaryDirectory() as work:
                more = train_seconds(variant_config(base, name, args.more), Path(work))
            per_epoch = (more - few) / (args.more - args.few)
            results.append({"variant": name, "seconds_per_epoch": round(per_epoch, 2),
                            "fixed_seconds": round(few - args.few * per_epoch, 1)})
            print(f"{name:16s} {per_epoch:6.2f} s/epoch  (fixed {results[-1]['fixed_seconds']} s)",
                  flush=True)
    out = ROOT / "results" / "training_profile.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
