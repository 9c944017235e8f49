// Worker thread of the backup manifest: walks paths (lstat, restic-style excludes) and hashes files with
// synchronous reads, off the main thread so it overlaps the provider's snapshot. Posts progress messages
// and finally the entries. Files whose size, mtime, ctime and inode match the previous manifest keep
// their hash without being read again.
import { parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readSync, readlinkSync, type Stats } from 'node:fs';
import { joinBytes, listNames, pathKey } from '../files/byte-path.js';
import { compileExcludes } from '../files/exclude.js';
import type { ManifestEntry, WorkerRequest, WorkerMessage } from './manifest.js';

const PROGRESS_EVERY_MS = 100;
const buffer = Buffer.allocUnsafe(1 << 22);

// Walks every path below `root` (absolute paths as recorded, read from root + path). Names are bytes:
// entries carry a lossless key (pathKey) so names that are not UTF-8 are compared, never skipped.
function walk(request: WorkerRequest): { entries: ManifestEntry[]; toHash: Array<{ entry: ManifestEntry; file: Buffer }> } {
  const excluded = compileExcludes(request.exclude);
  const previous = new Map((request.previous ?? []).map((entry) => [entry.path, entry]));
  const entries: ManifestEntry[] = [];
  const toHash: Array<{ entry: ManifestEntry; file: Buffer }> = [];
  const rootBytes = Buffer.from(request.root, 'utf8');
  const visit = (recorded: Buffer) => {
    if (excluded(recorded.toString('utf8'))) return;
    const file = request.root ? joinBytes(rootBytes, recorded) : recorded;
    let stats: Stats;
    try {
      stats = lstatSync(file);
    } catch {
      return; // vanished while walking (a live service); the snapshot decides what it holds
    }
    const entry = entryOf(pathKey(recorded), stats);
    entries.push(entry);
    if (entry.type === 'dir') {
      let names: Buffer[] = [];
      try {
        names = listNames(file);
      } catch {
        entry.unreadable = true;
      }
      for (const name of names) visit(joinBytes(recorded, name));
    } else if (entry.type === 'symlink') {
      entry.target = pathKey(readlinkSync(file, { encoding: 'buffer' }));
    } else if (entry.type === 'file') {
      const old = previous.get(entry.path);
      if (old?.sha256 && old.size === entry.size && old.mtimeMs === entry.mtimeMs && old.ctimeMs === entry.ctimeMs && old.ino === entry.ino) entry.sha256 = old.sha256;
      else toHash.push({ entry, file });
    }
  };
  for (const recorded of request.paths) visit(Buffer.from(recorded, 'utf8'));
  return { entries, toHash };
}

// What the manifest records of one path.
function entryOf(recorded: string, stats: Stats): ManifestEntry {
  const type = stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'symlink' : 'other';
  const entry: ManifestEntry = { path: recorded, type, mode: stats.mode & 0o7777 };
  if (type === 'file') Object.assign(entry, { size: stats.size, mtimeMs: Math.floor(stats.mtimeMs), ctimeMs: Math.floor(stats.ctimeMs), ino: stats.ino });
  // Holes: a restore that writes them as zeros digs them again (restic 0.14 and borg write dense files).
  if (type === 'file' && stats.size >= 65536 && stats.blocks * 512 < stats.size) entry.sparse = true;
  return entry;
}

// sha256 of one file, reading in 4 MiB blocks; null when it cannot be read.
function hashFile(file: Buffer, onBytes: (count: number) => void): string | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const hash = createHash('sha256');
    for (;;) {
      const count = readSync(fd, buffer, 0, buffer.length, null);
      if (count === 0) break;
      hash.update(buffer.subarray(0, count));
      onBytes(count);
    }
    return hash.digest('hex');
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

// Runs one request and posts progress, then the result.
function run(request: WorkerRequest): void {
  const post = (message: WorkerMessage) => parentPort!.postMessage(message);
  const { entries, toHash } = walk(request);
  const total = toHash.reduce((sum, item) => sum + (item.entry.size ?? 0), 0);
  let done = 0;
  let lastPost = 0;
  post({ type: 'progress', done, total });
  for (const { entry, file } of toHash) {
    entry.sha256 = hashFile(file, (count) => {
      done += count;
      const now = Date.now();
      if (now - lastPost >= PROGRESS_EVERY_MS) {
        lastPost = now;
        post({ type: 'progress', done, total });
      }
    });
  }
  post({ type: 'result', entries, hashedBytes: done });
}

run(workerData as WorkerRequest);
