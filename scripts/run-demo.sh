#!/usr/bin/env bash
# `make run`: the IdP and the demo relying party, started together and stopped together.
#
# Ports: IDP_PORT (5000) and DEMO_RP_PORT (5001). The addresses follow them unless set:
# IDP_ISSUER, DEMO_RP_ISSUER (the IdP the RP logs in with) and DEMO_RP_BASE_URL (where the
# RP's client is registered: `idp init --demo` registers or moves it there).
# Everything is written under the current directory (instance/, keys/), as `idp` does.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -x "$repo/.venv/bin/idp" ]; then PATH="$repo/.venv/bin:$PATH"; fi

export IDP_PORT="${IDP_PORT:-5000}" DEMO_RP_PORT="${DEMO_RP_PORT:-5001}"
export IDP_ISSUER="${IDP_ISSUER:-http://127.0.0.1:$IDP_PORT}"
export DEMO_RP_ISSUER="${DEMO_RP_ISSUER:-$IDP_ISSUER}"
export DEMO_RP_BASE_URL="${DEMO_RP_BASE_URL:-http://127.0.0.1:$DEMO_RP_PORT}"

refuse() { echo "run-demo: $*" >&2; exit 1; }

# Checked before anything starts: a server that cannot bind would otherwise log its retries
# while the other one serves alone.
port_is_free() {
    python3 - "$1" <<'EOF'
import socket, sys
with socket.socket() as probe:
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
    try:
        probe.bind(("127.0.0.1", int(sys.argv[1])))
    except OSError:
        sys.exit(1)
EOF
}
for variable in IDP_PORT DEMO_RP_PORT; do
    port=${!variable}
    [[ $port =~ ^[0-9]+$ ]] && ((port >= 1 && port <= 65535)) \
        || refuse "$variable=$port is not a port number."
    port_is_free "$port" || refuse "port $port ($variable) is already in use on 127.0.0.1." \
        "Stop what uses it, or choose another port, e.g. $variable=$((port + 100)) make run"
done
[ "$IDP_PORT" != "$DEMO_RP_PORT" ] || refuse "IDP_PORT and DEMO_RP_PORT are both $IDP_PORT."

idp init --demo

servers=()
stop_servers() {
    local pid
    for pid in "${servers[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
    servers=()
}
# Ctrl-C reaches every process of the terminal's group; the trap only has to stop the two
# servers and wait for them. Set once, ignoring further signals while it runs: a trap that
# signals its own process group (`kill 0`) re-enters itself until bash crashes.
on_signal() {
    trap '' INT TERM
    echo "Stopping the IdP and the demo relying party…"
    stop_servers
    exit 0
}
trap on_signal INT TERM
trap stop_servers EXIT

idp serve --host 127.0.0.1 --port "$IDP_PORT" --workers 2 &
servers+=($!)
idp-demo-rp --host 127.0.0.1 --port "$DEMO_RP_PORT" &
servers+=($!)

answers() {
    python3 - "$1" <<'EOF' 2>/dev/null
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=2).close()
except urllib.error.HTTPError as answer:
    sys.exit(answer.code >= 500)
EOF
}
all_running() {
    local pid
    for pid in "${servers[@]}"; do kill -0 "$pid" 2>/dev/null || return 1; done
}
for ((tries = 0; ; tries++)); do
    all_running || refuse "a server stopped while starting (see its messages above)."
    answers "http://127.0.0.1:$IDP_PORT/healthz" && answers "http://127.0.0.1:$DEMO_RP_PORT/" && break
    ((tries < 600)) || refuse "the servers did not answer within a minute."
    sleep 0.1
done

echo
echo "Clave IdP:          $IDP_ISSUER"
echo "Demo relying party: $DEMO_RP_BASE_URL  → press \"Log in with Cl@ve\""
echo "Stop with Ctrl-C."

status=0
wait -n "${servers[@]}" || status=$?
# Ctrl-C reaches the servers too, and bash may see one of them end before it runs its own
# trap: a server that ended cleanly or by INT/TERM was stopped, not broken.
if ((status == 0 || status == 130 || status == 143)); then
    on_signal
fi
refuse "a server stopped (see its messages above); stopping the other one."
