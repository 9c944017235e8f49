// The NethServer fields of a restore's request: `path` (the module's place in the repository) and
// `environment` (the module's environment as stored in the snapshot, key → value).
import { closeSync, lstatSync, mkdirSync, openSync, readSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseEnvText } from '../config/env-file.js';
import { describeError } from '../errors.js';
import { openProvider } from '../providers/registry.js';
import type { RunContext } from './context.js';

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
export function markModuleRestored(run: RunContext): void {
  run.state.moduleRestored = true;
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
  if (!['restic', 'borg', 'tar'].includes(provider.kind)) return {};
  const scratch = path.join(run.root.stateDir, 'scratch', 'request-env', `${run.module.name}-${run.runId}`);
  const env: Record<string, string> = {};
  try {
    for (const file of files) {
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
    run.log.masker.add(...Object.values(env));
    return env;
  } catch (error) {
    run.log.warn(`the request's environment leaves out ${file}: ${describeError(error)}`);
    return {};
  }
}
