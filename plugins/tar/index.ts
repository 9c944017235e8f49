// The tar provider: archives at <url>/<module>/<id>.tar.zst (.tar.gz, .tar), made in Node as one stream
// pipeline (tree walk and tar format -> compressor -> hash tap -> sink), their file list
// <id>.files.ndjson.gz streamed beside them as the walk goes (file-list.ts), and a manifest
// <id>.manifest.json written after both are complete. Only archives with a manifest are listed, so a half-written
// archive never looks complete. The id (the archive's base name) is <8 random hex>-<module>-<UTC time>:
// its short form (the first 12 or 16 characters) is unique too.
// With `upload: s3://bucket/prefix` the same files go to <prefix>/<module>/ in S3 as they are made
// (remote.ts; `url` may then be omitted): list and restore read either place, forget deletes in both.
// With encryption (age.ts) the archive is <id>.tar.zst.age and the manifest's file list is sealed too.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LifeboatError, joinHints } from '../../src/errors.js';
import { progressEnabled } from '../../src/log/progress.js';
import type { CommonOptions, CreateOptions, Provider, ProviderInput, ProviderSnapshot, RestoreOptions } from '../../src/providers/types.js';
import { notCreatedYet } from '../../src/providers/shared.js';
import { compileExcludes } from '../../src/files/exclude.js';
import { AGE_EXTENSION, AgeKeys, decryptStage, encryptStage, noKeys, openJson } from './age.js';
import { extractEntries, includedBy, planRedirects } from './extract.js';
import { BOUND_FIELDS, fileListName, FileListReader, FileListWriter, heldEntries, streamedEntries, type FileEntries } from './file-list.js';
import { displayName } from './names.js';
import { coalesce, packTree, type ManifestEntry } from './pack.js';
import type { Manifest } from './manifest.js';

export type { Manifest } from './manifest.js';
import { readTar, type TarEntry } from './tar-format.js';
import { createCompressor, createDecompressor, EXTENSIONS, HashTap, type Compression } from './streams.js';
import { createLocalStore, teeSinks, type ArchiveStore } from './stores.js';
import { walkTotal } from './total.js';
import { declaration } from './declaration.js';

// What the sealed part of an encrypted lifeboat-tar/1 manifest holds.
// `snapshot` binds it to its manifest: a sealed part copied into another snapshot's manifest (with
// another archive swapped in) does not match and is refused.
interface SealedPart {
  // Absent or empty in a manifest made by hand: no per-file checks then (README "Encrypted archives").
  files?: ManifestEntry[];
  exclude: string[];
  snapshot: SealedSnapshot;
}

// The plaintext manifest's fields that the sealed part repeats.
type SealedSnapshot = Pick<Manifest, 'id' | 'module' | 'host' | 'time' | 'paths' | 'archive' | 'archiveSha256'>;
const SEALED_FIELDS = ['id', 'module', 'host', 'time', 'paths', 'archive', 'archiveSha256'] as const;


// A manifest and the store it was read from.
interface Located {
  manifest: Manifest;
  store: ArchiveStore;
}

// An id-safe UTC time: ISO 8601 basic format with milliseconds (20240102T030405.123Z).
function stamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '');
}

// Any failure as a LifeboatError naming the repository and module, the original kept as cause.
function asLifeboatError(error: unknown, where: string, signal?: AbortSignal): LifeboatError {
  if (error instanceof LifeboatError) return error;
  const err = error as NodeJS.ErrnoException;
  if (signal?.aborted || err?.name === 'AbortError') return new LifeboatError('INTERRUPTED', `${where}: stopped`, { cause: error });
  return new LifeboatError('PROVIDER', `${where}: ${err?.message ?? String(error)}`, { cause: error });
}

// Reads a stored object to its end: its size and sha256.
async function hashAll(source: Readable, signal?: AbortSignal): Promise<HashTap> {
  const tap = new HashTap();
  await pipeline(source, tap, new Writable({ write: (_chunk, _encoding, done) => done() }), { signal });
  return tap;
}

