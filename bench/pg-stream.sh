#!/usr/bin/env bash
# Streamed PostgreSQL backups, side by side in one run, on one database of SIZE_MIB (default 1024) MiB of
# incompressible data (random bytes in bytea rows):
#   restic: a staged shell script (pg_dump -Fc to a file, then restic backup of it)  vs  `lifeboat backup`
#           streaming pg_dump into restic (backup --stdin): time ratio (target <= 0.85x), bytes staged on
#           disk, Lifeboat's own peak RSS (VmHWM of the node process; target <= 150 MB)
#   borg:   borgmatic (postgresql_databases hook, named pipe)  vs  `lifeboat backup` into borg (named pipe)
# Needs root (or a PostgreSQL superuser on 127.0.0.1 via trust), restic, borg, borgmatic, python3.
# Run from the repo root after `npm run build`:  bash bench/pg-stream.sh   (SIZE_MIB=256 for a quick run)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE_MIB=${SIZE_MIB:-1024}
PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
export PGHOST PGPORT PGUSER
for tool in psql pg_dump restic borg borgmatic python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is needed (apt-get install postgresql-client restic borgbackup borgmatic)" >&2; exit 1; }
done
WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/lifeboat-pg-bench.XXXXXX")
DB="lifeboat_bench_$(date +%s)"
cleanup() {
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export RESTIC_PASSWORD_FILE="$WORK/pass" BORG_PASSPHRASE=bench-passphrase
echo bench-password > "$RESTIC_PASSWORD_FILE"
echo "$BORG_PASSPHRASE" > "$WORK/borg.pass"
chmod 600 "$WORK/pass" "$WORK/borg.pass"

echo "== filling $DB with $SIZE_MIB MiB of random bytes (1 MiB bytea rows)"
psql -X -q -d postgres -c "CREATE DATABASE $DB"
psql -X -q -d "$DB" -c "CREATE TABLE blobs (id int PRIMARY KEY, data bytea); ALTER TABLE blobs ALTER data SET STORAGE EXTERNAL;"
python3 -c "
import os, sys
out = sys.stdout
for i in range($SIZE_MIB):
    out.write(f'{i}\t\\\\\\\\x{os.urandom(1 << 20).hex()}\n')
" | psql -X -q -d "$DB" -c "COPY blobs (id, data) FROM STDIN"
psql -X -At -d "$DB" -c "SELECT 'table size: ' || pg_size_pretty(pg_total_relation_size('blobs'))"

# Runs a command in the background; samples the peak RSS of its process (VmHWM) and the bytes under a
# folder while it runs. Sets SECONDS_TAKEN, PEAK_RSS_KB, PEAK_STAGED.
measure() {
  local watch=$1; shift
  local start end pid rss staged
  PEAK_RSS_KB=0 PEAK_STAGED=0
  start=$(date +%s.%N)
  "$@" >"$WORK/out.log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$rss" ] && [ "$rss" -gt "$PEAK_RSS_KB" ] && PEAK_RSS_KB=$rss
    staged=$(du -sb "$watch" 2>/dev/null | cut -f1 || echo 0)
    [ -n "$staged" ] && [ "$staged" -gt "$PEAK_STAGED" ] && PEAK_STAGED=$staged
    sleep 0.2
  done
  if ! wait "$pid"; then echo "bench: failed: $*" >&2; cat "$WORK/out.log" >&2; exit 1; fi
  end=$(date +%s.%N)
  SECONDS_TAKEN=$(echo "$end - $start" | bc)
}

# The staged shell script a person would write.
cat > "$WORK/staged.sh" <<EOF
#!/bin/sh
set -e
pg_dump --format=custom --dbname "$DB" > "$WORK/staging/$DB.pgdump"
restic -r "$WORK/restic-staged" backup --quiet "$WORK/staging/$DB.pgdump"
rm -f "$WORK/staging/$DB.pgdump"
EOF
sed -e 's/--format=custom/--format=custom --compress=0/' -e "s|restic-staged|restic-staged-z0|" "$WORK/staged.sh" > "$WORK/staged-z0.sh"
chmod +x "$WORK/staged.sh" "$WORK/staged-z0.sh"
mkdir -p "$WORK/staging"
restic -r "$WORK/restic-staged" init --quiet
restic -r "$WORK/restic-staged-z0" init --quiet

# Lifeboat: one module declaring the database, a restic and a borg repository.
LB_ROOT="$WORK/root" LB_STATE="$WORK/state"
mkdir -p "$LB_ROOT/modules/pg" "$WORK/empty"
cat > "$LB_ROOT/lifeboat.yaml" <<EOF
repositories:
  restic: { provider: restic, url: $WORK/restic-lifeboat, passwordFile: $WORK/pass }
  borg: { provider: borg, url: $WORK/borg-lifeboat, passwordFile: $WORK/borg.pass }
  borgzstd: { provider: borg, url: $WORK/borg-lifeboat-zstd, passwordFile: $WORK/borg.pass, compression: zstd }
