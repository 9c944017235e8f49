#!/usr/bin/env bash
# Streamed PostgreSQL backups, side by side in one run, on one database of SIZE_MIB (default 1024) MiB of
# incompressible data (random bytes in bytea rows). ROUNDS (default 3) rounds; each round every contender
# backs up into its own fresh repository (initialised beforehand, outside the timings), and which side goes
# first alternates from round to round; medians and ratios at the end:
#   restic: the staged script with `pg_dump -Fc --compress=0` (what Lifeboat dumps, through a file) and its
#           two steps alone (pg_dump, restic backup)  vs  `lifeboat backup` streaming pg_dump into restic
#           (backup --stdin): time ratio (target <= 1.0x of the script), bytes staged on disk, Lifeboat's
#           own peak RSS (VmHWM of the node process; target <= 150 MB)
#   borg:   borgmatic (postgresql_databases hook, named pipe)  vs  `lifeboat backup` into borg (named pipe;
#           target <= 0.19x)
# Once, outside the rounds: the staged script with pg_dump's default zlib (ZLIB=0 skips it) and Lifeboat into
# a `compression: zstd` borg repository.
# BEFORE=/path/to/other/bin/lifeboat adds that build's two backups to every round (before/after in one run);
# BEFORE_ENV="LIFEBOAT_DUMP_DIRECT=0" runs them with that environment (BEFORE=bin/lifeboat: the copy through
# Lifeboat against the default direct hand-off, one build).
# Needs root (or a PostgreSQL superuser on 127.0.0.1 via trust), restic, borg, borgmatic, python3.
# Run from the repo root after `npm run build`:  bash bench/pg-stream.sh   (SIZE_MIB=256 for a quick run)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE_MIB=${SIZE_MIB:-1024}
ROUNDS=${ROUNDS:-3}
ZLIB=${ZLIB:-1}
BEFORE=${BEFORE:-}
BEFORE_ENV=${BEFORE_ENV:-}
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
export RESTIC_PASSWORD_FILE="$WORK/pass" BORG_PASSPHRASE=bench-passphrase RESTIC_CACHE_DIR="$WORK/restic-cache"
echo bench-password > "$RESTIC_PASSWORD_FILE"
echo "$BORG_PASSPHRASE" > "$WORK/borg.pass"
chmod 600 "$WORK/pass" "$WORK/borg.pass"
echo "load at the start: $(uptime)"

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

# measure() and the timing shim: shared with bench/db-stream.sh.
source "$ROOT/bench/stream-measure.sh"

# The staged shell script a person would write; REPO names the repository, STEPS gets the time of each step.
cat > "$WORK/staged.sh" <<EOF
#!/bin/bash
set -e
t0=\$(date +%s.%N)
pg_dump --format=custom --dbname "$DB" > "$WORK/staging/$DB.pgdump"
t1=\$(date +%s.%N)
restic -r "\$REPO" backup --quiet "$WORK/staging/$DB.pgdump"
t2=\$(date +%s.%N)
rm -f "$WORK/staging/$DB.pgdump"
echo "\$(echo "\$t1 - \$t0" | bc) \$(echo "\$t2 - \$t1" | bc)" > "\$STEPS"
EOF
sed -e 's/--format=custom/--format=custom --compress=0/' "$WORK/staged.sh" > "$WORK/staged-z0.sh"
chmod +x "$WORK/staged.sh" "$WORK/staged-z0.sh"
mkdir -p "$WORK/staging" "$WORK/empty"

# Lifeboat: one module declaring the database; a root (config + state dir) per build. REPOS=<folder> points
# its restic and borg repositories there (a fresh folder per round).
lifeboat_root() {
  local root=$1 repos=$2
  rm -rf "$root/state" # a fresh journal too: it would miss the previous round's repository
  mkdir -p "$root/modules/pg"
  cat > "$root/lifeboat.yaml" <<EOF
repositories:
  restic: { provider: restic, url: $repos/restic, passwordFile: $WORK/pass }
  borg: { provider: borg, url: $repos/borg, passwordFile: $WORK/borg.pass }
  borgzstd: { provider: borg, url: $repos/borg-zstd, passwordFile: $WORK/borg.pass, compression: zstd }
EOF
  cat > "$root/modules/pg/module.yaml" <<EOF
folders: [$WORK/empty]
databases:
  - postgres: { database: $DB, host: $PGHOST, port: $PGPORT, user: $PGUSER }
EOF
  # The module's repositories exist already (as after a first backup): restic init's key calibration and
  # borg init are not what is measured.
  restic -r "$repos/restic/pg" init --quiet
  BORG_BASE_DIR="$root/state/borg" borg init --encryption=repokey --make-parent-dirs "$repos/borg/pg" 2>/dev/null
  BORG_BASE_DIR="$root/state/borg" borg init --encryption=repokey --make-parent-dirs "$repos/borg-zstd/pg" 2>/dev/null
}
borgmatic_config() {
  cat > "$WORK/borgmatic.yaml" <<EOF
location:
    source_directories: [$WORK/empty]
    repositories: [$1]
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
  borgmatic --syslog-verbosity -1 --config "$WORK/borgmatic.yaml" init --encryption repokey >/dev/null 2>&1
}
# Called as a plain command (not a function) so that $! is the node process itself.
lb() { echo node "$1" --root "$2" --state-dir "$2/state"; }