// The factory the registry calls for `provider: tar`.
export function createProvider(input: ProviderInput): Provider {
  const { name: repoName, config } = input;
  if (config.url === undefined ? !config.upload : /^[a-z0-9]+:\/\//i.test(config.url)) {
    throw new LifeboatError('CONFIG_INVALID', `repository "${repoName}" (tar): \`url\` must be a local folder, got ${JSON.stringify(config.url ?? null)}`, {
      hint: 'set url: /var/backups/tar, and/or upload: s3://bucket/prefix for archives in S3',
    });
  }
  const base = config.url === undefined ? undefined : path.resolve(input.root.root, config.url);
  const compression: Compression = config.compression ?? 'zstd';
  // undefined: archives are written in plaintext (README "The tar provider": when that is the default).
  const keys = AgeKeys.fromConfig(input);
  const where = (module: string) => `tar repository "${repoName}" of module ${module}`;
  let lastTime = 0;
  // The local folder first (restore reads it when it has the archive), then S3, opened on first use.
  const local = base === undefined ? undefined : createLocalStore(base);
  let remote: Promise<ArchiveStore> | undefined;
  async function openStores(env?: Record<string, string>): Promise<ArchiveStore[]> {
    if (!config.upload) return [local!];
    remote ??= import('./remote.js').then((m) => m.createS3ArchiveStore(input, { ...(env ?? { ...process.env, ...input.root.rootEnv }), ...config.env }));
    remote.catch(() => (remote = undefined));
    return local ? [local, await remote] : [await remote];
  }
  const whereAll = (module: string, stores: ArchiveStore[]) => `${where(module)} (${stores.map((s) => s.location).join(' + ')})`;

  // Reads a snapshot's manifest from the first store that has it; unknown ids are the caller's mistake.
  async function readManifest(module: string, id: string, env?: Record<string, string>): Promise<{ manifest: Manifest; store: ArchiveStore }> {
    const stores = await openStores(env);
    for (const store of stores) {
      const manifest = await store.read(module, id).catch((error: unknown) => {
        throw asLifeboatError(error, where(module));
      });
      if (manifest) return { manifest, store };
    }
    throw new LifeboatError('UNKNOWN_SNAPSHOT', `${whereAll(module, stores)}: snapshot "${id}" not found`, { hint: '`lifeboat snapshots` lists them' });
  }

  // Snapshots with a manifest and their archive in any store, oldest first; [] when there are none.
  async function list(module: string, options: CommonOptions): Promise<ProviderSnapshot[]> {
    const byId = new Map<string, ProviderSnapshot>();
    for (const store of await openStores(options.env)) {
      const manifests = await store.list(module, options.log).catch((error: unknown) => {
        throw asLifeboatError(error, where(module));
      });
      for (const manifest of manifests) {
        const problem = byId.has(manifest.id) ? undefined : unsealedProblem(module, { manifest, store });
        if (problem) options.log.warn(`${problem}; restore and verify refuse it`);
        if (!byId.has(manifest.id)) byId.set(manifest.id, { id: manifest.id, time: manifest.time, module, repository: repoName, host: manifest.host, tags: manifest.tags, paths: manifest.paths });
      }
    }
    return [...byId.values()].sort((a, b) => a.time.localeCompare(b.time));
  }

  // Runs the create pipeline into a sink, then writes the manifest that makes the archive visible.
  async function create(options: CreateOptions) {
    const { module } = options;
    const tags = [...new Set([`module:${module}`, ...options.tags])];
    const isExcluded = compileExcludes(options.exclude);
    lastTime = Math.max(Date.now(), lastTime + 1);
    const time = new Date(lastTime).toISOString();
    const id = `${randomBytes(4).toString('hex')}-${module}-${stamp(new Date(lastTime))}`;
    const archive = `${id}${EXTENSIONS[compression]}${keys ? AGE_EXTENSION : ''}`;
    const snapshot: ProviderSnapshot = { id, time, module, repository: repoName, host: options.host, tags, paths: options.paths };
    const stores = await openStores(options.env);
    if (options.dryRun) {
      options.log.info(`dry run: would write ${archive} to ${stores.map((s) => `${s.location}/${module}/`).join(' and ')} from ${options.paths.join(' ')}`);
      return { snapshot };
    }
    for (const store of stores) {
      await store.prepare(module, options.log);
      const stray = await store.strays(module).catch(() => [] as string[]);
      if (stray.length) options.log.warn(`${whereAll(module, [store])}: unfinished files of an earlier run (not snapshots; remove them): ${stray.join(', ')}`);
    }
    // With a local folder and S3, a caller that can wait for the upload later (detachUpload) gets the
    // snapshot once the local archive is complete; the upload follows (upload.ts).
    const deferUpload = options.detachUpload === true && local !== undefined && stores.length > 1;
    const writeTo = deferUpload ? [local!] : stores;
    const sink = teeSinks(writeTo.map((store) => store.openSink(module, archive, { log: options.log, signal: options.signal })));
    const listName = fileListName(id, keys !== undefined, AGE_EXTENSION);
    const listSink = teeSinks(writeTo.map((store) => store.openSink(module, listName, { log: options.log, signal: options.signal })));
    const tap = new HashTap();
    let list: FileListWriter | undefined;
    let committed = false;
    const progress = trackProgress(options);
    try {
      // The file list's key is derived before the archive streams (the memory peak comes later).
      const sealer = keys ? await keys.prepared(options.env) : undefined;
      const head = { snapshot: { id, module, host: options.host, time, paths: options.paths, archive }, exclude: options.exclude };
      list = new FileListWriter(listName, head, listSink, keys ? encryptStage(keys, options.env, sealer) : undefined, options.signal);
      const packing = coalesce(packTree(options.paths, (entry) => list!.add(entry), { isExcluded, log: options.log, signal: options.signal, onFileBytes: progress?.add }));
      if (progress) progress.total(walkTotal(options.paths, isExcluded, AbortSignal.any([options.signal, progress.stop.signal])));
      if (keys) await pipeline(packing, createCompressor(compression), encryptStage(keys, options.env), tap, sink.stream, { signal: options.signal });
      else await pipeline(packing, createCompressor(compression), tap, sink.stream, { signal: options.signal });
      const archiveSha256 = tap.digest();
      const record = await list.finish({ size: tap.bytes, sha256: archiveSha256 });
      await sink.commit();
      committed = true;
      await listSink.commit();
      const manifest: Manifest = { format: 'lifeboat-tar/2', id, archive, module, host: options.host, tags, time, paths: options.paths, exclude: keys ? [] : options.exclude, compression, archiveSize: tap.bytes, archiveSha256, list: record };
      if (keys) manifest.encryption = keys.record;
      if (deferUpload) return { snapshot, bytes: tap.bytes, uploading: deferredUpload(module, manifest, stores, options) };
      // Remote first: a snapshot listed locally is always in S3 too.
      for (const store of [...stores].reverse()) await store.publish(module, manifest);
      return { snapshot, bytes: tap.bytes };
    } catch (error) {
      list?.abort();
      await sink.abort();
      await listSink.abort();
      // Before commit the sinks clean up after themselves (and S3 may be unreachable: no more requests).
      if (committed) for (const store of stores) await store.discard(module, id, archive).catch((e: Error) => options.log.warn(`${whereAll(module, [store])}: could not remove ${archive}: ${e.message}`));
      if (options.signal?.aborted) throw new LifeboatError('INTERRUPTED', `${where(module)}: backup stopped; the incomplete archive was removed`, { cause: error });
      if (error instanceof LifeboatError) throw error;
      throw new LifeboatError('PROVIDER', `${where(module)}: backup failed, nothing was kept: ${(error as Error).message}`, {
        hint: 'a path vanished or could not be read; fix it or exclude it (exclude: in module.yaml)',
        cause: error,
      });
    } finally {
      progress?.stop.abort();
    }
  }

  // Starts the upload of a complete local archive; the returned promise is already marked handled (the
  // caller awaits it later) and settles when the snapshot is listed, or was removed.
  function deferredUpload(module: string, manifest: Manifest, stores: ArchiveStore[], options: CreateOptions): Promise<void> {
    const [localStore, remoteStore] = stores;
    const uploading = import('./upload.js').then((m) => m.uploadLocalArchive({ module, manifest, local: localStore, remote: remoteStore, log: options.log, signal: options.signal, where: where(module) }));
    uploading.catch(() => {});
    return uploading;
  }

  // Streams an archive (a file, or an S3 download) through the decompressor into the tar reader handed to `consume`.
  async function readArchive(module: string, { manifest, store }: Located, consume: (entries: AsyncIterable<TarEntry>) => Promise<void>, log: CommonOptions['log'], signal?: AbortSignal, extra: ReadExtras = {}): Promise<HashTap> {
    const tap = new HashTap(extra.onBytes);
    const source = store.open(module, manifest, { log, signal });
    let sourceEnded = false;
    source.once('end', () => {
      sourceEnded = true;
    });
    // Read to the end (past the end-of-archive blocks), so that the tap hashes every byte stored.
    const reading = async (chunks: AsyncIterable<Buffer>) => {
      const iterator = chunks[Symbol.asyncIterator]();
      await consume(readTar({ [Symbol.asyncIterator]: () => iterator }));
      while (!(await iterator.next()).done);
    };
    try {
      if (manifest.encryption) await pipeline(source, tap, decryptStage(keys, manifest.encryption.mode, archiveName(module, manifest, store), extra.env), createDecompressor(manifest.compression), reading, { signal });
      else await pipeline(source, tap, createDecompressor(manifest.compression), reading, { signal });
    } catch (error) {
      // Every byte was read (a cut archive shows as the decompressor's "premature end"): when they are not
      // the ones the manifest records, say that, with the size read against the size recorded.
      if (namesDamage(error)) throw error;
      const read = sourceEnded && !signal?.aborted ? archiveMismatch(module, { manifest, store }, tap.bytes, tap.digest(), extra.restoring) : undefined;
      if (read) throw Object.assign(read, { cause: error });
      if (signal?.aborted || namesDamage(error)) throw asLifeboatError(error, `${where(module)}, archive ${manifest.archive}`, signal);
      // A refused entry, a wrong key or a broken tar stream: when the archive is not the one its
      // manifest records, say that (damaged or swapped) rather than what it led to.
      const mismatch = await storedMismatch(module, { manifest, store }, log, signal, extra.restoring).catch(() => undefined);
      if (mismatch) throw Object.assign(mismatch, { cause: error });
      // The tar reader's and zstd's complaints ("the archive has a damaged header") name no archive (nor its
      // snapshot id): say which.
      if (error instanceof LifeboatError && error.code === 'PROVIDER' && !error.message.includes(manifest.id)) {
        throw new LifeboatError('PROVIDER', `${archiveName(module, manifest, store)}: ${error.message}`, {
          hint: error.hint ?? 'restore another snapshot; `lifeboat verify` checks every archive and file list of the module',
          cause: error,
        });
      }
      throw asLifeboatError(error, `${where(module)}, archive ${manifest.archive}`, signal);
    }
    return tap;
  }

  // The error for an archive whose bytes are not the ones its manifest records (size and SHA-256).
  function archiveMismatch(module: string, { manifest, store }: Located, bytes: number, sha256: string, restoring?: boolean): LifeboatError | undefined {
    if (bytes === manifest.archiveSize && sha256 === manifest.archiveSha256) return undefined;
    return new LifeboatError(
      'PROVIDER',
      `${archiveName(module, manifest, store)}: not the archive its manifest records (${bytes} bytes, sha256 ${sha256.slice(0, 12)}…; the manifest records ${manifest.archiveSize} bytes, sha256 ${manifest.archiveSha256.slice(0, 12)}…): damaged, cut short or swapped${restoring ? '; nothing was restored' : ''}`,
      { hint: 'restore another snapshot; `lifeboat verify` checks every archive and file list of the module' },
    );
  }

  // Reads a stored archive once more (after a failure) and compares it with its manifest.
  async function storedMismatch(module: string, located: Located, log: CommonOptions['log'], signal?: AbortSignal, restoring?: boolean): Promise<LifeboatError | undefined> {
    const tap = await hashAll(located.store.open(module, located.manifest, { log, signal }), signal);
    return archiveMismatch(module, located, tap.bytes, tap.digest(), restoring);
  }

  // Where an archive is, for messages: s3://bucket/prefix/module/<archive> or /folder/module/<archive>.
  function archiveName(module: string, manifest: Manifest, store: ArchiveStore): string {
    return store.describe(module, manifest.archive);
  }

  // Why a repository with a key refuses a snapshot before opening it: plaintext, or no sealed file list.
  // Lifeboat writes neither there, and either lets someone with write access but no key plant content.
  function unsealedProblem(module: string, { manifest, store }: Located): string | undefined {
    if (!keys) return undefined;
    const archive = archiveName(module, manifest, store);
    if (!manifest.encryption) return `${archive}: refused: the snapshot is not encrypted, but repository ${repoName} has a key, so Lifeboat did not write it there (planted, or made before the key was added)`;
    if (manifest.sealed === undefined && manifest.list === undefined) return `${archive}: refused: the manifest has no sealed part, so nothing binds it to its archive (planted, swapped or made by hand)`;
    return undefined;
  }

  // A snapshot's file entries, after checking that they name this very snapshot and archive (an encrypted
  // list is opened with the repository's key): a lifeboat-tar/2 list as a stream, a lifeboat-tar/1 list
  // from the manifest. The caller closes them.
  async function openEntries(module: string, located: Located, options: { env?: Record<string, string>; log: CommonOptions['log']; signal?: AbortSignal }): Promise<FileEntries> {
    const { manifest, store } = located;
    const problem = unsealedProblem(module, located);
    if (problem) throw new LifeboatError('PROVIDER', problem, { hint: 'inspect and delete that snapshot; to restore a plaintext snapshot made before the key was added, use a configuration without the key' });
    const archive = archiveName(module, manifest, store);
    const swapped = (differs: string[], what: string) =>
      new LifeboatError('PROVIDER', `${archive}: the manifest does not match its ${what} (${differs.join(', ')}): tampered with or swapped; nothing from it was used`, {
        hint: 'restore another snapshot, and find out who can write to the repository',
      });
    if (manifest.list) {
      const { name, size } = manifest.list;
      // A wrong or missing key is reported naming the archive, as for the archive itself.
      const decrypt = manifest.encryption ? decryptStage(keys, manifest.encryption.mode, archive, options.env, `its file list ${name}`) : undefined;
      const reader = await FileListReader.open(store.openFile(module, name, size, { log: options.log, signal: options.signal }), decrypt, store.describe(module, name), options.signal).catch(async (error: unknown) => {
        // A damaged header looks like a wrong key: a list that is not the one recorded is damage.
        if (isWrongKey(error)) await assertListAsRecorded(module, located, options);
        throw error;
      });
      const bound = reader.head.snapshot ?? {};
      const differs = BOUND_FIELDS.filter((field) => JSON.stringify(bound[field]) !== JSON.stringify(manifest[field]));
      if (differs.length) {
        reader.close();
        throw swapped(differs, 'file list');
      }
      return streamedEntries(reader);
    }
    if (!manifest.encryption || manifest.sealed === undefined) return held(manifest.files);
    const part = await openJson<SealedPart>(keys, manifest.encryption.mode, manifest.sealed, archive, options.env);
    const sealed = part.snapshot ?? ({} as Partial<SealedSnapshot>);
    const differs = SEALED_FIELDS.filter((field) => JSON.stringify(sealed[field]) !== JSON.stringify(manifest[field]));
    if (differs.length) throw swapped(differs, 'sealed part');
    return held(part.files);
  }

  // A lifeboat-tar/1 list; none (a manifest made by hand, README "Encrypted archives") when it is
  // missing or empty: then the archive's size and SHA-256 are all that is checked.
  function held(files: ManifestEntry[] | undefined): FileEntries {
    const entries = heldEntries(files ?? []);
    if (!files?.length) unlisted.add(entries);
    return entries;
  }

  // Where a restore reads from: the local copy when there is one and it matches its manifest (size and
  // sha256), else S3 (with a warning naming what is wrong with the local copy).
  async function restoreSource(options: RestoreOptions): Promise<Located> {
    const found = await readManifest(options.module, options.snapshot.id, options.env);
    const stores = await openStores(options.env);
    if (stores.length < 2 || found.store !== stores[0] || options.dryRun) return found;
    const problem = await localProblem(options.module, found, options);
    if (!problem) return found;
    const remoteStore = stores[1];
    const manifest = await remoteStore.read(options.module, options.snapshot.id).catch(() => undefined);
    if (!manifest) return found;
    options.log.warn(`${archiveName(options.module, found.manifest, found.store)} ${problem}; restoring from ${archiveName(options.module, manifest, remoteStore)} instead`);
    return { manifest, store: remoteStore };
  }

  // What is wrong with a local archive: missing, or its size or sha256 differs from the manifest.
  async function localProblem(module: string, { manifest, store }: Located, options: RestoreOptions): Promise<string | undefined> {
    let tap: HashTap;
    try {
      tap = await hashAll(store.open(module, manifest, { log: options.log, signal: options.signal }), options.signal);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : `cannot be read (${(error as Error).message})`;
    }
    if (tap.bytes !== manifest.archiveSize || tap.digest() !== manifest.archiveSha256) return 'fails its checksum (size or sha256 differs from its manifest)';
    return undefined;
  }

  // Refuses a lifeboat-tar/2 file list whose stored bytes are not what the manifest records (size and
  // sha256): a list edited in place would otherwise set what the restore writes (modes, owners). Lists
  // are small: one extra read before the restore.
  async function assertListAsRecorded(module: string, { manifest, store }: Located, options: { log: CommonOptions['log']; signal?: AbortSignal }): Promise<void> {
    if (!manifest.list) return;
    const { name, size, sha256 } = manifest.list;
    let tap: HashTap;
    try {
      tap = await hashAll(store.openFile(module, name, size, { log: options.log, signal: options.signal }), options.signal);
    } catch (error) {
      throw asLifeboatError(error, `${where(module)}, file list ${name}`, options.signal);
    }
    const digest = tap.digest();
    const differs = [tap.bytes !== size ? `${tap.bytes} bytes, the manifest says ${size}` : undefined, digest !== sha256 ? `sha256 ${digest.slice(0, 12)}…, the manifest says ${sha256.slice(0, 12)}…` : undefined].filter(Boolean);
    if (differs.length === 0) return;
    throw new LifeboatError('PROVIDER', `${store.describe(module, name)}: the file list is not the one its manifest records (${differs.join(', ')}): damaged or edited; nothing was restored`, {
      hint: 'restore another snapshot; `lifeboat verify` checks every archive and file list of the module',
    });
  }

  // Extracts a snapshot into target, checking every file against the manifest's file list.
  async function restore(options: RestoreOptions): Promise<void> {
    const located = await restoreSource(options);
    const { manifest } = located;
    await assertListAsRecorded(options.module, located, options);
    const files = await openEntries(options.module, located, options);
    try {
      if (options.dryRun) {
        options.log.info(`dry run: would extract ${manifest.archive} from ${located.store.location} into ${options.target}`);
        return;
      }
      await mkdir(options.target, { recursive: true });
      const whereArchive = `${where(options.module)}, archive ${manifest.archive}`;
      const redirects = options.include ? await planLinkRedirects(options.module, located, includedBy(options.include), options) : undefined;
      const tap = await readArchive(
        options.module,
        located,
        async (entries) => {
          await extractEntries(entries, { target: options.target, include: options.include, files: unlisted.has(files) ? undefined : files, redirects, log: options.log, where: whereArchive, signal: options.signal });
        },
        options.log,
        options.signal,
        { env: options.env, restoring: true, onBytes: options.onProgress && ((done) => options.onProgress!({ bytesDone: done, bytesTotal: manifest.archiveSize })) },
      );
      // Every byte was read: the archive must be the one the manifest records (the caller removes what
      // was extracted, before any swap).
      const mismatch = archiveMismatch(options.module, located, tap.bytes, tap.digest(), true);
      if (mismatch) throw mismatch;
    } finally {
      files.close();
    }
  }

  // For a restore of some paths only: hard-link groups whose first member is not restored (one pass
  // over the file list before the archive is read).
  async function planLinkRedirects(module: string, located: Located, included: (p: string) => boolean, options: RestoreOptions): Promise<Map<string, string>> {
    const plan = planRedirects(included);
    const files = await openEntries(module, located, options);
    try {
      await files.rest(plan.add);
    } finally {
      files.close();
    }
    return plan.redirects;
  }

  // Re-reads one archive: every file's sha256, the file list and the archive's own sha256. The archive
  // and a lifeboat-tar/2 file list are read side by side in path order (memory does not grow with them).
  // The errors behind the problems go to `errors`, so that the check keeps their hints (the fix).
  async function verify(module: string, located: Located, log: CommonOptions['log'], env: Record<string, string> | undefined, errors: unknown[]): Promise<string[]> {
    const problems: string[] = [];
    const { manifest } = located;
    let files: FileEntries;
    try {
      files = await openEntries(module, located, { env, log });
    } catch (error) {
      errors.push(error);
      return [(error as Error).message];
    }
    const missing = (entry: ManifestEntry, key: string) => {
      if (entry.type === 'file') problems.push(`${manifest.archive}: ${displayName(key)} is missing from the archive`);
    };
    try {
      const tap = await readArchive(module, located, async (entries) => {
        for await (const { header, body } of entries) {
          if (header.type !== 'file') continue;
          const file = `/${header.name.replace(/^\/+|\/+$/g, '')}`;
          const hash = createHash('sha256');
          for await (const chunk of body) hash.update(chunk);
          const sha = hash.digest('hex');
          const expected = await files.take(file, missing);
          // A hand-made manifest without a file list: the archive's size and SHA-256 are checked below.
          if (unlisted.has(files)) continue;
          if (expected?.type !== 'file') problems.push(`${manifest.archive}: ${displayName(file)} is not in the manifest`);
          else if (expected.sha256 !== sha) problems.push(`${manifest.archive}: ${displayName(file)} differs from the manifest (sha256)`);
        }
      }, log, undefined, { env }).catch((error: Error) => {
        errors.push(error);
        problems.push(error.message);
        return undefined;
      });
      if (!tap) return problems;
      const end = await files.rest(missing).catch((error: Error) => {
        errors.push(error);
        problems.push(error.message);
        return undefined;
      });
      const archiveSha256 = tap.digest();
      if (archiveSha256 !== manifest.archiveSha256 || tap.bytes !== manifest.archiveSize) problems.push(`${manifest.archive}: archive size or sha256 differs from the manifest`);
      if (end && (end.archiveSha256 !== manifest.archiveSha256 || end.archiveSize !== manifest.archiveSize)) problems.push(`${manifest.archive}: its file list was made for another archive (size or sha256)`);
      const stored = files.stored?.();
      if (stored && manifest.list && (stored.size !== manifest.list.size || stored.sha256 !== manifest.list.sha256)) problems.push(`${manifest.list.name}: size or sha256 differs from the manifest`);
      if (end && manifest.list && end.entries !== manifest.list.entries) problems.push(`${manifest.list.name}: ${end.entries} entries, the manifest says ${manifest.list.entries}`);
      return problems;
    } finally {
      files.close();
    }
  }

  return {
    kind: declaration.kind,
    capabilities: declaration.capabilities,
    create,
    list,
    restore,
    // Deletes the given archives (Lifeboat's retention chose them) in every store; the manifest goes
    // first, so a half-deleted archive is never listed.
    async forget(module: string, snapshots: ProviderSnapshot[], options: CommonOptions) {
      for (const snapshot of snapshots) {
        if (options.dryRun) {
          options.log.info(`dry run: would delete ${snapshot.id}`);
          continue;
        }
        const { manifest } = await readManifest(module, snapshot.id, options.env);
        for (const store of await openStores(options.env)) await store.discard(module, snapshot.id, manifest.archive);
      }
    },
    // An encrypted snapshot needs its key present (identityFile, the passphrase) before a restore starts.
    // Opening the sealed part proves the key (a wrong one fails here, exit 1) and that the manifest is
    // the archive's own; `lifeboat check` calls this for the newest snapshot.
    async preflightRestore(module: string, snapshot: ProviderSnapshot, options: CommonOptions) {
      const located = await readManifest(module, snapshot.id, options.env);
      const { manifest, store } = located;
      if (manifest.encryption && !keys) throw noKeys(archiveName(module, manifest, store), manifest.encryption.mode);
      (await openEntries(module, located, options)).close();
    },
    // The key a backup needs, had before anything runs: the passphrase (read or run once, kept for the
    // backup), or with only identityFile its key.
    async preflightBackup(options: CommonOptions) {
      await keys?.available(options.env);
    },
    // Unfinished files in every store, each named where it is (a local path, an S3 key and upload id).
    async leftovers(module: string, options: CommonOptions) {
      const out: string[] = [];
      for (const store of await openStores(options.env)) {
        const stray = await store.strays(module).catch(() => [] as string[]);
        out.push(...stray.map((name) => (store === local ? store.describe(module, name) : `${name} in ${store.location}`)));
      }
      return out;
    },
    // The local folder's archives and file lists whose size differs from their manifest (by stat; S3
    // objects are not looked at: `lifeboat verify` reads them).
    async sizeProblems(module: string, options: CommonOptions) {
      if (!local) return [];
      const out: string[] = [];
      for (const manifest of await local.list(module, options.log)) {
        const objects = [{ name: manifest.archive, size: manifest.archiveSize }, ...(manifest.list ? [{ name: manifest.list.name, size: manifest.list.size }] : [])];
        for (const object of objects) {
          const stored = await local.size(module, object.name);
          if (stored !== object.size) out.push(`${local.describe(module, object.name)}: ${stored === undefined ? 'missing' : `${stored} bytes`}, its manifest records ${object.size}`);
        }
      }
      return out;
    },
    // Verifies every archive of the module against its manifest (always reads all data).
    async check(module: string, options: CommonOptions & { readData?: boolean }) {
      const snapshots = await list(module, options);
      if (snapshots.length === 0) throw notCreatedYet(where(module), module, 'has no archives yet');
      const problems: string[] = [];
      const errors: unknown[] = [];
      for (const snapshot of snapshots) problems.push(...(await verify(module, await readManifest(module, snapshot.id, options.env), options.log, options.env, errors)));
      for (const store of await openStores(options.env)) {
        const stray = await store.strays(module).catch(() => []);
        if (stray.length) options.log.warn(`${whereAll(module, [store])}: unfinished files (not snapshots): ${stray.join(', ')}`);
      }
      if (problems.length) throw new LifeboatError('PROVIDER', `${where(module)}: check failed: ${problems.join('; ')}`, { problems, hint: joinHints(errors) });
    },
  };
}

