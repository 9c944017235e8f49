// The file list of a tar archive (manifest format lifeboat-tar/2), written and read as a stream so
// memory stays flat however many files a module holds: <id>.files.ndjson.gz beside the archive
// (<id>.files.ndjson.gz.age, age-encrypted like the archive, when the repository has a key). Gzipped
// NDJSON: a head line ({ format: 'lifeboat-tar-files/1', snapshot: { id, module, host, time, paths,
// archive }, exclude }), one line per archived path in path order (src/files/path-order.ts: the order
// the archive holds them in), then an end line ({ end: true, entries, archiveSize, archiveSha256 })
// that tells a complete list from a cut one and binds it to its archive. The manifest
// (<id>.manifest.json, written last) records the list's name, size, sha256 and entry count.
// Format lifeboat-tar/1 (before) held the list inside the manifest (`files`, or `sealed` when
// encrypted); it is still read (manifest.ts).
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { LifeboatError } from '../../src/errors.js';
import { LineReader } from '../../src/files/line-reader.js';
import { comparePaths } from '../../src/files/path-order.js';
import type { FileListRecord, Manifest } from './manifest.js';
import { readManifestName, toBuffer } from './names.js';
import type { ManifestEntry } from './pack.js';
import { HashTap, type ArchiveSink } from './streams.js';

export const FILES_SUFFIX = '.files.ndjson.gz';
const HEAD_FORMAT = 'lifeboat-tar-files/1';
// The longest line a list may hold (a path is at most 4 KiB; a planted list must not fill memory).
const MAX_LINE = 1 << 20;
// Text gathered before it goes to the compressor.
const BATCH = 1 << 16;

// The manifest fields the head line repeats (an encrypted list is thereby bound to its snapshot).
export type ListBinding = Pick<Manifest, 'id' | 'module' | 'host' | 'time' | 'paths' | 'archive'>;
export const BOUND_FIELDS = ['id', 'module', 'host', 'time', 'paths', 'archive'] as const;

export interface FileListHead {
  format: typeof HEAD_FORMAT;
  snapshot: ListBinding;
  exclude: string[];
}

export interface FileListEnd {
  end: true;
  entries: number;
  archiveSize: number;
  archiveSha256: string;
}

// The list's object name for a snapshot.
export function fileListName(id: string, encrypted: boolean, ageExtension: string): string {
  return `${id}${FILES_SUFFIX}${encrypted ? ageExtension : ''}`;
}

// The key of an entry: its path as a byte string (the base64 form wins).
function keyOf(entry: ManifestEntry): string {
  return readManifestName(entry.path, entry.pathB64)!;
}

// Negative, zero or positive as byte-string path a sorts before, with or after b.
export function compareKeys(a: string, b: string): number {
  return comparePaths(toBuffer(a), toBuffer(b));
}

// Writes a list while the archive is made: head now, entries as the walk yields them (refusing any not
// after the one before), the end line once the archive's size and sha256 are known.
export class FileListWriter {
  private readonly gzip = createGzip({ level: 1 });
  private readonly tap = new HashTap();
  private readonly done: Promise<void>;
  private batch: string;
  private last: Buffer | undefined;
  entries = 0;

  // `encrypt`: the age stage when the repository has a key.
  constructor(
    readonly name: string,
    head: Omit<FileListHead, 'format'>,
    sink: ArchiveSink,
    encrypt: ((source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer>) | undefined,
    signal?: AbortSignal,
  ) {
    this.batch = `${JSON.stringify({ format: HEAD_FORMAT, ...head } satisfies FileListHead)}\n`;
    this.done = encrypt ? pipeline(this.gzip, encrypt, this.tap, sink.stream, { signal }) : pipeline(this.gzip, this.tap, sink.stream, { signal });
    this.done.catch(() => {});
  }

  // Adds one entry; a promise to await when the compressor wants no more for now.
  add(entry: ManifestEntry): Promise<void> | undefined {
    const key = toBuffer(keyOf(entry));
    if (this.last && comparePaths(this.last, key) >= 0) throw new Error(`file list out of path order: ${entry.path} after ${this.last.toString('utf8')}`);
    this.last = key;
    this.entries++;
    this.batch += `${JSON.stringify(entry)}\n`;
    if (this.batch.length < BATCH) return undefined;
    const batch = this.batch;
    this.batch = '';
    if (this.gzip.write(batch)) return undefined;
    return Promise.race([once(this.gzip, 'drain').then(() => undefined), this.done.then(() => undefined)]);
  }

  // Writes the end line and waits until every byte reached the sink (the caller commits it).
  async finish(archive: { size: number; sha256: string }): Promise<FileListRecord> {
    this.gzip.end(`${this.batch}${JSON.stringify({ end: true, entries: this.entries, archiveSize: archive.size, archiveSha256: archive.sha256 } satisfies FileListEnd)}\n`);
    this.batch = '';
    await this.done;
    return { name: this.name, size: this.tap.bytes, sha256: this.tap.digest(), entries: this.entries };
  }

  // Stops writing (the sink's abort removes what was written).
  abort(): void {
    this.gzip.destroy();
  }
}

// Reads a list entry by entry in path order. `source` is the stored object; `decrypt` the age stage
// for an encrypted list; `where` names the list in errors.
export class FileListReader {
  head!: FileListHead;
  end: FileListEnd | undefined;
  count = 0;
  private readonly tap = new HashTap();
  private readonly text = new PassThrough();
  private readonly lines: LineReader;
  private readonly flowing: Promise<void>;
  private current: { entry: ManifestEntry; key: string } | undefined;

