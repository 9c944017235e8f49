// Safe extraction for the tar provider. Refused, as errors naming the entry (tar-slip):
//  - entries whose path climbs out of the target (`..`),
//  - hard links to anything but a file extracted earlier in this run,
//  - relative symlinks whose target resolves outside the target,
//  - entries that would be written through a symlink this archive created.
// Absolute symlink targets (/var/lib/app/current -> /var/lib/app/releases/3) are restored as recorded:
// they are data, and extraction never follows them.
import { chmod, chown, lchown, link, lstat, lutimes, mkdir, rm, symlink, utimes } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Extract, Header } from 'tar-stream';
import { LifeboatError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import type { ManifestEntry } from './pack.js';
import { HashTap } from './streams.js';

export interface ExtractOptions {
  target: string;
  // Absolute snapshot paths to restore (with everything below them); all when omitted.
  include?: string[];
  // The archive's manifest by path: modes, and sha256s every file is verified against.
  manifest?: Map<string, ManifestEntry>;
  log: Logger;
  // Names the archive in messages.
  where: string;
  signal?: AbortSignal;
}

type PaxHeaders = Omit<Header, 'pax'> & { pax?: Record<string, string> | null };

// An entry name as a clean relative path; refuses names that climb out of the target.
export function safeName(raw: string, where: string): string {
  const parts = raw.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..') || parts.length === 0) {
    throw new LifeboatError('PROVIDER', `${where}: refusing entry "${raw}": its path leaves the restore target`, { hint: 'the archive was not made by Lifeboat or was tampered with' });
  }
  return parts.join('/');
}

