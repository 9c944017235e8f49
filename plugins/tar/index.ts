// The tar provider: archives at <url>/<module>/<module>-<UTC time>.tar.zst (.tar.gz, .tar), made in
// Node as one stream pipeline (tree walk -> tar pack -> compressor -> hash tap -> sink), and a manifest
// <id>.manifest.json written after the archive is complete. Only archives with a manifest are listed,
// so a half-written archive never looks complete. The snapshot id is the archive's base name.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { LifeboatError } from '../../src/errors.js';
import { applyRetention } from '../../src/providers/retention.js';
import type { CommonOptions, CreateOptions, Provider, ProviderInput, ProviderSnapshot, RestoreOptions } from '../../src/providers/types.js';
import type { Retention } from '../../src/config/types.js';
import { compileExcludes } from './exclude.js';
import { extractEntries } from './extract.js';
import { packTree, type ManifestEntry } from './pack.js';
import { createCompressor, createDecompressor, createFileSink, EXTENSIONS, HashTap, writeFileAtomic, type Compression } from './streams.js';

export interface Manifest {
  format: 'lifeboat-tar/1';
  id: string;
  archive: string;
  module: string;
  host: string;
  tags: string[];
  time: string;
  paths: string[];
  exclude: string[];
  compression: Compression;
  archiveSize: number;
  archiveSha256: string;
  files: ManifestEntry[];
}

const MANIFEST_SUFFIX = '.manifest.json';

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

