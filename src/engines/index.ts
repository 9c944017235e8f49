// The engines by kind: dump and load jobs for a module's `databases:` entries, staging a dump into a file,
// and the file layout under the module's state dir (databases/<engine>-<name>.<ext>).
import { createWriteStream, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LifeboatError } from '../errors.js';
import { discardPartial } from '../files/partial-file.js';
import type { DatabaseConfig } from '../config/types.js';
import { mysqlEngine } from './mysql.js';
import { postgresEngine } from './postgres.js';
import { redisEngine } from './redis.js';
import { sqliteEngine } from './sqlite.js';
import { DUMP_DIR } from './names.js';
import { withDumpKindCheck } from './dump-kind.js';
import type { DumpJob, EngineContext, EngineDeclaration, EngineKind, LoadJob } from './types.js';

export { DUMP_DIR };
export type { DumpJob, DumpRun, EngineContext, EngineDeclaration, EngineKind, LoadJob, LoadSource } from './types.js';

// The engines: one line each; each declares its dumps, loads, tools and `check` probe at the end of its
// own file (ARCHITECTURE.md "Database engines").
const ENGINES: Record<EngineKind, EngineDeclaration<never>> = {
  postgres: postgresEngine as EngineDeclaration<never>,
  mysql: mysqlEngine as EngineDeclaration<never>,
  redis: redisEngine as EngineDeclaration<never>,
  sqlite: sqliteEngine as EngineDeclaration<never>,
};

// The engine kinds, in the order `lifeboat dump` lists them.
export const ENGINE_KINDS = Object.keys(ENGINES) as EngineKind[];

// The engine of a kind (the config schema admits only these kinds).
export function engineOf(kind: EngineKind): EngineDeclaration<Record<string, unknown>> {
  return ENGINES[kind] as unknown as EngineDeclaration<Record<string, unknown>>;
}

// The engine and settings of one `databases:` entry.
export function entryOf(database: DatabaseConfig): { kind: EngineKind; config: Record<string, unknown> } {
  const kind = Object.keys(database)[0] as EngineKind;
  return { kind, config: (database as unknown as Record<string, Record<string, unknown>>)[kind] };
}

// The dump jobs of every entry, in declaration order; two entries writing one file is a config error.
export async function dumpJobs(databases: DatabaseConfig[], ctx: EngineContext): Promise<DumpJob[]> {
  const jobs: DumpJob[] = [];
  for (const database of databases) {
    const { kind, config } = entryOf(database);
    jobs.push(...(await engineOf(kind).dumps(config, ctx)));
  }
  assertDistinct(jobs);
  return jobs;
}

// The load jobs of every entry; `dumpDir` is the databases/ folder the dumps were restored into (none:
// the jobs from the settings alone, a `database: all` entry as its one folder).
export function loadJobs(databases: DatabaseConfig[], dumpDir?: string): LoadJob[] {
  const jobs: LoadJob[] = [];
  for (const database of databases) {
    const { kind, config } = entryOf(database);
    // Each load first refuses a file that plainly is not this engine's dump (dump-kind.ts).
    jobs.push(...engineOf(kind).loads(config, dumpDir).map(withDumpKindCheck));
  }
  assertDistinct(jobs);
  return jobs;
}

// Before a run: two entries that would write the same dump file, from the settings alone (CONFIG_INVALID).
export function assertDistinctDumps(databases: DatabaseConfig[]): void {
  loadJobs(databases);
}

// Two entries must never write the same dump file.
function assertDistinct(jobs: Array<{ file: string; label: string }>): void {
  const seen = new Map<string, string>();
  for (const job of jobs) {
    const other = seen.get(job.file);
    if (other) {
      throw new LifeboatError('CONFIG_INVALID', `${other} and ${job.label} would both be dumped to ${DUMP_DIR}/${job.file}`, { hint: 'give one of them a distinct `name:` in module.yaml' });
    }
    seen.set(job.file, job.label);
  }
}

// Writes one dump to `dest` (0600, via <dest>.partial renamed on success); returns its size in bytes.
// A dump that fails leaves nothing behind.
export async function stageDump(job: DumpJob, dest: string, ctx: EngineContext): Promise<number> {
  mkdirSync(path.dirname(dest), { recursive: true, mode: 0o700 });
  if (job.stage) {
    await job.stage(dest, ctx);
    return statSync(dest).size;
  }
  const partial = `${dest}.partial`;
  rmSync(partial, { force: true });
  const run = job.start!(ctx);
  const out = createWriteStream(partial, { mode: 0o600 });
  const piping = pipeline(run.stream, out);
  piping.catch(() => {});
  try {
    await Promise.all([piping, run.done]);
    renameSync(partial, dest);
    return statSync(dest).size;
  } catch (error) {
    run.abort('staging failed');
    await run.done.catch(() => {});
    await discardPartial(out, partial);
    // The producer's error names the database and carries its stderr; prefer it over a pipe error.
    const reason = await run.done.then(() => undefined, (e: unknown) => e);
    throw reason ?? error;
  }
}
