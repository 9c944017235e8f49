// The backup manifest: path, type, mode, size and sha256 of everything a snapshot should hold, written
// at backup time and compared with a scratch restore by `verify`. It is computed in a worker thread
// while the provider snapshots (so a backup pays almost nothing for it) and kept beside the module's
// state dir, one gzipped file per snapshot: <state>/modules/<m>/manifests/<repository>/<snapshot>.json.gz.
// Written and read as streams in path order (manifest-stream.ts), so memory does not grow with the tree.
import { Worker } from 'node:worker_threads';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ModuleConfig } from '../config/types.js';
import { describeError } from '../errors.js';
import { fromPathKey, showPath } from '../files/byte-path.js';
import { comparePaths } from '../files/path-order.js';
import { assertPlainName } from '../storage/plain-name.js';
import { startProgress } from '../log/progress.js';
import type { PartContext, SnapshotRef } from './context.js';
import { isProcessAlive } from '../state/lock.js';
import { ManifestCursor, readManifestHeader, storeManifest, type KeyedEntry, type ManifestEntry, type ManifestHeader } from './manifest-stream.js';

export type { ManifestEntry, ManifestHeader } from './manifest-stream.js';
export { manifestEntries } from './manifest-stream.js';

// A manifest on disk: its file (read entries with manifestEntries) and its header.
export interface StoredManifest {
  file: string;
  header: ManifestHeader;
}

export interface WorkerRequest {
  // Prefix to read from ('' for the live system, the scratch dir for a restore).
  root: string;
  paths: string[];
  exclude: string[];
  // The previous manifest (its unchanged files keep their hash).
  previous?: string;
  // Where the entries go (gzipped NDJSON without a header).
  output: string;
}

export interface WalkResult {
  entries: number;
  files: number;
  bytes: number;
  hashedBytes: number;
}

export type WorkerMessage = { type: 'progress'; done: number } | { type: 'warning'; message: string } | ({ type: 'result' } & WalkResult) | { type: 'error'; message: string };

export interface ManifestJob {
  // Resolves when request.output is written (rejects if the worker failed or was cancelled).
  result: Promise<WalkResult>;
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

// A file in the manifest dir for one walk's output (removed by whoever asked for it). Outputs left by
// a run that was killed (its pid is gone) are removed here.
function walkOutput(module: Pick<ModuleConfig, 'stateDir'>, purpose: string): string {
  const dir = manifestDir(module);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const name of safeList(dir)) {
    const pid = /^\.(?:backup|verify)-(\d+)-\d+\.tmp$/.exec(name)?.[1];
    if (pid && !isProcessAlive(Number(pid))) rmSync(path.join(dir, name), { force: true });
  }
  return path.join(dir, `.${purpose}-${process.pid}-${Date.now()}.tmp`);
}