declare -A secs rss staged cpu own
record() { secs[$1]+="$SECONDS_TAKEN,"; rss[$1]+="$PEAK_RSS_KB,"; staged[$1]+="$PEAK_STAGED,"; cpu[$1]+="$CPU_TOTAL,"; own[$1]+="$CPU_OWN,"; }
round_dir=""
script()      { measure "$WORK/staging" env REPO="$round_dir/script" STEPS="$WORK/steps" "$WORK/staged-z0.sh"; record script; read -r a b < "$WORK/steps"; secs[pg_dump]+="$a,"; secs[restic]+="$b,"; }
lb_restic()   { measure "$WORK/after/state/modules/pg/state" $(lb "$ROOT/bin/lifeboat" "$WORK/after") backup pg --repo restic; record lb_restic; }
bf_restic()   { measure "$WORK/before/state/modules/pg/state" env $BEFORE_ENV $(lb "$BEFORE" "$WORK/before") backup pg --repo restic; record bf_restic; }
borgmatic_()  { measure "$WORK/borgmatic-base" borgmatic --syslog-verbosity -1 --config "$WORK/borgmatic-$ROUND.yaml" create; record borgmatic; }
lb_borg()     { measure "$WORK/after/state/modules/pg/state" $(lb "$ROOT/bin/lifeboat" "$WORK/after") backup pg --repo borg; record lb_borg; }
bf_borg()     { measure "$WORK/before/state/modules/pg/state" env $BEFORE_ENV $(lb "$BEFORE" "$WORK/before") backup pg --repo borg; record bf_borg; }
order=(script lb_restic borgmatic_ lb_borg)
[ -n "$BEFORE" ] && order+=(bf_restic bf_borg)

if [ "$ZLIB" = 1 ]; then
  echo "== once: the staged script with pg_dump's default zlib"
  restic -r "$WORK/zlib" init --quiet
  measure "$WORK/staging" env REPO="$WORK/zlib" STEPS="$WORK/steps" "$WORK/staged.sh"
  ZLIB_S=$SECONDS_TAKEN ZLIB_STAGED=$PEAK_STAGED
  rm -rf "$WORK/zlib"
