// Built-ins 05safety_snapshot and 10restore_module.
import { existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, chmodSync, utimesSync, chownSync, type Stats } from 'node:fs';
import path from 'node:path';
import { openProvider } from '../../providers/registry.js';
import { RESTORE_SCRATCH_PREFIX, snapshotSet } from '../module-paths.js';
import { isTargetRestore } from './service.js';
import type { PartContext } from '../context.js';
import type { Provider } from '../../providers/types.js';
import { removeRestoreScratch, writeRestoreMarker, type RestoreMarker } from '../restore-marker.js';
import { isDirectory, isSymlink } from '../../storage/file-kind.js';
import { SAFETY_TAG } from '../../providers/kinds.js';

// Before an in-place restore, snapshots the current state into the repository being restored from.
export async function safetySnapshot(ctx: PartContext): Promise<void> {
  if (isTargetRestore(ctx) || !ctx.options.safetySnapshot) return;
  const source = requireSource(ctx);
  const provider = await openProvider(source.repository, ctx.root, (...v) => ctx.log.masker.add(...v));
  const { paths, exclude } = snapshotSet(ctx.module);
  const present = paths.filter((p) => existsSync(p));
  const result = await provider.create({
    module: ctx.module.name,
    paths: present,
    exclude,
    host: ctx.root.host,
    tags: [`module:${ctx.module.name}`, SAFETY_TAG],
    signal: ctx.signal,
    log: ctx.log,
    dryRun: ctx.options.dryRun,
    env: ctx.env,
  });
  if (ctx.options.dryRun) return;
  ctx.state.safetySnapshots.push({ repository: source.repository, id: result.snapshot.id, time: result.snapshot.time });
  ctx.log.info(
    `safety snapshot ${result.snapshot.id} of the current state is in ${source.repository}; ` +
      `to undo this restore: lifeboat restore ${ctx.module.name} ${result.snapshot.id} --repo ${source.repository}`,
  );
}

// Restores the module: into --target as is, or in place so each path becomes exactly the snapshot.
export async function restoreModule(ctx: PartContext): Promise<void> {
  const source = requireSource(ctx);
  const provider = await openProvider(source.repository, ctx.root, (...v) => ctx.log.masker.add(...v));
  const common = { module: ctx.module.name, snapshot: source.snapshot, signal: ctx.signal, log: ctx.log, dryRun: ctx.options.dryRun, env: ctx.env };
  if (isTargetRestore(ctx)) {
    await restoreUnderTarget(ctx, provider, common, ctx.options.target!);
    ctx.log.info(`${ctx.options.dryRun ? 'would restore' : 'restored'} snapshot ${source.snapshot.id} under ${ctx.options.target}`);
    return;
  }
  const { paths } = snapshotSet(ctx.module);
  // First every path into its scratch folder (the live files untouched), then the swaps, so an
  // interruption before the swaps changes nothing; from the first swap on, a marker says so.
  const staged: Staged[] = [];
  const safety = ctx.state.safetySnapshots[0];
  const marker = (phase: RestoreMarker['phase']) =>
    writeRestoreMarker(ctx.root.stateDir, {
      phase,
      runId: ctx.runId,
      module: ctx.module.name,
      repository: source.repository,
      snapshot: source.snapshot.id,
      safety: safety ? { repository: safety.repository, id: safety.id } : null,
      paths,
      started: new Date().toISOString(),
      pid: process.pid,
    });
  try {
    if (!ctx.options.dryRun) marker('staging');
    for (const [index, livePath] of paths.entries()) staged.push(await stageRestore(ctx, provider, common, livePath, index));
    if (ctx.options.dryRun) return;
    if (!staged.some((item) => item.restored)) {
      throw new Error(`snapshot ${source.snapshot.id} of ${source.repository} brought back none of ${paths.join(', ')}; nothing was changed`);
    }
    marker('replacing');
    for (const item of staged) swapIn(ctx, item);
  } finally {
    for (const item of staged) rmSync(item.scratch, { recursive: true, force: true });
  }
  ctx.log.info(`restored snapshot ${source.snapshot.id} of ${source.repository} in place`);
}

type RestoreCommon = Omit<Parameters<Provider['restore']>[0], 'target' | 'include'>;

// --target: the snapshot lands in a scratch folder inside the target and is moved into place only when
// the provider finished, so a failed or refused restore (a tar-slip) leaves the target as it was.
async function restoreUnderTarget(ctx: PartContext, provider: Provider, common: RestoreCommon, target: string): Promise<void> {
  const include = snapshotSet(ctx.module).paths;
  if (ctx.options.dryRun) {
    await provider.restore({ ...common, target, include });
    return;
  }
  const created = !existsSync(target);
  mkdirSync(target, { recursive: true, mode: 0o700 });
  removeRestoreScratch([target], ctx.runId);
  const scratch = path.join(target, `${RESTORE_SCRATCH_PREFIX}${ctx.runId}-target`);
  mkdirSync(scratch, { mode: 0o700 });
  try {
    await provider.restore({ ...common, target: scratch, include });
    for (const name of readdirSync(scratch)) mergeMove(path.join(scratch, name), path.join(target, name));
  } catch (error) {
    rmSync(created ? target : scratch, { recursive: true, force: true, maxRetries: 3 });
    throw error;
  }
  rmSync(scratch, { recursive: true, force: true });
}

