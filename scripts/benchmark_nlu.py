"""Intent accuracy on the held-out set, for our pipeline and for Rasa's default one.

Each config is trained on bot/data (NLU only) and evaluated on tests/data/heldout_*.yml,
which are never trained on. Prints accuracy, macro-F1, the fallback rate, the most frequent
confusion pairs, training time and parse latency, and writes everything as JSON.

A config whose pipeline has a ResponseSelector (other than Rasa's default) is trained on
the same data with the faq_* intents turned into one retrieval intent `faq/*`, and scored
on the FAQ the response selector picks.

A `fuori_ambito` utterance that ends in `nlu_fallback` counts as correct: both lead to the
same polite "I can only help with the Area Clienti" answer. The strict figure is printed too.

    .venv/bin/python scripts/benchmark_nlu.py                      # config.yml vs default
    .venv/bin/python scripts/benchmark_nlu.py --config a.yml --config b.yml
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Tuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # bot.*: the domain and data files, the pipeline's components
    sys.path.insert(0, str(ROOT))
HELD_OUT = sorted((ROOT / "tests" / "data").glob("heldout_*.yml"))
DEFAULT_CONFIGS = [ROOT / "config.yml", ROOT / "scripts" / "configs" / "rasa_default.yml"]
OUT_OF_SCOPE = "fuori_ambito"
FALLBACK = "nlu_fallback"


def load_examples(path: Path) -> List[Tuple[str, str]]:
    """(text, intent) pairs from a Rasa YAML NLU file."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [(m.get("text"), m.get("intent")) for m in data.intent_examples]


def retrieval_variant(workdir: Path) -> Tuple[Path, Path]:
    """The same data with every faq_x intent turned into the retrieval intent faq/x."""
    import yaml

    from bot.domain_files import domain_dict, nlu_files

    data_dir = workdir / "retrieval-data"
    data_dir.mkdir(exist_ok=True)
    for path in nlu_files():  # bot/data/nlu/<topic>.yml
        nlu = path.read_text()
        (data_dir / path.name).write_text(nlu.replace("- intent: faq_", "- intent: faq/"))
    domain = domain_dict()
    domain["intents"] = [i for i in domain["intents"] if not i.startswith("faq_")] + ["faq"]
    domain["responses"] = {
        name.replace("utter_faq_", "utter_faq/"): variations
        for name, variations in domain["responses"].items()
    }
    domain_file = workdir / "retrieval-domain.yml"
    domain_file.write_text(yaml.safe_dump(domain, allow_unicode=True))
    return data_dir, domain_file


def train(config: Path, workdir: Path, retrieval: bool) -> Tuple[Path, float]:
    from rasa.model_training import train_nlu

    data, domain = (
        retrieval_variant(workdir) if retrieval else (ROOT / "bot" / "data", ROOT / "domain")
    )
    started = time.monotonic()
    model = train_nlu(
        config=str(config),
        nlu_data=str(data),
        output=str(workdir),
        domain=str(domain),
        fixed_model_name=config.stem,
    )
    if not model:
        raise SystemExit(f"training failed for {config}")
    return Path(model), time.monotonic() - started


async def predict(model: Path, texts: List[str]) -> Tuple[List[str], List[Tuple], List[float]]:
    """Predicted intents, (top intent, confidence, margin) before the fallback, latencies."""
    from rasa.core.agent import Agent

    return await predict_with(Agent.load(str(model)), texts)


async def predict_with(agent: Any, texts: List[str],
                       metadata: List[dict] | None = None,
                       ) -> Tuple[List[str], List[Tuple], List[float]]:
    """:func:`predict` with an agent already loaded (several held-out files, one load).

    ``metadata`` per text is what the channel would pass (a staff identity for staff
    questions: the pipeline's channel scope keeps staff intents for staff only)."""
    from rasa.core.channels.channel import UserMessage

    predicted, raw, latencies = [], [], []
    for index, text in enumerate(texts):
        started = time.perf_counter()
        if metadata and metadata[index]:
            parsed = await agent.processor.parse_message(
                UserMessage(text, metadata=metadata[index]))
        else:
            parsed = await agent.parse_message(text)
        latencies.append((time.perf_counter() - started) * 1000)
        intent = parsed["intent"]["name"]
        if intent == "faq":  # retrieval variant: the response selector names the FAQ
            key = parsed["response_selector"]["default"]["response"]["intent_response_key"]
            intent = key.replace("/", "_")
        predicted.append(intent)
        ranking = [r for r in parsed.get("intent_ranking", []) if r["name"] != FALLBACK]
        if ranking:
            second = ranking[1]["confidence"] if len(ranking) > 1 else 0.0
            raw.append((ranking[0]["name"], ranking[0]["confidence"],
                        ranking[0]["confidence"] - second))
        else:
            raw.append((intent, 1.0, 1.0))
    return predicted, raw, latencies


