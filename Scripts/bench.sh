#!/usr/bin/env bash
# Benchmark: Lifeboat backup and restore against the compute limit (tar | zstd | openssl), pg_basebackup piped
# through zstd and openssl, and pgBackRest — same machine, same data, same run. Not part of the test suite.
#
#   Scripts/bench.sh                 # pgbench scale 100 (about 1.5 GB) and a random-bytes table of about the same size
#   SCALE=20 Scripts/bench.sh        # smaller, quicker
#
# "lifeboat local (first)" is a first local-mode backup into a repository of its own; "lifeboat backup --mode local"
# runs after the streaming backups into theirs, so it stores almost nothing new; "local (unchanged)" is the nightly
# backup of an unchanged database, which reads only what changed.
# "copy to S3" copies the first repository (re-encrypting) to an S3-compatible server on loopback (moto, a Python
# server: it, not Lifeboat, sets the pace), "restore from S3" restores from there; their request counts follow.
# Prints a table: seconds, MB/s (logical data directory size / seconds), CPU seconds, peak RSS, ratio to Lifeboat.
# Needs root (PostgreSQL runs as the postgres user). Installs pgbackrest, zstd and time if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${SCALE:-100}"
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root (the servers run as the postgres user)" >&2; exit 2; }

Scripts/bootstrap.sh
for package in pgbackrest zstd time; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
done
swift build --quiet -c release
LIFEBOAT="$PWD/.build/release/lifeboat"
BIN=/usr/lib/postgresql/15/bin

