// Worker thread of the backup manifest: walks paths (lstat, restic-style excludes) and hashes files with
// synchronous reads, off the main thread so it overlaps the provider's snapshot. Posts progress messages
// and finally the entries. Files whose size, mtime, ctime and inode match the previous manifest keep
// their hash without being read again.
import { parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import path from 'node:path';
import { compileExcludes } from '../../plugins/tar/exclude.js';
import type { ManifestEntry, WorkerRequest, WorkerMessage } from './manifest.js';

const PROGRESS_EVERY_MS = 100;
const buffer = Buffer.allocUnsafe(1 << 22);

// Walks every path below `root` (absolute paths as recorded, read from root + path).
function walk(request: WorkerRequest): { entries: ManifestEntry[]; toHash: ManifestEntry[] } {
  const excluded = compileExcludes(request.exclude);
  const previous = new Map((request.previous ?? []).map((entry) => [entry.path, entry]));
  const entries: ManifestEntry[] = [];
  const toHash: ManifestEntry[] = [];
  const visit = (recorded: string) => {
    if (excluded(recorded)) return;
    let stats: Stats;
    try {
      stats = lstatSync(path.join(request.root, recorded));
    } catch {
      return; // vanished while walking (a live service); the snapshot decides what it holds
    }
    const entry = entryOf(recorded, stats);
    entries.push(entry);
    if (entry.type === 'dir') {
      let names: string[] = [];
      try {
        names = readdirSync(path.join(request.root, recorded));
      } catch {
        entry.unreadable = true;
      }
      for (const name of names.sort()) visit(path.join(recorded, name));
    } else if (entry.type === 'symlink') {
      entry.target = readlinkSync(path.join(request.root, recorded));
    } else if (entry.type === 'file') {
      const old = previous.get(recorded);
      if (old?.sha256 && old.size === entry.size && old.mtimeMs === entry.mtimeMs && old.ctimeMs === entry.ctimeMs && old.ino === entry.ino) entry.sha256 = old.sha256;
      else toHash.push(entry);
    }
  };
  for (const recorded of request.paths) visit(recorded);
  return { entries, toHash };
}

// What the manifest records of one path.
function entryOf(recorded: string, stats: Stats): ManifestEntry {
  const type = stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'symlink' : 'other';
  const entry: ManifestEntry = { path: recorded, type, mode: stats.mode & 0o7777 };
  if (type === 'file') Object.assign(entry, { size: stats.size, mtimeMs: Math.floor(stats.mtimeMs), ctimeMs: Math.floor(stats.ctimeMs), ino: stats.ino });
  return entry;
}

// sha256 of one file, reading in 4 MiB blocks; null when it cannot be read.
function hashFile(file: string, onBytes: (count: number) => void): string | null {
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
  const total = toHash.reduce((sum, entry) => sum + (entry.size ?? 0), 0);
  let done = 0;
  let lastPost = 0;
  post({ type: 'progress', done, total });
  for (const entry of toHash) {
    entry.sha256 = hashFile(path.join(request.root, entry.path), (count) => {
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
