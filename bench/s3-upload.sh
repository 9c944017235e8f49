#!/usr/bin/env bash
# Uploading a 1 GiB archive to S3: `lifeboat s3 put` (the tar provider's uploader: streaming multipart,
# Content-MD5 per part, verified after) against `aws s3 cp` (Debian's awscli) of the same file to the same
# server (s3rver over HTTPS on 127.0.0.1, started here), interleaved round by round in one run; then a
# `lifeboat backup` of a module holding that file into a tar repository with upload: only (tar stream ->
# S3, nothing on local disk). Prints each time, the ratio (target <= 1.0x) and Lifeboat's peak RSS
# (target <= 150 MB, from /usr/bin/time -v).
# Run from the repo root after `npm ci`:  bash bench/s3-upload.sh   (ROUNDS=5, SIZE_MB=1024 by default)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-5}
SIZE_MB=${SIZE_MB:-1024}
AWS=$(command -v /usr/bin/aws || command -v aws || true)
for tool in openssl /usr/bin/time "$AWS"; do
  [ -n "$tool" ] && command -v "$tool" >/dev/null || { echo "bench: ${tool:-aws} is needed (apt-get install awscli openssl time)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/lifeboat-bench-s3.XXXXXX)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# A CA and a server certificate for 127.0.0.1, then s3rver with one bucket.
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$work/ca.key" -out "$work/ca.pem" -days 2 -subj /CN=bench-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req "${ec[@]}" -keyout "$work/key.pem" -out "$work/server.csr" -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$work/ext.cnf"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
  -out "$work/cert.pem" -days 2 -extfile "$work/ext.cnf" 2>/dev/null
mkdir -p "$work/s3"
config=$(printf '{"directory":"%s/s3","port":0,"key":"%s/key.pem","cert":"%s/cert.pem","buckets":["bench"],"accessKeyId":"BENCHKEY","secretAccessKey":"bench-secret-key"}' "$work" "$work" "$work")
node "$ROOT/test/helpers/s3-server.mjs" "$config" > "$work/server.out" &
server_pid=$!
for _ in $(seq 1 100); do grep -q port "$work/server.out" 2>/dev/null && break; sleep 0.1; done
port=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).port)' "$work/server.out")
export AWS_ACCESS_KEY_ID=BENCHKEY AWS_SECRET_ACCESS_KEY=bench-secret-key AWS_CA_BUNDLE="$work/ca.pem"
# (awscli 2.9 ignores AWS_ENDPOINT_URL: it gets --endpoint-url; Lifeboat reads the variable)
export AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL="https://127.0.0.1:$port" AWS_PAGER=
unset AWS_PROFILE

head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > "$work/archive.tar"
mkdir -p "$work/root/modules/bench" "$work/data"
ln "$work/archive.tar" "$work/data/archive.tar"
cat > "$work/root/lifeboat.yaml" <<EOF
repositories:
  offsite: { provider: tar, upload: "s3://bench/backups", encryption: none, compression: none, endpoint: "https://127.0.0.1:$port", cacert: "$work/ca.pem" }
EOF
printf 'folders: [%s/data]\n' "$work" > "$work/root/modules/bench/module.yaml"
echo "file: $SIZE_MB MiB of random data; server: s3rver $(node -p 'require("'"$ROOT"'/node_modules/s3rver/package.json").version') on https://127.0.0.1:$port; $("$AWS" --version 2>&1 | cut -d' ' -f1); $ROUNDS rounds"

now() { date +%s%N; }
# Runs a command under /usr/bin/time -v; prints "<ms> <peak RSS KiB>".
measure() {
  local t0 t1
  t0=$(now)
  /usr/bin/time -v -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || { cat "$work/stderr.txt" "$work/time.txt" >&2; exit 1; }
  t1=$(now)
  echo "$(( (t1 - t0) / 1000000 )) $(awk -F': ' '/Maximum resident/ {print $2}' "$work/time.txt")"
}
# Removes what the previous round stored, so every upload starts alike.
# `sync` flushes the previous upload's writes, so no run pays for the one before it.
reset() { "$AWS" --endpoint-url "$AWS_ENDPOINT_URL" s3 rm --only-show-errors --recursive s3://bench/; rm -rf "$work/s3/bench/._S3rver_uploads"; sync; }

peer=(); ours=(); rss=(); backup=(); backup_rss=()
run_peer() {
  reset
  read -r ms _ < <(measure "$AWS" --endpoint-url "$AWS_ENDPOINT_URL" s3 cp --only-show-errors "$work/archive.tar" s3://bench/aws/archive.tar)
  peer+=("$ms")
}
run_ours() {
  reset
  read -r ms kb < <(measure node "$ROOT/bin/lifeboat" -q s3 put "$work/archive.tar" s3://bench/lifeboat/archive.tar)
  ours+=("$ms"); rss+=("$kb")
}
for r in $(seq 1 "$ROUNDS"); do
  # alternate who goes first, so a drift in the machine's load hits both alike
  if (( r % 2 )); then run_peer; run_ours; else run_ours; run_peer; fi
  kb=${rss[-1]}
  reset
  read -r ms2 kb2 < <(measure node "$ROOT/bin/lifeboat" -q --root "$work/root" --state-dir "$work/state" backup bench)
  backup+=("$ms2"); backup_rss+=("$kb2")
  echo "round $r: aws s3 cp ${peer[-1]} ms | lifeboat s3 put ${ours[-1]} ms, peak RSS $((kb / 1024)) MB | lifeboat backup (tar -> S3) ${ms2} ms, peak RSS $((kb2 / 1024)) MB"
done
node -e '
const [peer, ours, rss, backup, brss] = process.argv.slice(1).map((s) => s.split(",").map(Number).sort((a, b) => a - b));
const median = (xs) => xs[Math.floor(xs.length / 2)];
const mb = (kb) => Math.round(kb / 1024);
console.log(`median: aws s3 cp ${median(peer)} ms, lifeboat s3 put ${median(ours)} ms, ratio ${(median(ours) / median(peer)).toFixed(2)}x (target <= 1.0x); best of each: ${peer[0]} vs ${ours[0]} ms, ${(ours[0] / peer[0]).toFixed(2)}x; peak RSS max ${mb(rss.at(-1))} MB (target <= 150 MB)`);
console.log(`median: lifeboat backup to S3 ${median(backup)} ms, ratio to aws s3 cp ${(median(backup) / median(peer)).toFixed(2)}x; peak RSS max ${mb(brss.at(-1))} MB`);
' "$(IFS=,; echo "${peer[*]}")" "$(IFS=,; echo "${ours[*]}")" "$(IFS=,; echo "${rss[*]}")" "$(IFS=,; echo "${backup[*]}")" "$(IFS=,; echo "${backup_rss[*]}")"
