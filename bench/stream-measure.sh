# Shared by the streamed-dump benchmarks (bench/pg-stream.sh, bench/db-stream.sh): sourced, needs $WORK.
# Runs a command in the background under /usr/bin/time; samples the peak RSS of the command's own process
# (VmHWM), its own CPU time (utime + stime, children not counted) and the bytes under a folder while it
# runs. Sets SECONDS_TAKEN, CPU_TOTAL (user + system of the whole tree: the command and every process it
# waited for), CPU_OWN, PEAK_RSS_KB, PEAK_STAGED.
measure() {
  local watch=$1; shift
  local start end pid child rss staged stat
  PEAK_RSS_KB=0 PEAK_STAGED=0 CPU_OWN=0
  sync
  start=$(date +%s.%N)
  /usr/bin/time -f '%U %S' -o "$WORK/time.out" "$@" >"$WORK/out.log" 2>&1 &
  pid=$! child=""
  while kill -0 "$pid" 2>/dev/null; do
    [ -z "$child" ] && child=$(pgrep -P "$pid" | head -1 || true)
    if [ -n "$child" ]; then
      rss=$(awk '/^VmHWM/ {print $2}' "/proc/$child/status" 2>/dev/null || true)
      [ -n "$rss" ] && [ "$rss" -gt "$PEAK_RSS_KB" ] && PEAK_RSS_KB=$rss
      stat=$(awk '{print $14 + $15}' "/proc/$child/stat" 2>/dev/null || true)
      [ -n "$stat" ] && CPU_OWN=$stat
    fi
    staged=$(du -sb "$watch" 2>/dev/null | cut -f1 || echo 0)
    [ -n "$staged" ] && [ "$staged" -gt "$PEAK_STAGED" ] && PEAK_STAGED=$staged
    sleep 0.2
  done
  if ! wait "$pid"; then echo "bench: failed: $*" >&2; cat "$WORK/out.log" >&2; exit 1; fi
  end=$(date +%s.%N)
  SECONDS_TAKEN=$(echo "$end - $start" | bc)
  CPU_TOTAL=$(awk '{print $1 + $2}' "$WORK/time.out")
  CPU_OWN=$(echo "scale=2; $CPU_OWN / $(getconf CLK_TCK)" | bc)
}
