// A script provider's `restore` into a target, safe even when the script ignores LIFEBOAT_TARGET (Clan's
// restore writes into the live folders): it runs in a private mount namespace (`unshare -m`) in which each
// live path is a bind mount of its place under the target, with LIFEBOAT_TARGET=/. Whatever the script
// writes to a live path lands under the target; the live files are never touched.
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync, utimesSync } from 'node:fs';
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

// The argv that runs `file` in a private mount namespace with the redirects mounted.
export function namespaceArgs(file: string, redirects: Redirect[]): string[] {
  const script = 'set -e; n=$1; shift; while [ "$n" -gt 0 ]; do mount --bind "$1" "$2"; shift 2; n=$((n - 1)); done; exec "$@"';
  return ['-m', '--propagation', 'private', '/bin/sh', '-c', script, 'lifeboat-restore', String(redirects.length), ...redirects.flatMap((r) => [r.source, r.live]), file];
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
