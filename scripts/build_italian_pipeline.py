"""Provide the Italian spaCy pipeline `it_area_clienti_sm` that config.yml loads.

`it_core_news_sm` cannot be downloaded on every machine (its wheel lives outside the
package registries). Rasa only needs *a* small Italian pipeline under a stable name, so:

1. if `it_core_news_sm` is importable (or `IT_CORE_NEWS_SM_WHEEL` names a wheel to
   install), it is repackaged unchanged as `it_area_clienti_sm`;
2. otherwise an equivalent pipeline (tok2vec, tagger, morphologizer, trainable
   lemmatizer) is trained with spaCy's own CLI on the UD Italian treebanks in
   `UD_ITALIAN_DIR` (default `../shared/data/ud-italian`), keeping ISDT dev out of
   training to report accuracy on it.

The resulting wheel and its metrics are cached under `AREA_CLIENTI_CACHE` keyed by a hash
of this recipe and of the treebanks, so a second run costs seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

PACKAGE_NAME = "area_clienti_sm"  # spaCy prefixes the language: it_area_clienti_sm
PACKAGE_VERSION = "1.0.0"
ROOT = Path(__file__).resolve().parent.parent
RECIPE_DIR = ROOT / "scripts" / "spacy_recipe"
HELD_OUT = "it_isdt-ud-dev.conllu"  # reported, never trained on
MODEL_SELECTION = "it_isdt-ud-test.conllu"  # used by spaCy to pick the best step
# Tagger, morphology and lemma scores on the model-selection treebank stop improving by step
# 2,500 (tag / POS / morph / lemma 92.7 / 94.7 / 93.2 / 94.6 at 3,000, 93.0 / 94.6 / 92.9 / 95.0
# at 5,000; 2026-12-07): 3,000 steps take about 2 minutes on 2 cores instead of 5.
DEFAULT_MAX_STEPS = 3000
RECIPE_VERSION = "1"  # bump when the build steps below change what gets built


def log(message: str) -> None:
    print(f"[spacy-it] {message}", flush=True)


def ud_dir() -> Path:
    default = ROOT.parent / "shared" / "data" / "ud-italian"
    return Path(os.environ.get("UD_ITALIAN_DIR", default)).resolve()


def cache_root() -> Path:
    default = Path.home() / ".cache" / "area-clienti"
    return Path(os.environ.get("AREA_CLIENTI_CACHE", default)) / "spacy"


def recipe_hash(treebanks: Path, max_steps: int) -> str:
    """Change of recipe, spaCy version or data means a new build."""
    import spacy

    digest = hashlib.sha256()
    digest.update(f"{spacy.__version__}|{max_steps}|{PACKAGE_VERSION}|{RECIPE_VERSION}".encode())
    for path in sorted(RECIPE_DIR.glob("*")):
        digest.update(path.read_bytes())
    for path in sorted(treebanks.glob("*.conllu")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def run(args: list[str], **kwargs) -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run(args, check=True, env=env, **kwargs)


def spacy_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "spacy", *args]


def convert_treebanks(treebanks: Path, work: Path) -> tuple[Path, Path, Path]:
    """CoNLL-U -> .spacy: train on everything but the two ISDT evaluation splits."""
    train_dir, select_dir, held_dir = (work / name for name in ("train", "select", "heldout"))
    for directory in (train_dir, select_dir, held_dir):
        directory.mkdir(parents=True, exist_ok=True)
    for conllu in sorted(treebanks.glob("*.conllu")):
        target = {HELD_OUT: held_dir, MODEL_SELECTION: select_dir}.get(conllu.name, train_dir)
        log(f"convert {conllu.name} -> {target.name}")
        run(
            spacy_cli("convert", str(conllu), str(target), "--converter", "conllu",
                      "--n-sents", "10", "--merge-subtokens"),
            stdout=subprocess.DEVNULL,
        )
    return train_dir, select_dir, held_dir


def train_from_ud(treebanks: Path, work: Path, max_steps: int) -> tuple[Path, dict]:
    train_dir, select_dir, held_dir = convert_treebanks(treebanks, work)
    output = work / "training"
    log(f"train tok2vec+tagger+morphologizer+lemmatizer, {max_steps} steps (a few minutes)")
    started = time.monotonic()
    run(
        spacy_cli(
            "train", str(RECIPE_DIR / "config.cfg"), "--output", str(output),
            "--paths.train", str(train_dir), "--paths.dev", str(select_dir),
            "--training.max_steps", str(max_steps),
        )
    )
    minutes = (time.monotonic() - started) / 60
    best = output / "model-best"
    scores_file = work / "heldout-scores.json"
    log(f"evaluate on held-out {HELD_OUT}")
    run(spacy_cli("evaluate", str(best), str(held_dir), "--output", str(scores_file)),
        stdout=subprocess.DEVNULL)
    scores = json.loads(scores_file.read_text())
    metrics = {
        "source": "trained from UD Italian treebanks",
        "held_out": HELD_OUT,
        "model_selection": MODEL_SELECTION,
        "max_steps": max_steps,
        "training_minutes": round(minutes, 1),
        "pos_acc": round(scores["pos_acc"] * 100, 1),
        "tag_acc": round(scores["tag_acc"] * 100, 1),
        "morph_acc": round(scores["morph_acc"] * 100, 1),
        "lemma_acc": round(scores["lemma_acc"] * 100, 1),
        "words_per_second": int(scores["speed"]),
    }
    return best, metrics


def official_pipeline(work: Path) -> tuple[Path, dict] | None:
    """Use it_core_news_sm where it can be had: same name for config.yml either way."""
    wheel = os.environ.get("IT_CORE_NEWS_SM_WHEEL")
    if wheel:
        run([sys.executable, "-m", "pip", "install", "--quiet", wheel])
    try:
        import spacy

        nlp = spacy.load("it_core_news_sm")
    except (ImportError, OSError):
        return None
    target = work / "official"
    nlp.to_disk(target)
    return target, {"source": f"it_core_news_sm {nlp.meta.get('version')}"}


def package(model_dir: Path, work: Path, metrics: dict) -> Path:
    meta = json.loads((model_dir / "meta.json").read_text())
    meta.update(
        name=PACKAGE_NAME,
        version=PACKAGE_VERSION,
        description=f"Small Italian pipeline for the Area Clienti assistant ({metrics['source']})",
        license="CC BY-NC-SA 4.0 (inherited from the UD treebanks used)",
        author="Area Clienti assistant team",
        email="",
        url="",
    )
    meta_path = work / "meta.json"
    meta_path.write_text(json.dumps(meta, indent=2))
    packages = work / "packages"
    packages.mkdir(exist_ok=True)
    log("package as it_area_clienti_sm")
    run(
        spacy_cli("package", str(model_dir), str(packages), "--meta-path", str(meta_path),
                  "--build", "wheel", "--force"),
        stdout=subprocess.DEVNULL,
    )
    wheels = list(packages.glob("**/dist/*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one wheel, found {wheels}")
    return wheels[0]


def build(max_steps: int) -> Path:
    treebanks = ud_dir()
    if not any(treebanks.glob("*.conllu")):
        raise SystemExit(
            f"No UD treebanks in {treebanks}: set UD_ITALIAN_DIR to the ud-italian folder."
        )
    key = recipe_hash(treebanks, max_steps)
    target = cache_root() / key
    if (target / "metrics.json").exists() and list(target.glob("*.whl")):
        log(f"cached build {key} re-used ({target})")
        return target
    work = cache_root() / f"work-{key}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    found = official_pipeline(work)
    model_dir, metrics = found if found else train_from_ud(treebanks, work, max_steps)
    wheel = package(model_dir, work, metrics)
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(wheel, target / wheel.name)
    (target / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    log(f"built {key}: {json.dumps(metrics)}")
    return target


def install(target: Path) -> None:
    """Install the cached wheel into this interpreter unless that exact build is there."""
    stamp = Path(sys.prefix) / f".it_area_clienti_sm-{target.name}"
    if stamp.exists():
        log("it_area_clienti_sm already installed")
        return
    wheel = next(target.glob("*.whl"))
    log(f"install {wheel.name}")
    run([sys.executable, "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps",
         str(wheel)])
    for old in Path(sys.prefix).glob(".it_area_clienti_sm-*"):
        old.unlink()
    stamp.touch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-steps", type=int,
                        default=int(os.environ.get("SPACY_MAX_STEPS", DEFAULT_MAX_STEPS)))
    parser.add_argument("--metrics", action="store_true",
                        help="print the held-out accuracy of the cached build and exit")
    args = parser.parse_args()
    target = build(args.max_steps)
    if args.metrics:
        print((target / "metrics.json").read_text())
        return
    install(target)


if __name__ == "__main__":
    main()