WORK=$(mktemp -d /tmp/lifeboat-bench-XXXXXX)
chmod 755 "$WORK"
cleanup() {
    for data in "$WORK"/*/pgdata "$WORK"/restore-*; do
        [ -f "$data/postmaster.pid" ] && runuser -u postgres -- "$BIN/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap 'kill $MOTO_PID 2>/dev/null || true; cleanup' EXIT
as_pg() { runuser -u postgres -- "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# An S3-compatible server on loopback (moto, as the tests use; Scripts/bootstrap.sh installs it).
MOTO_PYTHON=python3
python3 -c 'import moto.server' 2>/dev/null || MOTO_PYTHON="$PWD/.build/test-venv/bin/python3"
S3PORT=$(free_port)
"$MOTO_PYTHON" -c "
import sys, time
from moto.server import ThreadedMotoServer
ThreadedMotoServer(ip_address='127.0.0.1', port=$S3PORT, verbose=False).start()
while True: time.sleep(3600)" 2>/dev/null &
MOTO_PID=$!
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret

RESULTS="$WORK/results.tsv"
: > "$RESULTS"
# measure DATASET TOOL COMMAND...: wall seconds, CPU seconds (user+sys, children included), peak RSS of the largest process.
measure() {
    local dataset="$1" tool="$2"; shift 2
    local out="$WORK/time.out"
    sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
    /usr/bin/time -f "%e %U %S %M" -o "$out" "$@" > "$WORK/last.out"
    read -r wall user sys rss < "$out"
    echo -e "$dataset\t$tool\t$wall\t$(echo "$user + $sys" | bc)\t$((rss / 1024))" >> "$RESULTS"
    echo "  $tool: ${wall}s"
}

# Loaders: load_NAME SOCKET_DIR PORT
load_pgbench() {
    as_pg "$BIN/pgbench" -i -s "$SCALE" -q -h "$1" -p "$2" -U postgres postgres
}
load_random() {
    # Random bytes do not compress; EXTERNAL storage keeps PostgreSQL from trying.
    as_pg psql -h "$1" -p "$2" -U postgres -q -c "CREATE EXTENSION pgcrypto" \
        -c "CREATE TABLE r (id int, payload bytea); ALTER TABLE r ALTER payload SET STORAGE EXTERNAL" \
        -c "INSERT INTO r SELECT g, gen_random_bytes(1000) FROM generate_series(1, $((SCALE * 14000))) g"
}

# Waits until the archiver has caught up, so that no tool's backup waits for another's WAL backlog.
wait_archived() {
    local sock="$1" port="$2" current last
    current=$(as_pg psql -h "$sock" -p "$port" -U postgres -Atc "SELECT pg_walfile_name(pg_switch_wal())")
    for _ in $(seq 1 600); do
        last=$(as_pg psql -h "$sock" -p "$port" -U postgres -Atc "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
        [[ "$last" > "$current" || "$last" == "$current" ]] && return 0
        sleep 0.5
    done
    echo "bench: the archiver did not catch up" >&2
    return 1
}

run_dataset() {
    local name="$1"
    local dir="$WORK/$name" port
    port=$(free_port)
    install -d -o postgres -g postgres "$dir/pgdata" "$dir/sock"
    install -d -o postgres -g postgres -m 700 "$dir/lifeboat-repo" "$dir/pgbackrest-repo" "$dir/pgbackrest-log"
    as_pg "$BIN/initdb" -D "$dir/pgdata" -A trust -U postgres >/dev/null
    local key="$dir/lifeboat.key" pass="$dir/passphrase"
    echo "bench passphrase" > "$pass"
    rmdir "$dir/lifeboat-repo"
    "$LIFEBOAT" repo init --repo "$dir/lifeboat-repo" --passphrase-file "$pass" >/dev/null
    "$LIFEBOAT" repo key export --repo "$dir/lifeboat-repo" --passphrase-file "$pass" --to "$key" >/dev/null
    # A second repository for the first local-mode backup (it needs the WAL archived into its own repository).
    local localkey="$dir/lifeboat-local.key"
    "$LIFEBOAT" repo init --repo "$dir/lifeboat-local-repo" --passphrase-file "$pass" >/dev/null
    "$LIFEBOAT" repo key export --repo "$dir/lifeboat-local-repo" --passphrase-file "$pass" --to "$localkey" >/dev/null
    chown -R postgres:postgres "$dir/lifeboat-repo" "$key" "$dir/lifeboat-local-repo" "$localkey"
    cat > "$dir/pgbackrest.conf" <<CONF
[global]
repo1-path=$dir/pgbackrest-repo
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=bench-cipher-passphrase
compress-type=zst
compress-level=3
process-max=2
repo1-retention-full=99
log-path=$dir/pgbackrest-log
log-level-console=warn
start-fast=y

[bench]
pg1-path=$dir/pgdata
pg1-port=$port
pg1-socket-path=$dir/sock
CONF
    chown postgres:postgres "$dir/pgbackrest.conf"
    local pgbr="pgbackrest --config=$dir/pgbackrest.conf --stanza=bench"
    cat >> "$dir/pgdata/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/sock'
archive_mode = on
archive_command = '$LIFEBOAT wal push %p --repo $dir/lifeboat-repo --key-file $key && $LIFEBOAT wal push %p --repo $dir/lifeboat-local-repo --key-file $localkey && $pgbr archive-push %p'
max_wal_size = 4GB
shared_buffers = 256MB
CONF
    as_pg "$BIN/pg_ctl" -D "$dir/pgdata" -l "$dir/sock/log" -w start >/dev/null
    echo "dataset $name: loading"
    "load_$name" "$dir/sock" "$port" >/dev/null
    as_pg psql -h "$dir/sock" -p "$port" -qc "CHECKPOINT; SELECT pg_switch_wal();" >/dev/null
    as_pg $pgbr stanza-create >/dev/null
    local size
    # The data a backup carries: the data directory without pg_wal (no tool here copies pg_wal's contents).
    size=$(( $(du -sb "$dir/pgdata" | cut -f1) - $(du -sb "$dir/pgdata/pg_wal" | cut -f1) ))
    echo -e "$name\tsize\t$size" >> "$WORK/sizes.tsv"
    echo "dataset $name: $((size / 1000000)) MB; measuring"
    local conn="host=$dir/sock port=$port user=postgres dbname=postgres"

    # archive_command speed: real segments from pg_wal pushed one process each, as PostgreSQL's archiver does.
    local walrepo="$dir/wal-bench-repo" segments count start end
    "$LIFEBOAT" repo init --repo "$walrepo" --passphrase-file "$pass" >/dev/null
    "$LIFEBOAT" repo key export --repo "$walrepo" --passphrase-file "$pass" --to "$dir/wal-bench.key" >/dev/null
    # Only segments PostgreSQL has written (before the current one): files after it are recycled segments still
    # holding old WAL under their new name, which lifeboat refuses (their page headers name another position).
    local current
    current=$(as_pg psql -h "$dir/sock" -p "$port" -U postgres -Atc "SELECT pg_walfile_name(pg_current_wal_lsn())")
    segments=$(ls "$dir/pgdata/pg_wal" | grep -E '^[0-9A-F]{24}$' | awk -v current="$current" '$0 < current' | tail -32)
    count=$(echo "$segments" | wc -l)
    start=$(date +%s.%N)
    for segment in $segments; do
        "$LIFEBOAT" wal push "$dir/pgdata/pg_wal/$segment" --repo "$walrepo" --key-file "$dir/wal-bench.key"
    done
    end=$(date +%s.%N)
    echo -e "$name\tlifeboat wal push\t$(echo "$count / ($end - $start)" | bc -l)" >> "$WORK/wal.tsv"
    rm -rf "$walrepo"
    # The same segments through pgBackRest's archive-push, into a fresh repository of its own.
    install -d -o postgres -g postgres -m 700 "$dir/pgbackrest-walbench"
    sed "s|^repo1-path=.*|repo1-path=$dir/pgbackrest-walbench|" "$dir/pgbackrest.conf" > "$dir/pgbackrest-walbench.conf"
    chown postgres:postgres "$dir/pgbackrest-walbench.conf"
    local pgbrwal="pgbackrest --config=$dir/pgbackrest-walbench.conf --stanza=bench"
    as_pg $pgbrwal stanza-create >/dev/null
    start=$(date +%s.%N)
    for segment in $segments; do
        as_pg $pgbrwal archive-push "$dir/pgdata/pg_wal/$segment"
    done
    end=$(date +%s.%N)
    echo -e "$name\tpgbackrest archive-push\t$(echo "$count / ($end - $start)" | bc -l)" >> "$WORK/wal.tsv"
    rm -rf "$dir/pgbackrest-walbench"

    wait_archived "$dir/sock" "$port"
    measure "$name" "lifeboat backup" "$LIFEBOAT" backup --repo "$dir/lifeboat-repo" --key-file "$key" --conninfo "$conn"
    wait_archived "$dir/sock" "$port"
    measure "$name" "lifeboat backup (unchanged)" "$LIFEBOAT" backup --repo "$dir/lifeboat-repo" --key-file "$key" --conninfo "$conn"
    wait_archived "$dir/sock" "$port"
    measure "$name" "lifeboat local (first)" "$LIFEBOAT" backup --mode local --repo "$dir/lifeboat-local-repo" --key-file "$localkey" --conninfo "$conn"
    wait_archived "$dir/sock" "$port"
    measure "$name" "lifeboat backup --mode local" "$LIFEBOAT" backup --mode local --repo "$dir/lifeboat-repo" --key-file "$key" --conninfo "$conn"
    wait_archived "$dir/sock" "$port"
    measure "$name" "lifeboat local (unchanged)" "$LIFEBOAT" backup --mode local --repo "$dir/lifeboat-repo" --key-file "$key" --conninfo "$conn"
    wait_archived "$dir/sock" "$port"
    measure "$name" "pgbackrest backup" runuser -u postgres -- $pgbr --type=full backup
    measure "$name" "tar|zstd|openssl (limit)" bash -c \
        "tar -C '$dir/pgdata' --exclude=./pg_wal -cf - . | zstd -3 -T2 -q | openssl enc -aes-256-ctr -pbkdf2 -pass pass:x > '$dir/limit.tar.zst.enc'"
    measure "$name" "pg_basebackup|zstd|openssl" bash -c \
        "$BIN/pg_basebackup -h '$dir/sock' -p $port -U postgres -Ft -D - -X fetch -c fast | zstd -3 -T2 -q | openssl enc -aes-256-ctr -pbkdf2 -pass pass:x > '$dir/basebackup.tar.zst.enc'"

    # Restores: until the restored server accepts connections.
    local rport
    rport=$(free_port)
    local opts="-p $rport -k $dir/sock -c archive_mode=off"
    install -d -o postgres -g postgres -m 700 "$WORK/restore-lb"
    measure "$name" "lifeboat restore" bash -c \
        "'$LIFEBOAT' restore --repo '$dir/lifeboat-repo' --key-file '$key' --to '$WORK/restore-lb' --owner postgres --no-archive \
         && runuser -u postgres -- $BIN/pg_ctl -D '$WORK/restore-lb' -o '$opts' -l '$dir/sock/restore-lb.log' -w -t 3600 start"
    as_pg "$BIN/pg_ctl" -D "$WORK/restore-lb" -m fast stop >/dev/null; rm -rf "$WORK/restore-lb"

    # Offsite: the repository copied to the S3 server (re-encrypted under another key), then restored from there.
    local s3loc="s3://lifeboat-bench-$name/repo?endpoint=http://127.0.0.1:$S3PORT"
    "$LIFEBOAT" repo init --repo "$s3loc" --passphrase-file "$pass" >/dev/null
    measure "$name" "lifeboat copy to S3" "$LIFEBOAT" repo copy --from "$dir/lifeboat-repo" --from-key-file "$key" \
        --to "$s3loc" --to-passphrase-file "$pass" --json
    echo -e "$name\tcopy to S3\t$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$WORK/last.out")" >> "$WORK/requests.tsv"
    install -d -o postgres -g postgres -m 700 "$WORK/restore-s3"
    measure "$name" "lifeboat restore from S3" bash -c \
        "'$LIFEBOAT' restore --repo '$s3loc' --passphrase-file '$pass' --to '$WORK/restore-s3' --owner postgres --no-archive --json \
         && runuser -u postgres -- $BIN/pg_ctl -D '$WORK/restore-s3' -o '$opts' -l '$dir/sock/restore-s3.log' -w -t 3600 start >/dev/null"
    echo -e "$name\trestore from S3\t$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$WORK/last.out")" >> "$WORK/requests.tsv"
    as_pg "$BIN/pg_ctl" -D "$WORK/restore-s3" -m fast stop >/dev/null; rm -rf "$WORK/restore-s3"

    install -d -o postgres -g postgres -m 700 "$WORK/restore-br"
    measure "$name" "pgbackrest restore" bash -c \
        "runuser -u postgres -- $pgbr --pg1-path='$WORK/restore-br' --type=immediate --target-action=promote restore \
         && runuser -u postgres -- $BIN/pg_ctl -D '$WORK/restore-br' -o '$opts' -l '$dir/sock/restore-br.log' -w -t 3600 start"
    as_pg "$BIN/pg_ctl" -D "$WORK/restore-br" -m fast stop >/dev/null; rm -rf "$WORK/restore-br"

    install -d -o postgres -g postgres -m 700 "$WORK/restore-bb"
    measure "$name" "pg_basebackup restore" bash -c \
        "openssl enc -d -aes-256-ctr -pbkdf2 -pass pass:x < '$dir/basebackup.tar.zst.enc' | zstd -d -q | tar -C '$WORK/restore-bb' -xf - \
         && chown -R postgres:postgres '$WORK/restore-bb' && sync \
         && runuser -u postgres -- $BIN/pg_ctl -D '$WORK/restore-bb' -o '$opts' -l '$dir/sock/restore-bb.log' -w -t 3600 start"
    as_pg "$BIN/pg_ctl" -D "$WORK/restore-bb" -m fast stop >/dev/null; rm -rf "$WORK/restore-bb"

    echo -e "$name\tstored lifeboat\t$(du -sb "$dir/lifeboat-repo" | cut -f1)" >> "$WORK/sizes.tsv"
    echo -e "$name\tstored pgbackrest\t$(du -sb "$dir/pgbackrest-repo" | cut -f1)" >> "$WORK/sizes.tsv"
    as_pg "$BIN/pg_ctl" -D "$dir/pgdata" -m fast stop >/dev/null
    rm -f "$dir"/*.enc
}

run_dataset pgbench
run_dataset random

echo
python3 - "$RESULTS" "$WORK/sizes.tsv" "$WORK/wal.tsv" "$WORK/requests.tsv" <<'PY'
import sys, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
sizes = {}
for l in open(sys.argv[2]):
    name, what, value = l.rstrip("\n").split("\t")
    sizes[(name, what)] = int(value)
by = collections.OrderedDict()
for dataset, tool, wall, cpu, rss in rows:
    by.setdefault(dataset, []).append((tool, float(wall), float(cpu), int(rss)))
for dataset, entries in by.items():
    size = sizes[(dataset, "size")]
    print(f"{dataset}: data directory {size/1e6:.0f} MB; stored: lifeboat {sizes[(dataset,'stored lifeboat')]/1e6:.0f} MB "
          f"(both backups), pgbackrest {sizes[(dataset,'stored pgbackrest')]/1e6:.0f} MB")
    base = {t: w for t, w, _, _ in entries}
    print(f"  {'tool':32} {'seconds':>8} {'MB/s':>7} {'CPU-s':>7} {'RSS MB':>7} {'vs lifeboat':>12}")
    for tool, wall, cpu, rss in entries:
        ref = base["lifeboat restore"] if "restore" in tool else base["lifeboat backup"]
        print(f"  {tool:32} {wall:8.1f} {size/1e6/wall:7.0f} {cpu:7.1f} {rss:7d} {wall/ref:11.2f}x")
    print()
wal = collections.defaultdict(dict)
for l in open(sys.argv[3]):
    name, what, value = l.rstrip("\n").split("\t")
    wal[name][what] = float(value)
for name, rates in wal.items():
    lifeboat, pgbackrest = rates.get("lifeboat wal push", 0), rates.get("pgbackrest archive-push", 0)
    print(f"{name}: archive_command, one process per 16 MiB segment: lifeboat wal push {lifeboat:.1f} segments/s, "
          f"pgbackrest archive-push {pgbackrest:.1f} segments/s ({lifeboat / pgbackrest if pgbackrest else 0:.2f}x)")
for l in open(sys.argv[4]):
    name, what, value = l.rstrip("\n").split("\t")
    print(f"{name}: {what}: {value} S3 requests")
PY
