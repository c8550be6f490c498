#!/usr/bin/env bash
# Debian's HAProxy, the load balancer of scripts/run.sh with RASA_REPLICAS/ACTIONS_REPLICAS
# above 1 and of the scale-out test (tests/e2e/test_scale_out.py). Skipped when present;
# installed with apt-get as root or through sudo; without either, a warning only: the
# single-process stack (`make run`) does not need it.
set -euo pipefail
if command -v haproxy >/dev/null 2>&1; then
  echo "up to date ($(haproxy -v 2>/dev/null | head -n 1))"
  exit 0
fi
if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo)
else
  echo "haproxy missing: install it as root (apt-get install haproxy) for RASA_REPLICAS>1" >&2
  exit 0
fi
echo "installing haproxy with apt-get"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends haproxy
# Debian's package starts its own service where an init system runs; ours are started by
# scripts/run.sh with their own configuration, so that one is not needed.
if command -v service >/dev/null 2>&1; then
  "${as_root[@]}" service haproxy stop >/dev/null 2>&1 || true
fi
