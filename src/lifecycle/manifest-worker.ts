// Worker thread of the backup manifest: walks paths (lstat, restic-style excludes) in path order and
// hashes files with synchronous reads, off the main thread so it overlaps the provider's snapshot.
// Entries go straight to a gzipped NDJSON file (manifest-stream.ts), and the previous manifest is read
// alongside in the same order (a merge walk): files whose size, mtime, ctime and inode match it keep
// their hash without being read again. An entry whose previous line is the very line it would get is
// matched in place (ManifestCursor.takeSame) and written again unparsed; while all of them are, nothing
// is compressed (Output). Memory holds one directory listing per level, never the tree.
import { parentPort, workerData } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, lstatSync, openSync, readSync, readlinkSync, rmSync, type Stats } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { joinBytes, listNames, pathKey, withinBytes, type BytePath } from '../files/byte-path.js';
import { comparePaths } from '../files/path-order.js';
import { compileExcludes } from '../files/exclude.js';
import { ManifestCursor, ManifestWriter, MORE, type FileFields, type ManifestEntry } from './manifest-stream.js';
import type { WorkerRequest, WorkerMessage } from './manifest.js';

const PROGRESS_EVERY_MS = 100;
const buffer = Buffer.allocUnsafe(1 << 22);

// One directory being walked: its recorded path and its names, sorted, from `next` on.
interface Frame {
  dir: BytePath;
  names: BytePath[];
  next: number;
}