fi
for ROUND in $(seq 1 "$ROUNDS"); do
  round_dir="$WORK/r$ROUND"
  rm -rf "$WORK"/r*
  mkdir -p "$round_dir"
  restic -r "$round_dir/script" init --quiet
  lifeboat_root "$WORK/after" "$round_dir/after"
  [ -n "$BEFORE" ] && lifeboat_root "$WORK/before" "$round_dir/before"
  borgmatic_config "$round_dir/borgmatic"
  cp "$WORK/borgmatic.yaml" "$WORK/borgmatic-$ROUND.yaml"
  if (( ROUND % 2 )); then steps=("${order[@]}"); else steps=(); for ((i=${#order[@]}-1; i>=0; i--)); do steps+=("${order[i]}"); done; fi
  for step in "${steps[@]}"; do "$step"; done
  line="round $ROUND (${steps[0]} first):"
  for name in script pg_dump restic lb_restic borgmatic lb_borg ${BEFORE:+bf_restic bf_borg}; do v=${secs[$name]%,}; line+=" $name ${v##*,} s"; done
  echo "$line; load $(cut -d' ' -f1-3 /proc/loadavg)"
  du -sh "$round_dir"/script "$round_dir"/after/restic "$round_dir"/borgmatic "$round_dir"/after/borg | sed 's/^/  repository size: /'
done
echo "== once: lifeboat backup into a borg repository with compression: zstd"
measure "$WORK/after/state/modules/pg/state" $(lb "$ROOT/bin/lifeboat" "$WORK/after") backup pg --repo borgzstd
ZSTD_S=$SECONDS_TAKEN
du -sh "$round_dir"/after/borg-zstd | sed 's/^/  repository size: /'

args=()
for name in "${!secs[@]}"; do args+=("$name=${secs[$name]%,}=${rss[$name]:-0}=${staged[$name]:-0}=${cpu[$name]:-0}=${own[$name]:-0}"); done
echo
echo "PostgreSQL $SIZE_MIB MiB of random bytes, $(nproc) cores, $(date -u +%F), $ROUNDS rounds (medians)"
BEFORE_ENV="$BEFORE_ENV" node -e '
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const nums = (s) => s.replace(/,$/, "").split(",").filter(Boolean).map(Number);
const c = Object.fromEntries(process.argv.slice(1).map((arg) => { const [name, s, r, st, cp, ow] = arg.split("="); return [name, { s: nums(s), rss: nums(r), staged: nums(st), cpu: nums(cp), own: nums(ow) }]; }));
const cpu = (name) => median(c[name].cpu) > 0 ? `  CPU ${median(c[name].cpu).toFixed(1)} s` + (name.startsWith("lb_") || name.startsWith("bf_") ? ` (node itself ${median(c[name].own).toFixed(1)} s)` : "") : "";
const m = (name) => median(c[name].s);
const mib = (name) => c[name].staged.length ? (Math.max(...c[name].staged) / 1048576).toFixed(0) : "0";
const peak = (name) => (Math.max(...c[name].rss) / 1024).toFixed(0);
const perRound = (a, b) => median(c[a].s.map((v, i) => v / c[b].s[i])).toFixed(2);
const show = (label, name, extra = "") => console.log(`${label.padEnd(62)} ${m(name).toFixed(1).padStart(7)} s${cpu(name)}${extra}`);
show("restic, staged script with pg_dump --compress=0", "script", `  staged ${mib("script")} MiB`);
show("  of which pg_dump --compress=0 to a file", "pg_dump");
show("  of which restic backup of that file", "restic");
const slower = Math.max(m("pg_dump"), m("restic"));
show("restic, lifeboat backup (streamed)", "lb_restic", `  staged ${mib("lb_restic")} MiB  peak RSS ${peak("lb_restic")} MB  ratio ${(m("lb_restic") / m("script")).toFixed(2)}x of the script (target <= 1.0x; per round ${perRound("lb_restic", "script")}x), ${(m("lb_restic") / slower).toFixed(2)}x of the slower step alone`);
if (c.bf_restic) show(`restic, lifeboat backup, BEFORE build ${process.env.BEFORE_ENV || ""}`, "bf_restic", `  peak RSS ${peak("bf_restic")} MB  ratio ${(m("bf_restic") / m("script")).toFixed(2)}x of the script (per round ${perRound("bf_restic", "script")}x)`);
show("borg, borgmatic create (postgresql hook, pg_dump zlib)", "borgmatic");
show("borg, lifeboat backup (streamed)", "lb_borg", `  peak RSS ${peak("lb_borg")} MB  ratio ${(m("lb_borg") / m("borgmatic")).toFixed(2)}x (target <= 0.19x; per round ${perRound("lb_borg", "borgmatic")}x)`);
if (c.bf_borg) show(`borg, lifeboat backup, BEFORE build ${process.env.BEFORE_ENV || ""}`, "bf_borg", `  ratio ${(m("bf_borg") / m("borgmatic")).toFixed(2)}x (per round ${perRound("bf_borg", "borgmatic")}x)`);
' "${args[@]}"
[ "$ZLIB" = 1 ] && printf '%-62s %7.1f s  staged %s MiB (once)\n' "restic, staged script with pg_dump's default zlib" "$ZLIB_S" "$(( ZLIB_STAGED / 1048576 ))"
printf '%-62s %7.1f s (once)\n' "borg, lifeboat backup, repository compression: zstd" "$ZSTD_S"
echo "(Lifeboat dumps with pg_dump --compress=0 so the repository's compression and deduplication see the raw"
echo " data; bytea is hex text in a dump, which borg's default lz4 does not shrink: set compression: zstd on a borg"
echo " repository for bytea-heavy databases. borgmatic and the zlib script use pg_dump's default zlib.)"
echo "load at the end: $(uptime)"
