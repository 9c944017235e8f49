# Sourced by the bench scripts that back up "2,000 files + 100 MB" with restic (restic-backup.sh,
# restore.sh, manifest.sh).
# make_restic_module WORK REPO: the tree in WORK/data (20 folders of 100 files of 100-4,195 random bytes,
# and one 100 MiB file), the password in WORK/pass, and a root in WORK/root whose module "bench" backs up
# WORK/data into the restic repository WORK/REPO.
make_restic_module() {
  local work=$1 repo=$2 d f
  mkdir -p "$work/data"
  for d in $(seq 1 20); do
    mkdir -p "$work/data/dir$d"
    for f in $(seq 1 100); do head -c $((RANDOM % 4096 + 100)) /dev/urandom > "$work/data/dir$d/file$f"; done
  done
  head -c $((100 * 1024 * 1024)) /dev/urandom > "$work/data/big.bin"
  echo "pass-for-bench" > "$work/pass"
  mkdir -p "$work/root/modules/bench"
  printf 'repositories:\n  local: { provider: restic, url: %s/%s, passwordFile: %s/pass }\n' "$work" "$repo" "$work" > "$work/root/lifeboat.yaml"
  printf 'folders: [%s]\n' "$work/data" > "$work/root/modules/bench/module.yaml"
}

# make_restic_shim WORK RESTIC: WORK/shim/restic runs RESTIC and logs one line per call to WORK/calls,
# "start <µs> <arguments>" and "end <µs> <exit code>" (bash's clock, no fork); put WORK/shim first in PATH.
make_restic_shim() {
  local work=$1 restic=$2
  mkdir -p "$work/shim"
  cat > "$work/shim/restic" <<SHIM
#!/usr/bin/env bash
echo "start \${EPOCHREALTIME/./} \$*" >> "$work/calls"
"$restic" "\$@"; rc=\$?
echo "end \${EPOCHREALTIME/./} \$rc" >> "$work/calls"
exit \$rc
SHIM
  chmod +x "$work/shim/restic"
}