// Options of readArchive beyond the pipeline: the part environment (passwordCommand) and a byte counter.
interface ReadExtras {
  env?: Record<string, string>;
  // Called with the archive bytes read so far (for progress).
  onBytes?: (done: number) => void;
  // A restore (messages say nothing was restored).
  restoring?: boolean;
}

// File entries of a snapshot without a file list (a hand-made lifeboat-tar/1 manifest).
const unlisted = new WeakSet<FileEntries>();

// The error for a key that opens no recipient stanza (age.ts failure): also what a damaged header gives.
function isWrongKey(error: unknown): boolean {
  return error instanceof LifeboatError && /: wrong key$/.test(error.message);
}

// Errors that already say the archive is damaged, naming it (age authentication): kept as they are.
function namesDamage(error: unknown): boolean {
  return error instanceof LifeboatError && / damaged or tampered with: /.test(error.message);
}

// A backup's progress: file bytes archived so far, and the total once walkTotal has counted it.
// undefined when no bar is shown (no TTY, -q, --json, TERM=dumb, LIFEBOAT_PROGRESS=0).
function trackProgress(options: CreateOptions): { add: (bytes: number) => void; total: (counting: Promise<number>) => void; stop: AbortController } | undefined {
  const report = options.onProgress;
  if (!report || !progressEnabled()) return undefined;
  let done = 0;
  let total: number | undefined;
  return {
    // Stops the walk when the backup ended before it.
    stop: new AbortController(),
    add(bytes) {
      done += bytes;
      report({ bytesDone: done, bytesTotal: total === undefined ? undefined : Math.max(total, done) });
    },
    total(counting) {
      counting.then((bytes) => {
        total = bytes;
        report({ bytesDone: done, bytesTotal: Math.max(total, done) });
      }, () => undefined);
    },
  };
}
