// Built-ins of the verify action, the restore drill: 10restore_scratch checks each repository and restores
// its latest snapshot into a scratch dir, 20check_manifest compares that restore with the manifest written
// at backup time, 30check_databases checks each database dump in it. The module's own verify parts run
// after them with LIFEBOAT_TARGET set to the (first) scratch restore; the verify command removes it.
import { shortId } from '../../log/format.js';
import { appendFileSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { runToEnd } from '../../process/runner.js';
import { describeError, LifeboatError } from '../../errors.js';
import { openProvider } from '../../providers/registry.js';
import { selectedRepositories } from '../repositories.js';
import { snapshotSet } from '../module-paths.js';
import { isOwnHost } from '../../providers/snapshot-ref.js';
import { kindOf } from '../../providers/kinds.js';
import { checkRestore, loadManifest, requestRehash } from '../manifest.js';
import { startProgress } from '../../log/progress.js';
import { formatBytes } from '../../log/format.js';
import type { Drill, PartContext } from '../context.js';
import type { LoadJob } from '../../engines/types.js';
import type { DatabaseConfig, RootConfig } from '../../config/types.js';
import { partFailed } from '../../errors.js';

// How much of the pack data the repository check reads (restic --read-data-subset); the restore reads
// everything the latest snapshot needs anyway.
export const READ_DATA_SUBSET = process.env.LIFEBOAT_VERIFY_READ_DATA_SUBSET || '10%';
const SHOWN_PROBLEMS = 10;

// Where a module's drill restores (under the state dir, never inside a snapshot's paths).
export function verifyScratchDir(root: Pick<RootConfig, 'stateDir'>, module: string): string {
  return path.join(root.stateDir, 'scratch', 'verify', module);
}

// Checks each repository (the provider's own check) and restores its latest snapshot into scratch.
export async function restoreScratch(ctx: PartContext): Promise<void> {
  const base = verifyScratchDir(ctx.root, ctx.module.name);
  rmSync(base, { recursive: true, force: true });
  mkdirSync(base, { recursive: true, mode: 0o700 });
  const drills: Drill[] = [];
  const failures: string[] = [];
  const errors: unknown[] = [];
  ctx.state.drills = drills;
  for (const repository of selectedRepositories(ctx)) {
    try {
      drills.push(await drillRepository(ctx, repository, path.join(base, repository)));
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      failures.push(`${repository}: ${describeError(error)}`);
      errors.push(error);
      ctx.log.error(`${repository}: ${describeError(error)}`);
    }
  }
  if (drills.length > 0) {
    const first = drills[0];
    // The module's own verify parts look at the restore through the usual variables.
    appendFileSync(ctx.envFile, `LIFEBOAT_TARGET=${first.dir}\nLIFEBOAT_SNAPSHOT=${first.snapshot.id}\nNAME=${first.snapshot.id}\nLIFEBOAT_REPOSITORY=${first.repository}\n`);
  }
  if (failures.length > 0) throw partFailed(`restore drill failed in ${failures.length} repository(ies): ${failures.join('; ')}`, errors);
}

// One repository: its latest backup (never a safety snapshot), the provider's check, the restore.
async function drillRepository(ctx: PartContext, repository: string, dir: string): Promise<Drill> {
  const provider = await openProvider(repository, ctx.root, (...values) => ctx.log.masker.add(...values));
  const common = { log: ctx.log, signal: ctx.signal, env: ctx.env };
  const snapshots = (await provider.list(ctx.module.name, common)).filter((s) => kindOf(s) === 'backup' && isOwnHost(s, ctx.root.host));
  const snapshot = snapshots.sort((a, b) => a.time.localeCompare(b.time)).at(-1);
  if (!snapshot) throw new LifeboatError('UNKNOWN_SNAPSHOT', `no snapshot of module ${ctx.module.name} yet; run \`lifeboat backup ${ctx.module.name}\` first`, { hint: `run \`lifeboat backup ${ctx.module.name}\` first` });
  if (provider.check) {
    await provider.check(ctx.module.name, { ...common, readData: true, readDataSubset: READ_DATA_SUBSET });
    ctx.log.info(`${repository}: repository check passed (${provider.kind})`);
  } else {
    ctx.log.warn(`${repository}: provider ${provider.kind} has no check of its own; only the restore tests it`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const bar = startProgress(`${ctx.module.name}: restore ${repository}`);
  const started = Date.now();
  try {
    await provider.restore({ module: ctx.module.name, snapshot, target: dir, include: snapshot.paths ?? snapshotSet(ctx.module).paths, signal: ctx.signal, log: ctx.log, env: ctx.env, onProgress: (p) => bar.update(p.bytesDone, p.bytesTotal) });
  } finally {
    bar.done();
  }
  ctx.state.snapshots.push({ repository, id: snapshot.id, time: snapshot.time });
  ctx.log.info(`${repository}: restored snapshot ${shortId(snapshot.id)} (${snapshot.time}) into ${dir} in ${Date.now() - started} ms`);
  return { repository, snapshot, dir };
}

// Compares every scratch restore with the manifest of its snapshot: type, mode, size, sha256, link target.
export async function checkManifest(ctx: PartContext): Promise<void> {
  const failures: string[] = [];
  let differs = false;
  for (const drill of drillsOf(ctx)) {
    const manifest = loadManifest(ctx.module, drill.repository, drill.snapshot.id);
    if (!manifest) {
      ctx.log.warn(`${drill.repository}: no manifest for snapshot ${drill.snapshot.id.slice(0, 12)} on this host (it was made elsewhere, or before manifests existed); files restored but not compared`);
      continue;
    }
    // A manifest copied over another snapshot's name would compare the wrong backup.
    const made = manifest.header;
    if (made.snapshot?.id !== drill.snapshot.id || made.module !== ctx.module.name) {
      const problem = `manifest ${manifest.file} was made for snapshot ${String(made.snapshot?.id)} of module ${String(made.module)}, not for snapshot ${drill.snapshot.id} of module ${ctx.module.name} being verified`;
      ctx.log.error(`${drill.repository}: ${problem}`);
      failures.push(`${drill.repository}: ${problem}`);
      continue;
    }
    const bar = startProgress(`${ctx.module.name}: compare ${drill.repository}`);
    let result;
    try {
      result = await checkRestore(ctx.module, manifest, drill.dir, { onProgress: (done, total) => bar.update(done, total), signal: ctx.signal });
    } finally {
      bar.done();
    }
    ctx.state.bytes += result.checkedBytes;
    if (result.changedCount) {
      ctx.log.warn(`${drill.repository}: ${result.changedCount} file(s) changed while the backup ran (their mtime moved too), not counted as damage: ${result.changedDuringBackup.slice(0, 5).join(', ')}`);
    }
    if (result.extraCount) ctx.log.info(`${drill.repository}: ${result.extraCount} restored path(s) not in the manifest (created during the backup, or streamed dumps)`);
    if (result.problemCount === 0) {
      ctx.log.info(`${drill.repository}: ${result.checkedFiles} file(s), ${formatBytes(result.checkedBytes)}, match the manifest`);
      continue;
    }
    for (const problem of result.problems.slice(0, SHOWN_PROBLEMS)) ctx.log.error(`${drill.repository}: ${problem}`);
    const more = result.problemCount > SHOWN_PROBLEMS ? ` (and ${result.problemCount - SHOWN_PROBLEMS} more)` : '';
    failures.push(`${drill.repository}: ${result.problemCount} difference(s) from the manifest, e.g. ${result.problems[0]}${more}`);
    differs = true;
  }
  if (differs) requestRehash(ctx.module, 'verify found restored files differing from the manifest');
  if (failures.length > 0) {
    const hint = differs ? 'the restored files differ from what was backed up: the next `lifeboat backup` hashes every file again (no hashes reused from the previous manifest), then verify again; if it still fails, `lifeboat check` the repository' : 'the manifest does not belong to the snapshot verified: run `lifeboat backup` again so the newest snapshot has its own manifest';
    throw new LifeboatError('PART_FAILED', failures.join('; '), { hint });
  }
}

// Checks each database dump in the scratch restore: SQLite with PRAGMA integrity_check; PostgreSQL,
// MariaDB and Redis dumps are loaded into a scratch database (src/engines/scratch.ts) that is removed
// again; entries with `scratch: false` (and PostgreSQL roles) are only read back through their end mark.
export async function checkDatabases(ctx: PartContext): Promise<void> {
  if (ctx.module.databases.length === 0) return;
  const failures: string[] = [];
  const errors: unknown[] = [];
  for (const drill of drillsOf(ctx)) {
    const dumpDir = path.join(drill.dir, ctx.module.stateDir, 'databases');
    for (const dump of await expectedDumps(ctx.module.databases, dumpDir)) {
      const file = path.join(dumpDir, dump.file);
      try {
        if (!existsSync(file)) throw new LifeboatError('DATABASE', `${dump.label}: its dump ${dump.file} is not in snapshot ${drill.snapshot.id.slice(0, 12)}`, { hint: 'check that the state dir (its databases/ folder) is not excluded, then back up again' });
        const size = statSync(file).size;
        if (size === 0) throw new LifeboatError('DATABASE', `${dump.label}: its dump ${dump.file} is empty`, { hint: 'back up again and look at the dump part\'s log' });
        if (dump.engine === 'sqlite') {
          await checkSqlite(file, ctx);
          ctx.log.info(`${drill.repository}: ${dump.label}: PRAGMA integrity_check ok (${formatBytes(size)})`);
        } else {
          const engine = { env: ctx.env, log: ctx.log, signal: ctx.signal, workDir: drill.dir };
          const found = dump.drill ? await dump.drill(file, engine) : await dump.check(file, engine);
          ctx.log.info(`${drill.repository}: ${dump.label}: ${found} (${formatBytes(size)})`);
        }
      } catch (error) {
        // checkSqlite's plain errors are reasons: they join the failures below (PART_FAILED).
        if (ctx.signal.aborted) throw error;
        const hint = error instanceof LifeboatError && error.hint ? ` (${error.hint})` : '';
        failures.push(`${drill.repository}: ${describeError(error)}${hint}`);
        errors.push(error);
        ctx.log.error(`${drill.repository}: ${describeError(error)}${hint}`);
      }
    }
  }
  if (failures.length > 0) throw partFailed(`database check failed: ${failures.join('; ')}`, errors);
}

// The dump files the engines write for these databases (their names come from src/engines/).
async function expectedDumps(databases: DatabaseConfig[], dumpDir: string): Promise<LoadJob[]> {
  const engines = await import('../../engines/index.js');
  return engines.loadJobs(databases, dumpDir);
}

// `PRAGMA integrity_check` on a read-only copy; anything but "ok" is damage.
async function checkSqlite(file: string, ctx: PartContext): Promise<void> {
  const result = await runToEnd('sqlite3', { args: ['-readonly', file, 'PRAGMA integrity_check;'], signal: ctx.signal, stdio: ['ignore', 'pipe', 'pipe'], maxStdout: 256 << 20 });
  const output = result.stdout.toString('utf8').trim();
  if (result.error?.code === 'ENOENT') throw new Error('sqlite3 is not installed (Debian: apt-get install sqlite3)');
  if (result.code !== 0 || output !== 'ok') throw new Error(`SQLite dump ${path.basename(file)} is damaged: ${(output || result.stderr).split('\n').slice(0, 3).join(' | ')}`);
}

function drillsOf(ctx: PartContext): Drill[] {
  return ctx.state.drills ?? [];
}