// Walks and hashes `paths` under `root` in a worker thread into request.output; onProgress gets the
// bytes of the files covered so far (hashed, or kept from the previous manifest).
export function describeFiles(request: WorkerRequest, onProgress?: (done: number) => void, onWarning?: (message: string) => void): ManifestJob {
  // Its plain errors are reasons: recordManifest logs them as a warning, checkRestore's caller
  // (20check_manifest) fails the part with them.
  // A young generation of 12 MB: the walk's garbage is short-lived, and V8 would otherwise grow it to
  // what costs ~13 MB more peak RSS for no CPU saved (200,000 unchanged files: 90 MB instead of 104).
  const worker = new Worker(new URL('./manifest-worker.js', import.meta.url), { workerData: request, resourceLimits: { maxYoungGenerationSizeMb: 12 } });
  let settled = false;
  const result = new Promise<WalkResult>((resolve, reject) => {
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') onProgress?.(message.done);
      else if (message.type === 'warning') onWarning?.(message.message);
      else if (message.type === 'error') {
        settled = true;
        reject(new Error(message.message));
      } else {
        settled = true;
        onProgress?.(message.bytes);
        const { entries, files, bytes, hashedBytes } = message;
        resolve({ entries, files, bytes, hashedBytes });
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
  return { result, cancel: () => void worker.terminate().then(() => rmSync(request.output, { force: true })) };
}

// Left by a verify that found content differing from the manifest: a hash kept from the previous
// manifest might be the wrong one, so the next backup hashes every file (and removes this file).
function rehashMark(module: Pick<ModuleConfig, 'stateDir'>): string {
  return path.join(manifestDir(module), '.rehash-all');
}

// Verify found content differing from the manifest: the next backup reuses no hash.
export function requestRehash(module: Pick<ModuleConfig, 'stateDir'>, reason: string): void {
  mkdirSync(manifestDir(module), { recursive: true, mode: 0o700 });
  writeFileSync(rehashMark(module), `${reason}\n`, { mode: 0o600 });
}

// The newest manifest of the module (any repository): the hash cache of the next backup.
export function previousManifest(module: Pick<ModuleConfig, 'stateDir'>): string | undefined {
  const dir = manifestDir(module);
  if (!existsSync(dir)) return undefined;
  let newest: { file: string; mtime: number } | undefined;
  for (const repository of safeList(dir)) {
    for (const file of manifestsIn(path.join(dir, repository))) {
      const mtime = statSync(file).mtimeMs;
      if (!newest || mtime > newest.mtime) newest = { file, mtime };
    }
  }
  return newest?.file;
}

// The manifests in one repository's folder.
function manifestsIn(dir: string): string[] {
  return safeList(dir)
    .filter((name) => name.endsWith('.json.gz') && !name.startsWith('.'))
    .map((name) => path.join(dir, name));
}

// Stores the walk's output as the manifest of one snapshot and drops the oldest beyond KEEP_PER_REPOSITORY.
export async function saveManifest(module: Pick<ModuleConfig, 'stateDir'>, header: ManifestHeader, body: string): Promise<string> {
  const file = manifestFile(module, header.snapshot.repository, header.snapshot.id);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  await storeManifest(file, header, body);
  const others = manifestsIn(path.dirname(file))
    .map((other) => ({ file: other, mtime: statSync(other).mtimeMs }))
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
  let output: string;
  let job: ManifestJob;
  let rehash = false;
  try {
    output = walkOutput(ctx.module, 'backup');
    rehash = existsSync(rehashMark(ctx.module));
    if (rehash) ctx.log.info('the last verify found files differing from the manifest: hashing every file (no hashes reused from the previous manifest)');
    const previous = rehash ? undefined : previousManifest(ctx.module);
    // The bar's total: what the previous backup held (unknown on a first backup: bytes and rate only).
    const total = previous ? headerOrUndefined(previous)?.bytes : undefined;
    job = describeFiles({ root: '', paths, exclude, previous, output }, (done) => bar.update(done, total), (message) => ctx.log.warn(message));
  } catch (error) {
    bar.done();
    ctx.log.warn(`could not start the backup manifest (verify will not compare files for this snapshot): ${describeError(error)}`);
    return { finish: async () => {}, cancel: () => {} };
  }
  return {
    async finish(snapshots) {
      try {
        const walked = await job.result;
        for (const snapshot of snapshots) {
          const header: ManifestHeader = { format: 'lifeboat-manifest', version: 2, module: ctx.module.name, created, host: ctx.root.host, snapshot: { repository: snapshot.repository, id: snapshot.id }, paths, files: walked.files, bytes: walked.bytes };
          await saveManifest(ctx.module, header, output);
        }
        if (rehash && snapshots.length > 0) rmSync(rehashMark(ctx.module), { force: true });
        ctx.log.debug(`manifest: ${walked.entries} entries, ${walked.hashedBytes} bytes hashed (the rest unchanged since the last backup)`);
      } catch (error) {
        ctx.log.warn(`could not write the backup manifest (verify will not compare files for this snapshot): ${describeError(error)}`);
      } finally {
        rmSync(output, { force: true });
        bar.done();
      }
    },
    cancel() {
      job.cancel();
      bar.done();
    },
  };
}

// The manifest of a snapshot (its header read), or undefined when there is none for this snapshot.
export function loadManifest(module: Pick<ModuleConfig, 'stateDir'>, repository: string, snapshotId: string): StoredManifest | undefined {
  const file = manifestFile(module, repository, snapshotId);
  return existsSync(file) ? { file, header: readManifestHeader(file) } : undefined;
}

// The header of a manifest, or undefined when it cannot be read.
function headerOrUndefined(file: string): ManifestHeader | undefined {
  try {
    return readManifestHeader(file);
  } catch {
    return undefined;
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export interface Comparison {
  // The first differences (KEPT_PROBLEMS of them) and how many there are.
  problems: string[];
  problemCount: number;
  // Files that differ but whose mtime moved too: they changed while the snapshot was taken (the first
  // KEPT_PROBLEMS, and how many).
  changedDuringBackup: string[];
  changedCount: number;
  // Paths in the restore but not in the manifest (created during the backup, streamed dumps).
  extraCount: number;
  checkedFiles: number;
  checkedBytes: number;
}

// How many differences a comparison keeps as text (the rest are counted).
const KEPT_PROBLEMS = 100;

// Walks a scratch restore of a manifest's snapshot under `root` (hashing every file) and compares it
// with the manifest. The walk's own output is a temporary file beside the manifests, removed after.
export async function checkRestore(module: Pick<ModuleConfig, 'stateDir'>, manifest: StoredManifest, root: string, options: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {}): Promise<Comparison> {
  const output = walkOutput(module, 'verify');
  const job = describeFiles({ root, paths: manifest.header.paths, exclude: [], output }, (done) => options.onProgress?.(done, manifest.header.bytes));
  const onAbort = () => job.cancel();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await job.result;
    return await compareManifests(manifest.file, output);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    rmSync(output, { force: true });
  }
}

// Compares a manifest with the walk of a restore of the same paths (a walk's output, no header): both
// are read in path order side by side, so memory does not grow with the number of files.
export async function compareManifests(expectedFile: string, restoredFile: string): Promise<Comparison> {
  const result: Comparison = { problems: [], problemCount: 0, changedDuringBackup: [], changedCount: 0, extraCount: 0, checkedFiles: 0, checkedBytes: 0 };
  const problem = (text: string) => {
    if (result.problemCount++ < KEPT_PROBLEMS) result.problems.push(text);
  };
  const expected = await ManifestCursor.open(expectedFile);
  let restored: ManifestCursor | undefined;
  try {
    restored = await ManifestCursor.open(restoredFile, { withHeader: false });
    for (;;) {
      const want = await expected.peek();
      const got = await restored.peek();
      if (!want && !got) break;
      const order = !want ? 1 : !got ? -1 : comparePaths(want.key, got.key);
      if (order < 0) {
        await expected.next();
        problem(`${showPath(want!.key)}: missing from the restore (${want!.entry.type})`);
      } else if (order > 0) {
        await restored.next();
        result.extraCount++;
      } else {
        await expected.next();
        await restored.next();
        compareEntry(want!, got!.entry, result, problem);
      }
    }
  } finally {
    expected.close();
    restored?.close();
  }
  return result;
}

// Compares one path of the manifest with the same path restored.
function compareEntry(wanted: KeyedEntry, got: ManifestEntry, result: Comparison, problem: (text: string) => void): void {
  const want = wanted.entry;
  const shown = showPath(wanted.key);
  const show = (key: string | undefined) => (key === undefined ? 'nothing' : showPath(fromPathKey(key)));
  if (got.type !== want.type) {
    problem(`${shown}: is a ${got.type}, the manifest says ${want.type}`);
    return;
  }
  if (want.type === 'symlink' && got.target !== want.target) problem(`${shown}: symlink points to ${show(got.target)}, the manifest says ${show(want.target)}`);
  if (want.type !== 'symlink' && got.mode !== want.mode) problem(`${shown}: mode ${got.mode.toString(8)}, the manifest says ${want.mode.toString(8)}`);
  if (want.type !== 'file') return;
  result.checkedFiles++;
  result.checkedBytes += got.size ?? 0;
  const sameContent = got.size === want.size && (want.sha256 === null || want.sha256 === undefined || got.sha256 === want.sha256);
  if (sameContent) return;
  // Whole milliseconds on both sides; a tool that sets times through a float may land 1 ms off.
  if (Math.abs((got.mtimeMs ?? 0) - (want.mtimeMs ?? 0)) > 1) {
    if (result.changedCount++ < KEPT_PROBLEMS) result.changedDuringBackup.push(shown);
    return;
  }
  problem(got.size !== want.size ? `${shown}: ${got.size} bytes, the manifest says ${want.size}` : `${shown}: content differs (sha256 ${got.sha256?.slice(0, 12)}…, the manifest says ${want.sha256?.slice(0, 12)}…)`);
}
