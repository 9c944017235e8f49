// The backup manifest: path, type, mode, size and sha256 of everything a snapshot should hold, written
// at backup time and compared with a scratch restore by `verify`. It is computed in a worker thread
// while the provider snapshots (so a backup pays almost nothing for it) and kept beside the module's
// state dir, one gzipped file per snapshot: <state>/modules/<m>/manifests/<repository>/<snapshot>.json.gz.
import { Worker } from 'node:worker_threads';
import { gunzipSync, gzipSync } from 'node:zlib';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ModuleConfig } from '../config/types.js';
import { writeFileAtomic } from '../report/write-atomic.js';
import { describeError } from '../errors.js';
import { fromPathKey, showPath } from '../files/byte-path.js';
import { assertPlainName } from '../storage/plain-name.js';
import { startProgress } from '../log/progress.js';
import type { PartContext, SnapshotRef } from './context.js';

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

export interface Manifest {
  version: 1;
  module: string;
  created: string;
  host: string;
  snapshot: { repository: string; id: string };
  paths: string[];
  entries: ManifestEntry[];
}

export interface WorkerRequest {
  // Prefix to read from ('' for the live system, the scratch dir for a restore).
  root: string;
  paths: string[];
  exclude: string[];
  previous?: ManifestEntry[];
}

export type WorkerMessage = { type: 'progress'; done: number; total: number } | { type: 'result'; entries: ManifestEntry[]; hashedBytes: number };

export interface ManifestJob {
  // Resolves with the entries (rejects if the worker failed or was cancelled).
  result: Promise<{ entries: ManifestEntry[]; hashedBytes: number }>;
  cancel(): void;
}

// How many manifests a repository keeps per module (verify reads the latest).
const KEEP_PER_REPOSITORY = 5;

// Where a module's manifests live (a sibling of its state dir, so never inside a snapshot).
export function manifestDir(module: Pick<ModuleConfig, 'stateDir'>): string {
  return path.join(path.dirname(module.stateDir), 'manifests');
}

// Snapshot ids come from the repository (untrusted): only a plain name becomes a file name here.
export function manifestFile(module: Pick<ModuleConfig, 'stateDir'>, repository: string, snapshotId: string): string {
  return path.join(manifestDir(module), assertPlainName(repository, 'repository', 'manifest'), `${assertPlainName(snapshotId, 'snapshot id', `repository "${repository}"`)}.json.gz`);
}

// Walks and hashes `paths` under `root` in a worker thread; onProgress gets bytes hashed of the total.
export function describeFiles(request: WorkerRequest, onProgress?: (done: number, total: number) => void): ManifestJob {
  const worker = new Worker(new URL('./manifest-worker.js', import.meta.url), { workerData: request });
  let settled = false;
  const result = new Promise<{ entries: ManifestEntry[]; hashedBytes: number }>((resolve, reject) => {
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') onProgress?.(message.done, message.total);
      else {
        settled = true;
        onProgress?.(message.hashedBytes, message.hashedBytes);
        resolve({ entries: message.entries, hashedBytes: message.hashedBytes });
      }
    });
    worker.on('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`the manifest worker stopped (exit ${code})`));
    });
  });
  result.catch(() => {});
  return { result, cancel: () => void worker.terminate() };
}

// Entries of the newest manifest of the module (any repository): the hash cache of the next backup.
export function previousEntries(module: Pick<ModuleConfig, 'stateDir'>): ManifestEntry[] | undefined {
  const dir = manifestDir(module);
  if (!existsSync(dir)) return undefined;
  let newest: { file: string; mtime: number } | undefined;
  for (const repository of readdirSync(dir)) {
    for (const name of safeList(path.join(dir, repository))) {
      const file = path.join(dir, repository, name);
      const mtime = statSync(file).mtimeMs;
      if (name.endsWith('.json.gz') && (!newest || mtime > newest.mtime)) newest = { file, mtime };
    }
  }
  if (!newest) return undefined;
  try {
    return readManifestFile(newest.file).entries;
  } catch {
    return undefined;
  }
}

