// A Clan-shaped script provider's `list` (names only: no time, no module) and `restore` (tar -x of exactly
// the FOLDERS the snapshot holds, into / — it ignores LIFEBOAT_TARGET, as Clan's does), written by us to
// Clan's contract. Each test writes its own `create` beside them (plugins/clanbk/).
export const CLAN_LIST = `#!/bin/sh
set -eu
printf '['; sep=''
for file in "$LIFEBOAT_REPOSITORY_URL"/*.tar; do
  [ -e "$file" ] || continue
  printf '%s{"name":"%s"}' "$sep" "$(basename "$file" .tar)"; sep=','
done
printf ']\\n'
`;

export const CLAN_RESTORE = `#!/bin/bash
set -eu
IFS=: read -ra F <<< "$FOLDERS"
tar -C / -xf "$LIFEBOAT_REPOSITORY_URL/$NAME.tar" "\${F[@]/#\\//}"
`;
