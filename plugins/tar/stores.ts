// Where the tar provider keeps archives and manifests: a local folder (<url>/<module>/) and/or an S3
// prefix (<upload>/<module>/, remote.ts). Both follow one contract, so create, list, restore and forget
// work the same on either and on both at once: a manifest is written only after its archive is complete,
// and only snapshots with a manifest and an archive are listed.
import { constants, createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { LifeboatError } from '../../src/errors.js';
import { escapeControl } from '../../src/log/control.js';
import type { Logger } from '../../src/log/logger.js';
import { assertPlainName, plainNameProblem } from '../../src/storage/plain-name.js';
import { MAX_MANIFEST_BYTES } from '../../src/storage/limits.js';
import { AGE_EXTENSION } from '../../src/config/tar-encryption.js';
import type { Manifest } from './manifest.js';
import { fileListName } from './file-list.js';
import { createFileSink, EXTENSIONS, writeFileAtomic, type ArchiveSink } from './streams.js';

export const MANIFEST_SUFFIX = '.manifest.json';

export interface SinkOptions {
  log: Logger;
  signal?: AbortSignal;
}

export interface ArchiveStore {
  // Names the place in messages: a folder, or s3://bucket/prefix.
  readonly location: string;
  // Names one of a module's files in messages: /folder/module/<name>, or s3://bucket/prefix/module/<name>.
  describe(module: string, name: string): string;
  // Manifests of the module's complete snapshots (archive present), in any order.
  list(module: string, log: Logger): Promise<Manifest[]>;
  // One snapshot's manifest; undefined when this store does not have it.
  read(module: string, id: string): Promise<Manifest | undefined>;
  // Before a new archive: creates the folder, or aborts uploads a failed run left.
  prepare(module: string, log: Logger): Promise<void>;
  // Where a new archive's bytes go; commit() makes them durable (still unlisted).
  openSink(module: string, archive: string, options: SinkOptions): ArchiveSink;
  // Writes the manifest: from now on the snapshot is listed.
  publish(module: string, manifest: Manifest): Promise<void>;
  // Deletes a snapshot, manifest first (so a half-deleted snapshot is never listed), then the archive.
  discard(module: string, id: string, archive: string): Promise<void>;
  // The archive's bytes.
  open(module: string, manifest: Manifest, options: SinkOptions): Readable;
  // The bytes of another object of the snapshot (its file list), `size` long as the manifest says.
  openFile(module: string, name: string, size: number, options: SinkOptions): Readable;
  // Unfinished leftovers (not snapshots), for check's warning.
  strays(module: string): Promise<string[]>;
}

// Manifests that are all unreadable (a damaged repository) are an error, never "no snapshots"; some
// unreadable among readable ones were warned about, and the readable ones are listed.
export function assertSomeReadable(manifests: Manifest[], unreadable: string[], location: string): void {
  if (manifests.length > 0 || unreadable.length === 0) return;
  throw new LifeboatError('PROVIDER', `${escapeControl(location)}: none of its ${unreadable.length} manifest(s) can be read: ${unreadable.slice(0, 3).join('; ')}`, {
    hint: 'the repository is damaged: restore its manifests from a copy (each archive is listed by its <id>.manifest.json)',
  });
}

// Parses a manifest's text; `source` names the file or object in the error. The names in it come from
// storage, which is untrusted: `id` must be the one its file is named after, `module` the module it was
// listed for, and `archive` the plain file name <id><extension> (see plain-name.ts).
export function parseManifest(text: string, source: string, expected: { module: string; id: string }): Manifest {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
    // Which field is wrong, so that a manifest written by hand (README "Encrypted archives") can be fixed.
    const problem =
      typeof manifest !== 'object' || manifest === null ? 'not a JSON object'
      : manifest.format !== 'lifeboat-tar/1' && manifest.format !== 'lifeboat-tar/2' ? `"format" is ${JSON.stringify(manifest.format ?? null)}, not "lifeboat-tar/1" or "lifeboat-tar/2"`
      : manifest.format === 'lifeboat-tar/1' && manifest.files !== undefined && !Array.isArray(manifest.files) ? '"files" is not a list (leave it out when there is none)'
      : manifest.format === 'lifeboat-tar/2' && (typeof manifest.list !== 'object' || manifest.list === null) ? '"list" (the file list record) is missing'
      : !manifest.archive ? '"archive" is missing'
      : undefined;
    if (problem) throw new Error(`not a lifeboat-tar/1 or lifeboat-tar/2 manifest: ${problem}`);
  } catch (error) {
    throw new LifeboatError('PROVIDER', `${escapeControl(source)} is unreadable: ${(error as Error).message}`, { cause: error });
  }
  assertPlainName(manifest.id, 'id', source);
  assertPlainName(manifest.module, 'module', source);
  assertPlainName(manifest.archive, 'archive', source);
  const mismatch = (field: string, got: string, want: string) =>
    new LifeboatError('PROVIDER', `${escapeControl(source)}: refused: \`${field}\` is ${JSON.stringify(escapeControl(got))}, expected ${JSON.stringify(escapeControl(want))}`, {
      hint: 'the repository or bucket holds something Lifeboat did not write; inspect and remove that object',
    });
  if (manifest.id !== expected.id) throw mismatch('id', manifest.id, expected.id);
  if (manifest.module !== expected.module) throw mismatch('module', manifest.module, expected.module);
  // The id carries the true time (<8 hex>-<module>-<UTC stamp>): a `time` edited to make an old
  // snapshot "latest", or an id naming another module, is refused.
  const named = /^[0-9a-f]{8}-(.+)-(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d\.\d{3})Z$/.exec(manifest.id);
  if (named) {
    if (named[1] !== manifest.module) throw mismatch('module', manifest.module, named[1]);
    const time = `${named[2]}-${named[3]}-${named[4]}T${named[5]}:${named[6]}:${named[7]}Z`;
    if (manifest.time !== time) throw mismatch('time', String(manifest.time), time);
  }
  const encryption = manifest.encryption;
  if (encryption !== undefined && (encryption?.format !== 'age' || !['passphrase', 'recipients'].includes(encryption.mode) || !['string', 'undefined'].includes(typeof manifest.sealed))) {
    throw new LifeboatError('PROVIDER', `${escapeControl(source)} is unreadable: its encryption record is not one Lifeboat writes`, { hint: 'the repository or bucket holds something Lifeboat did not write; inspect and remove that object' });
  }
  const extension = EXTENSIONS[manifest.compression] && `${EXTENSIONS[manifest.compression]}${encryption ? AGE_EXTENSION : ''}`;
  if (!extension || manifest.archive !== `${manifest.id}${extension}`) throw mismatch('archive', manifest.archive, `${manifest.id}${extension ?? '.tar.zst'}`);
  if (manifest.list) {
    const list = manifest.list;
    const name = fileListName(manifest.id, encryption !== undefined, AGE_EXTENSION);
    if (list.name !== name) throw mismatch('list.name', String(list.name), name);
    if (![list.size, list.entries].every((n) => Number.isSafeInteger(n) && n >= 0) || !/^[0-9a-f]{64}$/.test(String(list.sha256))) {
      throw new LifeboatError('PROVIDER', `${escapeControl(source)} is unreadable: its file list record is not one Lifeboat writes`, { hint: 'the repository or bucket holds something Lifeboat did not write; inspect and remove that object' });
    }
  }
  return manifest;
}

