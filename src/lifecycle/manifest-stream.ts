// The backup manifest on disk, written and read as a stream so memory stays flat however many files a
// module holds. Format 2 (since 2026-11): gzipped NDJSON, one JSON object a line: a header line
// ({ format: 'lifeboat-manifest', version: 2, module, created, host, snapshot, paths, files, bytes }),
// then one line per path in path order (src/files/path-order.ts), then an end line ({ end: true,
// entries: N }) that tells a complete manifest from a cut one. The header is its own gzip member,
// written after the walk, in front of the walk's members (gzip readers read concatenated members as
// one stream). Format 1 (before): one gzipped JSON object with every entry in an `entries` array; it
// is still read (whole, then sorted), told apart by its first line.
import { createReadStream, createWriteStream, closeSync, fsyncSync, openSync, readSync, writeSync, renameSync, rmSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { constants, createGunzip, createGzip, gunzipSync, gzipSync, type Gzip } from 'node:zlib';
import path from 'node:path';
import { fromPathKey } from '../files/byte-path.js';
import { LineReader, MORE } from '../files/line-reader.js';
import { comparePaths } from '../files/path-order.js';
import type { BytePath } from '../files/byte-path.js';
import { LifeboatError } from '../errors.js';

// The fix for a manifest that cannot be read: the comparison needs a manifest of a later backup.
const DAMAGED_MANIFEST = 'run `lifeboat backup` again: verify compares the restore with the manifest of the newest backup';

export interface ManifestEntry {
  // The absolute path as the snapshot records it: the UTF-8 text, or `b64:` + base64 of the bytes of a
  // name that is not UTF-8 (src/files/byte-path.ts pathKey; shown with showPath).
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: number;
  size?: number;
  sha256?: string | null;
  mtimeMs?: number;
  ctimeMs?: number;
  ino?: number;
  target?: string;
  unreadable?: boolean;
  // A file with holes (allocated blocks cover less than its size).
  sparse?: boolean;
}

// What the first line of a manifest says (format 1: everything but its entries, counted).
export interface ManifestHeader {
  format: 'lifeboat-manifest';
  version: 2;
  module: string;
  created: string;
  host: string;
  snapshot: { repository: string; id: string };
  paths: string[];
  // Regular files and their bytes (what the summary of a backup shows).
  files: number;
  bytes: number;
}

// The end line of format 2.
interface EndLine {
  end: true;
  entries: number;
}

// An entry with its path as bytes (the merge walks compare those), and its line when read from a file.
export interface KeyedEntry {
  entry: ManifestEntry;
  key: BytePath;
  line?: string;
}

// The format-1 object.
interface ManifestV1 {
  version: 1;
  module: string;
  created: string;
  host: string;
  snapshot: { repository: string; id: string };
  paths: string[];
  entries: ManifestEntry[];
}

// Returned by take() when the buffered lines ran out and fill() must be awaited.
export { MORE };

// What a regular file's line must say for its hash to be kept and the line written again as it is
// (ManifestCursor.takeSame): the fields the walk makes of lstat, in the order it writes them.
export interface FileFields {
  path: string;
  mode: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  sparse: boolean;
}

// A path that JSON writes other than as itself in quotes.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\u007f-\uffff]/;
// A sha256 in hex and the end of the line.
const HASH_TAIL = /[0-9a-f]{64}"}$/y;

// True when `line` is exactly JSON.stringify({ path, type: 'file', mode, size, mtimeMs, ctimeMs, ino,
// [sparse: true], sha256 }) of `want` and some sha256 in hex: compared in place, no object and no
// string made (a walk does this for every file of an unchanged backup).
export function sameFileLine(line: string, want: FileFields): boolean {
  let at: number;
  if (!line.startsWith('{"path":"')) return false;
  if (NEEDS_ESCAPE.test(want.path)) {
    const json = JSON.stringify(want.path);
    if (!line.startsWith(json, 8)) return false;
    at = 8 + json.length;
  } else {
    if (!line.startsWith(want.path, 9) || line.charCodeAt(9 + want.path.length) !== 0x22) return false;
    at = 10 + want.path.length;
  }
  at = numberAt(line, literalAt(line, at, ',"type":"file","mode":'), want.mode);
  at = numberAt(line, literalAt(line, at, ',"size":'), want.size);
  at = numberAt(line, literalAt(line, at, ',"mtimeMs":'), want.mtimeMs);
  at = numberAt(line, literalAt(line, at, ',"ctimeMs":'), want.ctimeMs);
  at = numberAt(line, literalAt(line, at, ',"ino":'), want.ino);
  if (want.sparse) at = literalAt(line, at, ',"sparse":true');
  at = literalAt(line, at, ',"sha256":"');
  if (at < 0 || line.length !== at + 66) return false;
  HASH_TAIL.lastIndex = at;
  return HASH_TAIL.test(line);
}

// The position after `text` when the line holds it at `at`, else -1.
function literalAt(line: string, at: number, text: string): number {
  return at >= 0 && line.startsWith(text, at) ? at + text.length : -1;
}

// The position after the number at `at` when it is `value` as JSON writes it, else -1.
function numberAt(line: string, at: number, value: number): number {
  if (at < 0) return -1;
  let parsed = 0;
  let end = at;
  for (; end < line.length; end++) {
    const digit = line.charCodeAt(end) - 0x30;
    if (digit < 0 || digit > 9) break;
    parsed = parsed * 10 + digit;
  }
  const digits = end - at;
  // Up to 15 digits without a leading zero the value is exact; anything else is compared as text.
  if (digits > 0 && digits <= 15 && (digits === 1 || line.charCodeAt(at) !== 0x30)) return parsed === value ? end : -1;
  const text = String(value);
  const after = line.charCodeAt(at + text.length);
  return line.startsWith(text, at) && !(after >= 0x30 && after <= 0x39) ? at + text.length : -1;
}

// Reads a manifest entry by entry in path order. take() answers from what is buffered (synchronously,
// so a walk awaits only once per decompressed chunk); peek()/next() await for you.
export class ManifestCursor {
  header: ManifestHeader | undefined;
  private readonly lines: LineReader;
  private index = 0;
  private sawEnd = false;
  private count = 0;
  private head: KeyedEntry | undefined;
  private last: BytePath | undefined;
  private sorted: KeyedEntry[] | undefined;
  // A line read by takeSame() that was not the one it looked for (take() parses it).
  private pending: string | undefined;
  private readonly streams: Array<{ destroy(): void }>;

  private constructor(
    readonly file: string,
    // false for the walk's own output (no header line).
    private readonly withHeader: boolean,
  ) {
    const gunzip = createGunzip({ chunkSize: 1 << 16 });
    const input = createReadStream(file, { highWaterMark: 1 << 16 });
    input.on('error', (error) => gunzip.destroy(error));
    input.pipe(gunzip);
    gunzip.setEncoding('utf8');
    this.streams = [input, gunzip];
    // No bound on a line: a format-1 manifest is one line.
    this.lines = new LineReader(gunzip[Symbol.asyncIterator]());
  }

  // Opens a manifest and reads its header (or, for format 1, all of it).
  static async open(file: string, options: { withHeader?: boolean } = {}): Promise<ManifestCursor> {
    const cursor = new ManifestCursor(file, options.withHeader ?? true);
    try {
      if (cursor.withHeader) await cursor.readHeader();
    } catch (error) {
      cursor.close();
      throw error;
    }
    return cursor;
  }

  // The next entry when it is buffered, MORE when fill() must run first, undefined at the end.
  take(): KeyedEntry | typeof MORE | undefined {
    if (this.head) {
      const head = this.head;
      this.head = undefined;
      return head;
    }
    if (this.sorted) return this.index < this.sorted.length ? this.sorted[this.index++] : undefined;
    for (;;) {
      const line = this.pending ?? this.lines.take();
      this.pending = undefined;
      if (line === MORE) return MORE;
      if (line === undefined) {
        if (this.withHeader && !this.sawEnd) throw new LifeboatError('STATE', `manifest ${this.file} is cut short (no end line after ${this.count} entries)`, { hint: DAMAGED_MANIFEST });
        return undefined;
      }
      const value = this.parse(line);
      if ('end' in value) {
        if (value.entries !== this.count) throw new LifeboatError('STATE', `manifest ${this.file} is damaged: its end line says ${value.entries} entries, it holds ${this.count}`, { hint: DAMAGED_MANIFEST });
        this.sawEnd = true;
        continue;
      }
      this.count++;
      const key = fromPathKey(value.path);
      // The walks merge in path order: a line out of order would read as missing or extra paths.
      if (this.last && comparePaths(this.last, key) >= 0) throw new LifeboatError('STATE', `manifest ${this.file} is damaged: its lines are out of path order (${value.path} after ${this.last.toString('utf8')})`, { hint: DAMAGED_MANIFEST });
      this.last = key;
      return { entry: value, key, line };
    }
  }

  // The merge walk's fast path for an entry that did not change: when the next line is `want` (a
  // directory's, symlink's or other's JSON) or says what `want` says of a file and a sha256
  // (sameFileLine), takes that line and returns it unparsed (written again as it is); undefined when it
  // is not (nothing taken: take() and seek() parse it as usual), MORE when fill() must run first.
  // `key`: the path of the entry, as bytes.
  takeSame(key: BytePath, want: string | FileFields): string | undefined | typeof MORE {
    if (this.sorted) return undefined;
    // The entry seek() left as the next one: passed over when it is before `key` (as seek() would).
    if (this.head) {
      if (comparePaths(this.head.key, key) >= 0) return undefined;
      this.head = undefined;
    }
    const line = this.pending ?? this.lines.take();
    if (line === MORE || line === undefined) return line;
    if (typeof want === 'string' ? line !== want : !sameFileLine(line, want)) {
      this.pending = line;
      return undefined;
    }
    this.pending = undefined;
    this.count++;
    if (this.last && comparePaths(this.last, key) >= 0) throw new LifeboatError('STATE', `manifest ${this.file} is damaged: its lines are out of path order (${key.toString('utf8')} after ${this.last.toString('utf8')})`, { hint: DAMAGED_MANIFEST });
    this.last = key;
    return line;
  }

  // One line as JSON; a line that is not is damage, named with the file.
  private parse(line: string): ManifestEntry | EndLine {
    try {
      const value = JSON.parse(line) as ManifestEntry | EndLine | null;
      if (value && typeof value === 'object' && ('end' in value || typeof value.path === 'string')) return value;
    } catch {
      // reported below
    }
    throw new LifeboatError('STATE', `manifest ${this.file} is damaged: line ${this.count + 1} is not an entry`, { hint: DAMAGED_MANIFEST });
  }

  // How many entries were read so far.
  get entries(): number {
    return this.count;
  }

  // Decompresses the next chunk.
  async fill(): Promise<void> {
    try {
      await this.lines.fill();
    } catch (error) {
      throw namedZlibError(this.file, error);
    }
  }

  // The next entry without taking it.
  async peek(): Promise<KeyedEntry | undefined> {
    if (!this.head) this.head = await this.next();
    return this.head;
  }

  // Takes the next entry.
  async next(): Promise<KeyedEntry | undefined> {
    for (;;) {
      const item = this.take();
      if (item !== MORE) return item;
      await this.fill();
    }
  }

  // Skips entries before `key`; the entry at `key` if there is one (it stays the next one), undefined
  // when there is none, or MORE when fill() must run first. For a merge with a walk in path order.
  seek(key: BytePath): KeyedEntry | undefined | typeof MORE {
    for (;;) {
      const item = this.take();
      if (item === MORE || item === undefined) return item;
      const order = comparePaths(item.key, key);
      if (order < 0) continue;
      this.head = item;
      return order === 0 ? item : undefined;
    }
  }

  // Reads the rest (checking its order, end line and gzip checksum) without keeping it.
  async readToEnd(): Promise<void> {
    for (;;) {
      const item = this.take();
      if (item === undefined) return;
      if (item === MORE) await this.fill();
    }
  }

  // Stops reading (the file stays).
  close(): void {
    for (const stream of this.streams) stream.destroy();
  }

  // The first line: a format-2 header, or a whole format-1 manifest (read into memory and sorted).
  private async readHeader(): Promise<void> {
    let first = this.lines.take();
    while (first === MORE) {
      await this.fill();
      first = this.lines.take();
    }
    if (first === undefined) throw new LifeboatError('STATE', `manifest ${this.file} is empty`, { hint: DAMAGED_MANIFEST });
    let value: Partial<ManifestHeader> | ManifestV1;
    try {
      value = JSON.parse(first) as Partial<ManifestHeader> | ManifestV1;
    } catch {
      throw new LifeboatError('STATE', `manifest ${this.file} is damaged: its first line is not JSON`, { hint: DAMAGED_MANIFEST });
    }
    if (value.version === 1 && Array.isArray((value as ManifestV1).entries)) {
      const old = value as ManifestV1;
      this.header = headerOfV1(old);
      this.index = 0;
      this.sorted = old.entries.map((entry) => ({ entry, key: fromPathKey(entry.path) })).sort((a, b) => comparePaths(a.key, b.key));
      this.close();
      return;
    }
    const header = value as Partial<ManifestHeader>;
    if (header.format !== 'lifeboat-manifest' || header.version !== 2) throw new LifeboatError('STATE', `manifest ${this.file} has an unknown format (version ${String(header.version)})`, { hint: DAMAGED_MANIFEST });
    this.header = header as ManifestHeader;
  }
}

// zlib's own words ("unexpected end of file", "incorrect data check") name no file: a zlib error
// becomes one that names the manifest and says it is damaged; any other error stays as it is.
function namedZlibError(file: string, error: unknown): unknown {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || !code.startsWith('Z_')) return error;
  const reason = error instanceof Error ? error.message : String(error);
  const cut = code === 'Z_BUF_ERROR' ? 'cut short' : 'damaged';
  return new LifeboatError('STATE', `manifest ${file} is ${cut} (${reason})`, { hint: DAMAGED_MANIFEST });
}

