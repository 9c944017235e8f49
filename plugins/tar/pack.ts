// The first stages of the tar create pipeline: walk the tree in byte order and feed tar-stream's pack,
// hashing every file for the manifest. Entry names are the absolute paths without their leading /
// (as GNU tar writes them), so `tar -C TARGET -xf` can extract an archive too.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import type { Header, Pack } from 'tar-stream';

type Headers = Partial<Header> & { name: string; pax?: Record<string, string> };
import { LifeboatError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';

// One line of the manifest: what was archived under an absolute path.
export interface ManifestEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'link';
  size: number;
  mode: number;
  mtime: string;
  uid: number;
  gid: number;
  sha256?: string;
  // A symlink's target, or for a hard link the path of the first link to the same file.
  target?: string;
}

type Stat = Awaited<ReturnType<typeof lstat>> & { mtimeNs: bigint };

const MAX_OCTAL_ID = 0o777777;

interface PackOptions {
  isExcluded: (absolutePath: string) => boolean;
  log: Logger;
  signal?: AbortSignal;
}

// Drops roots that lie inside another root, so nothing is archived twice.
export function outermostRoots(roots: string[]): string[] {
  const sorted = [...new Set(roots.map((root) => path.resolve(root)))].sort();
  return sorted.filter((root) => !sorted.some((other) => other !== root && (other === '/' || root.startsWith(`${other}/`))));
}

// Walks every root into the pack (not finalizing it) and returns the manifest entries.
export async function packTree(pack: Pack, roots: string[], options: PackOptions): Promise<ManifestEntry[]> {
  const entries: ManifestEntry[] = [];
  const firstLinks = new Map<string, ManifestEntry>();

  // Archives one path and, for a directory, everything below it.
  async function visit(absolute: string): Promise<void> {
    options.signal?.throwIfAborted();
    if (options.isExcluded(absolute)) return;
    const stat = (await lstat(absolute, { bigint: true })) as unknown as Stat;
    const name = absolute.replace(/^\/+/, '');
    const entry: ManifestEntry = {
      path: absolute,
      type: 'file',
      size: 0,
      mode: Number(stat.mode) & 0o7777,
      mtime: new Date(Number(stat.mtimeMs)).toISOString(),
      uid: Number(stat.uid),
      gid: Number(stat.gid),
    };
    const header: Headers & { pax: Record<string, string> } = {
      name,
      mode: entry.mode,
      uid: entry.uid > MAX_OCTAL_ID ? 0 : entry.uid,
      gid: entry.gid > MAX_OCTAL_ID ? 0 : entry.gid,
      mtime: new Date(Number(stat.mtimeMs)),
      pax: { mtime: paxTime(stat.mtimeNs), ...(entry.uid > MAX_OCTAL_ID ? { uid: String(entry.uid) } : {}), ...(entry.gid > MAX_OCTAL_ID ? { gid: String(entry.gid) } : {}) },
    };
    if (stat.isDirectory()) {
      entries.push({ ...entry, type: 'directory' });
      await addEntry(pack, { ...header, name: `${name}/`, type: 'directory' });
      const children = (await readdir(absolute)).sort();
      for (const child of children) await visit(path.join(absolute, child));
    } else if (stat.isSymbolicLink()) {
      const target = await readlink(absolute);
      entries.push({ ...entry, type: 'symlink', target });
      await addEntry(pack, { ...header, type: 'symlink', linkname: target });
    } else if (stat.isFile()) {
      const key = `${stat.dev}:${stat.ino}`;
      const first = stat.nlink > 1n ? firstLinks.get(key) : undefined;
      if (first) {
        entries.push({ ...entry, type: 'link', target: first.path, sha256: first.sha256, size: first.size });
        await addEntry(pack, { ...header, type: 'link', linkname: first.path.replace(/^\/+/, '') });
        return;
      }
      const size = Number(stat.size);
      const sha256 = await addFile(pack, { ...header, type: 'file', size }, absolute, size);
      const fileEntry: ManifestEntry = { ...entry, size, sha256 };
      entries.push(fileEntry);
      if (stat.nlink > 1n) firstLinks.set(key, fileEntry);
    } else {
      options.log.warn(`${absolute}: sockets, fifos and device files are not archived`);
    }
  }

  for (const root of outermostRoots(roots)) await visit(root);
  return entries;
}

// A pax time value with nanoseconds (seconds.fraction), kept exactly from the bigint stat.
function paxTime(ns: bigint): string {
  const seconds = ns / 1_000_000_000n;
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return ns < 0n ? String(Number(ns) / 1e9) : `${seconds}.${fraction}`;
}

// Adds an entry without a body (directory, symlink, hard link) and waits until pack took it.
function addEntry(pack: Pack, header: Headers): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, (error) => (error ? reject(error) : resolve()));
  });
}

// Streams one file's bytes into the pack with backpressure; returns its sha256.
async function addFile(pack: Pack, header: Headers, absolute: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  let entry!: ReturnType<Pack['entry']>;
  const added = new Promise<void>((resolve, reject) => {
    entry = pack.entry(header, (error) => (error ? reject(error) : resolve()));
  });
  added.catch(() => {});
  let written = 0;
  if (size > 0) {
    for await (const chunk of createReadStream(absolute, { start: 0, end: size - 1, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      written += chunk.length;
      if (!entry.write(chunk)) await drained(entry);
    }
  }
  if (written !== size) {
    const error = new LifeboatError('PROVIDER', `${absolute} shrank from ${size} to ${written} bytes while it was archived`, { hint: 'stop the service during the backup (service.stopDuringBackup: true) or exclude the file' });
    entry.destroy(error);
    throw error;
  }
  entry.end(undefined);
  await added;
  return hash.digest('hex');
}

// Waits until a tar entry accepts more data (or is gone, which the next write reports).
function drained(entry: ReturnType<Pack['entry']>): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      entry.off('drain', done);
      entry.off('close', closed);
      resolve();
    };
    const closed = () => {
      entry.off('drain', done);
      reject(new Error('tar entry closed while writing'));
    };
    entry.once('drain', done);
    entry.once('close', closed);
  });
}
