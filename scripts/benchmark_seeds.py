"""Held-out intent accuracy per file, for our pipeline and Rasa's default, over several seeds.

Why: one training run is one draw; a difference of a point between two pipelines can be the
seed. Each (config, seed) is trained NLU-only from scratch (a private, empty Rasa cache, so
the training time is real) and scored on every tests/data/heldout_*.yml file the way
scripts/evaluate_model_nlu.py scores the shipped model (staff questions with a staff
identity). Prints one row per run, then mean and spread per config; writes JSON.

    .venv/bin/python scripts/benchmark_seeds.py                          # 3 seeds, both
    .venv/bin/python scripts/benchmark_seeds.py --seed 1 --seed 2 --config config.yml
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

import yaml

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_nlu import HELD_OUT, ROOT, train  # noqa: E402
from evaluate_model_nlu import evaluate  # noqa: E402

DEFAULT_CONFIGS = [ROOT / "config.yml", ROOT / "scripts" / "configs" / "rasa_default.yml"]
SEEDED = ("DIETClassifier", "ResponseSelector")


def seeded_config(config: Path, seed: int, workdir: Path) -> Path:
    """``config`` with every trainable classifier's random_seed set to ``seed``."""
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    for step in raw.get("pipeline") or []:
        if step.get("name") in SEEDED:
            step["random_seed"] = seed
    raw["policies"] = []  # NLU only
    path = workdir / f"{config.stem}-seed{seed}.yml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def summary(runs: List[Dict[str, object]]) -> Dict[str, Dict[str, str]]:
    """Per config and file: mean ± standard deviation of the accuracy, in %."""
    table: Dict[str, Dict[str, List[float]]] = {}
    for run in runs:
        per_file = table.setdefault(str(run["config"]), {})
        for name, accuracy in dict(run["accuracy"]).items():
            per_file.setdefault(name, []).append(100 * float(accuracy))
    return {config: {name: f"{statistics.mean(v):.1f} ± {statistics.pstdev(v):.1f}"
                     for name, v in files.items()} for config, files in table.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", type=Path)
    parser.add_argument("--seed", action="append", type=int)
    parser.add_argument("--heldout", action="append", type=Path,
                        help="held-out files to score (default: every tests/data/heldout_*.yml)")
    parser.add_argument("--output", type=Path, default=ROOT / "reports" / "nlu_seeds.json")
    args = parser.parse_args()
    configs = [c.resolve() for c in (args.config or DEFAULT_CONFIGS)]
    seeds = args.seed or [42, 7, 2026]
    held_out = [h.resolve() for h in args.heldout] if args.heldout else HELD_OUT
    runs: List[Dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="rasa-cache-") as cache, \
            tempfile.TemporaryDirectory() as tmp:
        os.environ["RASA_CACHE_DIRECTORY"] = cache  # nothing re-used between runs
        for seed in seeds:
            for config in configs:
                workdir = Path(tmp)
                # the seeded copy's name («config-seed7») names the model
                model, seconds = train(seeded_config(config, seed, workdir), workdir, False)
                results = asyncio.run(evaluate(model, held_out))
                every = sum(int(r["correct"]) for r in results)
                total = sum(int(r["utterances"]) for r in results)
                run = {"config": config.name, "seed": seed, "training_seconds": round(seconds),
                       "accuracy": {**{r["file"]: r["accuracy"] for r in results},
                                    "all": round(every / total, 4)}}
                runs.append(run)
                print(json.dumps(run), flush=True)
                model.unlink()
    table = summary(runs)
    for config, files in table.items():
        print(f"\n{config}")
        for name, figure in files.items():
            print(f"  {name:34s} {figure}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"runs": runs, "summary": table}, indent=2) + "\n")
    print(f"\nwritten {args.output}")


if __name__ == "__main__":
    main()
