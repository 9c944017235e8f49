#!/usr/bin/env bash
# Times Debian's /usr/bin/run-parts against `node bin/lifeboat run-parts` on a directory of
# 100 trivial parts. Run from the repo root after building (npx tsc -p tsconfig.json):
#   bash bench/run-parts.sh            # PARTS=100 RUNS=20 by default
# Uses hyperfine (with --export-json) when installed, else a bash loop timed with date +%s%N.
set -euo pipefail

PARTS=${PARTS:-100}
RUNS=${RUNS:-20}
REAL=/usr/bin/run-parts
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIFEBOAT="$ROOT/bin/lifeboat"

[ -x "$REAL" ] || { echo "bench: $REAL not found" >&2; exit 1; }
[ -f "$LIFEBOAT" ] || { echo "bench: $LIFEBOAT not found" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lifeboat-bench-run-parts.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
DIR="$WORK/parts"
mkdir "$DIR"
for i in $(seq -w 1 "$PARTS"); do
  printf '#!/bin/sh\nexit 0\n' >"$DIR/$i-part"
  chmod +x "$DIR/$i-part"
done

CMD_REAL="$REAL $DIR"
CMD_OURS="node $LIFEBOAT run-parts $DIR"

# Sanity: both must agree before timing anything.
if ! diff <($CMD_REAL --test 2>&1) <($CMD_OURS --test 2>&1) >/dev/null; then
  echo "bench: outputs differ, not benchmarking" >&2
  exit 1
fi

echo "run-parts benchmark: $PARTS parts in $DIR, node $(node --version), $(nproc) CPUs"

if command -v hyperfine >/dev/null 2>&1; then
  JSON="$WORK/hyperfine.json"
  hyperfine --warmup 3 --runs "$RUNS" --export-json "$JSON" \
    -n debian-run-parts "$CMD_REAL" -n lifeboat-run-parts "$CMD_OURS" >&2
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
    const ms = (x) => (x * 1000).toFixed(1);
    for (const x of r) console.log(`${x.command.padEnd(20)} mean ${ms(x.mean).padStart(7)} ms  ± ${ms(x.stddev)} ms  (min ${ms(x.min)}, max ${ms(x.max)}, ${x.times.length} runs)`);
    console.log(`ratio lifeboat/run-parts: ${(r[1].mean / r[0].mean).toFixed(2)}x`);
  ' "$JSON"
else
  mean_ms() { # command words...
    local total=0 s e i
    "$@" >/dev/null 2>&1 # warm-up
    for ((i = 0; i < RUNS; i++)); do
      s=$(date +%s%N)
      "$@" >/dev/null 2>&1
      e=$(date +%s%N)
      total=$((total + e - s))
    done
    echo $((total / RUNS / 1000)) # microseconds
  }
  R=$(mean_ms $CMD_REAL)
  L=$(mean_ms $CMD_OURS)
  awk -v r="$R" -v l="$L" -v n="$RUNS" 'BEGIN {
    printf "debian-run-parts     mean %7.1f ms  (%d runs)\n", r / 1000, n
    printf "lifeboat-run-parts   mean %7.1f ms  (%d runs)\n", l / 1000, n
    printf "ratio lifeboat/run-parts: %.2fx\n", l / r
  }'
fi