  private constructor(
    source: Readable,
    decrypt: ((source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer>) | undefined,
    private readonly where: string,
    signal?: AbortSignal,
  ) {
    const gunzip = createGunzip();
    this.flowing = decrypt ? pipeline(source, this.tap, decrypt, gunzip, this.text, { signal }) : pipeline(source, this.tap, gunzip, this.text, { signal });
    this.flowing.catch(() => {});
    this.text.setEncoding('utf8');
    this.lines = new LineReader(this.text[Symbol.asyncIterator](), MAX_LINE);
  }

  // Opens a list and reads its head line.
  static async open(source: Readable, decrypt: ((source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer>) | undefined, where: string, signal?: AbortSignal): Promise<FileListReader> {
    const reader = new FileListReader(source, decrypt, where, signal);
    try {
      const head = (await reader.line()) as Partial<FileListHead> | undefined;
      if (!head || head.format !== HEAD_FORMAT || typeof head.snapshot !== 'object' || !Array.isArray(head.exclude)) throw new Error('no lifeboat-tar-files/1 head line');
      reader.head = head as FileListHead;
    } catch (error) {
      reader.close();
      throw reader.damaged(error);
    }
    return reader;
  }

  // The list's bytes and sha256 as stored (once it was read to its end).
  get stored(): { size: number; sha256: string } {
    return { size: this.tap.bytes, sha256: this.tap.digest() };
  }

  // The entry at `key`, passing over the ones before it (each handed to `skipped`); undefined when the
  // list has none there. Keys must be asked in path order: a key before the last one asked finds nothing.
  async seek(key: string, skipped?: (entry: ManifestEntry, key: string) => void): Promise<ManifestEntry | undefined> {
    for (;;) {
      this.current ??= await this.next();
      if (!this.current) return undefined;
      const order = compareKeys(this.current.key, key);
      if (order > 0) return undefined;
      const { entry, key: at } = this.current;
      this.current = undefined;
      if (order === 0) return entry;
      skipped?.(entry, at);
    }
  }

  // Every entry not taken yet (each handed to `each`), then the end line, which must count them all.
  async drain(each?: (entry: ManifestEntry, key: string) => void): Promise<FileListEnd> {
    for (let item = this.current ?? (await this.next()); item; item = await this.next()) each?.(item.entry, item.key);
    this.current = undefined;
    if (!this.end) throw this.damaged(new Error(`cut short (no end line after ${this.count} entries)`));
    await this.flowing.catch((error: unknown) => {
      throw this.damaged(error);
    });
    return this.end;
  }

  // Stops reading.
  close(): void {
    this.text.destroy();
  }

  // The next entry, undefined after the end line.
  private async next(): Promise<{ entry: ManifestEntry; key: string } | undefined> {
    if (this.end) return undefined;
    let value: unknown;
    try {
      value = await this.line();
      if (value === undefined) return undefined;
      if ((value as FileListEnd).end === true) {
        this.end = value as FileListEnd;
        if (this.end.entries !== this.count) throw new Error(`its end line says ${this.end.entries} entries, it holds ${this.count}`);
        if ((await this.line()) !== undefined) throw new Error('lines after its end line');
        return undefined;
      }
      const entry = value as ManifestEntry;
      if (typeof entry?.path !== 'string' || typeof entry.type !== 'string') throw new Error(`line ${this.count + 2} is not a file entry`);
      this.count++;
      return { entry, key: keyOf(entry) };
    } catch (error) {
      throw this.damaged(error);
    }
  }

  // The next non-empty line as JSON; undefined at the end of the data.
  private async line(): Promise<unknown> {
    const line = await this.lines.next();
    return line === undefined ? undefined : JSON.parse(line);
  }

  // An error naming the list; age failures (wrong key, tampering) pass through as they are.
  private damaged(error: unknown): Error {
    if (error instanceof LifeboatError || (error as Error)?.name === 'AbortError') return error as Error;
    return new LifeboatError('PROVIDER', `${this.where}: the file list is damaged: ${(error as Error)?.message ?? String(error)}`, {
      hint: 'restore another snapshot; `lifeboat verify` checks every archive and file list of the module',
      cause: error,
    });
  }
}

// A snapshot's file entries as restore and verify read them, whichever manifest format holds them.
export interface FileEntries {
  // The entry at an archive path (a byte string); `skipped` hears entries passed over on the way.
  take(key: string, skipped?: (entry: ManifestEntry, key: string) => void): Promise<ManifestEntry | undefined>;
  // Every entry not taken yet; then checks the list is complete. Returns the list's end line (format 2).
  rest(each?: (entry: ManifestEntry, key: string) => void): Promise<FileListEnd | undefined>;
  // The list's size and sha256 as stored, once rest() read it to its end (format 2).
  stored?: () => { size: number; sha256: string };
  close(): void;
}

// Format 2: the stream; entries are asked in archive order (a path asked out of order finds nothing).
export function streamedEntries(reader: FileListReader): FileEntries {
  return {
    take: (key, skipped) => reader.seek(key, skipped),
    rest: (each) => reader.drain(each),
    stored: () => reader.stored,
    close: () => reader.close(),
  };
}

// Format 1: the list that was held in the manifest, by path (an old archive's order may differ).
export function heldEntries(files: ManifestEntry[]): FileEntries {
  const byPath = new Map(files.map((entry) => [keyOf(entry), entry]));
  const taken = new Set<string>();
  return {
    take: async (key) => {
      taken.add(key);
      return byPath.get(key);
    },
    rest: async (each) => {
      for (const [key, entry] of byPath) if (!taken.has(key)) each?.(entry, key);
      return undefined;
    },
    close: () => {},
  };
}
