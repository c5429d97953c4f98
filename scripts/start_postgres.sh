#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the tests and prints its URL on stdout:
#   postgresql://postgres@127.0.0.1:PORT/autotune_test   (trust auth, loopback only)
#
#   bash scripts/start_postgres.sh          start (or find running) the server; print the URL
#   bash scripts/start_postgres.sh --stop   stop it and delete its cluster
#
# Idempotent: a second start finds the running server and only prints its URL. When no server
# binaries exist it installs Debian's `postgresql` package (root only). The cluster lives in
# $AUTOTUNE_PG_DIR (default /tmp/autotune-postgres), owned by the `postgres` user when run as root,
# and listens on 127.0.0.1 at $AUTOTUNE_PG_PORT (default 54329; the next free port if taken).
# Everything but the URL goes to stderr.
set -euo pipefail

DIR="${AUTOTUNE_PG_DIR:-/tmp/autotune-postgres}"
PORT="${AUTOTUNE_PG_PORT:-54329}"
DB=autotune_test

log() { echo "start_postgres: $*" >&2; }

find_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
    done
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"; return 0
    fi
    return 1
}

# as_pg CMD...: run a server command as the cluster owner (postgres refuses to run as root)
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

BINDIR="$(find_bindir || true)"

if [ "${1:-}" = "--stop" ]; then
    if [ -n "$BINDIR" ] && [ -f "$DIR/data/PG_VERSION" ]; then
        as_pg "$BINDIR/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
    log "stopped; removed $DIR"
    exit 0
fi

if [ -z "$BINDIR" ]; then
    if [ "$(id -u)" != 0 ]; then
        log "no PostgreSQL server binaries and not root: install the Debian package 'postgresql'"
        exit 1
    fi
    log "installing Debian package postgresql"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    BINDIR="$(find_bindir)" || { log "postgresql installed but no initdb/pg_ctl found"; exit 1; }
fi

url() { echo "postgresql://postgres@127.0.0.1:$1/$DB"; }

# Already running from an earlier call: just print the URL.
if [ -f "$DIR/port" ] && [ -f "$DIR/data/postmaster.pid" ] \
        && as_pg "$BINDIR/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    url "$(cat "$DIR/port")"
    exit 0
fi

# A stale cluster (server killed, machine rebooted) is thrown away: the data is for tests only.
rm -rf "$DIR"
mkdir -p "$DIR"
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$DIR" --shell /usr/sbin/nologin postgres
    chown postgres "$DIR"
fi
chmod 700 "$DIR"

for _ in $(seq 1 40); do
    port_in_use "$PORT" || break
    PORT=$((PORT + 1))
done
if port_in_use "$PORT"; then log "no free port found"; exit 1; fi

log "initdb in $DIR/data ($BINDIR)"
as_pg "$BINDIR/initdb" -D "$DIR/data" -U postgres --auth=trust --no-locale -E UTF8 --no-sync >/dev/null
log "starting on 127.0.0.1:$PORT"
as_pg "$BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $PORT -k $DIR -c fsync=off -c max_connections=200" start >/dev/null \
    || { cat "$DIR/server.log" >&2 || true; exit 1; }
echo "$PORT" > "$DIR/port"
as_pg "$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
url "$PORT"
