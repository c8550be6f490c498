#!/usr/bin/env bash
# Create backend_stub/.venv (Python 3.11) and install the stub's requirements.
# Idempotent: a stamp holding the hash of the requirements files (and the Python
# version) skips pip when nothing changed, so a second run takes about a second.
# Usage: backend_stub/setup.sh [--force]   (env PYTHON=python3.11 to choose the interpreter)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
STAMP="$VENV/.requirements.sha256"
PYTHON="${PYTHON:-python3}"
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

step() { printf '[backend_stub setup] %s\n' "$*"; }

step "checking the interpreter ($PYTHON)"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
    step "error: $PYTHON is $("$PYTHON" --version 2>&1); Python 3.11 is required (set PYTHON=...)" >&2
    exit 1
fi

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    step "creating the virtual environment $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
else
    step "virtual environment exists: $VENV"
fi

WANT="$(cat "$HERE/requirements.txt" "$HERE/requirements-dev.txt" | sha256sum | cut -d' ' -f1)-$("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')"
if [[ $FORCE -eq 0 && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    step "requirements unchanged: nothing to install"
else
    step "upgrading pip"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    step "installing requirements.txt and requirements-dev.txt"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$HERE/requirements.txt" -r "$HERE/requirements-dev.txt"
    echo "$WANT" > "$STAMP"
    step "installed"
fi

step "checking imports"
"$VENV/bin/python" -c 'import fastapi, uvicorn, sqlalchemy, pydantic, twilio, psycopg, httpx, pytest, stdnum, phonenumbers'
step "ready: run with  $VENV/bin/python -m backend_stub  (from the repository root)"
