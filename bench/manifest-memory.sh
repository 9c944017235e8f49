#!/usr/bin/env bash
# Memory and time of an unchanged backup of many small files (1,000,000 by default): `lifeboat backup`
# against a raw `restic backup` of the same tree, each into its own repository that already holds a
# first backup of it (so restic finds a parent and Lifeboat a previous manifest). Prints, per round and
# as medians: Lifeboat's own peak RSS (its node process, manifest worker included: getrusage maxRSS at
# exit, i.e. VmHWM), the peak RSS of the restic it ran, raw restic's peak RSS (/usr/bin/time -v), and
# the wall ratio, and Lifeboat's own CPU time (user+sys of its node process, worker included, restic
# not: on a loaded machine a steadier figure than wall). Rounds alternate which side goes first.
# Not for CI: making the tree takes minutes. Run from the repo root after `npm run build`:
#   bash bench/manifest-memory.sh        (FILES=1000000 ROUNDS=3 by default; FILES=200000 for a shorter run)
# TREE=/some/dir keeps the generated tree there (reused when it already has FILES files).
# WITHOUT=1 adds a third run per round, `lifeboat backup` with LIFEBOAT_MANIFEST=0 (what the manifest costs).
# BEFORE=/path/to/bin/lifeboat adds a run per round of another build (into its own repository and state).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FILES=${FILES:-1000000}
ROUNDS=${ROUNDS:-3}
RESTIC=$(command -v restic) || { echo "bench: restic is needed" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time (Debian package time) is needed" >&2; exit 1; }
# WORK=/some/dir keeps the repositories, state dirs and first backups there: a later run with the same WORK
# (and TREE) skips the first backups. ROUNDS=0 makes only them.
if [ -n "${WORK:-}" ]; then work=$WORK; mkdir -p "$work"; else work=$(mktemp -d /tmp/lifeboat-bench-memory.XXXXXX); trap 'rm -rf "$work"' EXIT; fi
data=${TREE:-$work/data}
load() { cut -d' ' -f1-3 /proc/loadavg; }

# The tree: 1,000 files per folder, 20-300 bytes each, content unique per file.
source "$ROOT/bench/small-files.sh"
make_small_files "$data" "$FILES"

echo "pass-for-bench" > "$work/pass"
mkdir -p "$work/root/modules/bench" "$work/shim"
printf 'repositories:\n  local: { provider: restic, url: %s/lb-repo, passwordFile: %s/pass }\n' "$work" "$work" > "$work/root/lifeboat.yaml"
printf 'folders: [%s]\n' "$data" > "$work/root/modules/bench/module.yaml"
mkdir -p "$work/root-before/modules/bench"
printf 'repositories:\n  local: { provider: restic, url: %s/lb-repo-before, passwordFile: %s/pass }\n' "$work" "$work" > "$work/root-before/lifeboat.yaml"
cp "$work/root/modules/bench/module.yaml" "$work/root-before/modules/bench/"
# Lifeboat's restic runs through this shim, which records each call's peak RSS (KiB) and wall time.
cat > "$work/shim/restic" <<EOF
#!/usr/bin/env bash
exec /usr/bin/time -a -o "$work/inner" -f "%M %e %C" "$RESTIC" "\$@"
EOF
chmod +x "$work/shim/restic"
# Lifeboat's own peak and CPU: every node process writes "pid maxRSS(KiB) user+sys(ms)" when it exits
# (getrusage(RUSAGE_SELF): all its threads, the manifest worker included, none of its restic children).
cat > "$work/rss.mjs" <<'EOF'
import { appendFileSync } from 'node:fs';
process.on('exit', () => {
  const usage = process.resourceUsage();
  appendFileSync(process.env.BENCH_RSS_FILE, `${process.pid} ${usage.maxRSS} ${Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000)}\n`);
});
EOF
export RESTIC_PASSWORD_FILE="$work/pass" RESTIC_CACHE_DIR="$work/cache"
now() { echo "${EPOCHREALTIME/./}"; }

raw_backup() { /usr/bin/time -f "%M" -o "$work/raw-rss" "$RESTIC" -q -r "$work/raw-repo" backup --host bench --tag module:bench "$data" >/dev/null; }
lifeboat_backup() {
  : > "$work/inner"; : > "$work/rss"
  local bin=$ROOT/bin/lifeboat root=$work/root state=$work/state
  if [ "${2:-}" = before ]; then bin=$BEFORE root=$work/root-before state=$work/state-before; fi
  LIFEBOAT_MANIFEST=${1:-1} PATH="$work/shim:$PATH" BENCH_RSS_FILE="$work/rss" NODE_OPTIONS="--import=$work/rss.mjs" \
    node "$bin" -q --root "$root" --state-dir "$state" backup bench >/dev/null &
  local pid=$!
  wait "$pid"
  ours_rss=$(awk -v pid="$pid" '$1==pid && $2>m {m=$2} END{print m+0}' "$work/rss")
  ours_cpu=$(awk -v pid="$pid" '$1==pid {c=$3} END{print c+0}' "$work/rss")
  inner_rss=$(awk '$1>m {m=$1} END{print m+0}' "$work/inner")
  inner_ms=$(awk '{t+=$2} END{printf "%d", t*1000}' "$work/inner")
}

echo "tree: $(find "$data" -type f | wc -l) files, $(du -sm "$data" | cut -f1) MB; $(nproc) cores; load $(load)"
if [ -f "$work/raw-repo/config" ] && [ -f "$work/first-backups-done" ]; then
  echo "first backups: reused from $work"
else
  rm -rf "$work/raw-repo" "$work/lb-repo" "$work/state"
  t0=$(now); "$RESTIC" -q -r "$work/raw-repo" init >/dev/null; raw_backup; t1=$(now)
  echo "first backup, raw restic: $(( (t1 - t0) / 1000000 )) s, peak $(( $(cat "$work/raw-rss") / 1024 )) MB"
  t0=$(now); lifeboat_backup; t1=$(now)
  echo "first backup, lifeboat: $(( (t1 - t0) / 1000000 )) s, lifeboat peak $(( ours_rss / 1024 )) MB, CPU $ours_cpu ms, its restic peak $(( inner_rss / 1024 )) MB (load $(load))"
  [ -z "${BEFORE:-}" ] || { lifeboat_backup 1 before; echo "first backup, before: lifeboat peak $(( ours_rss / 1024 )) MB"; }
  find "$work" -name "*.json.gz" -exec ls -la {} +
  touch "$work/first-backups-done"
fi
[ "$ROUNDS" -gt 0 ] || exit 0

raw=(); ours=(); raw_rss=(); lb_rss=(); lb_cpu=(); before_cpu=(); lb_restic_rss=(); without=(); before=(); before_rss=(); overhead=(); before_overhead=()
run_before() { [ -n "${BEFORE:-}" ] || return 0; local t0; t0=$(now); lifeboat_backup 1 before; before+=($(( ($(now) - t0) / 1000 ))); before_rss+=("$ours_rss"); before_cpu+=("$ours_cpu"); before_overhead+=($(( before[-1] - inner_ms ))); }
run_raw() { local t0; t0=$(now); raw_backup; raw+=($(( ($(now) - t0) / 1000 ))); raw_rss+=($(cat "$work/raw-rss")); }
run_ours() { local t0; t0=$(now); lifeboat_backup; ours+=($(( ($(now) - t0) / 1000 ))); lb_rss+=("$ours_rss"); lb_cpu+=("$ours_cpu"); lb_restic_rss+=("$inner_rss"); overhead+=($(( ours[-1] - inner_ms ))); }
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then run_raw; run_ours; run_before; order="restic first"; else run_before; run_ours; run_raw; order="lifeboat first"; fi
  echo "round $r ($order, load $(load)): raw restic ${raw[-1]} ms, peak $(( raw_rss[-1] / 1024 )) MB | lifeboat ${ours[-1]} ms, lifeboat peak $(( lb_rss[-1] / 1024 )) MB, its restic peak $(( lb_restic_rss[-1] / 1024 )) MB, overhead ${overhead[-1]} ms, lifeboat CPU ${lb_cpu[-1]} ms${BEFORE:+ | before ${before[-1]} ms, peak $(( before_rss[-1] / 1024 )) MB, overhead ${before_overhead[-1]} ms, CPU ${before_cpu[-1]} ms}"
  if [ "${WITHOUT:-0}" = 1 ]; then
    t0=$(now); lifeboat_backup 0; without+=($(( ($(now) - t0) / 1000 )))
    echo "  lifeboat with LIFEBOAT_MANIFEST=0: ${without[-1]} ms, lifeboat peak $(( ours_rss / 1024 )) MB, its restic peak $(( inner_rss / 1024 )) MB"
  fi
done
join() { local IFS=,; echo "$*"; }
node -e '
const [raw, ours, rawRss, lbRss, lbResticRss, without, before, beforeRss, overhead, beforeOverhead, lbCpu, beforeCpu] = process.argv.slice(1).map((s) => (s ? s.split(",").map(Number) : []));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (kib) => `${(kib / 1024).toFixed(0)} MB`;
console.log(`unchanged backup, median of ${raw.length}: wall raw restic ${median(raw)} ms, lifeboat ${median(ours)} ms, ratio ${(median(ours) / median(raw)).toFixed(2)}x (target <= 1.15x)`);
if (without.length) console.log(`lifeboat with LIFEBOAT_MANIFEST=0: ${median(without)} ms, ${(median(without) / median(raw)).toFixed(2)}x of raw restic (the manifest itself: ${((median(ours) / median(without) - 1) * 100).toFixed(1)} %)`);
console.log(`lifeboat overhead (its run minus the time its restic calls took): median ${median(overhead)} ms; 1 + overhead / raw restic = ${(1 + median(overhead) / median(raw)).toFixed(2)}x`);
console.log(`lifeboat CPU (its node process, user+sys, restic not included): median ${median(lbCpu)} ms (${lbCpu.join(", ")})`);
if (before.length) console.log(`before (another build): ${median(before)} ms, ${(median(before) / median(raw)).toFixed(2)}x of raw restic, peak ${mb(median(beforeRss))}, overhead ${median(beforeOverhead)} ms, CPU ${median(beforeCpu)} ms (${beforeCpu.join(", ")})`);
console.log(`peak RSS: lifeboat itself ${mb(median(lbRss))} (max ${mb(Math.max(...lbRss))}; target <= 150 MB and <= restic), raw restic ${mb(median(rawRss))}, the restic lifeboat ran ${mb(median(lbResticRss))}`);
' "$(join "${raw[@]}")" "$(join "${ours[@]}")" "$(join "${raw_rss[@]}")" "$(join "${lb_rss[@]}")" "$(join "${lb_restic_rss[@]}")" "$(join "${without[@]}")" "$(join "${before[@]}")" "$(join "${before_rss[@]}")" "$(join "${overhead[@]}")" "$(join "${before_overhead[@]}")" "$(join "${lb_cpu[@]}")" "$(join "${before_cpu[@]}")"
echo "load at the end: $(load); $(uptime)"
