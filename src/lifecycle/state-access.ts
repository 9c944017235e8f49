// Parts write dumps into the module's state dir as root, and Clan-style steps read them back as another
// user (`runuser -u postgres -- pg_restore "$LIFEBOAT_STATE_DIR/db.dump"`). So the state dir and the
// folders above it, up to Lifeboat's own state dir, may be passed through by others (0711: o+x, never
// o+r: nobody else can list them); what Lifeboat keeps there stays private by its own modes (files 0600,
// folders 0700), and the state dir's `environment`, whose name everyone knows, is kept 0600.
import { chmodSync, lstatSync } from 'node:fs';
import path from 'node:path';

// Adds search permission for group and others to the module's state dir and its parents up to stateRoot
// (folders Lifeboat owns only); makes a group- or other-readable `environment` there 0600.
export function openStateDirForParts(stateRoot: string, moduleStateDir: string): void {
  const root = path.resolve(stateRoot);
  let dir = path.resolve(moduleStateDir);
  if (dir !== root && !dir.startsWith(`${root}${path.sep}`)) return;
  for (;;) {
    addSearch(dir);
    if (dir === root) break;
    dir = path.dirname(dir);
  }
  const env = path.join(moduleStateDir, 'environment');
  try {
    const stats = lstatSync(env);
    if (stats.isFile() && stats.uid === process.getuid?.() && (stats.mode & 0o077) !== 0) chmodSync(env, 0o600);
  } catch {
    // no environment file
  }
}

function addSearch(dir: string): void {
  try {
    const stats = lstatSync(dir);
    if (!stats.isDirectory() || stats.uid !== process.getuid?.() || (stats.mode & 0o011) === 0o011) return;
    chmodSync(dir, (stats.mode & 0o7777) | 0o011);
  } catch {
    // created later, or not ours to change
  }
}