// The factory the registry calls for `provider: tar`.
export function createProvider(input: ProviderInput): Provider {
  const { name: repoName, config } = input;
  if (!config.url || /^[a-z0-9]+:\/\//i.test(config.url)) {
    throw new LifeboatError('CONFIG_INVALID', `repository "${repoName}" (tar): \`url\` must be a local folder, got ${JSON.stringify(config.url ?? null)}`, {
      hint: 'set url: /var/backups/tar (S3 copies go in upload:)',
    });
  }
  const base = path.resolve(input.root.root, config.url);
  const compression: Compression = config.compression ?? 'zstd';
  const dirOf = (module: string) => path.join(base, module);
  const where = (module: string) => `tar repository "${repoName}" of module ${module}`;
  let lastTime = 0;

  // Reads a snapshot's manifest; an unknown id is the caller's mistake, a broken file a real fault.
  async function readManifest(module: string, id: string): Promise<Manifest> {
    const file = path.join(dirOf(module), `${id}${MANIFEST_SUFFIX}`);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new LifeboatError('UNKNOWN_SNAPSHOT', `${where(module)}: snapshot "${id}" not found (no ${file})`, { hint: '`lifeboat snapshots` lists them', cause: error });
    }
    try {
      const manifest = JSON.parse(text) as Manifest;
      if (manifest.format !== 'lifeboat-tar/1' || !manifest.archive || !Array.isArray(manifest.files)) throw new Error('not a lifeboat-tar/1 manifest');
      return manifest;
    } catch (error) {
      throw new LifeboatError('PROVIDER', `${where(module)}: ${file} is unreadable: ${(error as Error).message}`, { cause: error });
    }
  }

  // Snapshots with a manifest and their archive, oldest first; [] when the folder does not exist.
  async function list(module: string, options: CommonOptions): Promise<ProviderSnapshot[]> {
    let names: string[];
    try {
      names = await readdir(dirOf(module));
    } catch (error) {
      if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return [];
      throw asLifeboatError(error, where(module));
    }
    const present = new Set(names);
    const snapshots: ProviderSnapshot[] = [];
    for (const name of names.filter((n) => n.endsWith(MANIFEST_SUFFIX))) {
      const manifest = await readManifest(module, name.slice(0, -MANIFEST_SUFFIX.length)).catch((error: Error) => {
        options.log.warn(error.message);
        return undefined;
      });
      if (!manifest || manifest.module !== module) continue;
      if (!present.has(manifest.archive)) {
        options.log.warn(`${where(module)}: ${name} has no archive ${manifest.archive}; not listed`);
        continue;
      }
      snapshots.push({ id: manifest.id, time: manifest.time, module, repository: repoName, host: manifest.host, tags: manifest.tags, paths: manifest.paths });
    }
    return snapshots.sort((a, b) => a.time.localeCompare(b.time));
  }

  // Runs the create pipeline into a sink, then writes the manifest that makes the archive visible.
  async function create(options: CreateOptions) {
    const { module } = options;
    if (config.upload) {
      throw new LifeboatError('CONFIG_INVALID', `repository "${repoName}" (tar): upload: is not supported yet; archives would stay only in ${base}`, { hint: 'remove upload: or use a restic repository with an s3: url' });
    }
    const tags = [...new Set([`module:${module}`, ...options.tags])];
    const isExcluded = compileExcludes(options.exclude);
    lastTime = Math.max(Date.now(), lastTime + 1);
    const time = new Date(lastTime).toISOString();
    const id = `${module}-${stamp(new Date(lastTime))}`;
    const archive = `${id}${EXTENSIONS[compression]}`;
    const snapshot: ProviderSnapshot = { id, time, module, repository: repoName, host: options.host, tags, paths: options.paths };
    if (options.dryRun) {
      options.log.info(`dry run: would write ${path.join(dirOf(module), archive)} from ${options.paths.join(' ')}`);
      return { snapshot };
    }
    try {
      await mkdir(dirOf(module), { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new LifeboatError('PROVIDER', `${where(module)}: cannot create ${dirOf(module)}: ${(error as Error).message}`, { hint: `make url (${base}) a writable folder`, cause: error });
    }
    const archivePath = path.join(dirOf(module), archive);
    const sink = createFileSink(archivePath);
    const pack = tar.pack();
    const tap = new HashTap();
    try {
      const piping = pipeline(pack, createCompressor(compression), tap, sink.stream);
      const packing = packTree(pack, options.paths, { isExcluded, log: options.log, signal: options.signal }).then(
        (files) => {
          pack.finalize();
          return files;
        },
        (error: unknown) => {
          pack.destroy(error as Error);
          throw error;
        },
      );
      const [, files] = await Promise.all([piping, packing]);
      await sink.commit();
      const manifest: Manifest = { format: 'lifeboat-tar/1', id, archive, module, host: options.host, tags, time, paths: options.paths, exclude: options.exclude, compression, archiveSize: tap.bytes, archiveSha256: tap.digest(), files };
      await writeFileAtomic(path.join(dirOf(module), `${id}${MANIFEST_SUFFIX}`), JSON.stringify(manifest));
      return { snapshot, bytes: tap.bytes };
    } catch (error) {
      await sink.abort();
      await rm(archivePath, { force: true });
      if (options.signal?.aborted) throw new LifeboatError('INTERRUPTED', `${where(module)}: backup stopped; the incomplete archive was removed`, { cause: error });
      if (error instanceof LifeboatError) throw error;
      throw new LifeboatError('PROVIDER', `${where(module)}: backup failed, nothing was kept: ${(error as Error).message}`, {
        hint: 'a path vanished or could not be read; fix it or exclude it (exclude: in module.yaml)',
        cause: error,
      });
    }
  }

  // Streams an archive file through the decompressor into a tar extract handed to `consume`.
  async function readArchive(module: string, manifest: Manifest, consume: (extract: tar.Extract) => Promise<void>, signal?: AbortSignal): Promise<HashTap> {
    const extract = tar.extract();
    const tap = new HashTap();
    const source = createReadStream(path.join(dirOf(module), manifest.archive));
    const piping = pipeline(source, tap, createDecompressor(manifest.compression), extract);
    piping.catch(() => {});
    try {
      await consume(extract);
      await piping;
    } catch (error) {
      extract.destroy();
      source.destroy();
      await piping.catch(() => {});
      throw asLifeboatError(error, `${where(module)}, archive ${manifest.archive}`, signal);
    }
    return tap;
  }

  // Extracts a snapshot into target, checking every file against the manifest.
  async function restore(options: RestoreOptions): Promise<void> {
    const manifest = await readManifest(options.module, options.snapshot.id);
    if (options.dryRun) {
      options.log.info(`dry run: would extract ${manifest.archive} into ${options.target}`);
      return;
    }
    await mkdir(options.target, { recursive: true });
    const byPath = new Map(manifest.files.map((entry) => [entry.path, entry]));
    const whereArchive = `${where(options.module)}, archive ${manifest.archive}`;
    await readArchive(
      options.module,
      manifest,
      async (extract) => {
        await extractEntries(extract, { target: options.target, include: options.include, manifest: byPath, log: options.log, where: whereArchive, signal: options.signal });
      },
      options.signal,
    );
  }

  // Re-reads one archive: every file's sha256, the file list and the archive's own sha256.
  async function verify(module: string, manifest: Manifest): Promise<string[]> {
    const problems: string[] = [];
    const expected = new Map(manifest.files.filter((f) => f.type === 'file').map((f) => [f.path, f.sha256]));
    const tap = await readArchive(module, manifest, async (extract) => {
      for await (const entry of extract) {
        const file = `/${entry.header.name.replace(/^\/+|\/+$/g, '')}`;
        if (entry.header.type !== 'file') {
          entry.resume();
          continue;
        }
        const hash = createHash('sha256');
        for await (const chunk of entry) hash.update(chunk as Buffer);
        const sha = hash.digest('hex');
        if (!expected.has(file)) problems.push(`${manifest.archive}: ${file} is not in the manifest`);
        else if (expected.get(file) !== sha) problems.push(`${manifest.archive}: ${file} differs from the manifest (sha256)`);
        expected.delete(file);
      }
    }).catch((error: Error) => {
      problems.push(error.message);
      return undefined;
    });
    for (const file of expected.keys()) problems.push(`${manifest.archive}: ${file} is missing from the archive`);
    if (tap && (tap.digest() !== manifest.archiveSha256 || tap.bytes !== manifest.archiveSize)) problems.push(`${manifest.archive}: archive size or sha256 differs from the manifest`);
    return problems;
  }

  return {
    kind: 'tar',
    capabilities: { forget: true, check: true },
    create,
    list,
    restore,
    // Applies keep rules (applyRetention); the manifest goes first, so a half-deleted archive is never listed.
    async forget(module: string, retention: Retention, options: CommonOptions) {
      const result = applyRetention(await list(module, options), retention);
      for (const snapshot of result.removed) {
        if (options.dryRun) {
          options.log.info(`dry run: would delete ${snapshot.id}`);
          continue;
        }
        const manifest = await readManifest(module, snapshot.id);
        await rm(path.join(dirOf(module), `${snapshot.id}${MANIFEST_SUFFIX}`));
        await rm(path.join(dirOf(module), manifest.archive), { force: true });
      }
      return result;
    },
    // Verifies every archive of the module against its manifest (always reads all data).
    async check(module: string, options: CommonOptions & { readData?: boolean }) {
      const snapshots = await list(module, options);
      if (snapshots.length === 0) throw new LifeboatError('PROVIDER', `${where(module)} has no archives yet`, { hint: `run \`lifeboat backup ${module}\` first` });
      const problems: string[] = [];
      for (const snapshot of snapshots) problems.push(...(await verify(module, await readManifest(module, snapshot.id))));
      const stray = (await readdir(dirOf(module))).filter((name) => name.endsWith('.partial'));
      if (stray.length) options.log.warn(`${where(module)}: unfinished files (not snapshots): ${stray.join(', ')}`);
      if (problems.length) throw new LifeboatError('PROVIDER', `${where(module)}: check failed: ${problems.join('; ')}`, { problems });
    },
  };
}
