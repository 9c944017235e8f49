#!/usr/bin/env bash
# First backup of a module of 2,000 files + 100 MB: `lifeboat backup` against a raw `restic init` +
# `restic backup` of the same folder, each into a fresh repository, side by side round by round in one run
# (which of the two goes first alternates, so drift of the machine hits both); prints the ratio.
# Both call restic through the same small PATH shim that timestamps every call, so the script also prints
# Lifeboat's own overhead: its time to the first restic call, and its whole run minus the time restic ran.
# restic init's key derivation (scrypt calibration) alone varies by 1-2 s between runs here, which is why there are
# 9 rounds and why the overhead in ms is the steadier figure.
# Run from the repo root after `npm run build`:  bash bench/restic-backup.sh   (ROUNDS=9 by default)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-9}
RESTIC=$(command -v restic) || { echo "bench: restic is needed" >&2; exit 1; }
work=$(mktemp -d /tmp/lifeboat-bench-restic.XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$ROOT/bench/restic-module.sh"
make_restic_module "$work" lb-repo
make_restic_shim "$work" "$RESTIC"
data="$work/data"
export PATH="$work/shim:$PATH" RESTIC_PASSWORD_FILE="$work/pass" RESTIC_CACHE_DIR="$work/cache"
files=$(find "$data" -type f | wc -l); size=$(du -sm "$data" | cut -f1)
echo "data: $files files, ${size} MB; $ROUNDS rounds, fresh repositories each time; load: $(cut -d' ' -f1-3 /proc/loadavg)"

now() { echo "${EPOCHREALTIME/./}"; }
# µs spent inside restic calls, and µs from $1 to the first call, from the shim's log.
in_restic() { awk '$1=="start"{s=$2} $1=="end"{t+=$2-s} END{print t+0}' "$work/calls"; }
first_call() { awk -v t0="$1" '$1=="start"{print $2-t0; exit}' "$work/calls"; }
run_raw() {
  : > "$work/calls"
  local t0; t0=$(now)
  restic -q -r "$work/raw-repo" init >/dev/null
  restic -q -r "$work/raw-repo" backup --host bench --tag module:bench "$data" >/dev/null
  raw+=($(( ($(now) - t0) / 1000 )))
}
run_lifeboat() {
  : > "$work/calls"
  local t0; t0=$(now)
  node "$ROOT/bin/lifeboat" -q --root "$work/root" --state-dir "$work/state" backup bench >/dev/null
  local t1; t1=$(now)
  ours+=($(( (t1 - t0) / 1000 ))); first+=($(( $(first_call "$t0") / 1000 ))); overhead+=($(( (t1 - t0 - $(in_restic)) / 1000 )))
}
raw=(); ours=(); first=(); overhead=()
for r in $(seq 1 "$ROUNDS"); do
  rm -rf "$work/raw-repo" "$work/lb-repo" "$work/state" "$work/cache"
  if (( r % 2 )); then run_raw; run_lifeboat; order="restic first"; else run_lifeboat; run_raw; order="lifeboat first"; fi
  echo "round $r ($order): restic init+backup ${raw[-1]} ms, lifeboat backup ${ours[-1]} ms (first restic call after ${first[-1]} ms, overhead ${overhead[-1]} ms)"
done
join() { local IFS=,; echo "$*"; }
node -e '
const [raw, ours, first, overhead] = process.argv.slice(1).map((s) => s.split(",").map(Number));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ratios = raw.map((r, i) => ours[i] / r);
console.log(`median: restic ${median(raw)} ms, lifeboat ${median(ours)} ms, ratio ${(median(ours) / median(raw)).toFixed(2)}x (target <= 1.10x); median of the per-round ratios ${median(ratios).toFixed(2)}x`);
console.log(`lifeboat overhead (its run minus the time inside restic): median ${median(overhead)} ms = ${(100 * median(overhead) / median(raw)).toFixed(1)} % of restic; first restic call after ${median(first)} ms (median)`);
console.log(`ratio if restic took as long inside Lifeboat as alone (1 + overhead / restic): ${(1 + median(overhead) / median(raw)).toFixed(2)}x`);
' "$(join "${raw[@]}")" "$(join "${ours[@]}")" "$(join "${first[@]}")" "$(join "${overhead[@]}")"
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