// Every entry of a manifest in path order.
export async function* manifestEntries(file: string): AsyncGenerator<ManifestEntry> {
  const cursor = await ManifestCursor.open(file);
  try {
    for (let item = await cursor.next(); item; item = await cursor.next()) yield item.entry;
  } finally {
    cursor.close();
  }
}

// The header of a manifest, read synchronously: format 2 decompresses only its first gzip member
// (read in growing pieces until the header line is complete); format 1 is read whole and counted.
export function readManifestHeader(file: string): ManifestHeader {
  try {
    return readHeaderOf(file);
  } catch (error) {
    if (error instanceof SyntaxError) throw new LifeboatError('STATE', `manifest ${file} is damaged: its header is not JSON`, { hint: DAMAGED_MANIFEST });
    throw namedZlibError(file, error);
  }
}

function readHeaderOf(file: string): ManifestHeader {
  const fd = openSync(file, 'r');
  try {
    let size = 1 << 16;
    for (;;) {
      const buffer = Buffer.alloc(size);
      const read = readSync(fd, buffer, 0, size, 0);
      const text = gunzipSync(buffer.subarray(0, read), { finishFlush: constants.Z_SYNC_FLUSH }).toString('utf8');
      if (text.startsWith('{"version":1')) break;
      const newline = text.indexOf('\n');
      if (newline >= 0) {
        const value = JSON.parse(text.slice(0, newline)) as Partial<ManifestHeader>;
        if (value.format !== 'lifeboat-manifest' || value.version !== 2) throw new LifeboatError('STATE', `manifest ${file} has an unknown format (version ${String(value.version)})`, { hint: DAMAGED_MANIFEST });
        return value as ManifestHeader;
      }
      if (read < size) throw new LifeboatError('STATE', `manifest ${file} has no complete header line`, { hint: DAMAGED_MANIFEST });
      size *= 4;
    }
  } finally {
    closeSync(fd);
  }
  return headerOfV1(JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as ManifestV1);
}

