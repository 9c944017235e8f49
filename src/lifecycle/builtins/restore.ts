// Built-ins 05safety_snapshot and 10restore_module.
import { existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, chmodSync, utimesSync, chownSync, type Stats } from 'node:fs';
import path from 'node:path';
import { openProvider } from '../../providers/registry.js';
import { RESTORE_SCRATCH_PREFIX, snapshotSet } from '../module-paths.js';
import { isTargetRestore } from './service.js';
import type { PartContext } from '../context.js';
import type { Provider } from '../../providers/types.js';

export const SAFETY_TAG = 'lifeboat-safety';

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
    mkdirSync(ctx.options.target!, { recursive: true, mode: 0o700 });
    await provider.restore({ ...common, target: ctx.options.target!, include: snapshotSet(ctx.module).paths });
    ctx.log.info(`restored snapshot ${source.snapshot.id} under ${ctx.options.target}`);
    return;
  }
  const { paths } = snapshotSet(ctx.module);
  for (const target of paths) {
    await restoreInPlace(ctx, provider, common, target);
  }
  ctx.log.info(`restored snapshot ${source.snapshot.id} of ${source.repository} in place`);
}

type RestoreCommon = Omit<Parameters<Provider['restore']>[0], 'target' | 'include'>;

// Restores one path aside (on the same file system) and swaps it in: files not in the snapshot go away.
async function restoreInPlace(ctx: PartContext, provider: Provider, common: RestoreCommon, livePath: string): Promise<void> {
  const isDir = !existsSync(livePath) || lstatSync(livePath).isDirectory();
  const holder = isDir ? livePath : path.dirname(livePath);
  mkdirSync(holder, { recursive: true, mode: 0o700 });
  const scratch = path.join(holder, `${RESTORE_SCRATCH_PREFIX}${ctx.runId}`);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { mode: 0o700 });
  try {
    await provider.restore({ ...common, target: scratch, include: [livePath] });
    if (ctx.options.dryRun) return;
    const restored = path.join(scratch, livePath);
    if (!existsSync(restored) && !isSymlink(restored)) {
      ctx.log.warn(`${livePath} is not in snapshot ${common.snapshot.id}; left as it is`);
      return;
    }
    if (lstatSync(restored).isDirectory()) {
      const stats = swapDirectoryContents(livePath, restored, path.basename(scratch));
      rmSync(scratch, { recursive: true, force: true });
      applyMetadata(livePath, stats);
    } else {
      if (existsSync(livePath) && lstatSync(livePath).isDirectory()) rmSync(livePath, { recursive: true, force: true });
      renameSync(restored, livePath);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

// Makes `live` hold exactly what `restored` holds (renames within one file system); returns its metadata.
function swapDirectoryContents(live: string, restored: string, keep: string): Stats {
  for (const name of readdirSync(live)) {
    if (name !== keep) rmSync(path.join(live, name), { recursive: true, force: true });
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

function isSymlink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

// The snapshot being restored; the restore command resolves it before the run starts.
function requireSource(ctx: PartContext) {
  if (!ctx.state.restoreSource) throw new Error('no snapshot was resolved for this restore');
  return ctx.state.restoreSource;
}
