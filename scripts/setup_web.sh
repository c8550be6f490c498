#!/usr/bin/env bash
# Installs what the chat widget and the browser tests need, re-using what is installed:
#   1. system packages: Debian's chromium (the browser the tests drive) and npm, only when
#      missing (apt-get as root, or through sudo);
#   2. web/node_modules from web/package-lock.json (socket.io-client, served by the Rasa
#      server at /webhooks/chat/vendor/socket.io.min.js: no CDN);
#   3. the Python playwright package in .venv, pinned in requirements/browser.txt and
#      constrained by requirements/rasa.lock.txt so that it can never move a Rasa pin.
# Playwright never downloads a browser here: the tests launch /usr/bin/chromium
# (tests/browser/conftest.py). Each step is skipped when its inputs have not changed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
SOCKETIO_CLIENT="web/node_modules/socket.io-client/dist/socket.io.min.js"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

started=$SECONDS
step() { printf '[setup-web %3ss] %s\n' "$((SECONDS - started))" "$*"; }
digest() { cat "$@" | sha256sum | cut -c1-16; }

step "1/3 system packages (chromium, npm)"
missing=()
[[ -x "$CHROMIUM" ]] || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "up to date ($("$CHROMIUM" --version 2>/dev/null | head -n 1))"
else
  if [[ $(id -u) -eq 0 ]]; then
    as_root=()
  elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "missing ${missing[*]}: install them as root (apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "installing ${missing[*]} with apt-get"
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
fi

step "2/3 widget JavaScript (web/node_modules)"
npm_key=$( (digest web/package.json web/package-lock.json; node --version) | sha256sum | cut -c1-16)
if [[ -f "$SOCKETIO_CLIENT" && "$(cat web/node_modules/.setup-key 2>/dev/null)" == "$npm_key" ]]; then
  echo "up to date"
else
  npm ci --prefix web --omit=dev --no-audit --no-fund --loglevel=error
  echo "$npm_key" > web/node_modules/.setup-key
fi

step "3/3 playwright (Python package only) in .venv"
if [[ ! -x "$VENV/bin/python" ]]; then
  echo ".venv missing: run scripts/setup.sh (make setup) first" >&2
  exit 1
fi
browser_key=$(digest requirements/browser.txt requirements/rasa.lock.txt)
if [[ "$(cat "$VENV/.browser-key" 2>/dev/null)" == "$browser_key" ]]; then
  echo "up to date"
else
  # The lock as constraints: pip fails rather than change a package Rasa is pinned to.
  "$VENV/bin/python" -m pip install --quiet --progress-bar off \
    -r requirements/browser.txt -c requirements/rasa.lock.txt
  "$VENV/bin/python" -m pip check
  echo "$browser_key" > "$VENV/.browser-key"
fi

step "done: widget at /webhooks/chat/ (make run), browser tests: pytest -m e2e tests/browser"