EOF
cat > "$LB_ROOT/modules/pg/module.yaml" <<EOF
folders: [$WORK/empty]
databases:
  - postgres: { database: $DB, host: $PGHOST, port: $PGPORT, user: $PGUSER }
EOF
# Called as a plain command (not a function) so that $! is the node process itself.
LIFEBOAT=(node "$ROOT/bin/lifeboat" --root "$LB_ROOT" --state-dir "$LB_STATE")

echo "== restic: staged script (pg_dump -Fc > file; restic backup file)"
measure "$WORK/staging" "$WORK/staged.sh"
STAGED_S=$SECONDS_TAKEN STAGED_BYTES=$PEAK_STAGED
echo "== restic: staged script with pg_dump --compress=0 (what Lifeboat dumps, but through a file)"
measure "$WORK/staging" "$WORK/staged-z0.sh"
STAGED0_S=$SECONDS_TAKEN STAGED0_BYTES=$PEAK_STAGED
echo "== restic: lifeboat backup (pg_dump streamed into restic backup --stdin)"
measure "$LB_STATE/modules/pg/state" "${LIFEBOAT[@]}" backup pg --repo restic
LB_S=$SECONDS_TAKEN LB_RSS=$PEAK_RSS_KB LB_STAGED=$PEAK_STAGED

# borgmatic 1.7 with its PostgreSQL hook (named pipe), beside Lifeboat's borg provider.
cat > "$WORK/borgmatic.yaml" <<EOF
location:
    source_directories: [$WORK/empty]
    repositories: [$WORK/borg-borgmatic]
storage:
    encryption_passphrase: "$BORG_PASSPHRASE"
    borg_base_directory: $WORK/borgmatic-base
retention:
    keep_daily: 7
hooks:
    postgresql_databases:
        - name: $DB
          hostname: $PGHOST
          port: $PGPORT
          username: $PGUSER
EOF
borgmatic --syslog-verbosity -1 --config "$WORK/borgmatic.yaml" init --encryption repokey >/dev/null
echo "== borg: borgmatic create (postgresql_databases hook)"
measure "$WORK/borgmatic-base" borgmatic --syslog-verbosity -1 --config "$WORK/borgmatic.yaml" create
BM_S=$SECONDS_TAKEN
echo "== borg: lifeboat backup (pg_dump through a named pipe into borg create --read-special)"
measure "$LB_STATE/modules/pg/state" "${LIFEBOAT[@]}" backup pg --repo borg
LBB_S=$SECONDS_TAKEN LBB_RSS=$PEAK_RSS_KB
echo "== borg: lifeboat backup into a borg repository with compression: zstd"
measure "$LB_STATE/modules/pg/state" "${LIFEBOAT[@]}" backup pg --repo borgzstd
LBZ_S=$SECONDS_TAKEN

ratio() { echo "scale=2; $1 / $2" | bc; }
mb() { echo "scale=1; $1 / 1048576" | bc; }
echo
echo "PostgreSQL $SIZE_MIB MiB of random bytes, $(nproc) cores, $(date -u +%F)"
printf '%-58s %8.1f s  staged %8s MiB\n' "restic, staged script (pg_dump -Fc > file; restic backup)" "$STAGED_S" "$(mb "$STAGED_BYTES")"
printf '%-58s %8.1f s  staged %8s MiB\n' "restic, staged script with pg_dump --compress=0" "$STAGED0_S" "$(mb "$STAGED0_BYTES")"
printf '%-58s %8.1f s  staged %8s MiB  peak RSS %s MB  ratio %sx (target <= 0.85x), %sx of the --compress=0 script\n' "restic, lifeboat backup (streamed)" "$LB_S" "$(mb "$LB_STAGED")" "$((LB_RSS / 1024))" "$(ratio "$LB_S" "$STAGED_S")" "$(ratio "$LB_S" "$STAGED0_S")"
printf '%-58s %8.1f s\n' "borg, borgmatic create (postgresql hook)" "$BM_S"
printf '%-58s %8.1f s  peak RSS %s MB  ratio %sx\n' "borg, lifeboat backup (streamed)" "$LBB_S" "$((LBB_RSS / 1024))" "$(ratio "$LBB_S" "$BM_S")"
printf '%-58s %8.1f s  ratio %sx\n' "borg, lifeboat backup, repository compression: zstd" "$LBZ_S" "$(ratio "$LBZ_S" "$BM_S")"
echo "(Lifeboat dumps with pg_dump --compress=0 so the repository's compression and deduplication see the raw"
echo " data; bytea is hex text in a dump, which borg's default lz4 does not shrink: set compression: zstd on a borg"
echo " repository for bytea-heavy databases. The scripts and borgmatic use pg_dump's default zlib.)"
du -sh "$WORK"/restic-staged "$WORK"/restic-staged-z0 "$WORK"/restic-lifeboat "$WORK"/borg-borgmatic "$WORK"/borg-lifeboat "$WORK"/borg-lifeboat-zstd | sed 's/^/repository size: /'