// Writes the manifest of one snapshot and drops the oldest beyond KEEP_PER_REPOSITORY.
export function saveManifest(module: Pick<ModuleConfig, 'stateDir'>, manifest: Manifest): string {
  const file = manifestFile(module, manifest.snapshot.repository, manifest.snapshot.id);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, gzipSync(JSON.stringify(manifest)), 0o600);
  const others = safeList(path.dirname(file))
    .filter((name) => name.endsWith('.json.gz'))
    .map((name) => ({ file: path.join(path.dirname(file), name), mtime: statSync(path.join(path.dirname(file), name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const old of others.slice(KEEP_PER_REPOSITORY)) rmSync(old.file, { force: true });
  return file;
}

// Starts hashing what 50snapshot is about to snapshot; finish() writes one manifest per snapshot made.
// A manifest that cannot be made is a warning: the backup itself is fine, verify will say what it lacks.
export function recordManifest(ctx: PartContext, paths: string[], exclude: string[]): { finish(snapshots: SnapshotRef[]): Promise<void>; cancel(): void } {
  // LIFEBOAT_MANIFEST=0 skips it (bench/manifest.sh measures its cost that way; verify then compares nothing).
  if (process.env.LIFEBOAT_MANIFEST === '0') return { finish: async () => {}, cancel: () => {} };
  const created = new Date().toISOString();
  const bar = startProgress(`${ctx.module.name}: manifest`);
  const job = describeFiles({ root: '', paths, exclude, previous: previousEntries(ctx.module) }, (done, total) => bar.update(done, total));
  return {
    async finish(snapshots) {
      try {
        const { entries, hashedBytes } = await job.result;
        for (const snapshot of snapshots) {
          saveManifest(ctx.module, { version: 1, module: ctx.module.name, created, host: ctx.root.host, snapshot: { repository: snapshot.repository, id: snapshot.id }, paths, entries });
        }
        ctx.log.debug(`manifest: ${entries.length} entries, ${hashedBytes} bytes hashed (the rest unchanged since the last backup)`);
      } catch (error) {
        ctx.log.warn(`could not write the backup manifest (verify will not compare files for this snapshot): ${describeError(error)}`);
      } finally {
        bar.done();
      }
    },
    cancel() {
      job.cancel();
      bar.done();
    },
  };
}

// Reads a manifest, or undefined when there is none for this snapshot.
export function loadManifest(module: Pick<ModuleConfig, 'stateDir'>, repository: string, snapshotId: string): Manifest | undefined {
  const file = manifestFile(module, repository, snapshotId);
  return existsSync(file) ? readManifestFile(file) : undefined;
}

function readManifestFile(file: string): Manifest {
  return JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as Manifest;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export interface Comparison {
  problems: string[];
  // Files that differ but whose mtime moved too: they changed while the snapshot was taken.
  changedDuringBackup: string[];
  // In the restore but not in the manifest (created during the backup, streamed dumps).
  extra: string[];
  checkedFiles: number;
  checkedBytes: number;
}

// Compares a manifest with the description of a restore of the same paths.
export function compareManifest(expected: ManifestEntry[], restored: ManifestEntry[]): Comparison {
  const show = (key: string | undefined) => (key === undefined ? 'nothing' : showPath(fromPathKey(key)));
  const found = new Map(restored.map((entry) => [entry.path, entry]));
  const result: Comparison = { problems: [], changedDuringBackup: [], extra: [], checkedFiles: 0, checkedBytes: 0 };
  for (const want of expected) {
    const got = found.get(want.path);
    found.delete(want.path);
    if (!got) {
      result.problems.push(`${show(want.path)}: missing from the restore (${want.type})`);
      continue;
    }
    if (got.type !== want.type) {
      result.problems.push(`${show(want.path)}: is a ${got.type}, the manifest says ${want.type}`);
      continue;
    }
    if (want.type === 'symlink' && got.target !== want.target) result.problems.push(`${show(want.path)}: symlink points to ${show(got.target)}, the manifest says ${show(want.target)}`);
    if (want.type !== 'symlink' && got.mode !== want.mode) result.problems.push(`${show(want.path)}: mode ${got.mode.toString(8)}, the manifest says ${want.mode.toString(8)}`);
    if (want.type !== 'file') continue;
    result.checkedFiles++;
    result.checkedBytes += got.size ?? 0;
    const sameContent = got.size === want.size && (want.sha256 === null || want.sha256 === undefined || got.sha256 === want.sha256);
    if (sameContent) continue;
    // Whole milliseconds on both sides; a tool that sets times through a float may land 1 ms off.
    if (Math.abs((got.mtimeMs ?? 0) - (want.mtimeMs ?? 0)) > 1) {
      result.changedDuringBackup.push(show(want.path));
      continue;
    }
    result.problems.push(got.size !== want.size ? `${show(want.path)}: ${got.size} bytes, the manifest says ${want.size}` : `${show(want.path)}: content differs (sha256 ${got.sha256?.slice(0, 12)}…, the manifest says ${want.sha256?.slice(0, 12)}…)`);
  }
  result.extra = [...found.keys()].map(show);
  return result;
}