def threshold_sweep(gold: List[str], raw: List[Tuple], ambiguity: float) -> Dict[str, float]:
    """Lenient accuracy if the FallbackClassifier threshold were t (DIET-only configs)."""
    sweep = {}
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
        hits = 0
        for g, (intent, confidence, margin) in zip(gold, raw, strict=True):
            p = FALLBACK if confidence < threshold or margin < ambiguity else intent
            hits += g == p or (g == OUT_OF_SCOPE and p == FALLBACK)
        sweep[str(threshold)] = round(100 * hits / len(gold), 1)
    return sweep


def score(gold: List[str], predicted: List[str]) -> Dict[str, object]:
    from sklearn.metrics import f1_score

    lenient = [
        g if (g == OUT_OF_SCOPE and p == FALLBACK) else p
        for g, p in zip(gold, predicted, strict=True)
    ]
    correct = sum(g == p for g, p in zip(gold, lenient, strict=True))
    pairs = Counter((g, p) for g, p in zip(gold, lenient, strict=True) if g != p)
    return {
        "examples": len(gold),
        "accuracy": round(100 * correct / len(gold), 1),
        "accuracy_strict": round(
            100 * sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold), 1
        ),
        "macro_f1": round(
            100 * f1_score(gold, lenient, average="macro", labels=sorted(set(gold))), 1
        ),
        "fallback_rate": round(100 * predicted.count(FALLBACK) / len(gold), 1),
        "confusions": [
            {"gold": g, "predicted": p, "count": n} for (g, p), n in pairs.most_common(15)
        ],
    }


def uses_response_selector(config: Path) -> bool:
    import yaml

    pipeline = yaml.safe_load(config.read_text()).get("pipeline") or []
    return any(step.get("name") == "ResponseSelector" for step in pipeline)


def evaluate(config: Path, examples: List[Tuple[str, str]], workdir: Path) -> Dict[str, object]:
    retrieval = uses_response_selector(config) and config.name != "rasa_default.yml"
    print(f"== {config.relative_to(ROOT)}: training{' (retrieval intents)' * retrieval}",
          flush=True)
    model, seconds = train(config, workdir, retrieval)
    texts = [text for text, _ in examples]
    gold = [intent for _, intent in examples]
    predicted, raw, latencies = asyncio.run(predict(model, texts))
    result = score(gold, predicted)
    if not retrieval:
        result["accuracy_by_fallback_threshold"] = threshold_sweep(gold, raw, ambiguity=0.05)
    result.update(
        config=str(config.relative_to(ROOT)),
        training_seconds=round(seconds, 1),
        model_mb=round(model.stat().st_size / 2**20, 1),
        parse_ms_median=round(statistics.median(latencies), 1),
        parse_ms_p95=round(sorted(latencies)[int(0.95 * len(latencies)) - 1], 1),
        errors=[
            {"text": t, "gold": g, "predicted": p}
            for t, g, p in zip(texts, gold, predicted, strict=True)
            if g != p and not (g == OUT_OF_SCOPE and p == FALLBACK)
        ],
    )
    return result


def print_table(results: List[Dict[str, object]]) -> None:
    keys = ["accuracy", "accuracy_strict", "macro_f1", "fallback_rate", "training_seconds",
            "model_mb", "parse_ms_median", "parse_ms_p95"]
    width = max(len(str(r["config"])) for r in results) + 2
    print("\n" + "config".ljust(width) + "".join(k.rjust(17) for k in keys))
    for r in results:
        print(str(r["config"]).ljust(width) + "".join(str(r[k]).rjust(17) for k in keys))
    for r in results:
        if "accuracy_by_fallback_threshold" in r:
            print(f"\n{r['config']}: accuracy by fallback threshold "
                  f"{r['accuracy_by_fallback_threshold']}")
    for r in results:
        print(f"\nTop confusions (gold -> predicted) for {r['config']}:")
        for c in r["confusions"]:
            print(f"  {c['count']:>2}  {c['gold']} -> {c['predicted']}")


def main() -> None:
    # A private, empty training cache: otherwise Rasa re-uses components trained by an
    # earlier run and the training times mean nothing.
    with tempfile.TemporaryDirectory(prefix="rasa-cache-") as cache:
        os.environ["RASA_CACHE_DIRECTORY"] = cache
        run()


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", type=Path,
                        help="config to evaluate (repeatable); default: ours and Rasa's")
    parser.add_argument("--heldout", type=Path, action="append",
                        help="held-out NLU file (repeatable; default: tests/data/heldout_*.yml)")
    parser.add_argument("--output", type=Path, default=ROOT / "reports" / "nlu_benchmark.json")
    args = parser.parse_args()
    configs = [c.resolve() for c in (args.config or DEFAULT_CONFIGS)]
    examples = [e for path in (args.heldout or HELD_OUT) for e in load_examples(path)]
    print(f"held-out set: {len(examples)} utterances, "
          f"{len({i for _, i in examples})} intents", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        results = [evaluate(config, examples, Path(tmp)) for config in configs]
    print_table(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten {args.output}")


if __name__ == "__main__":
    sys.exit(main())
