#!/usr/bin/env bash
# Times Debian's /usr/bin/run-parts against `node bin/lifeboat run-parts` on a directory of 100 trivial
# parts, side by side: each round runs both, the order alternating from round to round, so load that
# comes and goes hits both alike. Prints each side's median and the ratio of the medians. Run from the
# repo root after building (npm run build):
#   bash bench/run-parts.sh                    # PARTS=100 ROUNDS=30 by default
#   BEFORE=/path/to/other/checkout bash bench/run-parts.sh   # a third column: another build's Lifeboat
set -euo pipefail

PARTS=${PARTS:-100}
ROUNDS=${ROUNDS:-30}
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

NAMES=(debian-run-parts lifeboat-run-parts)
CMDS=("$REAL $DIR" "node $LIFEBOAT run-parts $DIR")
if [ -n "${BEFORE:-}" ]; then
  NAMES+=(lifeboat-before)
  CMDS+=("node $BEFORE/bin/lifeboat run-parts $DIR")
fi

# Sanity: all must agree before timing anything.
for ((c = 1; c < ${#CMDS[@]}; c++)); do
  if ! diff <(${CMDS[0]} --test 2>&1) <(${CMDS[$c]} --test 2>&1) >/dev/null; then
    echo "bench: outputs of ${NAMES[$c]} differ, not benchmarking" >&2
    exit 1
  fi
done

echo "run-parts benchmark: $PARTS parts, $ROUNDS rounds (order alternating), node $(node --version), $(nproc) CPUs"
echo "load at start: $(uptime)"
for cmd in "${CMDS[@]}"; do $cmd >/dev/null 2>&1; done # warm-up
for ((r = 0; r < ROUNDS; r++)); do
  order=$(seq 0 $((${#CMDS[@]} - 1)))
  ((r % 2)) && order=$(echo "$order" | tac)
  for c in $order; do
    s=$(date +%s%N)
    ${CMDS[$c]} >/dev/null 2>&1
    e=$(date +%s%N)
    echo $(((e - s) / 1000)) >>"$WORK/times.$c"
  done
done
echo "load at end:   $(uptime)"
median() { sort -n "$1" | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
BASE=$(median "$WORK/times.0")
for ((c = 0; c < ${#CMDS[@]}; c++)); do
  m=$(median "$WORK/times.$c")
  awk -v n="${NAMES[$c]}" -v m="$m" -v b="$BASE" -v r="$ROUNDS" 'BEGIN { printf "%-20s median %7.1f ms  (%d rounds)  ratio to run-parts %.2fx\n", n, m / 1000, r, m / b }'
done