// The header a format-1 manifest would have had.
function headerOfV1(old: ManifestV1): ManifestHeader {
  const files = old.entries.filter((entry) => entry.type === 'file');
  return {
    format: 'lifeboat-manifest',
    version: 2,
    module: old.module,
    created: old.created,
    host: old.host,
    snapshot: old.snapshot,
    paths: old.paths,
    files: files.length,
    bytes: files.reduce((sum, entry) => sum + (entry.size ?? 0), 0),
  };
}

// Writes entries as gzipped NDJSON (the body of a manifest: no header), refusing any entry that is not
// after the one before in path order (a merge walk over a file out of order would report nonsense).
export class ManifestWriter {
  private readonly gzip: Gzip;
  private readonly done: Promise<void>;
  private batch = '';
  private last: BytePath | undefined;
  entries = 0;

  constructor(readonly file: string) {
    // Level 1: the manifest is written while the provider snapshots; speed over a few MB on disk.
    this.gzip = createGzip({ level: 1 });
    this.done = pipeline(this.gzip, createWriteStream(file, { mode: 0o600 }));
    this.done.catch(() => {});
  }

  // Adds one entry (`line`: its JSON when the caller has it already); false when the caller should
  // await drain() before adding more.
  add(entry: ManifestEntry, key: BytePath, line?: string): boolean {
    // Internal invariant: the walk hands entries over in path order.
    if (this.last && comparePaths(this.last, key) >= 0) throw new Error(`manifest entries out of path order: ${entry.path} after ${this.last.toString('utf8')}`);
    this.last = key;
    this.entries++;
    this.batch += `${line ?? JSON.stringify(entry)}\n`;
    if (this.batch.length < 1 << 16) return true;
    return this.flush();
  }

