// Built-ins 20dump_databases, 80remove_dumps and 30restore_databases: the module's databases.
//
// Backup: every `databases:` entry becomes one or more dumps at <state dir>/databases/<engine>-<name>.<ext>.
// When every repository of the run takes streams (capabilities.streams) a dump is not written here: it is
// handed to 50snapshot, which streams it straight into each repository. Otherwise it is staged (0600) and
// snapshotted with the state dir; 80remove_dumps deletes the staged files after the snapshot.
// Restore: the dumps come back with the state dir (streamed ones as regular files too) and are loaded.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { LifeboatError } from '../../errors.js';
import { DUMP_DIR } from '../../engines/names.js';
import type { EngineContext } from '../../engines/index.js';
import { openProvider } from '../../providers/registry.js';
import type { StreamSource } from '../../providers/types.js';
import { selectedRepositories } from '../repositories.js';
import { snapshotSet } from '../module-paths.js';
import { isTargetRestore } from './service.js';
import type { PartContext } from '../context.js';

// The engines (clients of four databases) load only for a module that has databases.
const engines = () => import('../../engines/index.js');

// The module's dump folder, in place or under a --target.
export function dumpDirOf(stateDir: string, target?: string): string {
  return target ? path.join(target, stateDir, DUMP_DIR) : path.join(stateDir, DUMP_DIR);
}

// How an engine runs inside a part.
function engineContext(ctx: PartContext): EngineContext {
  return { env: ctx.env, log: ctx.log, signal: ctx.signal, workDir: ctx.module.stateDir };
}

// Whether every repository of this run takes streams (then streamable dumps skip the disk).
async function repositoriesStream(ctx: PartContext): Promise<boolean> {
  for (const repository of selectedRepositories(ctx)) {
    const provider = await openProvider(repository, ctx.root, (...values) => ctx.log.masker.add(...values));
    if (!provider.capabilities.streams) return false;
  }
  return true;
}

// Human-readable size.
function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = -1;
  do {
    value /= 1024;
    unit++;
  } while (value >= 1024 && unit < units.length - 1);
  return `${value.toFixed(1)} ${units[unit]}`;
}

// Dumps every database: staged into the state dir, or prepared as streams for the snapshot.
// Returns the stream sources (empty when everything was staged).
export async function prepareDumps(ctx: PartContext): Promise<StreamSource[]> {
  const dir = dumpDirOf(ctx.module.stateDir);
  // The folder belongs to Lifeboat: leftovers of an interrupted run must not reach a snapshot.
  if (!ctx.options.dryRun) removeDumps(ctx.module.stateDir);
  if (ctx.module.databases.length === 0) return [];
  const { dumpJobs, stageDump } = await engines();
  const engine = engineContext(ctx);
  const jobs = await dumpJobs(ctx.module.databases, engine);
  await refuseExcludedDumps(ctx, jobs.map((job) => path.join(dir, job.file)));
  const stream = await repositoriesStream(ctx);
  const streams: StreamSource[] = [];
  if (!ctx.options.dryRun) mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const job of jobs) {
    const dest = path.join(dir, job.file);
    if (stream && job.streamable && job.start) {
      // Started later by the provider in 50snapshot: not bound to this part's timeout; the provider stops
      // the dump by stopping its consumer (the dump then fails writing), and on its own failure.
      streams.push({ path: dest, label: job.label, open: (output) => job.start!({ ...engine, signal: undefined }, output) });
      ctx.log.info(`${ctx.options.dryRun ? 'dry run: ' : ''}${job.label}: will stream into the snapshot as ${DUMP_DIR}/${job.file}`);
      continue;
    }
    if (ctx.options.dryRun) {
      ctx.log.info(`dry run: would dump ${job.label} to ${DUMP_DIR}/${job.file}`);
      continue;
    }
    const started = Date.now();
    const bytes = await stageDump(job, dest, engine);
    ctx.log.info(`dumped ${job.label} to ${DUMP_DIR}/${job.file} (${size(bytes)}, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
  return streams;
}

// A dump the module's exclude patterns match would silently be missing from the snapshot: refuse early.
async function refuseExcludedDumps(ctx: PartContext, files: string[]): Promise<void> {
  const { exclude } = snapshotSet(ctx.module);
  if (exclude.length === 0) return;
  const { compileExcludes } = await import('../../files/exclude.js');
  let isExcluded: (file: string) => boolean;
  try {
    isExcluded = compileExcludes(exclude);
  } catch {
    return; // negated patterns: the provider reports them
  }
  const excluded = files.filter((file) => isExcluded(file));
  if (excluded.length) {
    throw new LifeboatError('CONFIG_INVALID', `the module's exclude patterns (${exclude.join(', ')}) match the database dump(s) ${excluded.join(', ')}`, {
      hint: `narrow exclude: in ${ctx.module.file} or etc/state-exclude.conf so that ${DUMP_DIR}/ in the state dir stays in the snapshot`,
    });
  }
}

// 20dump_databases.
export async function dumpDatabases(ctx: PartContext): Promise<void> {
  const streams = await prepareDumps(ctx);
  if (streams.length) ctx.state.dumpStreams = streams;
}

// 80remove_dumps: staged dumps never outlive the run (they are in the snapshot now, or the run failed).
export async function removeDumpsPart(ctx: PartContext): Promise<void> {
  if (ctx.options.dryRun) return;
  removeDumps(ctx.module.stateDir);
}

// Removes the module's dump folder (files, .partial leftovers, FIFOs).
export function removeDumps(stateDir: string): void {
  rmSync(dumpDirOf(stateDir), { recursive: true, force: true });
}

// 30restore_databases: loads every dump; with --target only when --databases is given.
export async function restoreDatabases(ctx: PartContext): Promise<void> {
  if (ctx.module.databases.length === 0) return;
  const target = isTargetRestore(ctx) ? ctx.options.target : undefined;
  const dir = dumpDirOf(ctx.module.stateDir, target);
  const jobs = (await engines()).loadJobs(ctx.module.databases, dir);
  if (ctx.options.dryRun) {
    for (const job of jobs) ctx.log.info(`dry run: would ${target && !ctx.options.databases ? 'leave' : 'load'} ${job.label} from ${path.join(dir, job.file)}`);
    return;
  }
  // A restore that brings back no dump of a database must not say ok, with --target too.
  const missing = jobs.filter((job) => !existsSync(path.join(dir, job.file)));
  if (missing.length) {
    const present = existsSync(dir) ? readdirSync(dir).join(', ') || 'nothing' : 'no databases/ folder';
    throw new LifeboatError('DATABASE', `the snapshot holds no dump of ${missing.map((job) => `${job.label} (${DUMP_DIR}/${job.file})`).join(', ')}; it has ${present}`, {
      hint: 'was the database added to module.yaml after this snapshot, or its dump snapshot removed from the repository by hand? restore an older or newer snapshot, or mask 30restore_databases',
    });
  }
  if (target && !ctx.options.databases) {
    ctx.log.info(`the dumps are under ${dir}; the live databases were left alone (restore with --databases to load them)`);
    return;
  }
  const engine = engineContext(ctx);
  for (const job of jobs) {
    const started = Date.now();
    await job.load({ path: path.join(dir, job.file) }, engine);
    ctx.log.info(`loaded ${job.label} from ${DUMP_DIR}/${job.file} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
  // In place the dumps were only the vehicle; under --target they stay beside the restored files.
  if (!target) removeDumps(ctx.module.stateDir);
}