// Walks every path below `root` (absolute paths as recorded, read from root + path) in path order and
// writes the entries to request.output. Names are bytes: entries carry a lossless key (pathKey) so
// names that are not UTF-8 are compared, never skipped.
async function walk(request: WorkerRequest, post: (message: WorkerMessage) => void): Promise<void> {
  const excluded = request.exclude.some((pattern) => pattern.trim() !== '') ? compileExcludes(request.exclude) : undefined;
  const previous = await openPrevious(request.previous);
  // What the previous manifest says of one path; its damage stops this walk (see run()).
  const lookUp = async (recorded: BytePath) => {
    try {
      let old = previous!.seek(recorded);
      while (old === MORE) {
        await previous!.fill();
        old = previous!.seek(recorded);
      }
      return old;
    } catch (error) {
      throw new PreviousUnreadable(error);
    }
  };
  // The previous manifest's line of an unchanged entry (ManifestCursor.takeSame), or undefined.
  // (Synchronous while the line is buffered: a walk awaits once per decompressed chunk, not per file.)
  const sameLine = (recorded: BytePath, want: string | FileFields): string | undefined | Promise<string | undefined> => {
    let line: string | undefined | typeof MORE;
    try {
      line = previous!.takeSame(recorded, want);
    } catch (error) {
      throw new PreviousUnreadable(error);
    }
    return line === MORE ? sameLineLater(recorded, want) : line;
  };
  const sameLineLater = async (recorded: BytePath, want: string | FileFields) => {
    try {
      let line: string | undefined | typeof MORE = MORE;
      while (line === MORE) {
        await previous!.fill();
        line = previous!.takeSame(recorded, want);
      }
      return line;
    } catch (error) {
      throw new PreviousUnreadable(error);
    }
  };
  const output = new Output(request.output, previous);
  const rootBytes = Buffer.from(request.root, 'utf8');
  // Progress counts the bytes of files covered: hashed, or whose hash was kept.
  const totals = { files: 0, bytes: 0, hashedBytes: 0, keptBytes: 0 };
  let lastPost = 0;
  let keptFiles = 0;
  const progress = (count: number) => {
    totals.hashedBytes += count;
    // A file whose hash was kept asks the clock every 256 files only.
    if (count === 0 && (++keptFiles & 255) !== 0) return;
    const now = Date.now();
    if (now - lastPost >= PROGRESS_EVERY_MS) {
      lastPost = now;
      post({ type: 'progress', done: totals.hashedBytes + totals.keptBytes });
    }
  };
  const stack: Frame[] = [];
  // One path: its entry, written; a directory's names go on the stack.
  // Synchronous for a file that did not change (a promise only when the walk must wait).
  const visit = (recorded: BytePath): Promise<void> | undefined => {
    const key = pathKey(recorded);
    // Excludes see the path as text (the UTF-8 key, or the bytes decoded when they are not UTF-8).
    if (excluded?.(key.startsWith('b64:') ? recorded.toString('utf8') : key)) return;
    const file = request.root ? joinBytes(rootBytes, recorded) : recorded;
    let stats: Stats;
    try {
      stats = lstatSync(file);
    } catch {
      return; // vanished while walking (a live service); the snapshot decides what it holds
    }
    // A file whose line in the previous manifest is the one it would get (same path, mode, size,
    // mtime, ctime, inode, holes): that line is written again, neither parsed nor made.
    if (previous && stats.isFile()) {
      const line = sameLine(recorded, fileFields(key, stats));
      if (typeof line === 'string') return kept(recorded, stats, line);
      if (line !== undefined) return line.then((later) => (later === undefined ? visitChanged(recorded, file, key, stats) : kept(recorded, stats, later)));
    }
    return visitChanged(recorded, file, key, stats);
  };
  // A file whose previous line is written again.
  const kept = (recorded: BytePath, stats: Stats, line: string) => {
    totals.files++;
    totals.bytes += stats.size;
    totals.keptBytes += stats.size;
    progress(0);
    return output.add(recorded, undefined, line, true);
  };
  // Any other path: its entry made, a file hashed unless the previous manifest has its hash.
  const visitChanged = async (recorded: BytePath, file: BytePath, key: string, stats: Stats) => {
    const entry = entryOf(key, stats);
    let line: string | undefined;
    if (entry.type === 'dir') {
      try {
        stack.push({ dir: recorded, names: listNames(file), next: 0 });
      } catch {
        entry.unreadable = true;
      }
    } else if (entry.type === 'symlink') {
      entry.target = pathKey(readlinkSync(file, { encoding: 'buffer' }));
    } else if (entry.type === 'file') {
      totals.files++;
      totals.bytes += entry.size ?? 0;
      const old = previous ? await lookUp(recorded) : undefined;
      const was = old?.entry;
      if (was?.sha256 && was.size === entry.size && was.mtimeMs === entry.mtimeMs && was.ctimeMs === entry.ctimeMs && was.ino === entry.ino) {
        entry.sha256 = was.sha256;
        totals.keptBytes += entry.size ?? 0;
        progress(0);
        // Nothing changed at all (mode and holes too): the previous line is written as it was.
        if (sameEntry(was, entry)) line = old!.line;
      } else entry.sha256 = hashFile(file, progress);
    }
    if (entry.type !== 'file' && output.passing) {
      // A directory, symlink or other the same as before keeps the previous body passing through.
      line = JSON.stringify(entry);
      if ((await sameLine(recorded, line)) !== undefined) {
        await output.add(recorded, entry, line, true);
        return;
      }
    }
    await output.add(recorded, entry, line, false);
  };
  let entries: number;
  try {
    post({ type: 'progress', done: 0 });
    let lastTop: BytePath | undefined;
    for (const top of request.paths.map((p) => Buffer.from(p, 'utf8')).sort(comparePaths)) {
      // A path inside one already walked (or the same one twice) was walked with it.
      if (lastTop && withinBytes(top, lastTop)) continue;
      lastTop = top;
      await visit(top);
      while (stack.length > 0) {
        const frame = stack[stack.length - 1];
        if (frame.next >= frame.names.length) stack.pop();
        else {
          const wait = visit(joinBytes(frame.dir, frame.names[frame.next++]));
          if (wait) await wait;
        }
      }
    }
    // Read the previous manifest to its end: its end line and gzip checksum vouch for the hashes kept.
    if (previous) {
      try {
        await previous.readToEnd();
      } catch (error) {
        throw new PreviousUnreadable(error);
      }
    }
    entries = await output.close();
  } catch (error) {
    output.abort();
    throw error;
  } finally {
    previous?.close();
  }
  post({ type: 'result', entries, files: totals.files, bytes: totals.bytes, hashedBytes: totals.hashedBytes });
}

// Where the walk's entries go. While each one is the previous manifest's next line, in order and
// none passed over, nothing is compressed: the lines are only counted. When the walk ends so, the body
// of the previous manifest (the bytes after its header member) is copied as it is: an unchanged
// backup makes no gzip at all. The first entry that differs starts the writer, which first gets the
// lines passed through, read again from the previous manifest.
class Output {
  private writer: ManifestWriter | undefined;
  // Lines of the previous manifest passed through, not written yet.
  private passed = 0;

  constructor(
    private readonly file: string,
    private readonly previous: ManifestCursor | undefined,
  ) {
    if (!previous) this.writer = new ManifestWriter(file);
  }

  // True while every entry so far was the previous manifest's next line.
  get passing(): boolean {
    return this.writer === undefined;
  }

  // One entry (`line`: its JSON when known; `same`: the previous manifest's line, just taken from it).
  // A promise only when the caller must wait (the compressor is full, or the writer starts).
  add(key: BytePath, entry: ManifestEntry | undefined, line: string | undefined, same: boolean): Promise<void> | undefined {
    if (!this.writer) {
      if (same && this.previous!.entries === this.passed + 1) {
        this.passed++;
        return undefined;
      }
      return this.start().then(() => this.add(key, entry, line, false));
    }
    const writer = this.writer;
    return (entry ? writer.add(entry, key, line) : writer.addLine(key, line!)) ? undefined : writer.drain();
  }

