#!/usr/bin/env bash
# Cold start: `lifeboat --version` against `node -e 0`, side by side with hyperfine; prints the ratio.
# Run from the repo root after `npm run build`:  bash bench/cold-start.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-30}
command -v hyperfine >/dev/null || { echo "bench: hyperfine is needed (apt-get install hyperfine)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$out" 'node -e 0' "node $ROOT/bin/lifeboat --version" "node $ROOT/bin/lifeboat plan --help" >/dev/null
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results;
const ms = (x) => (x.mean * 1000).toFixed(1);
console.log(`node -e 0                 ${ms(r[0])} ms`);
console.log(`lifeboat --version        ${ms(r[1])} ms   ratio ${(r[1].mean / r[0].mean).toFixed(2)}x (target <= 1.5x)`);
console.log(`lifeboat plan --help      ${ms(r[2])} ms   ratio ${(r[2].mean / r[0].mean).toFixed(2)}x (loads commander)`);
' "$out"
