#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster:
#   scripts/with-postgres.sh .venv/bin/python -m pytest -q
# The cluster lives in a temporary directory, listens on 127.0.0.1 on a free port (and on a
# Unix socket inside that directory), trades durability for speed (fsync, full-page writes
# and synchronous commit off: nothing in it outlives the run) and is stopped and deleted
# when the command ends, however it ends. The command gets
#   IDP_TEST_DATABASE_URL=postgresql+psycopg://postgres:<random>@127.0.0.1:<port>/postgres
# (a superuser on the maintenance database: tests/conftest.py creates its databases there).
# Needs Debian's `postgresql` (scripts/ensure-system-packages.sh postgresql). PostgreSQL
# refuses to run as root, so under root the server runs as the `postgres` user.
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARG…]" >&2; exit 2; }

find_bindir() {
    local candidate
    candidate="$(pg_config --bindir 2>/dev/null || true)"
    if [ -n "$candidate" ] && [ -x "$candidate/initdb" ]; then echo "$candidate"; return; fi
    # pg_config may be missing (it comes with libpq-dev) or name a client-only version.
    candidate="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -n "$candidate" ] && [ -x "$candidate/initdb" ]; then echo "$candidate"; return; fi
    echo "PostgreSQL server binaries not found: run scripts/ensure-system-packages.sh postgresql" >&2
    exit 1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

bindir="$(find_bindir)"
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
    # /tmp, not $TMPDIR: the postgres user must be able to reach the directory.
    workdir="$(mktemp -d /tmp/idp-postgres.XXXXXX)"
    as_owner=(runuser -u postgres --)
    chown postgres: "$workdir"
else
    workdir="$(mktemp -d "${TMPDIR:-/tmp}/idp-postgres.XXXXXX")"
fi
data="$workdir/data"
log="$workdir/server.log"
started=""

# The server's user may not be allowed into the caller's working directory.
as_server() { (cd "$workdir" && "${as_owner[@]}" "$@"); }

cleanup() {
    local status=$?
    if [ -f "$data/postmaster.pid" ]; then  # also a server that started too late for pg_ctl -w
        as_server "$bindir/pg_ctl" stop -D "$data" -m immediate -s >/dev/null 2>&1 || true
    fi
    rm -rf "$workdir"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
printf '%s\n' "$password" >"$workdir/password"
[ ${#as_owner[@]} -eq 0 ] || chown postgres: "$workdir/password"
as_server "$bindir/initdb" -D "$data" -U postgres --pwfile="$workdir/password" \
    --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C.UTF-8 -N >"$workdir/initdb.log" 2>&1 \
    || { cat "$workdir/initdb.log" >&2; exit 1; }
rm -f "$workdir/password"
cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$workdir'
fsync = off
full_page_writes = off
synchronous_commit = off
max_connections = 200
EOF

# Another process may take the free port before the server binds it: try a few.
for _ in 1 2 3 4 5; do
    port="$(free_port)"
    if as_server "$bindir/pg_ctl" start -D "$data" -l "$log" -w -t 30 -s -o "-p $port" >/dev/null; then
        started=1
        break
    fi
done
[ -n "$started" ] || { echo "PostgreSQL did not start:" >&2; cat "$log" >&2; exit 1; }

export IDP_TEST_DATABASE_URL="postgresql+psycopg://postgres:$password@127.0.0.1:$port/postgres"
"$@"
