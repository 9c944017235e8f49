// `lifeboat dump postgres|mysql|redis|sqlite [options]` writes one dump to stdout (or --output FILE);
// `lifeboat dump MODULE` writes the module's declared dumps into its state dir (or --output DIR).
// Helpers for parts: the same engines, file names and formats as 20dump_databases.
import { mkdtempSync, createReadStream, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { createLogger, loadForCommand, type GlobalOptions } from './common.js';
import { LifeboatError } from '../errors.js';
import type { DatabaseConfig } from '../config/types.js';
import { dumpJobs, DUMP_DIR, ENGINE_KINDS, stageDump, type DumpJob, type EngineContext } from '../engines/index.js';
import { interruptSignal } from '../lifecycle/signals.js';

// The engines the helpers take by name (src/engines/index.ts lists them).
export const ENGINES: readonly string[] = ENGINE_KINDS;

export interface EngineOptions extends GlobalOptions {
  database?: string;
  host?: string;
  port?: string;
  user?: string;
  passwordFile?: string;
  passwordEnv?: string;
  url?: string;
  keys?: string[];
  path?: string;
  name?: string;
  option?: string[];
  output?: string;
  input?: string;
}

// Builds one `databases:` entry from command-line options (the same keys as module.yaml).
export function entryFromOptions(engine: string, options: EngineOptions): DatabaseConfig {
  const need = (key: keyof EngineOptions, flag: string) => {
    if (options[key] === undefined) throw new LifeboatError('USAGE', `lifeboat ${engine}: ${flag} is required`);
    return options[key] as string;
  };
  const secrets = { passwordFile: options.passwordFile && path.resolve(options.passwordFile), passwordEnv: options.passwordEnv };
  const port = options.port === undefined ? undefined : Number(options.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new LifeboatError('USAGE', `--port must be a port number, got ${JSON.stringify(options.port)}`);
  const server = { host: options.host, port, user: options.user, ...secrets, options: options.option, loadOptions: options.option, name: options.name };
  switch (engine) {
    case 'postgres':
      return { postgres: { database: need('database', '--database'), ...server } };
    case 'mysql':
      return { mysql: { database: need('database', '--database'), ...server } };
    case 'redis':
      return { redis: { url: options.url ?? process.env.REDIS_URL, keys: options.keys, ...secrets, name: options.name } };
    case 'sqlite':
      return { sqlite: { path: path.resolve(need('path', '--path')), name: options.name } };
    default:
      throw new LifeboatError('USAGE', `unknown engine ${JSON.stringify(engine)}; use ${ENGINES.join(', ')} or a module name`);
  }
}

// Removes undefined keys so the entry looks like one read from module.yaml.
function compact<T extends object>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

// The engine context of a helper: the caller's environment (plus a module's env files), signals.
function helperContext(options: GlobalOptions, env: Record<string, string | undefined>, workDir: string): EngineContext {
  return { env, log: createLogger(options), signal: interruptSignal(), workDir };
}

// Streams one dump job to a writable (stdout or a file); SQLite goes through a private temp file.
async function dumpTo(job: DumpJob, out: Writable, ctx: EngineContext): Promise<void> {
  if (job.start) {
    const run = job.start(ctx);
    await Promise.all([pipeline(run.stream, out), run.done]).catch(async (error: unknown) => {
      run.abort('writing the dump failed');
      throw await run.done.then(() => error, (reason: unknown) => reason);
    });
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-dump-'));
  try {
    const file = path.join(dir, path.basename(job.file));
    await stageDump(job, file, ctx);
    await pipeline(createReadStream(file), out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// `lifeboat dump WHAT`.
export async function dumpCommand([what]: unknown[], options: EngineOptions): Promise<number> {
  const log = createLogger(options);
  if ((ENGINES as readonly string[]).includes(what as string)) {
    const ctx = { ...helperContext(options, process.env, os.tmpdir()), log };
    const jobs = await dumpJobs([compact(entryFromOptions(what as string, options))], ctx);
    if (jobs.length > 1 && !options.output) throw new LifeboatError('USAGE', `--database all makes ${jobs.length} dumps; give --output DIR`);
    if (jobs.length > 1 || (options.output && options.database === 'all')) {
      for (const job of jobs) await stageDump(job, path.join(options.output!, job.file), ctx);
      return 0;
    }
    if (process.stdout.isTTY && !options.output) throw new LifeboatError('USAGE', 'the dump is binary: redirect stdout to a file or give --output FILE');
    // To a file: staged beside it and renamed when complete, so a failed dump leaves no file behind.
    if (options.output) await stageDump(jobs[0], path.resolve(options.output), ctx);
    else await dumpTo(jobs[0], process.stdout, ctx);
    return 0;
  }
  // A module: its declared databases, staged like 20dump_databases does.
  const { root, modules } = loadForCommand(options, [what as string], log);
  const module = modules[0];
  if (module.databases.length === 0) throw new LifeboatError('USAGE', `module ${module.name} declares no databases (databases: in ${module.file})`);
  const env = { ...process.env, ...root.rootEnv, ...module.env };
  log.masker.addEnv(root.rootEnv, module.env);
  const dir = path.resolve(options.output ?? path.join(module.stateDir, DUMP_DIR));
  const ctx = { ...helperContext(options, env, module.stateDir), log };
  for (const job of await dumpJobs(module.databases, ctx)) {
    const bytes = await stageDump(job, path.join(dir, job.file), ctx);
    log.info(`dumped ${job.label} to ${path.join(dir, job.file)} (${bytes} bytes)`);
  }
  return 0;
}
