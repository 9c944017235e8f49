// The NethServer fields of a restore's request: `path` (the module's place in the repository) and
// `environment` (the module's environment as stored in the snapshot, key → value).
import { closeSync, lstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnvText } from '../config/env-file.js';
import { describeError } from '../errors.js';
import { builtinProvider, openProvider } from '../providers/registry.js';
import type { RunContext, RunState } from './context.js';
import type { Logger } from '../log/logger.js';
import { openStateDirForParts } from './state-access.js';
import { relocations, toSnapshot } from './snapshot-places.js';
import type { PartEntry } from '../parts/discover.js';

// An environment file read back from a snapshot is untrusted: at most this many bytes are read.
const MAX_ENV_BYTES = 1024 * 1024;

// `<repository url>/<module>`: where the module's snapshots live (restic and borg: one repository per module).
export function modulePathInRepository(run: RunContext): string | null {
  const source = run.state.restoreSource;
  if (!source) return null;
  const url = run.root.global.repositories[source.repository]?.url ?? source.repository;
  return `${url.replace(/\/+$/, '')}/${run.module.name}`;
}

// Marks that 10restore_module finished: from now on the restored files are the snapshot's environment.
// An `environment` in the state dir that a step before it wrote (NethServer's 06copyenv, through
// agent.set_env) is put back over the snapshot's copy: NethServer's restore never restores
// state/environment, its 06copyenv decides what the module's environment becomes.
export function markModuleRestored(run: RunContext): void {
  run.state.moduleRestored = true;
  // A state dir restored from an older snapshot may be 0700 again: parts after the restore read dumps there as other users.
  openStateDirForParts(run.root.stateDir, run.module.stateDir);
  const written = run.state.stateEnvWritten;
  if (!written) return;
  const file = stateEnvFile(run);
  const temp = `${file}.lifeboat-${process.pid}.tmp`;
  writeFileSync(temp, written, { mode: 0o600 });
  renameSync(temp, file);
  run.log.info(`${file}: kept as a restore step wrote it before 10restore_module (the snapshot's copy was not put over it)`);
}

// Whether this run's 10restore_module has finished.
export function isModuleRestored(state: RunState): boolean {
  return state.moduleRestored === true;
}

// Logs a warning once per run.
export function warnOnce(state: RunState, log: Logger, message: string): void {
  state.warned ??= new Set();
  if (state.warned.has(message)) return;
  state.warned.add(message);
  log.warn(message);
}

// Called before every part of an in-place restore: remembers the state dir's `environment` as the run
// found it, and right before 10restore_module notes whether a step changed it (then markModuleRestored
// puts that back after the files were restored).
export function trackStateEnvironment(run: RunContext, entry: PartEntry): void {
  if (run.action !== 'restore' || run.options.dryRun || (run.options.target !== undefined && run.options.target !== '/')) return;
  if (run.state.stateEnvBefore === undefined) run.state.stateEnvBefore = readStateEnv(run) ?? null;
  if (entry.builtin?.name !== '10restore_module' || entry.phase !== 'restore') return;
  const before = run.state.stateEnvBefore;
  const now = readStateEnv(run);
  // Any write counts, also one that left the same bytes (a step that rewrote the file decided what it holds):
  // a write changes the file's ctime and mtime, a replacement its inode.
  const written = now && !(before && before.stamp === now.stamp && before.bytes.equals(now.bytes));
  run.state.stateEnvWritten = written ? now.bytes : undefined;
}

function stateEnvFile(run: RunContext): string {
  return path.join(run.module.stateDir, 'environment');
}

// The state dir's environment as bytes, with a stamp that any write changes; undefined when it is missing
// or not a regular file.
export function readStateEnv(run: RunContext): { bytes: Buffer; stamp: string } | undefined {
  try {
    const stat = lstatSync(stateEnvFile(run), { bigint: true });
    if (!stat.isFile()) return undefined;
    return { bytes: readFileSync(stateEnvFile(run)), stamp: `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}` };
  } catch {
    return undefined;
  }
}

// The module's environment as stored in the snapshot. After 10restore_module: read from the restored files
// (under --target when given); before it: those two files restored alone into a private scratch dir, once.
export async function snapshotEnvironment(run: RunContext): Promise<Record<string, string>> {
  const files = envFiles(run);
  if (run.state.moduleRestored) {
    const target = run.options.target ?? '/';
    return Object.assign({}, ...files.map((file) => readEnvBounded(run, path.join(target, file))));
  }
  const cached = run.state.snapshotEnvironment;
  if (cached) return cached;
  const env = await readFromSnapshot(run, files);
  run.state.snapshotEnvironment = env;
  return env;
}

// The module's `environment` and `environment` in its state dir (NethServer), as absolute live paths.
function envFiles(run: RunContext): string[] {
  return [run.module.envFile, path.join(run.module.stateDir, 'environment')];
}

// Restores each env file alone into scratch (a file the snapshot lacks gives nothing) and reads it.
async function readFromSnapshot(run: RunContext, files: string[]): Promise<Record<string, string>> {
  const source = run.state.restoreSource;
  if (!source || run.options.dryRun) return {};
  const provider = await openProvider(source.repository, run.root, (...values) => run.log.masker.add(...values));
  // A script provider may ignore LIFEBOAT_TARGET; its restore runs only as 10restore_module does.
  if (!builtinProvider(provider.kind)?.restoresIntoTarget) return {};
  const scratch = path.join(run.root.stateDir, 'scratch', 'request-env', `${run.module.name}-${run.runId}`);
  const env: Record<string, string> = {};
  try {
    // (A state dir or environment file of another --state-dir or --root is read where the snapshot holds it.)
    const moved = relocations(run.root, run.module, source.snapshot.paths);
    for (const here of files) {
      const file = toSnapshot(here, moved);
      if (source.snapshot.paths && !source.snapshot.paths.some((p) => file === p || file.startsWith(`${p.replace(/\/$/, '')}/`))) continue;
      rmSync(scratch, { recursive: true, force: true });
      mkdirSync(scratch, { recursive: true, mode: 0o700 });
      try {
        await provider.restore({ module: run.module.name, snapshot: source.snapshot, target: scratch, include: [file], signal: run.signal, log: run.log.child('request'), env: run.env });
      } catch (error) {
        run.log.debug(`${file} not read from snapshot ${source.snapshot.id}: ${describeError(error)}`);
        continue;
      }
      Object.assign(env, readEnvBounded(run, path.join(scratch, file)));
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return env;
}

// Reads at most MAX_ENV_BYTES of a dotenv file; missing or unparsable gives {} (with a warning), values are masked.
function readEnvBounded(run: RunContext, file: string): Record<string, string> {
  let text: string;
  try {
    // Only a regular file: a FIFO would block, a symlink could point outside the module.
    if (!lstatSync(file).isFile()) return {};
    const fd = openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(MAX_ENV_BYTES + 1);
      const read = readSync(fd, buffer, 0, buffer.length, 0);
      if (read > MAX_ENV_BYTES) {
        run.log.warn(`${file} is larger than ${MAX_ENV_BYTES} bytes; not passed as the request's environment`);
        return {};
      }
      text = buffer.subarray(0, read).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return {};
  }
  try {
    const env = parseEnvText(text, file);
    run.log.masker.addEnv(env);
    return env;
  } catch (error) {
    run.log.warn(`the request's environment leaves out ${file}: ${describeError(error)}`);
    return {};
  }
}