  // Ends the body (the previous manifest must have been read to its end); the number of entries.
  async close(): Promise<number> {
    if (!this.writer && this.previous!.entries === this.passed && (await this.copyPrevious())) return this.passed;
    if (!this.writer) await this.start();
    await this.writer!.close();
    return this.writer!.entries;
  }

  abort(): void {
    if (this.writer) this.writer.abort();
    else rmSync(this.file, { force: true });
  }

  // Starts the writer with the lines passed through so far.
  private async start(): Promise<void> {
    const writer = new ManifestWriter(this.file);
    this.writer = writer;
    if (this.passed === 0) return;
    let again: ManifestCursor | undefined;
    try {
      again = await ManifestCursor.open(this.previous!.file);
      for (let i = 0; i < this.passed; i++) {
        const item = await again.next();
        if (!item) throw new Error(`it ended after ${i} entries, ${this.passed} were read before`);
        if (!writer.add(item.entry, item.key, item.line)) await writer.drain();
      }
    } catch (error) {
      throw new PreviousUnreadable(error);
    } finally {
      again?.close();
    }
  }

  // Copies the previous manifest's body when its header member is the one gzipSync makes of its
  // header (every manifest written by storeManifest); false when it is not.
  private async copyPrevious(): Promise<boolean> {
    const source = this.previous!.file;
    const head = gzipSync(`${JSON.stringify(this.previous!.header)}\n`);
    const fd = openSync(source, 'r');
    try {
      const start = Buffer.alloc(head.length);
      if (readSync(fd, start, 0, head.length, 0) !== head.length || !start.equals(head)) return false;
      await pipeline(createReadStream('', { fd, start: head.length, autoClose: false }), createWriteStream(this.file, { mode: 0o600 }));
      return true;
    } finally {
      closeSync(fd);
    }
  }
}

// The previous manifest could not be read (at its start, or part way through the walk).
class PreviousUnreadable extends Error {
  constructor(readonly reason: unknown) {
    super(reason instanceof Error ? reason.message : String(reason));
  }
}

// Walks with the previous manifest; when it cannot be read, warns once (naming it) and walks again
// without it, hashing every file: hashes read before its damage showed might be damaged too.
async function run(request: WorkerRequest, post: (message: WorkerMessage) => void): Promise<void> {
  try {
    await walk(request, post);
  } catch (error) {
    if (!(error instanceof PreviousUnreadable)) throw error;
    post({ type: 'warning', message: `the previous manifest cannot be read, so no hashes are reused and every file is hashed again: ${error.message}` });
    await walk({ ...request, previous: undefined }, post);
  }
}

// The previous manifest, or nothing when there is none (then every file is hashed).
async function openPrevious(file: string | undefined): Promise<ManifestCursor | undefined> {
  if (!file) return undefined;
  try {
    return await ManifestCursor.open(file);
  } catch (error) {
    throw new PreviousUnreadable(error);
  }
}

// True when two entries hold the same fields with the same values.
function sameEntry(a: ManifestEntry, b: ManifestEntry): boolean {
  const keys = Object.keys(b) as Array<keyof ManifestEntry>;
  return keys.length === Object.keys(a).length && keys.every((key) => a[key] === b[key]);
}

// What the manifest records of one path.
function entryOf(recorded: string, stats: Stats): ManifestEntry {
  const type = stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'symlink' : 'other';
  const entry: ManifestEntry = { path: recorded, type, mode: stats.mode & 0o7777 };
  if (type === 'file') Object.assign(entry, { size: stats.size, mtimeMs: Math.floor(stats.mtimeMs), ctimeMs: Math.floor(stats.ctimeMs), ino: stats.ino });
  if (type === 'file' && isSparse(stats)) entry.sparse = true;
  return entry;
}

// What entryOf() records of a regular file, for ManifestCursor.takeSame (the manifest tests hold the
// two the same).
function fileFields(recorded: string, stats: Stats): FileFields {
  return { path: recorded, mode: stats.mode & 0o7777, size: stats.size, mtimeMs: Math.floor(stats.mtimeMs), ctimeMs: Math.floor(stats.ctimeMs), ino: stats.ino, sparse: isSparse(stats) };
}

// Holes: a restore that writes them as zeros digs them again (restic 0.14 and borg write dense files).
function isSparse(stats: Stats): boolean {
  return stats.size >= 65536 && stats.blocks * 512 < stats.size;
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

const post = (message: WorkerMessage) => parentPort!.postMessage(message);
run(workerData as WorkerRequest, post).catch((error: unknown) => post({ type: 'error', message: error instanceof Error ? error.message : String(error) }));
