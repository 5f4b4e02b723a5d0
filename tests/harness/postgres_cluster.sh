#!/bin/sh
# A throwaway PostgreSQL cluster that lives exactly as long as its owner process: the one launcher behind the Rust
# testkit (tests/harness/src/postgres.rs) and `make demo` (scripts/demo/stack.py).
#
# Environment:
#   BASE   an empty directory of the caller's; the cluster is BASE/data, the Unix socket BASE/sock. Deleted at the end.
#   LOG    where initdb's output, then the server's, goes (outside BASE, so that it outlives a failed start).
#   PORT   the 127.0.0.1 port to listen on.
#   OWNER  the PID to watch: when it is gone, the server is stopped and BASE deleted, however the owner ended.
#   PG_BIN optional: the directory of initdb and postgres; else where `initdb` on PATH really lives, else Debian's
#          /usr/lib/postgresql/15/bin.
#
# PostgreSQL refuses to run as root, so as root initdb and the server run as the `postgres` system user through
# runuser, which forks: the postmaster is stopped by the PID in postmaster.pid, not by `$!`. Readiness is for the
# caller to check (postmaster.pid's 8th line is `ready`). When the owner is gone, or the caller sends the postmaster
# SIGINT: a fast shutdown, SIGQUIT (immediate) after 10 s, SIGKILL after 5 s more; then BASE is deleted, and LOG too
# if the owner is gone. A log the owner may still read is left for it to report and delete.
set -u

if [ -z "${PG_BIN:-}" ]; then
    initdb_path=$(command -v initdb 2>/dev/null || true)
    if [ -n "$initdb_path" ]; then
        PG_BIN=$(dirname "$(readlink -f "$initdb_path")")
    else
        PG_BIN=/usr/lib/postgresql/15/bin
    fi
fi
DATA="$BASE/data"
SOCK="$BASE/sock"

if ! mkdir -p "$SOCK" >"$LOG" 2>&1; then
    rm -rf "$BASE"
    exit 1
fi
if [ "$(id -u)" = 0 ]; then
    chown -R postgres:postgres "$BASE" >"$LOG" 2>&1 || { rm -rf "$BASE"; exit 1; }
    set -- runuser -u postgres --
else
    set --
fi

signal() {
    postmaster=
    read -r postmaster <"$DATA/postmaster.pid" 2>/dev/null
    kill -"$1" "${postmaster:-$server}" 2>/dev/null
}
settle() {
    tries=0
    while kill -0 "$server" 2>/dev/null && [ "$tries" -lt "$1" ]; do sleep 0.2; tries=$((tries + 1)); done
}

if "$@" "$PG_BIN/initdb" -D "$DATA" -A trust -U postgres --no-sync -E UTF8 --locale=C >"$LOG" 2>&1 \
    && kill -0 "$OWNER" 2>/dev/null
then
    "$@" "$PG_BIN/postgres" -D "$DATA" -p "$PORT" -c listen_addresses=127.0.0.1 -k "$SOCK" \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off >"$LOG" 2>&1 &
    server=$!
    while kill -0 "$OWNER" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 0.2; done
    if kill -0 "$server" 2>/dev/null; then
        signal INT
        settle 50
        if kill -0 "$server" 2>/dev/null; then signal QUIT; settle 25; fi
        if kill -0 "$server" 2>/dev/null; then signal KILL; fi
        wait "$server" 2>/dev/null
    fi
fi
rm -rf "$BASE"
kill -0 "$OWNER" 2>/dev/null || rm -f "$LOG"
