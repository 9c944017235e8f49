// The first stage of the tar create pipeline: walk the tree in byte order and yield the archive's bytes
// (tar-format.ts), hashing every file for the manifest. Names are bytes from start to end: directories
// are read with Buffer names, and entry names are the absolute paths without their leading / (as GNU
// tar writes them), so `tar -C TARGET -xf` can extract an archive too. Extended attributes and ACLs
// travel in pax SCHILY.xattr.* records, FIFOs as FIFO entries; sockets and device files are refused.
import { outermostPaths } from '../../src/files/outermost.js';
import { comparePaths } from '../../src/files/path-order.js';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { LifeboatError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import { displayName, fromBuffer, fromText, manifestName, toBuffer, toText } from './names.js';
import { encodeHeader, END_OF_ARCHIVE, padding, type TarHeader } from './tar-format.js';
import { readXattrs, type XattrMap } from './xattrs.js';

// One line of the manifest: what was archived under an absolute path. `path` is the name as text;
// a name that is not UTF-8 also has `pathB64`, its exact bytes, which then win (so for `target`).
export interface ManifestEntry {
  path: string;
  pathB64?: string;
  type: 'file' | 'directory' | 'symlink' | 'link' | 'fifo';
  size: number;
  mode: number;
  mtime: string;
  uid: number;
  gid: number;
  sha256?: string;
  // A symlink's target, or for a hard link the path of the first link to the same file.
  target?: string;
  targetB64?: string;
  // Names of the extended attributes (ACLs included) the archive holds for it.
  xattrs?: string[];
}

type Stat = Awaited<ReturnType<typeof lstat>> & { mtimeNs: bigint };

interface PackOptions {
  isExcluded: (absolutePath: string) => boolean;
  log: Logger;
  signal?: AbortSignal;
  // Called with the byte count of each chunk of file data archived (for progress).
  onFileBytes?: (bytes: number) => void;
}

// Takes each manifest line in archive order; a returned promise is awaited before the walk goes on.
export type EntrySink = (entry: ManifestEntry) => Promise<void> | undefined;

// Yields the whole archive (end blocks included) for the roots, handing every manifest line to `onEntry`
// in path order (src/files/path-order.ts): roots sorted so, each directory's names sorted by byte.
export async function* packTree(roots: string[], onEntry: EntrySink, options: PackOptions): AsyncGenerator<Buffer> {
  const firstLinks = new Map<string, { name: string; entry: ManifestEntry }>();
  let xattrs: XattrMap = new Map();

  // Archives one path (a byte string) and, for a directory, everything below it.
  async function* visit(absolute: string): AsyncGenerator<Buffer> {
    options.signal?.throwIfAborted();
    if (options.isExcluded(toText(absolute))) return;
    const stat = (await lstat(toBuffer(absolute), { bigint: true })) as unknown as Stat;
    const name = absolute.replace(/^\/+/, '');
    const attributes = xattrs.get(absolute);
    const entry: ManifestEntry = {
      ...(manifestName(absolute, 'path') as { path: string }),
      type: 'file',
      size: 0,
      mode: Number(stat.mode) & 0o7777,
      mtime: new Date(Number(stat.mtimeMs)).toISOString(),
      uid: Number(stat.uid),
      gid: Number(stat.gid),
      ...(attributes?.size ? { xattrs: [...attributes.keys()].map(toText) } : {}),
    };
    const header: TarHeader = { name, type: 'file', mode: entry.mode, uid: entry.uid, gid: entry.gid, size: 0, mtime: paxTime(stat.mtimeNs), xattrs: attributes };
    if (stat.isDirectory()) {
      await onEntry({ ...entry, type: 'directory' });
      yield encodeHeader({ ...header, type: 'directory' });
      const children = (await readdir(toBuffer(absolute), { encoding: 'buffer' })).map(fromBuffer).sort();
      for (const child of children) yield* visit(`${absolute === '/' ? '' : absolute}/${child}`);
    } else if (stat.isSymbolicLink()) {
      const target = fromBuffer(await readlink(toBuffer(absolute), { encoding: 'buffer' }));
      await onEntry({ ...entry, type: 'symlink', ...manifestName(target, 'target') });
      yield encodeHeader({ ...header, type: 'symlink', linkname: target });
    } else if (stat.isFile()) {
      const key = `${stat.dev}:${stat.ino}`;
      const first = stat.nlink > 1n ? firstLinks.get(key) : undefined;
      if (first) {
        const { path: target, pathB64: targetB64 } = first.entry;
        await onEntry({ ...entry, type: 'link', target, ...(targetB64 ? { targetB64 } : {}), sha256: first.entry.sha256, size: first.entry.size });
        yield encodeHeader({ ...header, type: 'link', linkname: first.name });
        return;
      }
      const size = Number(stat.size);
      const fileEntry: ManifestEntry = { ...entry, size };
      yield encodeHeader({ ...header, size });
      fileEntry.sha256 = yield* fileBytes(absolute, size, options.onFileBytes);
      await onEntry(fileEntry);
      if (stat.nlink > 1n) firstLinks.set(key, { name, entry: fileEntry });
    } else if (stat.isFIFO()) {
      await onEntry({ ...entry, type: 'fifo' });
      yield encodeHeader({ ...header, type: 'fifo' });
    } else {
      const kind = stat.isSocket() ? 'a socket' : 'a device file';
      throw new LifeboatError('USAGE', `${displayName(absolute)} is ${kind}, which the tar provider cannot archive`, {
        hint: 'exclude it (exclude: in module.yaml; a socket is made again by the program that listens on it) or use restic or borg',
      });
    }
  }

  for (const root of outermostPaths(roots).sort((a, b) => comparePaths(Buffer.from(a), Buffer.from(b)))) {
    const bytes = fromText(root);
    const found = await readXattrs(root);
    if (found === undefined) options.log.warn(`getfattr is not installed: extended attributes and ACLs below ${root} are not archived (Debian: apt-get install attr)`);
    else if (found.problem) options.log.warn(`extended attributes below ${root} not all read: ${found.problem}`);
    xattrs = found?.map ?? new Map();
    yield* visit(bytes);
  }
  yield END_OF_ARCHIVE;
}

// Joins small buffers (headers, small files, padding) into chunks of about `size` bytes: far fewer writes
// into the compressor and the sink. Large chunks pass through as they are.
export async function* coalesce(source: AsyncIterable<Buffer>, size = 256 << 10): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let length = 0;
  for await (const chunk of source) {
    if (chunk.length >= size) {
      if (length) yield Buffer.concat(pending, length);
      pending = [];
      length = 0;
      yield chunk;
      continue;
    }
    pending.push(chunk);
    length += chunk.length;
    if (length >= size) {
      yield Buffer.concat(pending, length);
      pending = [];
      length = 0;
    }
  }
  if (length) yield Buffer.concat(pending, length);
}

// A pax time value with nanoseconds (seconds.fraction), kept exactly from the bigint stat.
function paxTime(ns: bigint): string {
  const seconds = ns / 1_000_000_000n;
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return ns < 0n ? String(Number(ns) / 1e9) : `${seconds}.${fraction}`;
}

// Yields one file's bytes and padding; returns its sha256. A file that shrank fails the backup.
async function* fileBytes(absolute: string, size: number, onBytes?: (bytes: number) => void): AsyncGenerator<Buffer, string> {
  const hash = createHash('sha256');
  let written = 0;
  if (size > 0) {
    for await (const chunk of createReadStream(toBuffer(absolute), { start: 0, end: size - 1, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      written += chunk.length;
      onBytes?.(chunk.length);
      yield chunk;
    }
  }
  if (written !== size) {
    throw new LifeboatError('PROVIDER', `${displayName(absolute)} shrank from ${size} to ${written} bytes while it was archived`, { hint: 'stop the service during the backup (service.stopDuringBackup: true) or exclude the file' });
  }
  yield padding(size);
  return hash.digest('hex');
}
