#!/usr/bin/env bash
# Streamed MariaDB and Redis backups into restic, side by side in one run (the sibling of bench/pg-stream.sh,
# whose measure() it shares: bench/stream-measure.sh). Each engine holds SIZE_MIB (default 1024) MiB of
# incompressible data: MariaDB one table of 1 MiB random longblob rows, Redis SIZE_MIB keys of 1 MiB random
# bytes under a unique prefix. ROUNDS (default 3) rounds; each round every contender backs up into its own
# fresh restic repository (initialised beforehand, outside the timings), the order alternating from round
# to round; medians and ratios at the end:
#   MariaDB: the staged script (`mariadb-dump` with Lifeboat's arguments > file; restic backup file)
#            vs `lifeboat backup` streaming mariadb-dump into restic's stdin (target <= 1.0x of the script)
#   Redis:   the staged script (`lifeboat dump redis --keys P > file`, the same dump format and bytes;
#            restic backup file) vs `lifeboat backup` streaming it: the dump runs as its own process
#            (lifeboat internal-dump-redis) with restic's stdin as its stdout; and, for comparison, the
#            dump made inside Lifeboat and copied into restic (LIFEBOAT_DUMP_DIRECT=0).
# (`redis-cli --rdb` would stage the whole server's RDB, every other key included, not the module's keys:
# not the same work, so it is not a contender.)
# Needs root (or MariaDB root on 127.0.0.1 without password), Redis on 127.0.0.1:6379, restic, python3.
# Run from the repo root after `npm run build`:  bash bench/db-stream.sh   (SIZE_MIB=128 for a quick run)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE_MIB=${SIZE_MIB:-1024}
ROUNDS=${ROUNDS:-3}
MYHOST=${MYHOST:-127.0.0.1} MYPORT=${MYPORT:-3306} MYUSER=${MYUSER:-root}
REDIS_HOST=${REDIS_HOST:-127.0.0.1} REDIS_PORT=${REDIS_PORT:-6379}
for tool in mariadb mariadb-dump redis-cli restic python3 bc; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is needed (apt-get install mariadb-client redis-tools restic python3 bc)" >&2; exit 1; }
done
WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/lifeboat-db-bench.XXXXXX")
STAMP=$(date +%s)
DB="lifeboat_bench_$STAMP"
PREFIX="lifeboat-bench-$STAMP"
my() { mariadb -h "$MYHOST" -P "$MYPORT" -u "$MYUSER" "$@"; }
rcli() { redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" "$@"; }
cleanup() {
  my -e "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
  rcli --scan --pattern "$PREFIX:*" 2>/dev/null | xargs -r -n 100 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" DEL >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export RESTIC_PASSWORD_FILE="$WORK/pass" RESTIC_CACHE_DIR="$WORK/restic-cache"
echo bench-password > "$RESTIC_PASSWORD_FILE"
chmod 600 "$WORK/pass"
echo "load at the start: $(uptime)"
source "$ROOT/bench/stream-measure.sh"

echo "== filling MariaDB $DB and Redis $PREFIX:* with $SIZE_MIB MiB of random bytes each (1 MiB rows / values)"
my -e "CREATE DATABASE $DB; CREATE TABLE $DB.blobs (id int PRIMARY KEY, data longblob) ENGINE=InnoDB"
python3 -c "
import os, sys
out = sys.stdout
for i in range($SIZE_MIB):
    out.write(f'INSERT INTO blobs VALUES ({i}, 0x{os.urandom(1 << 20).hex()});\n')
" | my "$DB"
python3 -c "
import os, sys
out = sys.stdout.buffer
for i in range($SIZE_MIB):
    key = f'$PREFIX:k{i:06d}'.encode()
    value = os.urandom(1 << 20)
    out.write(b'*3\r\n\$3\r\nSET\r\n\$%d\r\n%s\r\n\$%d\r\n%s\r\n' % (len(key), key, len(value), value))
" | rcli --pipe >/dev/null
echo "MariaDB rows: $(my -N -e "SELECT CONCAT(COUNT(*), ' (', ROUND(SUM(LENGTH(data)) / 1048576), ' MiB)') FROM $DB.blobs"); Redis keys: $(rcli --scan --pattern "$PREFIX:*" | wc -l)"

# The staged scripts a person would write (the same dump commands Lifeboat runs); STEPS gets each step's time.
cat > "$WORK/staged-mariadb.sh" <<EOF
#!/bin/bash
set -e
t0=\$(date +%s.%N)
mariadb-dump -h "$MYHOST" -P "$MYPORT" -u "$MYUSER" --single-transaction --routines --events --triggers --hex-blob --default-character-set=utf8mb4 --databases "$DB" > "$WORK/staging/mysql-$DB.sql"
t1=\$(date +%s.%N)
restic -r "\$REPO" backup --quiet "$WORK/staging/mysql-$DB.sql"
t2=\$(date +%s.%N)
rm -f "$WORK/staging/mysql-$DB.sql"
echo "\$(echo "\$t1 - \$t0" | bc) \$(echo "\$t2 - \$t1" | bc)" > "\$STEPS"
EOF
cat > "$WORK/staged-redis.sh" <<EOF
#!/bin/bash
set -e
t0=\$(date +%s.%N)
node "$ROOT/bin/lifeboat" dump redis --url "redis://$REDIS_HOST:$REDIS_PORT/0" --keys "$PREFIX:*" > "$WORK/staging/redis-db0.redis"
t1=\$(date +%s.%N)
restic -r "\$REPO" backup --quiet "$WORK/staging/redis-db0.redis"
t2=\$(date +%s.%N)
rm -f "$WORK/staging/redis-db0.redis"
echo "\$(echo "\$t1 - \$t0" | bc) \$(echo "\$t2 - \$t1" | bc)" > "\$STEPS"
EOF
chmod +x "$WORK/staged-mariadb.sh" "$WORK/staged-redis.sh"
mkdir -p "$WORK/staging" "$WORK/empty"

# Lifeboat: modules my (MariaDB) and rd (Redis); REPOS=<folder> holds their restic repositories.
lifeboat_root() {
  local root=$1 repos=$2
  rm -rf "$root/state"
  mkdir -p "$root/modules/my" "$root/modules/rd"
  cat > "$root/lifeboat.yaml" <<EOF
repositories:
  restic: { provider: restic, url: $repos/restic, passwordFile: $WORK/pass }
EOF
  cat > "$root/modules/my/module.yaml" <<EOF
folders: [$WORK/empty]
databases:
  - mysql: { database: $DB, host: $MYHOST, port: $MYPORT, user: $MYUSER }
EOF
  cat > "$root/modules/rd/module.yaml" <<EOF
folders: [$WORK/empty]
databases:
  - redis: { url: "redis://$REDIS_HOST:$REDIS_PORT/0", keys: ["$PREFIX:*"] }
EOF
  restic -r "$repos/restic/my" init --quiet
  restic -r "$repos/restic/rd" init --quiet
}
lb() { echo node "$ROOT/bin/lifeboat" --root "$1" --state-dir "$1/state"; }

declare -A secs rss cpu own
record() { secs[$1]+="$SECONDS_TAKEN,"; rss[$1]+="$PEAK_RSS_KB,"; cpu[$1]+="$CPU_TOTAL,"; own[$1]+="$CPU_OWN,"; }
steps_of() { read -r a b < "$WORK/steps"; secs[$1_dump]+="$a,"; secs[$1_restic]+="$b,"; }
round_dir=""
my_script()   { measure "$WORK/staging" env REPO="$round_dir/my-script" STEPS="$WORK/steps" "$WORK/staged-mariadb.sh"; record my_script; steps_of my; }
my_lb()       { measure "$WORK/lb/state/modules/my/state" $(lb "$WORK/lb") backup my; record my_lb; }
rd_script()   { measure "$WORK/staging" env REPO="$round_dir/rd-script" STEPS="$WORK/steps" "$WORK/staged-redis.sh"; record rd_script; steps_of rd; }
rd_lb()       { measure "$WORK/lb/state/modules/rd/state" $(lb "$WORK/lb") backup rd; record rd_lb; }
rd_copied()   { measure "$WORK/copied/state/modules/rd/state" env LIFEBOAT_DUMP_DIRECT=0 $(lb "$WORK/copied") backup rd; record rd_copied; }
order=(my_script my_lb rd_script rd_lb rd_copied)

for ROUND in $(seq 1 "$ROUNDS"); do
  round_dir="$WORK/r$ROUND"
  rm -rf "$WORK"/r*
  mkdir -p "$round_dir"
  restic -r "$round_dir/my-script" init --quiet
  restic -r "$round_dir/rd-script" init --quiet
  lifeboat_root "$WORK/lb" "$round_dir/lb"
  lifeboat_root "$WORK/copied" "$round_dir/copied"
  if (( ROUND % 2 )); then steps=("${order[@]}"); else steps=(); for ((i=${#order[@]}-1; i>=0; i--)); do steps+=("${order[i]}"); done; fi
  for step in "${steps[@]}"; do "$step"; done
  line="round $ROUND (${steps[0]} first):"
  for name in my_script my_dump my_restic my_lb rd_script rd_dump rd_restic rd_lb rd_copied; do v=${secs[$name]%,}; line+=" $name ${v##*,} s"; done
  echo "$line; load $(cut -d' ' -f1-3 /proc/loadavg)"
done

args=()
for name in "${!secs[@]}"; do args+=("$name=${secs[$name]%,}=${rss[$name]:-0}=${cpu[$name]:-0}=${own[$name]:-0}"); done
echo
echo "MariaDB and Redis, $SIZE_MIB MiB of random bytes each, into restic, $(nproc) cores, $(date -u +%F), $ROUNDS round(s) (medians)"
node -e '
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const nums = (s) => (s ?? "").replace(/,$/, "").split(",").filter(Boolean).map(Number);
const c = Object.fromEntries(process.argv.slice(1).map((arg) => { const [name, s, r, cp, ow] = arg.split("="); return [name, { s: nums(s), rss: nums(r), cpu: nums(cp), own: nums(ow) }]; }));
const m = (name) => median(c[name].s);
const cpu = (name) => (c[name].cpu.length && median(c[name].cpu) > 0 ? `  CPU ${median(c[name].cpu).toFixed(1)} s` + (/_lb|_copied/.test(name) ? ` (node itself ${median(c[name].own).toFixed(1)} s)` : "") : "");
const peak = (name) => (Math.max(...c[name].rss) / 1024).toFixed(0);
const perRound = (a, b) => median(c[a].s.map((v, i) => v / c[b].s[i])).toFixed(2);
const show = (label, name, extra = "") => console.log(`${label.padEnd(64)} ${m(name).toFixed(1).padStart(7)} s${cpu(name)}${extra}`);
const ratio = (name, base) => `  ratio ${(m(name) / m(base)).toFixed(2)}x of the script (per round ${perRound(name, base)}x), ${(m(name) / Math.max(m(base.replace("script", "dump")), m(base.replace("script", "restic")))).toFixed(2)}x of the slower step alone`;
show("MariaDB, staged script (mariadb-dump > file; restic backup)", "my_script");
show("  of which mariadb-dump to a file", "my_dump");
show("  of which restic backup of that file", "my_restic");
show("MariaDB, lifeboat backup (mariadb-dump into restic stdin)", "my_lb", `  peak RSS ${peak("my_lb")} MB${ratio("my_lb", "my_script")}`);
show("Redis, staged script (lifeboat dump redis > file; restic backup)", "rd_script");
show("  of which lifeboat dump redis to a file", "rd_dump");
show("  of which restic backup of that file", "rd_restic");
show("Redis, lifeboat backup (dump process into restic stdin)", "rd_lb", `  peak RSS ${peak("rd_lb")} MB${ratio("rd_lb", "rd_script")}`);
show("Redis, lifeboat backup, copied (LIFEBOAT_DUMP_DIRECT=0)", "rd_copied", `  peak RSS ${peak("rd_copied")} MB${ratio("rd_copied", "rd_script")}`);
' "${args[@]}"
echo "(peak RSS: the lifeboat node process itself; the Redis dump process and restic are not in it, their CPU is in CPU)"
echo "load at the end: $(uptime)"