  // Adds one entry as its line (JSON written before: an unchanged entry of the previous manifest).
  addLine(key: BytePath, line: string): boolean {
    if (this.last && comparePaths(this.last, key) >= 0) throw new Error(`manifest entries out of path order: ${key.toString('utf8')} after ${this.last.toString('utf8')}`);
    this.last = key;
    this.entries++;
    this.batch += `${line}\n`;
    if (this.batch.length < 1 << 16) return true;
    return this.flush();
  }

  private flush(): boolean {
    const batch = this.batch;
    this.batch = '';
    return this.gzip.write(batch);
  }

  // Waits until the compressor took what it was given.
  async drain(): Promise<void> {
    await once(this.gzip, 'drain');
  }

  // Writes the end line and waits until everything is on disk.
  async close(): Promise<void> {
    this.gzip.end(`${this.batch}${JSON.stringify({ end: true, entries: this.entries } satisfies EndLine)}\n`);
    this.batch = '';
    await this.done;
  }

  // Gives up (the partial file is removed).
  abort(): void {
    this.gzip.destroy();
    rmSync(this.file, { force: true });
  }
}

// Stores a walk's output as the manifest `file`: the header member, then the body copied as it is,
// through a temporary name and rename(2) so a reader never sees half a manifest.
export async function storeManifest(file: string, header: ManifestHeader, body: string): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  try {
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, gzipSync(`${JSON.stringify(header)}\n`));
      await pipeline(createReadStream(body), createWriteStream('', { fd, autoClose: false }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
