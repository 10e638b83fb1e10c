#!/usr/bin/env bash
# Sets up what is missing, builds, and runs the demo end to end on local defaults (PostgreSQL 15 binaries of this
# machine, SQLite catalog, a repository on local disk):
#   1. the plan runner: plans/examples/hello.yaml (exec and approval steps), then `runs list` and `runs show`;
#   2. the monthly drill: a throwaway PostgreSQL 15 server with sample data archiving into a new encrypted repository,
#      the nightly backup plan, more writes, then plans/examples/monthly-drill.yaml (restore into a scratch server,
#      checks, RPO and RTO measured against the targets), its verdict, report and `lifeboat status`;
#   3. a point-in-time restore after a mistaken DELETE, and a check that exactly the right rows came back.
# Everything it creates lives in a temporary folder (and .build/demo-state) and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
LIFEBOAT_SKIP_TEST_TOOLS=1 Scripts/bootstrap.sh

lifeboat="$PWD/.build/debug/lifeboat"
export LIFEBOAT_STATE_DIR="${LIFEBOAT_STATE_DIR:-$PWD/.build/demo-state}"
# A stand-in secret: the plan references it as ${env:LIFEBOAT_DEMO_TOKEN}; logs and the catalog show *** instead.
export LIFEBOAT_DEMO_TOKEN="demo-token-$RANDOM$RANDOM"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. The plan runner"
step "$lifeboat" plan check --verbose plans/examples/hello.yaml
step "$lifeboat" plan show plans/examples/hello.yaml
step "$lifeboat" run --verbose --yes plans/examples/hello.yaml
run_id=$("$lifeboat" runs list --plan hello --limit 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
step "$lifeboat" runs list --plan hello --limit 5
step "$lifeboat" runs show "$run_id"

say "2. The monthly drill: nightly backup plan, more writes, drill plan, verdict, report, status"
BIN=/usr/lib/postgresql/15/bin
WORK=$(mktemp -d /tmp/lifeboat-demo-XXXXXX)
chmod 755 "$WORK"
if [ "$(id -u)" -eq 0 ]; then as_pg() { runuser -u postgres -- "$@"; }; OWNER=(--owner postgres); else as_pg() { "$@"; }; OWNER=(); fi
cleanup() {
    for data in "$WORK/source" "$WORK/restored"; do
        [ -f "$data/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkdir -p "$WORK/source" "$WORK/sock" "$WORK/repo"
[ "$(id -u)" -eq 0 ] && chown postgres: "$WORK/source" "$WORK/sock"
echo "demo passphrase $RANDOM$RANDOM" > "$WORK/passphrase"
rmdir "$WORK/repo"
step "$lifeboat" repo init --repo "$WORK/repo" --passphrase-file "$WORK/passphrase"
step "$lifeboat" repo key export --repo "$WORK/repo" --passphrase-file "$WORK/passphrase" --to "$WORK/repo.key"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$WORK/repo" "$WORK/repo.key"
export LIFEBOAT_REPOSITORY="$WORK/repo" LIFEBOAT_KEY_FILE="$WORK/repo.key"

port=$(free_port)
as_pg "$BIN/initdb" -D "$WORK/source" -A trust -U postgres >/dev/null
cat >> "$WORK/source/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$WORK/sock'
archive_mode = on
archive_command = '$lifeboat wal push %p --repo $WORK/repo --key-file $WORK/repo.key'
archive_timeout = 60
CONF
as_pg "$BIN/pg_ctl" -D "$WORK/source" -l "$WORK/sock/source.log" -w start >/dev/null
psql() { "$BIN/psql" -h "$WORK/sock" -p "$1" -U postgres -d postgres -Atqc "$2"; }
psql "$port" "CREATE TABLE orders AS SELECT g AS id, 'order ' || g AS note FROM generate_series(1, 100000) g"
psql "$port" "ALTER TABLE orders ADD PRIMARY KEY (id)"
echo "source server on port $port: $(psql "$port" "SELECT count(*) FROM orders") orders"

# The example plans with this demo's inventory: the throwaway server and the new repository.
cat > "$WORK/lifeboat.yaml" <<YAML
databases:
  demo: { host: $WORK/sock, port: $port, user: postgres, dbname: postgres }
repositories:
  local: { location: $WORK/repo, key_file: $WORK/repo.key }
YAML
export LIFEBOAT_INVENTORY="$WORK/lifeboat.yaml"
step "$lifeboat" run plans/examples/nightly-backup.yaml
step "$lifeboat" backup list
echo "writing more orders and heartbeats for a few seconds..."
for round in 1 2 3; do
    psql "$port" "INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(100000 + $round * 100 - 99, 100000 + $round * 100) g" >/dev/null
    "$lifeboat" run plans/examples/heartbeat.yaml
    sleep 1
done
segment=$(psql "$port" "SELECT pg_walfile_name(pg_switch_wal())")
for _ in $(seq 1 100); do
    [[ "$(psql "$port" "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")" < "$segment" ]] || break
    sleep 0.2
done
step "$lifeboat" run plans/examples/monthly-drill.yaml
step "$lifeboat" drills list --limit 3
step "$lifeboat" status

say "3. A point-in-time restore after a mistaken DELETE"
step "$lifeboat" backup --conninfo "host=$WORK/sock port=$port user=postgres"
psql "$port" "INSERT INTO orders SELECT g, 'late order ' || g FROM generate_series(100301, 100500) g" >/dev/null
sleep 1
target=$(psql "$port" "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
sleep 1
psql "$port" "DELETE FROM orders WHERE id <= 1000" >/dev/null
echo "after the backup: 200 orders added, then (after $target) 1000 deleted by mistake: $(psql "$port" "SELECT count(*) FROM orders") orders"
segment=$(psql "$port" "SELECT pg_walfile_name(pg_switch_wal())")
for _ in $(seq 1 100); do
    [[ "$(psql "$port" "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")" < "$segment" ]] || break
    sleep 0.2
done

step "$lifeboat" restore --to "$WORK/restored" --target-time "$target" "${OWNER[@]}"
rport=$(free_port)
as_pg "$BIN/pg_ctl" -D "$WORK/restored" -o "-p $rport -k $WORK/sock -c archive_mode=off" -l "$WORK/sock/restored.log" -w start >/dev/null
for _ in $(seq 1 150); do
    [ "$(psql "$rport" "SELECT pg_is_in_recovery()")" = "f" ] && break
    sleep 0.2
done
restored=$(psql "$rport" "SELECT count(*) FROM orders")
echo "restored server on port $rport, recovered to $target: $restored orders"
step "$lifeboat" verify --read-data
if [ "$restored" = "100500" ]; then
    say "Point-in-time restore passed: exactly the 100500 orders that existed at $target came back."
else
    say "Point-in-time restore FAILED: expected 100500 orders, found $restored (see $WORK/sock/restored.log)"
    exit 1
fi
