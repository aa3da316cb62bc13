#!/usr/bin/env bash
# `make run`: the IdP on :5000 and the demo relying party on :5001, stopped together.
set -euo pipefail
cd "$(dirname "$0")/.."
trap 'kill 0' EXIT INT TERM
.venv/bin/idp serve --host 127.0.0.1 --port 5000 --workers 2 &
.venv/bin/idp-demo-rp --host 127.0.0.1 --port 5001 &
sleep 1
echo
echo "Clave IdP:          http://127.0.0.1:5000"
echo "Demo relying party: http://127.0.0.1:5001  → press \"Log in with Cl@ve\""
echo "Stop with Ctrl-C."
wait
