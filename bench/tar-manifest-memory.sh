#!/usr/bin/env bash
# Memory and time of a first tar backup of many small files (200,000 by default): `lifeboat backup` into a
# local tar repository (zstd) against GNU tar of the same tree (`tar --zstd -cf`), side by side round by
# round (which goes first alternates), each into a fresh output. Prints per round and as medians the wall
# time and the peak RSS of each (GNU time's "Maximum resident set size": the largest process of each run,
# node for Lifeboat, tar or its zstd for GNU tar) and the ratios. BEFORE=/path/to/bin/lifeboat adds a third
# run per round with another build (e.g. one from before the file list was streamed), same settings.
# Not for CI: making the tree takes a minute or more. Run from the repo root after `npm run build`:
#   bash bench/tar-manifest-memory.sh          (FILES=200000 ROUNDS=3 by default)
# TREE=/some/dir keeps the generated tree there (reused when it already has FILES files).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FILES=${FILES:-200000}
ROUNDS=${ROUNDS:-3}
BEFORE=${BEFORE:-}
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time (Debian package time) is needed" >&2; exit 1; }
command -v zstd >/dev/null || { echo "bench: zstd is needed" >&2; exit 1; }
work=$(mktemp -d /tmp/lifeboat-bench-tar.XXXXXX)
trap 'rm -rf "$work"' EXIT
data=${TREE:-$work/data}
load() { cut -d' ' -f1-3 /proc/loadavg; }

# The tree: 1,000 files per folder, 20-300 bytes each, content unique per file (as bench/manifest-memory.sh).
source "$ROOT/bench/small-files.sh"
make_small_files "$data" "$FILES"
mkdir -p "$work/root/modules/bench"
printf 'repositories:\n  local: { provider: tar, url: %s/repo, compression: zstd }\n' "$work" > "$work/root/lifeboat.yaml"
printf 'folders: [%s]\n' "$data" > "$work/root/modules/bench/module.yaml"

# Runs a command under GNU time; sets ms and kib (wall and peak RSS).
measure() {
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null
  read -r secs kib < "$work/time"
  ms=$(awk -v s="$secs" 'BEGIN{printf "%d", s*1000}')
}
run_tar() { rm -f "$work/out.tar.zst"; sync; measure tar --zstd -cf "$work/out.tar.zst" -C / "${data#/}"; tar_ms+=("$ms"); tar_kib+=("$kib"); }
run_lb() {
  local bin=$1
  rm -rf "$work/repo" "$work/state"; sync
  measure node "$bin" -q --root "$work/root" --state-dir "$work/state" backup bench
}
run_ours() { run_lb "$ROOT/bin/lifeboat"; lb_ms+=("$ms"); lb_kib+=("$kib"); list_bytes=$(stat -c %s "$work"/repo/bench/*.files.ndjson.gz 2>/dev/null || echo 0); }
run_before() { run_lb "$BEFORE"; before_ms+=("$ms"); before_kib+=("$kib"); }

echo "tree: $(find "$data" -type f | wc -l) files, $(du -sm "$data" | cut -f1) MB; $(nproc) cores; load $(load); $(uptime)"
tar_ms=(); tar_kib=(); lb_ms=(); lb_kib=(); before_ms=(); before_kib=()
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then run_tar; run_ours; [ -z "$BEFORE" ] || run_before; order="tar first"; else [ -z "$BEFORE" ] || run_before; run_ours; run_tar; order="lifeboat first"; fi
  line="round $r ($order, load $(load)): GNU tar ${tar_ms[-1]} ms, peak $(( tar_kib[-1] / 1024 )) MB | lifeboat ${lb_ms[-1]} ms, peak $(( lb_kib[-1] / 1024 )) MB (file list ${list_bytes} bytes)"
  [ -z "$BEFORE" ] || line+=" | before ${before_ms[-1]} ms, peak $(( before_kib[-1] / 1024 )) MB"
  echo "$line"
done
join() { local IFS=,; echo "$*"; }
node -e '
const [tarMs, tarKib, lbMs, lbKib, beforeMs, beforeKib] = process.argv.slice(1).map((s) => (s ? s.split(",").map(Number) : []));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (kib) => `${(kib / 1024).toFixed(0)} MB`;
console.log(`median of ${tarMs.length}: GNU tar ${median(tarMs)} ms, peak ${mb(median(tarKib))} | lifeboat ${median(lbMs)} ms (${(median(lbMs) / median(tarMs)).toFixed(2)}x), peak ${mb(median(lbKib))} (max ${mb(Math.max(...lbKib))}; ${(median(lbKib) / median(tarKib)).toFixed(1)}x of GNU tar)`);
if (beforeMs.length) console.log(`before: ${median(beforeMs)} ms (${(median(beforeMs) / median(tarMs)).toFixed(2)}x), peak ${mb(median(beforeKib))} (max ${mb(Math.max(...beforeKib))}); peak now/before ${(median(lbKib) / median(beforeKib)).toFixed(2)}x`);
' "$(join "${tar_ms[@]}")" "$(join "${tar_kib[@]}")" "$(join "${lb_ms[@]}")" "$(join "${lb_kib[@]}")" "$(join "${before_ms[@]}")" "$(join "${before_kib[@]}")"
echo "load at the end: $(load); $(uptime)"
