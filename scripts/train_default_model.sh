#!/usr/bin/env bash
# Trains Rasa's default pipeline (scripts/configs/rasa_default.yml: default NLU pipeline and
# default policies) on our data and domain, once: the model is cached under
# ~/.cache/area-clienti/default-pipeline/<hash of the inputs>/ and linked as
# ~/.cache/area-clienti/default-pipeline/rasa-default.tar.gz for scripts/benchmark_load.py.
# About 20-30 minutes on 2 cores (DIET, ResponseSelector, TED and UnexpecTED, 100 epochs each).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export TF_CPP_MIN_LOG_LEVEL=3 RASA_TELEMETRY_ENABLED=false
cache="${AREA_CLIENTI_CACHE:-$HOME/.cache/area-clienti}/default-pipeline"
mapfile -t inputs < <(find domain bot/data -name '*.yml' | LC_ALL=C sort)
key=$( (printf '%s\n' "${inputs[@]}"; cat scripts/configs/rasa_default.yml "${inputs[@]}") \
  | sha256sum | cut -c1-16)
model="$cache/$key/rasa-default.tar.gz"
if [[ -f "$model" ]]; then
  echo "up to date: $model"
else
  mkdir -p "$cache/$key"
  .venv/bin/rasa train --data bot/data --domain domain --config scripts/configs/rasa_default.yml \
    --out "$cache/$key" --fixed-model-name rasa-default
fi
ln -sfn "$model" "$cache/rasa-default.tar.gz"
echo "$cache/rasa-default.tar.gz"