// Moves src to dest; directories on both sides are merged, anything else at dest is replaced.
function mergeMove(src: string, dest: string): void {
  if (isDirectory(src) && isDirectory(dest)) {
    for (const name of readdirSync(src)) mergeMove(path.join(src, name), path.join(dest, name));
    const stats = statSync(src);
    applyMetadata(dest, stats);
    return;
  }
  if (existsSync(dest) || isSymlink(dest)) rmSync(dest, { recursive: true, force: true });
  renameSync(src, dest);
}

// One live path restored aside: `restored` is where the snapshot's copy of it landed, if it holds one.
interface Staged {
  livePath: string;
  scratch: string;
  restored: string | undefined;
}

// Restores one path into a scratch folder on its file system: inside it when it is a directory (it may be
// a mount point), else beside it. A path that does not exist yet is never created here.
async function stageRestore(ctx: PartContext, provider: Provider, common: RestoreCommon, livePath: string, index: number): Promise<Staged> {
  const holder = isDirectory(livePath) ? livePath : path.dirname(livePath);
  const scratch = path.join(holder, `${RESTORE_SCRATCH_PREFIX}${ctx.runId}-${index}`);
  const item: Staged = { livePath, scratch, restored: undefined };
  // A path the snapshot does not hold (e.g. an environment file created after it) is not asked for:
  // borg's extract fails on an include that matches nothing.
  const inSnapshot = common.snapshot.paths?.some((p) => livePath === p || livePath.startsWith(`${p.replace(/\/+$/, '')}/`)) ?? true;
  if (!inSnapshot) {
    ctx.log.debug(`${livePath} is not in snapshot ${common.snapshot.id}; left as it is`);
    return item;
  }
  if (ctx.options.dryRun) {
    await provider.restore({ ...common, target: scratch, include: [livePath] });
    return item;
  }
  mkdirSync(holder, { recursive: true, mode: 0o700 });
  // Scratch folders of earlier runs (killed ones) hold partial restores; this run holds the module's lock.
  removeRestoreScratch([livePath], ctx.runId);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { mode: 0o700 });
  try {
    await provider.restore({ ...common, target: scratch, include: [livePath] });
  } catch (error) {
    rmSync(scratch, { recursive: true, force: true, maxRetries: 3 });
    throw error;
  }
  const restored = path.join(scratch, livePath);
  if (existsSync(restored) || isSymlink(restored)) item.restored = restored;
  else {
    const configured = ctx.module.folders.includes(livePath);
    (configured ? ctx.log.warn : ctx.log.debug).call(ctx.log, `${livePath} is not in snapshot ${common.snapshot.id}; left as it is`);
  }
  return item;
}

// Puts a staged copy in place of the live path: a directory's contents are exchanged (files not in the
// snapshot go away), anything else is renamed over it.
function swapIn(ctx: PartContext, item: Staged): void {
  const { livePath, restored } = item;
  if (!restored) return;
  const restoredIsDir = lstatSync(restored).isDirectory();
  if (restoredIsDir && isDirectory(livePath)) {
    const stats = swapDirectoryContents(livePath, restored, `${RESTORE_SCRATCH_PREFIX}${ctx.runId}-`);
    rmSync(item.scratch, { recursive: true, force: true });
    applyMetadata(livePath, stats);
    return;
  }
  if (isDirectory(livePath)) {
    // The snapshot holds a file where a directory is now: move it out of the scratch (inside that
    // directory) first, then replace the directory.
    const aside = path.join(path.dirname(livePath), `${RESTORE_SCRATCH_PREFIX}${ctx.runId}-swap`);
    renameSync(restored, aside);
    rmSync(livePath, { recursive: true, force: true });
    renameSync(aside, livePath);
    return;
  }
  renameSync(restored, livePath);
}

// Makes `live` hold exactly what `restored` holds (renames within one file system); returns its metadata.
function swapDirectoryContents(live: string, restored: string, keepPrefix: string): Stats {
  for (const name of readdirSync(live)) {
    if (!name.startsWith(keepPrefix)) rmSync(path.join(live, name), { recursive: true, force: true, maxRetries: 3 });
  }
  const stats = statSync(restored);
  for (const name of readdirSync(restored)) renameSync(path.join(restored, name), path.join(live, name));
  return stats;
}

// Gives a swapped directory the restored one's mode, owner and times (last, after the scratch is gone).
function applyMetadata(live: string, stats: Stats): void {
  chmodSync(live, stats.mode & 0o7777);
  try {
    chownSync(live, stats.uid, stats.gid);
  } catch {
    // not permitted when not root; the mode and times still match
  }
  utimesSync(live, stats.atime, stats.mtime);
}



// The snapshot being restored; the restore command resolves it before the run starts.
function requireSource(ctx: PartContext) {
  if (!ctx.state.restoreSource) throw new Error('no snapshot was resolved for this restore');
  return ctx.state.restoreSource;
}
