// Safe extraction for the tar provider: nothing is created, changed or chmod'ed outside the target,
// whatever the archive holds. Refused, as errors naming the entry:
//  - entries whose path climbs out of the target (`..`),
//  - entries with any parent that is a symlink (from this archive or already in the target) or not a
//    directory: parents are checked with lstat one component at a time and made one at a time,
//  - directory entries where a symlink or a file already is,
//  - hard links to anything but a file extracted earlier in this run,
//  - relative symlinks whose target resolves outside the target; device entries.
// Absolute symlink targets (/var/lib/app/current -> /var/lib/app/releases/3) are restored as recorded:
// they are data, and extraction never follows them. Files are opened with O_NOFOLLOW|O_EXCL and get
// owner, mode and times through their open handle; directories get theirs at the end, deepest first,
// also through a handle opened with O_NOFOLLOW. On any failure everything this run created is removed.
// Zero blocks are written as holes, so sparse files stay sparse.
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lchown, link, lstat, lutimes, mkdir, open, rename, rm, symlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { LifeboatError } from '../../src/errors.js';
import { runToEnd } from '../../src/process/runner.js';
import type { Logger } from '../../src/log/logger.js';
import { displayName, fromText, readManifestName, toBuffer } from './names.js';
import type { FileEntries } from './file-list.js';
import type { ManifestEntry } from './pack.js';
import type { TarEntry, TarHeader } from './tar-format.js';
import { writeXattrs } from './xattrs.js';

export interface ExtractOptions {
  target: string;
  // Absolute snapshot paths to restore (with everything below them); all when omitted.
  include?: string[];
  // The archive's file list: modes, and sha256s every file is verified against (file-list.ts); every
  // entry restored must be in it and every listed entry (under `include`) in the archive.
  files?: FileEntries;
  // For hard-link groups whose first member is outside `include`: the first included member takes its
  // place (planRedirects, over the whole list beforehand).
  redirects?: Map<string, string>;
  log: Logger;
  // Names the archive in messages.
  where: string;
  signal?: AbortSignal;
}

const HOLE = 4096;
const ZEROS = Buffer.alloc(1 << 20);

// An entry name as a clean relative path (byte string); refuses names that climb out of the target.
export function safeName(raw: string, where: string): string {
  const parts = raw.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..') || parts.length === 0) {
    throw new LifeboatError('PROVIDER', `${where}: refusing entry "${displayName(raw)}": its path leaves the restore target`, { hint: 'the archive was not made by Lifeboat or was tampered with' });
  }
  return parts.join('/');
}

