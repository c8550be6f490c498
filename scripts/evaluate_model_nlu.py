"""Intent accuracy of the model `make setup` trained, per held-out file and per intent.

Unlike scripts/benchmark_nlu.py (which trains each config from scratch to compare them),
this only runs inference on models/area-clienti.tar.gz, so it takes seconds and measures
exactly what `make run` serves.

    .venv/bin/python scripts/evaluate_model_nlu.py
    .venv/bin/python scripts/evaluate_model_nlu.py --heldout tests/data/heldout_actions_nlu.yml
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_nlu import (  # noqa: E402
    FALLBACK,
    HELD_OUT,
    OUT_OF_SCOPE,
    ROOT,
    load_examples,
    predict_with,
)


def report(name: str, gold: List[str], predicted: List[str]) -> Dict[str, object]:
    """Accuracy (fuori_ambito answered by the fallback counts as right), per intent, confusions."""
    right = [g == p or (g == OUT_OF_SCOPE and p == FALLBACK)
             for g, p in zip(gold, predicted, strict=True)]
    per_intent: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    for g, ok in zip(gold, right, strict=True):
        per_intent[g][0] += ok
        per_intent[g][1] += 1
    confusions = Counter((g, p) for g, p, ok in zip(gold, predicted, right, strict=True) if not ok)
    result = {
        "file": name,
        "utterances": len(gold),
        "correct": sum(right),
        "accuracy": round(sum(right) / len(gold), 4),
        "per_intent": {i: {"correct": c, "total": t} for i, (c, t) in sorted(per_intent.items())},
        "confusions": [{"gold": g, "predicted": p, "count": n}
                       for (g, p), n in confusions.most_common()],
    }
    print(f"\n{name}: {sum(right)}/{len(gold)} = {100 * sum(right) / len(gold):.1f} %")
    for intent, (c, t) in sorted(per_intent.items(), key=lambda kv: kv[1][0] / kv[1][1]):
        if c < t:
            print(f"  {intent:32s} {c}/{t}")
    for (g, p), n in confusions.most_common(10):
        print(f"  confused {g} -> {p}: {n}")
    return result


def staff_metadata() -> Dict[str, str]:
    """What the staff channel passes with a message: a staff identity of one agency."""
    sys.path.insert(0, str(ROOT))
    from identity.minting import mint_staff_token

    return {"identity_token": mint_staff_token("EVAL-1", "agency_employee", "AL-MI-001")}


async def evaluate(model: Path, heldout: List[Path]) -> List[Dict[str, object]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))  # once for every file
    staff = staff_metadata()
    results = []
    for path in heldout:
        examples = load_examples(path)
        # Staff questions come through the staff channel, with a staff identity.
        metadata = [staff if intent.startswith("staff_") else {} for _, intent in examples]
        predicted, _, _ = await predict_with(agent, [t for t, _ in examples], metadata)
        results.append(report(path.name, [i for _, i in examples], predicted))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "area-clienti.tar.gz")
    parser.add_argument("--heldout", type=Path, action="append",
                        help="held-out NLU file (repeatable; default: tests/data/heldout_*.yml)")
    parser.add_argument("--output", type=Path, default=ROOT / "reports" / "model_nlu.json")
    args = parser.parse_args()
    results = asyncio.run(evaluate(args.model, args.heldout or HELD_OUT))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten {args.output}")


if __name__ == "__main__":
    main()
