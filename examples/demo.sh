#!/usr/bin/env bash
# The main job, for real, in a temporary root: init → plan → backup → damage → restore in place → compare.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
lifeboat() { node "$here/bin/lifeboat" --root "$demo/root" --state-dir "$demo/state" "$@"; }
demo="$(mktemp -d /tmp/lifeboat-demo.XXXXXX)"
trap 'rm -rf "$demo"' EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "lifeboat init: a root with a local repository and an example module"
lifeboat init
data="$demo/state/example/data"
head -c 2000000 /dev/urandom > "$data/photos/large.bin"
printf 'first line\nsecond line\n' > "$data/diary.txt"
ln -s diary.txt "$data/latest"
before="$(cd "$data" && find . -printf '%p %y %m %s\n' | sort; cd "$data" && find . -type f -exec sha256sum {} + | sort)"

step "lifeboat plan example backup"
lifeboat plan example backup

step "lifeboat backup example"
lifeboat backup example

step "lifeboat snapshots"
lifeboat snapshots

step "damage: delete a folder, change a file, add a stray one"
rm -rf "$data/photos"
echo "oops" > "$data/diary.txt"
echo "stray" > "$data/stray.txt"
ls -la "$data"

step "lifeboat restore example (in place; a safety snapshot is taken first)"
lifeboat restore example

step "compare with the state before the damage"
after="$(cd "$data" && find . -printf '%p %y %m %s\n' | sort; cd "$data" && find . -type f -exec sha256sum {} + | sort)"
if [ "$before" = "$after" ]; then
  echo "restored tree is identical: $(cd "$data" && find . -type f | wc -l) files, content, modes and symlinks match"
else
  diff <(echo "$before") <(echo "$after") || true
  echo "MISMATCH after restore" >&2
  exit 1
fi
lifeboat snapshots
