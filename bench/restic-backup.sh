#!/usr/bin/env bash
# First backup of a module of 2,000 files + 100 MB: `lifeboat backup` against a raw `restic backup` of the
# same folder, each into a fresh repository, interleaved round by round in one run; prints the ratio.
# Run from the repo root after `npm run build`:  bash bench/restic-backup.sh   (ROUNDS=5 by default)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-5}
command -v restic >/dev/null || { echo "bench: restic is needed" >&2; exit 1; }
work=$(mktemp -d /tmp/lifeboat-bench-restic.XXXXXX)
trap 'rm -rf "$work"' EXIT
data="$work/data"
mkdir -p "$data"
for d in $(seq 1 20); do
  mkdir -p "$data/dir$d"
  for f in $(seq 1 100); do head -c $((RANDOM % 4096 + 100)) /dev/urandom > "$data/dir$d/file$f"; done
done
head -c $((100 * 1024 * 1024)) /dev/urandom > "$data/big.bin"
echo "pass-for-bench" > "$work/pass"
mkdir -p "$work/root/modules/bench"
printf 'repositories:\n  local: { provider: restic, url: %s/lb-repo, passwordFile: %s/pass }\n' "$work" "$work" > "$work/root/lifeboat.yaml"
printf 'folders: [%s]\n' "$data" > "$work/root/modules/bench/module.yaml"
export RESTIC_PASSWORD_FILE="$work/pass" RESTIC_CACHE_DIR="$work/cache"
files=$(find "$data" -type f | wc -l); size=$(du -sm "$data" | cut -f1)
echo "data: $files files, ${size} MB; $ROUNDS rounds, fresh repositories each time"

now() { date +%s%N; }
raw=(); ours=()
for r in $(seq 1 "$ROUNDS"); do
  rm -rf "$work/raw-repo" "$work/lb-repo" "$work/state" "$work/cache"
  t0=$(now)
  restic -q -r "$work/raw-repo" init >/dev/null
  restic -q -r "$work/raw-repo" backup --host bench --tag module:bench "$data" >/dev/null
  t1=$(now)
  node "$ROOT/bin/lifeboat" -q --root "$work/root" --state-dir "$work/state" backup bench >/dev/null
  t2=$(now)
  raw+=($(( (t1 - t0) / 1000000 ))); ours+=($(( (t2 - t1) / 1000000 )))
  echo "round $r: restic init+backup ${raw[-1]} ms, lifeboat backup ${ours[-1]} ms"
done
node -e '
const [raw, ours] = process.argv.slice(1).map((s) => s.split(",").map(Number).sort((a, b) => a - b));
const median = (xs) => xs[Math.floor(xs.length / 2)];
console.log(`median: restic ${median(raw)} ms, lifeboat ${median(ours)} ms, ratio ${(median(ours) / median(raw)).toFixed(2)}x (target <= 1.10x)`);
' "$(IFS=,; echo "${raw[*]}")" "$(IFS=,; echo "${ours[*]}")"