// True when a path is the directory or lies below it.
function within(child: string, dir: string): boolean {
  return child === dir || child.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

// For hard-link groups whose first member is outside `include`: the first included member takes its place.
function planRedirects(manifest: Map<string, ManifestEntry> | undefined, included: (p: string) => boolean): Map<string, string> {
  const redirects = new Map<string, string>();
  for (const entry of manifest?.values() ?? []) {
    if (entry.type === 'link' && entry.target && included(entry.path) && !included(entry.target) && !redirects.has(entry.target)) {
      redirects.set(entry.target, entry.path);
    }
  }
  return redirects;
}

// Extracts every entry into options.target, then applies directory modes and times deepest first.
export async function extractEntries(extract: Extract, options: ExtractOptions): Promise<number> {
  const target = path.resolve(options.target);
  const asRoot = process.getuid?.() === 0;
  const included = (p: string) => !options.include || options.include.some((dir) => within(p, dir));
  const redirects = planRedirects(options.manifest, included);
  const written = new Map<string, string>();
  const createdSymlinks = new Set<string>();
  const madeDirs = new Set<string>([target]);
  const dirs: Array<{ dest: string; header: PaxHeaders; mode: number }> = [];
  let count = 0;
  const refuse = (raw: string, why: string) => new LifeboatError('PROVIDER', `${options.where}: refusing entry "${raw}": ${why}`, { hint: 'the archive was not made by Lifeboat or was tampered with' });

  // Creates the parent directories of dest, refusing to pass through a symlink from this archive.
  async function prepare(dest: string, raw: string): Promise<void> {
    for (let dir = path.dirname(dest); dir !== target && within(dir, target); dir = path.dirname(dir)) {
      if (createdSymlinks.has(dir)) throw refuse(raw, `it would be written through the symlink ${dir}`);
    }
    const parent = path.dirname(dest);
    if (!madeDirs.has(parent)) {
      await mkdir(parent, { recursive: true });
      madeDirs.add(parent);
    }
    const existing = await lstat(dest).catch(() => undefined);
    if (existing?.isDirectory()) throw refuse(raw, `a directory already exists at ${dest}`);
    if (existing) await rm(dest);
    createdSymlinks.delete(dest);
  }

  // The archive path a hard link points to; refused when it leaves the target.
  function linkedFile(linkname: string | undefined, raw: string): string {
    const parts = (linkname ?? '').split('/').filter((part) => part !== '' && part !== '.');
    if (parts.length === 0 || parts.includes('..')) throw refuse(raw, `its hard link target "${linkname}" leaves the restore target`);
    return `/${parts.join('/')}`;
  }

  for await (const entry of extract) {
    options.signal?.throwIfAborted();
    const header = entry.header as PaxHeaders;
    const raw = header.name;
    const absolute = `/${safeName(raw, options.where)}`;
    const redirect = header.type === 'file' ? redirects.get(absolute) : undefined;
    const destAbsolute = included(absolute) ? absolute : redirect;
    const linkSource = header.type === 'link' ? linkedFile(header.linkname, raw) : undefined;
    if (!destAbsolute || (linkSource && written.get(linkSource) === path.join(target, absolute))) {
      entry.resume();
      continue;
    }
    const dest = path.join(target, destAbsolute);
    const meta = options.manifest?.get(absolute);
    const mode = meta?.mode ?? (header.mode ?? 0o644) & 0o7777;
    count++;
    if (header.type === 'directory') {
      if (createdSymlinks.has(dest)) throw refuse(raw, `${dest} is a symlink from this archive`);
      await mkdir(dest, { recursive: true, mode: 0o700 });
      madeDirs.add(dest);
      dirs.push({ dest, header, mode });
      entry.resume();
    } else if (header.type === 'file' || header.type === 'contiguous-file') {
      await prepare(dest, raw);
      const tap = new HashTap();
      await pipeline(entry, tap, createWriteStream(dest, { flags: 'wx', mode: 0o600 }));
      const sha256 = tap.digest();
      if (meta?.sha256 && meta.sha256 !== sha256) {
        throw new LifeboatError('PROVIDER', `${options.where}: ${absolute} does not match its manifest (sha256 ${sha256.slice(0, 12)}, expected ${meta.sha256.slice(0, 12)}): the archive is damaged`);
      }
      written.set(absolute, dest);
      await applyMeta(dest, header, mode, asRoot, false);
    } else if (header.type === 'symlink') {
      const linkname = header.linkname ?? '';
      if (!path.isAbsolute(linkname) && !within(path.resolve(path.dirname(dest), linkname), target)) {
        throw refuse(raw, `its symlink target "${linkname}" points outside the restore target`);
      }
      await prepare(dest, raw);
      await symlink(linkname, dest);
      createdSymlinks.add(dest);
      await applyMeta(dest, header, mode, asRoot, true);
      entry.resume();
    } else if (header.type === 'link') {
      const source = written.get(linkSource ?? '');
      if (!source) throw refuse(raw, `it is a hard link to "${header.linkname}", which is not a file extracted before it`);
      await prepare(dest, raw);
      await link(source, dest);
      entry.resume();
    } else {
      options.log.warn(`${options.where}: skipped ${raw}: ${header.type ?? 'unknown'} entries are not restored`);
      entry.resume();
    }
  }
  for (const { dest, header, mode } of dirs.sort((a, b) => b.dest.length - a.dest.length)) {
    await applyMeta(dest, header, mode, asRoot, false);
  }
  return count;
}

// Sets mode, owner (as root) and times from a header; for symlinks only owner and times.
async function applyMeta(dest: string, header: PaxHeaders, mode: number, asRoot: boolean, isSymlink: boolean): Promise<void> {
  const uid = Number(header.pax?.uid ?? header.uid ?? 0);
  const gid = Number(header.pax?.gid ?? header.gid ?? 0);
  if (asRoot) await (isSymlink ? lchown : chown)(dest, uid, gid);
  if (!isSymlink) await chmod(dest, mode);
  const mtime = header.pax?.mtime ? Number(header.pax.mtime) : (header.mtime ?? new Date()).getTime() / 1000;
  await (isSymlink ? lutimes : utimes)(dest, mtime, mtime);
}