// True when a path is the directory or lies below it.
function within(child: string, dir: string): boolean {
  return child === dir || child.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

// The paths a restore writes: all, or those at or below one of `include` (absolute, as text).
export function includedBy(include: string[] | undefined): (pathBytes: string) => boolean {
  const dirs = include?.map((dir) => fromText(path.resolve(dir)));
  return (p) => !dirs || dirs.some((dir) => within(p, dir));
}

// Hard-link groups whose first member is outside `include`, fed every list entry: the first included
// member takes its place.
export function planRedirects(included: (p: string) => boolean): { redirects: Map<string, string>; add: (entry: ManifestEntry, pathBytes: string) => void } {
  const redirects = new Map<string, string>();
  return {
    redirects,
    add(entry, pathBytes) {
      const target = readManifestName(entry.target, entry.targetB64);
      if (entry.type === 'link' && target && included(pathBytes) && !included(target) && !redirects.has(target)) redirects.set(target, pathBytes);
    },
  };
}

// Extracts every entry into options.target; returns the number of entries written.
export async function extractEntries(entries: AsyncIterable<TarEntry>, options: ExtractOptions): Promise<number> {
  const target = fromText(path.resolve(options.target));
  const included = includedBy(options.include);
  const redirects = options.redirects ?? new Map<string, string>();
  const asRoot = process.getuid?.() === 0;
  const written = new Map<string, string>();
  // Real directories inside the target (checked with lstat or made by this run).
  const realDirs = new Set<string>([target]);
  const made = new Set<string>();
  const createdRoots: string[] = [];
  const dirs: Array<{ dest: string; header: TarHeader; mode: number }> = [];
  const xattrs: Array<{ path: string; xattrs: Map<string, string> }> = [];
  let count = 0;
  let raw = '';
  const refuse = (why: string) => new LifeboatError('PROVIDER', `${options.where}: refusing entry "${displayName(raw)}": ${why}`, { hint: 'the archive was not made by Lifeboat or was tampered with; nothing was written outside the target' });

  // A listed entry the archive does not hold (passed over in the list, or left at its end).
  function listedOnly(_entry: ManifestEntry, key: string): void {
    if (included(key)) throw new LifeboatError('PROVIDER', `${options.where}: ${displayName(key)} is in the snapshot's file list but not in the archive`, { hint: 'the archive was not made by Lifeboat or was tampered with; nothing was written outside the target' });
  }

  // Remembers a path this run created, so a failure can take it away again.
  function noteCreated(dest: string): void {
    made.add(dest);
    if (!made.has(path.dirname(dest))) createdRoots.push(dest);
  }

  // Makes sure every parent of dest below the target is a real directory, creating missing ones one at a time.
  async function ensureParents(dest: string): Promise<void> {
    const parent = path.dirname(dest);
    if (realDirs.has(parent)) return;
    const missing: string[] = [];
    for (let dir = parent; !realDirs.has(dir); dir = path.dirname(dir)) {
      if (!within(dir, target) || dir === target) break;
      missing.unshift(dir);
    }
    for (const dir of missing) {
      const stat = await lstat(toBuffer(dir)).catch(() => undefined);
      if (stat?.isSymbolicLink()) throw refuse(`it would be written through the symlink ${displayName(dir)}`);
      if (stat && !stat.isDirectory()) throw refuse(`${displayName(dir)} is not a directory`);
      if (!stat) {
        await mkdir(toBuffer(dir), { mode: 0o700 });
        noteCreated(dir);
      }
      realDirs.add(dir);
    }
  }

  // Clears the place for a new non-directory entry: refuses a directory there, removes anything else.
  async function clearPlace(dest: string): Promise<void> {
    await ensureParents(dest);
    const existing = await lstat(toBuffer(dest)).catch(() => undefined);
    if (existing?.isDirectory()) throw refuse(`a directory already exists at ${displayName(dest)}`);
    if (existing) await rm(toBuffer(dest));
  }

  // The archive path a hard link points to; refused when it leaves the target.
  function linkedFile(linkname: string | undefined): string {
    const parts = (linkname ?? '').split('/').filter((part) => part !== '' && part !== '.');
    if (parts.length === 0 || parts.includes('..')) throw refuse(`its hard link target "${displayName(linkname ?? '')}" leaves the restore target`);
    return `/${parts.join('/')}`;
  }

  try {
    for await (const { header, body } of entries) {
      options.signal?.throwIfAborted();
      raw = header.name;
      const absolute = `/${safeName(raw, options.where)}`;
      const redirect = header.type === 'file' ? redirects.get(absolute) : undefined;
      const destAbsolute = included(absolute) ? absolute : redirect;
      const linkSource = header.type === 'link' ? linkedFile(header.linkname) : undefined;
      const dest = destAbsolute ? path.join(target, destAbsolute) : '';
      if (!destAbsolute) continue;
      // With a file list, every entry restored must be in it, and every listed entry restored must be
      // in the archive (an archive swapped in from another snapshot fails, README "Tamper evidence").
      const meta = await options.files?.take(absolute, listedOnly);
      if (options.files && !meta) throw refuse("it is not in the snapshot's file list");
      if (linkSource && written.get(linkSource) === dest) continue;
      const mode = meta?.mode ?? header.mode & 0o7777;
      count++;
      if (header.type === 'directory') {
        await ensureParents(dest);
        const existing = await lstat(toBuffer(dest)).catch(() => undefined);
        if (existing?.isSymbolicLink()) throw refuse(`${displayName(dest)} is a symlink`);
        if (existing && !existing.isDirectory()) throw refuse(`${displayName(dest)} exists and is not a directory`);
        if (!existing) {
          await mkdir(toBuffer(dest), { mode: 0o700 });
          noteCreated(dest);
        }
        realDirs.add(dest);
        dirs.push({ dest, header, mode });
      } else if (header.type === 'file') {
        await clearPlace(dest);
        const handle = await open(toBuffer(dest), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        noteCreated(dest);
        try {
          const sha256 = await writeSparse(handle, body, header.size);
          if (meta?.sha256 && meta.sha256 !== sha256) {
            throw new LifeboatError('PROVIDER', `${options.where}: ${displayName(absolute)} does not match its manifest (sha256 ${sha256.slice(0, 12)}, expected ${meta.sha256.slice(0, 12)}): the archive is damaged`);
          }
          await applyMeta(handle, header, mode, asRoot);
        } finally {
          await handle.close();
        }
        written.set(absolute, dest);
      } else if (header.type === 'symlink') {
        const linkname = header.linkname ?? '';
        if (!path.isAbsolute(linkname) && !within(path.resolve(path.dirname(dest), linkname), target)) {
          throw refuse(`its symlink target "${displayName(linkname)}" points outside the restore target`);
        }
        await clearPlace(dest);
        await symlink(toBuffer(linkname), toBuffer(dest));
        noteCreated(dest);
        if (asRoot) await lchown(toBuffer(dest), header.uid, header.gid);
        await lutimes(toBuffer(dest), Number(header.mtime), Number(header.mtime));
      } else if (header.type === 'link') {
        const source = written.get(linkSource ?? '');
        if (!source) throw refuse(`it is a hard link to "${displayName(header.linkname ?? '')}", which is not a file extracted before it`);
        await clearPlace(dest);
        await link(toBuffer(source), toBuffer(dest));
        noteCreated(dest);
      } else if (header.type === 'fifo') {
        await clearPlace(dest);
        await makeFifo(target, dest);
        noteCreated(dest);
        const handle = await open(toBuffer(dest), constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
        await applyMeta(handle, header, mode, asRoot).finally(() => handle.close());
      } else {
        throw refuse(`${header.type} entries are not restored`);
      }
      if (header.xattrs) xattrs.push({ path: dest, xattrs: header.xattrs });
    }
    raw = '';
    await options.files?.rest(listedOnly);
    for (const { dest, header, mode } of dirs.sort((a, b) => b.dest.length - a.dest.length)) {
      const handle = await open(toBuffer(dest), constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      await applyMeta(handle, header, mode, asRoot).finally(() => handle.close());
    }
    await writeXattrs(xattrs, options.where);
    for (const { dest, header } of dirs.filter((d) => d.header.xattrs)) {
      const handle = await open(toBuffer(dest), constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      await handle.utimes(Number(header.mtime), Number(header.mtime)).finally(() => handle.close());
    }
  } catch (error) {
    for (const created of createdRoots.reverse()) await rm(toBuffer(created), { recursive: true, force: true }).catch(() => {});
    throw error;
  }
  return count;
}

// Writes a file's data, leaving holes for whole zero blocks; returns the data's sha256.
async function writeSparse(handle: FileHandle, body: AsyncIterable<Buffer>, size: number): Promise<string> {
  const hash = createHash('sha256');
  let position = 0;
  let end = 0;
  for await (const chunk of body) {
    hash.update(chunk);
    let start = 0;
    while (start < chunk.length) {
      // Runs of data and of zero blocks, aligned to HOLE in the file.
      let stop = start;
      const zero = isZeroBlock(chunk, start, position);
      while (stop < chunk.length && isZeroBlock(chunk, stop, position) === zero) stop = Math.min(chunk.length, stop + blockLength(stop, position));
      if (!zero) {
        await handle.write(chunk, start, stop - start, position + start);
        end = position + stop;
      }
      start = stop;
    }
    position += chunk.length;
  }
  if (end < size) await handle.truncate(size);
  return hash.digest('hex');
}

// Bytes from offset to the next HOLE boundary of the file.
function blockLength(offset: number, position: number): number {
  return HOLE - ((position + offset) % HOLE);
}

// True when the block starting at offset (up to the next boundary) is all zero bytes.
function isZeroBlock(chunk: Buffer, offset: number, position: number): boolean {
  const length = Math.min(blockLength(offset, position), chunk.length - offset);
  return chunk.compare(ZEROS, 0, length, offset, offset + length) === 0;
}

// Makes a FIFO at dest: mkfifo under a plain name in the target, then renamed (names may be any bytes).
async function makeFifo(target: string, dest: string): Promise<void> {
  const temporary = path.join(target, `.lifeboat-fifo-${randomBytes(6).toString('hex')}`);
  const made = await runToEnd('mkfifo', { args: ['-m', '600', '--', Buffer.from(temporary, 'latin1').toString('utf8')], stdio: ['ignore', 'ignore', 'pipe'] });
  if (made.error) throw made.error;
  if (made.code !== 0) throw new Error(`mkfifo failed: ${made.stderr.trim()}`);
  await rename(toBuffer(temporary), toBuffer(dest));
}

// Sets owner (as root), mode and times through an open handle, so no symlink is ever followed.
async function applyMeta(handle: FileHandle, header: TarHeader, mode: number, asRoot: boolean): Promise<void> {
  if (asRoot) await handle.chown(header.uid, header.gid);
  await handle.chmod(mode);
  const mtime = Number(header.mtime);
  await handle.utimes(mtime, mtime);
}