// Reads a manifest's text from an untrusted store, refusing one larger than MAX_MANIFEST_BYTES.
async function readManifestFile(file: string): Promise<string> {
  // O_NONBLOCK: a FIFO planted under a manifest's name must not hang the read.
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = await handle.stat();
    const size = stats.size;
    if (!stats.isFile()) throw new LifeboatError('PROVIDER', `${escapeControl(file)}: refused: not a regular file`, { hint: 'the repository holds something Lifeboat did not write; inspect and remove it' });
    if (size > MAX_MANIFEST_BYTES) throw new LifeboatError('PROVIDER', `${escapeControl(file)}: refused: ${size} bytes, more than a manifest may have (${MAX_MANIFEST_BYTES})`, { hint: 'the repository holds something Lifeboat did not write; inspect and remove that file' });
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

// The local folder store: <base>/<module>/<id>.tar.zst and <id>.manifest.json.
// The local folder also answers an object's size without reading it (check compares it with the manifest).
export interface LocalStore extends ArchiveStore {
  // The stored size of one of a module's files; undefined when it is not there.
  size(module: string, name: string): Promise<number | undefined>;
}

export function createLocalStore(base: string): LocalStore {
  const dirOf = (module: string) => path.join(base, module);
  const read = async (module: string, id: string): Promise<Manifest | undefined> => {
    // An id that is not a plain name names no snapshot here (and no file elsewhere).
    if (plainNameProblem(id)) return undefined;
    const file = path.join(dirOf(module), `${id}${MANIFEST_SUFFIX}`);
    let text: string;
    try {
      text = await readManifestFile(file);
    } catch (error) {
      if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
      if (error instanceof LifeboatError) throw error;
      throw new LifeboatError('PROVIDER', `${file}: ${(error as Error).message}`, { cause: error });
    }
    return parseManifest(text, file, { module, id });
  };
  return {
    location: base,
    describe: (module, name) => path.join(dirOf(module), name),
    read,
    async list(module, log) {
      let names: string[];
      try {
        names = await readdir(dirOf(module));
      } catch (error) {
        // Only a folder not created yet is "no snapshots"; a file where it should be is an error.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw new LifeboatError('PROVIDER', `${dirOf(module)}: ${(error as Error).message}`, { hint: `make url (${base}) a folder, or point url: at one`, cause: error });
      }
      const present = new Set(names);
      const manifests: Manifest[] = [];
      const unreadable: string[] = [];
      for (const name of names.filter((n) => n.endsWith(MANIFEST_SUFFIX))) {
        const manifest = await read(module, name.slice(0, -MANIFEST_SUFFIX.length)).catch((error: Error) => {
          log.warn(error.message);
          unreadable.push(error.message);
          return undefined;
        });
        if (!manifest) continue;
        if (!present.has(manifest.archive)) {
          log.warn(`${path.join(dirOf(module), name)} has no archive ${manifest.archive}; not listed`);
          continue;
        }
        manifests.push(manifest);
      }
      assertSomeReadable(manifests, unreadable, dirOf(module));
      return manifests;
    },
    async prepare(module) {
      try {
        await mkdir(dirOf(module), { recursive: true, mode: 0o700 });
      } catch (error) {
        throw new LifeboatError('PROVIDER', `cannot create ${dirOf(module)}: ${(error as Error).message}`, { hint: `make url (${base}) a writable folder`, cause: error });
      }
    },
    openSink: (module, archive) => createFileSink(path.join(dirOf(module), archive)),
    publish: (module, manifest) => writeFileAtomic(path.join(dirOf(module), `${manifest.id}${MANIFEST_SUFFIX}`), JSON.stringify(manifest)),
    async discard(module, id, archive) {
      // Both names end up in rm(): only plain names inside the module's folder.
      assertPlainName(id, 'id', `${dirOf(module)} (forget)`);
      assertPlainName(archive, 'archive', `${dirOf(module)} (forget)`);
      await rm(path.join(dirOf(module), `${id}${MANIFEST_SUFFIX}`), { force: true });
      await rm(path.join(dirOf(module), archive), { force: true });
      await rm(path.join(dirOf(module), `${archive}.partial`), { force: true });
      for (const list of fileListNames(id)) {
        await rm(path.join(dirOf(module), list), { force: true });
        await rm(path.join(dirOf(module), `${list}.partial`), { force: true });
      }
    },
    open: (module, manifest) => createReadStream(path.join(dirOf(module), assertPlainName(manifest.archive, 'archive', dirOf(module)))),
    openFile: (module, name) => createReadStream(path.join(dirOf(module), assertPlainName(name, 'list', dirOf(module)))),
    async size(module, name) {
      const stats = await stat(path.join(dirOf(module), assertPlainName(name, 'object', dirOf(module)))).catch(() => undefined);
      return stats?.size;
    },
    async strays(module) {
      return localStrays(await readdir(dirOf(module)).catch(() => [] as string[]));
    },
  };
}

// Unfinished files in a module's folder: `.partial` files, and archives or file lists without a manifest
// (a run killed while it uploaded the complete local archive, see upload.ts).
function localStrays(names: string[]): string[] {
  const present = new Set(names);
  const archive = /^(.+)(?:\.tar(?:\.zst|\.gz)?|\.files\.ndjson\.gz)(?:\.age)?$/;
  return names.filter((name) => name.endsWith('.partial') || (archive.test(name) && !present.has(`${archive.exec(name)![1]}${MANIFEST_SUFFIX}`)));
}

// The names a snapshot's file list may have (plaintext, encrypted).
export function fileListNames(id: string): string[] {
  return [fileListName(id, false, AGE_EXTENSION), fileListName(id, true, AGE_EXTENSION)];
}

// Writes one archive into several sinks at once (a local file and an S3 upload): each chunk goes to
// all of them and the slowest sets the pace; a failure of any one fails the whole.
export function teeSinks(sinks: ArchiveSink[]): ArchiveSink {
  if (sinks.length === 1) return sinks[0];
  const stream = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _encoding, callback) {
      Promise.all(sinks.map((sink) => (sink.stream.write(chunk) ? undefined : drained(sink.stream)))).then(() => callback(), callback);
    },
    final(callback) {
      Promise.all(
        sinks.map((sink) => {
          sink.stream.end();
          return finished(sink.stream, { readable: false });
        }),
      ).then(() => callback(), callback);
    },
    destroy(error, callback) {
      for (const sink of sinks) if (!sink.stream.destroyed) sink.stream.destroy(error ?? undefined);
      callback(error);
    },
  });
  for (const sink of sinks) sink.stream.on('error', (error) => stream.destroy(error));
  return {
    stream,
    // Commits in order (the remote upload first): nothing is committed locally that failed remotely.
    async commit() {
      for (const sink of [...sinks].reverse()) await sink.commit();
    },
    async abort() {
      await Promise.all(sinks.map((sink) => sink.abort()));
    },
  };
}

// Resolves when a stream wants more data; rejects when it fails or closes first.
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      // A reason: the upload or backup that writes the archive wraps it into a PROVIDER error.
      reject(new Error('the archive sink closed while writing'));
    };
    stream.on('drain', onDrain);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}
