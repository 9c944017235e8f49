#!/usr/bin/env bash
# Encrypted tar archives: `lifeboat backup` and `lifeboat restore --target` of a module holding SIZE_MB of
# random data into a local tar repository, plaintext, with a passphrase and with an age recipient.
# Prints wall time, user CPU and peak RSS (from /usr/bin/time -v; target <= 150 MB for 1 GiB) and checks
# the restored file byte for byte.
# Run from the repo root after `npm ci` and a build:  bash bench/tar-age.sh   (SIZE_MB=1024 by default)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE_MB=${SIZE_MB:-1024}
for tool in /usr/bin/time age-keygen; do command -v "$tool" >/dev/null || { echo "bench: $tool is needed (apt-get install time age)" >&2; exit 1; }; done
work=$(mktemp -d /tmp/lifeboat-bench-age.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data"
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > "$work/data/big.bin"
echo "a passphrase for the benchmark" > "$work/pass"
recipient=$(age-keygen -o "$work/age.key" 2>&1 | sed -n 's/^Public key: //p')
declare -A keys=([plaintext]="" [passphrase]=", passwordFile: $work/pass" [recipients]=", recipients: [$recipient], identityFile: $work/age.key")
echo "$SIZE_MB MiB of random data; $(nproc) cores; $(uptime)"
for kind in plaintext passphrase recipients; do
  root="$work/root-$kind"
  mkdir -p "$root/modules/big"
  printf 'repositories:\n  t: { provider: tar, url: %s%s }\n' "$work/repo-$kind" "${keys[$kind]}" > "$root/lifeboat.yaml"
  printf 'folders: [%s/data]\n' "$work" > "$root/modules/big/module.yaml"
  chmod 600 "$root/lifeboat.yaml" "$root/modules/big/module.yaml"
  for action in backup restore; do
    args=(backup big); [ "$action" = restore ] && args=(restore big --target "$work/target")
    start=$(date +%s%N)
    /usr/bin/time -v -o "$work/time.txt" node "$ROOT/bin/lifeboat" -q --root "$root" --state-dir "$work/state-$kind" "${args[@]}" >/dev/null
    end=$(date +%s%N)
    printf '%-10s %-7s %7d ms  user %6s s  peak RSS %4d MB\n' "$kind" "$action" $(( (end - start) / 1000000 )) \
      "$(awk -F': ' '/User time/ {print $2}' "$work/time.txt")" $(( $(awk -F': ' '/Maximum resident/ {print $2}' "$work/time.txt") / 1000 ))
  done
  cmp "$work/data/big.bin" "$work/target$work/data/big.bin"
  rm -rf "$work/target"
done
