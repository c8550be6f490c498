#!/usr/bin/env bash
# Builds everything the assistant needs, re-using what is already built:
#   1. the Python 3.10 environment (.venv) with Rasa 3.6.21 and spaCy 3.4.4, pinned;
#   2. the Italian spaCy pipeline it_area_clienti_sm (cached build, see
#      scripts/build_italian_pipeline.py);
#   3. the backend stub's own environment (backend_stub/.venv), when present;
#   4. the web widget's npm packages, Debian Chromium and Playwright (scripts/setup_web.sh),
#      and Debian's haproxy for several Rasa replicas (scripts/setup_haproxy.sh);
#   5. the trained Rasa model models/area-clienti.tar.gz.
# Each step is skipped when its inputs have not changed since the last run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
MODEL="$ROOT/models/area-clienti.tar.gz"
export TF_CPP_MIN_LOG_LEVEL=3 RASA_TELEMETRY_ENABLED=false PIP_DISABLE_PIP_VERSION_CHECK=1

started=$SECONDS
step() { printf '\n[setup %3ss] %s\n' "$((SECONDS - started))" "$*"; }
digest() { cat "$@" | sha256sum | cut -c1-16; }

find_python310() {
  if [[ -n "${PYTHON310:-}" ]]; then echo "$PYTHON310"; return; fi
  if command -v pyenv >/dev/null 2>&1; then
    local version
    version=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | sort -V | tail -n 1 || true)
    if [[ -n "$version" ]]; then echo "$(pyenv root)/versions/$version/bin/python3.10"; return; fi
  fi
  if command -v python3.10 >/dev/null 2>&1; then command -v python3.10; return; fi
  echo "Python 3.10 not found: install it (e.g. pyenv install 3.10) or set PYTHON310." >&2
  exit 1
}

step "1/5 Python 3.10 environment (.venv)"
if [[ ! -x "$VENV/bin/python" ]]; then
  python310="$(find_python310)"
  echo "creating .venv with $python310"
  "$python310" -m venv "$VENV"
fi
lock_key=$(digest requirements/rasa.lock.txt)
if [[ "$(cat "$VENV/.lock-key" 2>/dev/null)" != "$lock_key" ]]; then
  echo "installing pinned packages (Rasa 3.6.21, spaCy 3.4.4, ...): about a minute or two"
  # wheel 0.45 and setuptools 70 are the last that leave Rasa's packaging<21 pin alone.
  "$VENV/bin/python" -m pip install --quiet --upgrade pip "wheel==0.45.1" "setuptools==70.3.0"
  "$VENV/bin/python" -m pip install --quiet --progress-bar off -r requirements/rasa.lock.txt
  echo "$lock_key" > "$VENV/.lock-key"
else
  echo "up to date"
fi

step "2/5 Italian spaCy pipeline (it_area_clienti_sm)"
"$VENV/bin/python" scripts/build_italian_pipeline.py

step "3/5 backend stub environment"
if [[ -x backend_stub/setup.sh ]]; then
  backend_stub/setup.sh
else
  echo "no backend_stub/setup.sh yet: skipped"
fi

step "4/5 web widget and browser tests (chromium, socket.io-client, playwright); haproxy"
bash scripts/setup_web.sh
bash scripts/setup_haproxy.sh  # load balancer for several replicas (scripts/run.sh)

step "5/5 Rasa model (models/area-clienti.tar.gz)"
spacy_key=$(ls "$VENV"/.it_area_clienti_sm-* 2>/dev/null | sort | tail -n 1)
# Rasa's own training cache, outside the clone so that a fresh clone of the same data (CI)
# re-uses what this machine already trained; one cache per spaCy build, whose content
# Rasa's fingerprints do not see (same package name and version).
rasa_cache="${AREA_CLIENTI_CACHE:-$HOME/.cache/area-clienti}/rasa/$(basename "${spacy_key:-none}")"
# The model's inputs: the domain directory and the training data, every YAML file in both
# (found recursively, in a fixed order; their paths count too, so a move retrains).
mapfile -t model_inputs < <(find domain bot/data -name '*.yml' | LC_ALL=C sort)
model_key=$( (printf '%s\n' "${model_inputs[@]}"; digest config.yml "${model_inputs[@]}" bot/nlu/*.py
  echo "$spacy_key") | sha256sum | cut -c1-16)
if [[ -f "$MODEL" && "$(cat models/.model-key 2>/dev/null)" == "$model_key" ]]; then
  echo "up to date"
else
  echo "training NLU and dialogue (10-15 minutes on 2 cores; components whose inputs are"
  echo "unchanged come from Rasa's training cache in $rasa_cache)"
  mkdir -p "$rasa_cache"
  RASA_CACHE_DIRECTORY="$rasa_cache" "$VENV/bin/rasa" train --data bot/data \
    --domain domain --config config.yml --out models --fixed-model-name area-clienti
  echo "$model_key" > models/.model-key
fi

step "done in $((SECONDS - started)) s. Next: make test, make run"
