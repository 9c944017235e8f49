// A script provider's `restore` into a target, safe even when the script ignores LIFEBOAT_TARGET (Clan's
// restore writes into the live folders): it runs in a private mount namespace (`unshare -m`) in which every
// writable mount is remounted read-only, then the target, a private TMPDIR, the repository (when local) and
// the repository's `options.writable` folders are bound writable again, and each live path is a bind mount
// of its place under the target, with LIFEBOAT_TARGET=/. Whatever the script writes to a live path lands
// under the target; a write anywhere else (another module's folder, a sibling file) fails with "Read-only
// file system"; the live files are never touched.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { LifeboatError } from '../errors.js';
import { isDirectory } from '../files/file-kind.js';

export interface Redirect {
  // The directory under the target that the script's writes go to.
  source: string;
  // The live directory it is mounted on inside the namespace.
  live: string;
}

// A mount source folder Lifeboat made, with the mtime it gave it (a restored folder gets the snapshot's).
interface CreatedSource {
  top: string;
  leaf: string;
  mtimeMs: number;
}

export interface NamespacePlan {
  redirects: Redirect[];
  sources: CreatedSource[];
  // Folders created as mount points or mount sources; removed again when still empty.
  created: string[];
}

const under = (child: string, parent: string) => child === parent || child.startsWith(parent === '/' ? '/' : `${parent}/`);

// Whether restores can run in a private mount namespace here (root with unshare).
export function canUseNamespace(): boolean {
  return process.getuid?.() === 0 && ['/usr/bin/unshare', '/bin/unshare'].some((file) => existsSync(file));
}

// Which live directories to redirect for FOLDERS: a directory itself, else (a file, or missing) its parent.
export function planRedirects(folders: string[], target: string): NamespacePlan {
  const dirs: string[] = [];
  for (const folder of [...folders].sort((a, b) => a.length - b.length)) {
    const dir = isDirectory(folder) ? folder : path.dirname(folder);
    if (dir === '/') throw new LifeboatError('PROVIDER', `cannot restore ${folder} safely: its folder is /; give it a folder of its own`);
    if (!dirs.some((done) => under(dir, done))) dirs.push(dir);
  }
  const created: string[] = [];
  for (const dir of dirs) {
    let top: string | undefined;
    for (let at = dir; !existsSync(at); at = path.dirname(at)) top = at;
    if (top) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      created.push(top);
    }
  }
  const redirects = dirs.map((live) => ({ live, source: path.join(target, live) }));
  const sources: CreatedSource[] = [];
  for (const redirect of redirects) {
    // Removed again afterwards when the script did not touch it: an untouched empty folder is not a restore.
    let top: string | undefined;
    for (let at = redirect.source; at !== target && !existsSync(at); at = path.dirname(at)) top = at;
    mkdirSync(redirect.source, { recursive: true, mode: 0o700 });
    if (top) {
      const old = new Date(Date.now() - 86_400_000 * 365 * 30);
      utimesSync(redirect.source, old, old);
      sources.push({ top, leaf: redirect.source, mtimeMs: statSync(redirect.source).mtimeMs });
    }
  }
  // A mount must come after the mounts whose sources lie inside its live directory (sources resolve at mount time).
  redirects.sort((a, b) => Number(redirects.some((r) => r !== a && under(r.source, a.live))) - Number(redirects.some((r) => r !== b && under(r.source, b.live))));
  return { redirects, created, sources };
}

// A mount the namespace makes read-only: its mount point and the flags it keeps (nosuid, nodev, noexec).
export interface ReadOnlyMount {
  point: string;
  keep: string;
}

// The writable mounts of this mount namespace (from /proc/self/mounts), but not the kernel's /proc, /sys
// and /dev (a script needs /dev/null and /proc; no module's files live there).
export function writableMounts(mounts = readFileSync('/proc/self/mounts', 'utf8')): ReadOnlyMount[] {
  const out: ReadOnlyMount[] = [];
  for (const line of mounts.split('\n')) {
    const [, rawPoint, , rawOptions] = line.split(' ');
    if (!rawPoint || !rawOptions) continue;
    const point = rawPoint.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8)));
    const options = rawOptions.split(',');
    if (options.includes('ro') || ['/proc', '/sys', '/dev'].some((kernel) => under(point, kernel))) continue;
    if (out.some((mount) => mount.point === point)) continue;
    out.push({ point, keep: options.filter((option) => ['nosuid', 'nodev', 'noexec'].includes(option)).join(',') });
  }
  return out;
}

// The argv that runs `file` in a private mount namespace: every mount in `readOnly` read-only, the
// `writable` folders bound writable again, then the redirects mounted.
export function namespaceArgs(file: string, redirects: Redirect[], readOnly: ReadOnlyMount[] = [], writable: string[] = []): string[] {
  const script = [
    'set -e',
    // a mount point hidden by a later mount no longer exists here: nothing to do for it; one unmounted
    // since the list was read (podman's overlays come and go) is no mount any more: its folder is the
    // parent mount's, read-only already. A remount that fails on a mount still there fails the restore.
    'n=$1; shift; while [ "$n" -gt 0 ]; do if [ -e "$2" ] && ! mount -o "remount,bind,ro${1:+,$1}" "$2"; then if mountpoint -q "$2"; then exit 1; fi; fi; shift 2; n=$((n - 1)); done',
    'n=$1; shift; while [ "$n" -gt 0 ]; do mount --bind "$1" "$1"; mount -o remount,bind,rw "$1"; shift; n=$((n - 1)); done',
    'n=$1; shift; while [ "$n" -gt 0 ]; do mount --bind "$1" "$2"; shift 2; n=$((n - 1)); done',
    'exec "$@"',
  ].join('\n');
  return [
    '-m', '--propagation', 'private', '/bin/sh', '-c', script, 'lifeboat-restore',
    String(readOnly.length), ...readOnly.flatMap((mount) => [mount.keep, mount.point]),
    String(writable.length), ...writable,
    String(redirects.length), ...redirects.flatMap((r) => [r.source, r.live]),
    file,
  ];
}

// Removes the mount points created for the namespace when nothing was put in them, and the mount sources
// the script left untouched (empty, with the mtime Lifeboat gave them).
export function removeCreated(plan: NamespacePlan): void {
  for (const top of plan.created) removeEmpty(top);
  for (const source of plan.sources) {
    try {
      const stats = statSync(source.leaf);
      if (stats.mtimeMs === source.mtimeMs && readdirSync(source.leaf).length === 0) removeEmpty(source.top);
    } catch {
      // gone already
    }
  }
}

// rmdir of a directory tree that holds only empty directories; anything else stays.
function removeEmpty(dir: string): void {
  try {
    for (const name of readdirSync(dir)) removeEmpty(path.join(dir, name));
    rmdirSync(dir);
  } catch {
    // not empty, or not a directory: leave it
  }
}
