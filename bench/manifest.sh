#!/usr/bin/env bash
# What the backup manifest (hashed in a worker while restic runs) costs a first backup of 2,000 files +
# 100 MB: raw `restic backup`, `lifeboat backup`, and `lifeboat backup` with LIFEBOAT_MANIFEST=0, each into
# a fresh repository, interleaved round by round in one run; then one unchanged re-backup (hash cache).
# Run from the repo root after `npm run build`:  bash bench/manifest.sh   (ROUNDS=5 by default)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-5}
command -v restic >/dev/null || { echo "bench: restic is needed" >&2; exit 1; }
work=$(mktemp -d /tmp/lifeboat-bench-manifest.XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$ROOT/bench/restic-module.sh"
make_restic_module "$work" lb-repo
data="$work/data"
export RESTIC_PASSWORD_FILE="$work/pass" RESTIC_CACHE_DIR="$work/cache"
lifeboat() { node "$ROOT/bin/lifeboat" -q --root "$work/root" --state-dir "$work/state" "$@" >/dev/null; }
now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
echo "data: $(find "$data" -type f | wc -l) files, $(du -sm "$data" | cut -f1) MB; $ROUNDS rounds; $(nproc) cores"
raw=(); with=(); without=()
for r in $(seq 1 "$ROUNDS"); do
  rm -rf "$work/raw-repo" "$work/lb-repo" "$work/state" "$work/cache"
  t0=$(now); restic -q -r "$work/raw-repo" init >/dev/null; restic -q -r "$work/raw-repo" backup --host bench "$data" >/dev/null; t1=$(now)
  lifeboat backup bench; t2=$(now)
  rm -rf "$work/lb-repo" "$work/state" "$work/cache"
  t3=$(now); LIFEBOAT_MANIFEST=0 lifeboat backup bench; t4=$(now)
  raw+=($(ms "$t0" "$t1")); with+=($(ms "$t1" "$t2")); without+=($(ms "$t3" "$t4"))
  echo "round $r: restic ${raw[-1]} ms, lifeboat ${with[-1]} ms, lifeboat without manifest ${without[-1]} ms"
done
t5=$(now); lifeboat backup bench; t6=$(now); LIFEBOAT_MANIFEST=0 lifeboat backup bench; t7=$(now)
echo "unchanged re-backup: with manifest $(ms "$t5" "$t6") ms, without $(ms "$t6" "$t7") ms"
node -e '
const [raw, withM, without] = process.argv.slice(1).map((s) => s.split(",").map(Number).sort((a, b) => a - b));
const median = (xs) => xs[Math.floor(xs.length / 2)];
console.log(`median: restic ${median(raw)} ms, lifeboat ${median(withM)} ms (${(median(withM) / median(raw)).toFixed(2)}x), without manifest ${median(without)} ms (${(median(without) / median(raw)).toFixed(2)}x); manifest cost ${((median(withM) / median(without) - 1) * 100).toFixed(1)}%`);
' "$(IFS=,; echo "${raw[*]}")" "$(IFS=,; echo "${with[*]}")" "$(IFS=,; echo "${without[*]}")"
