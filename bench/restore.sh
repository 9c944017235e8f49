#!/usr/bin/env bash
# Restores of a module of 2,000 files + 100 MB from restic, side by side round by round in one run (which side
# goes first alternates, so drift of the machine hits both), medians and ratios at the end:
#   raw     `restic restore ID --target DIR` (the peer: one restic run, one key derivation)
#   target  `lifeboat restore bench ID --target DIR`                 (target <= 1.15x raw)
#   inplace `lifeboat restore bench ID --no-safety-snapshot` in place (target <= 1.25x raw)
#   safety  `lifeboat restore bench ID` in place with its safety snapshot (an incremental backup of the live
#           tree first): what the safety snapshot adds
# Everything reads the same snapshot of the same repository (made once by `lifeboat backup`). restic is
# called through a PATH shim that logs every call, so the script also prints how many restic runs each
# side needed and Lifeboat's overhead (its run minus the time inside restic). `sync` between runs, outside
# the timings. CPU (user + system of the whole run, restic included) is printed beside the wall time: on a
# shared machine it is the steadier figure. BEFORE=/path/to/other/bin/lifeboat adds that build's --target and in-place restores as
# further columns (before/after comparisons in one run).
# Run from the repo root after `npm run build`:  bash bench/restore.sh   (ROUNDS=7 by default)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-7}
BEFORE=${BEFORE:-}
RESTIC=$(command -v restic) || { echo "bench: restic is needed" >&2; exit 1; }
work=$(mktemp -d "${BENCH_DIR:-/tmp}/lifeboat-bench-restore.XXXXXX")
[ -n "${KEEP:-}" ] && echo "work: $work" || trap 'rm -rf "$work"' EXIT
source "$ROOT/bench/restic-module.sh"
make_restic_module "$work" repo
make_restic_shim "$work" "$RESTIC"
data="$work/data"
export PATH="$work/shim:$PATH" RESTIC_PASSWORD_FILE="$work/pass" RESTIC_CACHE_DIR="$work/raw-cache"
LIFEBOAT=(node "$ROOT/bin/lifeboat" -q --root "$work/root" --state-dir "$work/state")
"${LIFEBOAT[@]}" backup bench >/dev/null
repo="$work/repo/bench"
id=$(basename "$(ls "$repo"/snapshots/* | head -1)")
files=$(find "$data" -type f | wc -l); size=$(du -sm "$data" | cut -f1)
echo "data: $files files, ${size} MB; snapshot ${id:0:8}; $ROUNDS rounds; $(nproc) cores; load at the start: $(cut -d' ' -f1-3 /proc/loadavg)"

now() { echo "${EPOCHREALTIME/./}"; }
in_restic() { awk '$1=="start"{s=$2} $1=="end"{t+=$2-s} END{print t+0}' "$work/calls"; }
calls() { grep -c '^start' "$work/calls" || true; }
declare -A ms over runs cpu
# Times one command (ms), the µs spent inside restic, the number of restic runs and the CPU time (user +
# system, ms) of the command with every process it ran (restic included); appends to column $1.
timed() {
  local col=$1; shift
  sync
  : > "$work/calls"
  local t0 t1; t0=$(now)
  /usr/bin/time -f '%U %S' -o "$work/time.out" "$@" >/dev/null
  t1=$(now)
  cpu[$col]+="$(awk '{printf "%d", ($1 + $2) * 1000}' "$work/time.out"),"
  ms[$col]+="$(( (t1 - t0) / 1000 )),"
  over[$col]+="$(( (t1 - t0 - $(in_restic)) / 1000 )),"
  runs[$col]+="$(calls),"
}
raw() { rm -rf "$work/t-raw"; timed raw restic -q -r "$repo" restore "$id" --target "$work/t-raw"; }
target() { rm -rf "$work/t-lb"; timed target "${LIFEBOAT[@]}" restore bench "$id" --target "$work/t-lb"; }
inplace() { timed inplace "${LIFEBOAT[@]}" restore bench "$id" --no-safety-snapshot; }
safety() { timed safety "${LIFEBOAT[@]}" restore bench "$id"; }
before_target() { rm -rf "$work/t-before"; timed before_target node "$BEFORE" -q --root "$work/root" --state-dir "$work/state" restore bench "$id" --target "$work/t-before"; }
before_inplace() { timed before_inplace node "$BEFORE" -q --root "$work/root" --state-dir "$work/state" restore bench "$id" --no-safety-snapshot; }
order=(raw target inplace safety)
[ -n "$BEFORE" ] && order+=(before_target before_inplace)
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then seq_=("${order[@]}"); else seq_=(); for ((i=${#order[@]}-1; i>=0; i--)); do seq_+=("${order[i]}"); done; fi
  for step in "${seq_[@]}"; do "$step"; done
  line="round $r (${seq_[0]} first):"
  for col in "${order[@]}"; do v=${ms[$col]%,}; line+=" $col ${v##*,} ms"; done
  echo "$line"
done
# The safety snapshots of the rounds are in the repository now; the restores above all read snapshot $id.
cols=$(IFS=' '; echo "${order[*]}")
args=()
for col in "${order[@]}"; do args+=("$col=${ms[$col]%,}=${over[$col]%,}=${runs[$col]%,}=${cpu[$col]%,}"); done
node -e '
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cols = Object.fromEntries(process.argv.slice(1).map((arg) => { const [name, ms, over, runs, cpu] = arg.split("="); return [name, { ms: ms.split(",").map(Number), over: over.split(",").map(Number), runs: runs.split(",").map(Number), cpu: cpu.split(",").map(Number) }]; }));
const raw = median(cols.raw.ms);
const targets = { target: "<= 1.15x", inplace: "<= 1.25x", before_target: "", before_inplace: "" };
for (const [name, c] of Object.entries(cols)) {
  const m = median(c.ms);
  const perRound = median(c.ms.map((v, i) => v / cols.raw.ms[i]));
  const ratio = name === "raw" ? "" : `  ratio ${(m / raw).toFixed(2)}x${targets[name] ? ` (target ${targets[name]})` : ""}, per round ${perRound.toFixed(2)}x`;
  const cpu = median(c.cpu);
  const cpuRatio = name === "raw" ? "" : ` (${(cpu / median(cols.raw.cpu)).toFixed(2)}x)`;
  console.log(`${name.padEnd(15)} median ${String(m).padStart(6)} ms  CPU ${String(cpu).padStart(5)} ms${cpuRatio}  restic runs ${median(c.runs)}  outside restic ${median(c.over)} ms${ratio}`);
}
console.log(`the safety snapshot adds ${median(cols.safety.ms) - median(cols.inplace.ms)} ms (median in place with it minus without it)`);
' "${args[@]}"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
