// Built-ins 05safety_snapshot and 10restore_module.
import { outermostPaths } from '../../files/outermost.js';
import { existsSync, lstatSync, mkdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { openProvider } from '../../providers/registry.js';
import { RESTORE_SCRATCH_PREFIX, snapshotSet } from '../module-paths.js';
import { isTargetRestore } from './service.js';
import type { PartContext } from '../context.js';
import type { Provider } from '../../providers/types.js';
import { readRestoreMarker, removeRestoreScratch, targetScratchName, unfinishedRestoreHelp, writeRestoreMarker, type RestoreMarker } from '../restore-marker.js';
import { dirnameBytes, joinBytes, listNames, lstatOrUndefined, showPath, toBytes, withinBytes, type BytePath } from '../../files/byte-path.js';
import { isMountPoint, mountPoints, mountsBelow } from '../../files/mounts.js';
import { applyMetadata, planSwap, swapAll, SwapFailed, type SwapRoot } from '../restore-swap.js';
import { codeOf, describeError, LifeboatError } from '../../errors.js';
import { runToEnd } from '../../process/runner.js';
import { loadManifest, manifestEntries } from '../manifest.js';
import { fromPathKey } from '../../files/byte-path.js';
import { manifestTotals, withRestoreProgress } from '../restore-progress.js';

import { SAFETY_TAG } from '../../providers/kinds.js';
import { readStateEnv } from '../restore-request.js';
import { nestedRunner } from '../nested-run.js';
import { relocateRestored, relocations, toHere, toSnapshot, type Relocation } from '../snapshot-places.js';

// Before an in-place restore, snapshots the current state into the repository being restored from, as
// a backup would: first the backup's own dump steps (its pre-backup phase without 40stop_service: the
// database dumps, bin/module-dump-state, the root's and the module's pre-backup parts) while the service
// still runs, then the snapshot, then the backup's clean-up of those dumps (70module_cleanup_state,
// 80remove_dumps). A dump that fails fails the restore here, before anything was stopped or replaced.
export async function safetySnapshot(ctx: PartContext): Promise<void> {
  if (isTargetRestore(ctx) || !ctx.options.safetySnapshot) return;
  const source = requireSource(ctx);
  const provider = await openProvider(source.repository, ctx.root, (...v) => ctx.log.masker.add(...v));
  const envBefore = readStateEnv(ctx);
  const dumps = await runBackupSteps(ctx, source.repository, 'pre-backup', (name) => name !== '40stop_service');
  try {
    if (!dumps.outcome.ok || dumps.outcome.skipped) {
      if (ctx.signal.aborted) throw new LifeboatError('INTERRUPTED', `the safety snapshot was interrupted (${dumps.outcome.error ?? 'aborted'}); nothing was changed`);
      const why = dumps.outcome.skipped
        ? `${dumps.outcome.failedPart ?? 'a pre-backup part'} asked to skip the backup (exit 75)`
        : `${dumps.outcome.failedPart} failed: ${dumps.outcome.error}`;
      throw new LifeboatError('PART_FAILED', `the safety snapshot could not dump the current state as a backup does (${why}); the restore stopped before it changed anything: the service still runs and the live files are as they were`, {
        hint: `fix the dump (its output is above), or restore without saving the current state first: lifeboat restore ${ctx.module.name} ${source.snapshot.id} --repo ${source.repository} --no-safety-snapshot`,
      });
    }
    const { paths, exclude } = snapshotSet(ctx.module);
    const present = outermostPaths(paths.filter((p) => existsSync(p)));
    const result = await provider
      .create({
        module: ctx.module.name,
        paths: present,
        exclude,
        host: ctx.root.host,
        tags: [`module:${ctx.module.name}`, SAFETY_TAG],
        signal: ctx.signal,
        log: ctx.log,
        dryRun: ctx.options.dryRun,
        env: ctx.env,
        streams: dumps.state.dumpStreams,
        runId: ctx.runId,
      })
      .catch((error: unknown) => {
        if (ctx.signal.aborted) throw error;
        throw new LifeboatError(codeOf(error) ?? 'PROVIDER', `the safety snapshot into ${source.repository} failed: ${describeError(error)}; the restore stopped before it changed anything`, {
          hint: `fix the repository, or restore without saving the current state first: lifeboat restore ${ctx.module.name} ${source.snapshot.id} --repo ${source.repository} --no-safety-snapshot`,
          cause: error,
        });
      });
    if (ctx.options.dryRun) return;
    ctx.state.safetySnapshots.push({ repository: source.repository, id: result.snapshot.id, time: result.snapshot.time });
    const unfinished = readRestoreMarker(ctx.root.stateDir, ctx.module.name);
    if (unfinished?.phase === 'replacing') {
      // The live files are the mix an unfinished restore left: the state before *that* restore stays the one to roll back to.
      ctx.log.info(`safety snapshot ${result.snapshot.id} holds the mix the unfinished restore of ${unfinished.snapshot} left; ${unfinishedRestoreHelp(unfinished)}`);
      return;
    }
    ctx.log.info(
      `safety snapshot ${result.snapshot.id} of the current state (the files, and what ${dumps.ran.length ? dumps.ran.join(', ') : 'no pre-backup step'} dumped just now) is in ${source.repository}; ` +
        `to undo this restore: lifeboat restore ${ctx.module.name} ${result.snapshot.id} --repo ${source.repository}`,
    );
  } finally {
    // As after a backup: the dumps are in the snapshot now (or it failed); what cleans them up runs either way.
    const cleanup = await runBackupSteps(ctx, source.repository, 'finally', (name) => name === '70module_cleanup_state' || name === '80remove_dumps');
    if (!cleanup.outcome.ok) ctx.log.warn(`after the safety snapshot, ${cleanup.outcome.failedPart} failed: ${cleanup.outcome.error}; the restore goes on`);
    // A backup step that wrote the state dir's environment (an agent's set_env in a pre-backup part) is no
    // restore step: the snapshot's copy still comes back unless a restore step writes it (README, NethServer 8).
    const envAfter = readStateEnv(ctx);
    if (ctx.state.stateEnvBefore !== undefined && sameStateEnv(ctx.state.stateEnvBefore, envBefore) && !sameStateEnv(envBefore, envAfter)) ctx.state.stateEnvBefore = envAfter ?? null;
  }
}

// Whether two readings of the state dir's environment are the same file, unwritten in between.
function sameStateEnv(a: { bytes: Buffer; stamp: string } | null | undefined, b: { bytes: Buffer; stamp: string } | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.stamp === b.stamp && a.bytes.equals(b.bytes);
}

// Tells a part that it runs for a restore's safety snapshot (README "How it works": the caveat).
const SAFETY_ENV = { LIFEBOAT_SAFETY_SNAPSHOT: '1' };

// Runs the parts of one phase of a backup of this module (built-ins, the root's and the module's files,
// replaced and masked ones as a backup has them) that `keep` names, through the runner, as a backup of
// the restore's repository: the request and LIFEBOAT_PHASE are a backup's;
// LIFEBOAT_SAFETY_SNAPSHOT=1 says what they run for.
async function runBackupSteps(ctx: PartContext, repository: string, phase: 'pre-backup' | 'finally', keep: (name: string) => boolean) {
  const { planAction, runAction } = nestedRunner();
  const run = {
    root: ctx.root,
    module: ctx.module,
    action: 'backup' as const,
    runId: ctx.runId,
    options: { ...ctx.options, repositories: [repository], snapshot: undefined, target: undefined },
    env: { ...ctx.env, ...SAFETY_ENV },
    readEnv: () => ({ ...(ctx.readEnv ? ctx.readEnv() : ctx.env), ...SAFETY_ENV }),
    envFile: ctx.envFile,
    log: ctx.log,
    signal: ctx.signal,
    state: { stoppedService: false, snapshots: [], safetySnapshots: [], removed: [], pruned: [], bytes: 0, skipped: false } as PartContext['state'],
  };
  const plan = planAction(run)
    .filter(({ step }) => step.phase === phase)
    .map(({ step, parts }) => ({ step, parts: parts.filter((part) => keep(part.name)) }));
  const outcome = await runAction(run, plan);
  const ran = plan.flatMap(({ parts }) => parts.filter((part) => part.status === 'run').map((part) => `${part.phase}/${part.name}`));
  return { outcome, state: run.state, ran };
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
  // A state dir or environment file the snapshot holds under another --state-dir or --root comes back
  // into this host's (README "Restoring on a fresh host").
  const moved = relocations(ctx.root, ctx.module, source.snapshot.paths);
  // First every swap root into its scratch folder (the live files untouched), then the swap, so an
  // interruption before the swap changes nothing; from the swap on, a marker says so.
  const roots = swapRootsOf(paths);
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
    if (!ctx.options.dryRun) {
      // Scratch copies and trash folders of killed runs (an unfinished restore's among them: this run
      // replaces the live files either way, and holds the module's lock).
      const removed = removeRestoreScratch(paths, ctx.runId);
      if (removed.length) ctx.log.info(`removed what an interrupted restore left behind: ${removed.join(', ')}`);
      marker('staging');
    }
    await stageRestores(ctx, provider, common, roots, staged, moved);
    if (ctx.options.dryRun) return;
    if (!staged.some((item) => item.staged)) {
      throw new LifeboatError('RESTORE', `snapshot ${source.snapshot.id} of ${source.repository} brought back none of ${paths.join(', ')}; nothing was changed`);
    }
    planSwap(staged);
    marker('replacing');
    try {
      await swapAll(staged).commit();
    } catch (error) {
      // Every path was put back: the live files are as they were before this run.
      if (error instanceof SwapFailed && error.undone) marker('staging');
      throw error;
    }
  } finally {
    for (const item of staged) rmSync(item.scratch, { recursive: true, force: true, maxRetries: 3 });
  }
  ctx.log.info(`restored snapshot ${source.snapshot.id} of ${source.repository} in place`);
}

type RestoreCommon = Omit<Parameters<Provider['restore']>[0], 'target' | 'include'>;

// --target: the snapshot lands in a scratch folder inside the target and is moved into place only when
// the provider finished, so a failed or refused restore (a tar-slip) leaves the target as it was. The
// scratch carries this process's id: another module restoring into the same folder at the same time
// keeps its own, and only scratch folders of processes that are gone are removed.
async function restoreUnderTarget(ctx: PartContext, provider: Provider, common: RestoreCommon, target: string): Promise<void> {
  // What the snapshot holds (a path declared after it, or an environment file it lacked, is not asked
  // for: borg fails on an include that matches nothing).
  const moved = relocations(ctx.root, ctx.module, common.snapshot.paths);
  const include = common.snapshot.paths ?? snapshotSet(ctx.module).paths;
  if (ctx.options.dryRun) {
    await provider.restore({ ...common, target, include });
    return;
  }
  const created = !existsSync(target);
  mkdirSync(target, { recursive: true, mode: 0o700 });
  removeRestoreScratch([target], ctx.runId);
  const scratch = path.join(target, targetScratchName(ctx.runId));
  mkdirSync(scratch, { mode: 0o700 });
  try {
    const { repository, id } = source(ctx);
    await withRestoreProgress(`${ctx.module.name}: restore ${repository}`, scratch, () => manifestTotals(ctx.module, repository, id), () => provider.restore({ ...common, target: scratch, include })).catch((error: unknown) => {
      throw explainNoRoom(error, target);
    });
    // The state dir and environment file of another --state-dir or --root land where this host's are.
    relocateRestored(scratch, moved);
    const scratchBytes = toBytes(scratch);
    for (const name of listNames(scratchBytes)) mergeMove(joinBytes(scratchBytes, name), joinBytes(toBytes(target), name));
  } catch (error) {
    rmSync(created ? target : scratch, { recursive: true, force: true, maxRetries: 3 });
    throw error;
  }
  rmSync(scratch, { recursive: true, force: true });
}

// Moves src to dest; real directories on both sides are merged, anything else at dest (a symlink too:
// never followed, so nothing lands outside the target) is replaced.
function mergeMove(src: BytePath, dest: BytePath): void {
  const from = lstatSync(src);
  const to = lstatOrUndefined(dest);
  if (from.isDirectory() && to?.isDirectory()) {
    for (const name of listNames(src)) mergeMove(joinBytes(src, name), joinBytes(dest, name));
    applyMetadata(dest, from);
    return;
  }
  if (to) rmSync(dest, { recursive: true, force: true });
  renameSync(src, dest);
}

// One swap root restored aside.
interface Staged extends SwapRoot {
  scratch: BytePath;
}

// The swap roots of a module: its outermost paths (a path inside another comes back with it) and every
// mount point below them (restored into on its own file system).
export function swapRootsOf(paths: string[]): Array<{ live: BytePath; mount: boolean }> {
  const points = mountPoints();
  const outer = outermostPaths(paths).map(toBytes);
  const roots: Array<{ live: BytePath; mount: boolean }> = [];
  for (const live of outer) {
    roots.push({ live, mount: isMountPoint(live, points) });
    for (const point of mountsBelow(live, points)) {
      if (!roots.some((root) => root.live.equals(point))) roots.push({ live: point, mount: true });
    }
  }
  return roots;
}

// One swap root on its way: where it is restored, and what its restore brought back.
interface Staging {
  root: { live: BytePath; mount: boolean };
  index: number;
  item: Staged;
  liveStats: ReturnType<typeof lstatOrUndefined>;
  // Where the provider writes (a folder on the root's file system) and what the root is called there.
  scratch: BytePath;
}

// Restores the swap roots into scratch folders on their file systems: inside a root when it is a
// directory (it may be a mount point), else beside it. Roots on the same mounted file system share one
// restore (one provider run: restic derives its key once per run), into the first one's scratch folder;
// each is renamed from there into place by the swap. A path that does not exist yet is never created
// here. `staged` gets every root (those restored, and those the snapshot does not hold) as it goes, so
// the caller removes their scratch folders whatever happens.
async function stageRestores(ctx: PartContext, provider: Provider, common: RestoreCommon, roots: Array<{ live: BytePath; mount: boolean }>, staged: Staged[], moved: Relocation[]): Promise<void> {
  const groups = new Map<string, Staging[]>();
  // The snapshot's paths as this host's (a relocated state dir or environment file).
  const held = common.snapshot.paths?.map((p) => toHere(p, moved));
  const points = ctx.options.dryRun ? [] : mountPoints();
  for (const [index, root] of roots.entries()) {
    const liveStats = lstatOrUndefined(root.live);
    const holder = liveStats?.isDirectory() ? root.live : dirnameBytes(root.live);
    const scratch = joinBytes(holder, `${RESTORE_SCRATCH_PREFIX}${ctx.runId}-${index}`);
    const item: Staged = { ...root, scratch, staged: undefined, trash: joinBytes(holder, `${RESTORE_SCRATCH_PREFIX}${ctx.runId}-${index}-trash`) };
    staged.push(item);
    // A path the snapshot does not hold (e.g. an environment file created after it) is not asked for:
    // borg's extract fails on an include that matches nothing.
    const inSnapshot = held?.some((p) => withinBytes(root.live, toBytes(p))) ?? true;
    if (!inSnapshot) {
      // A configured folder the snapshot lacks (made with other `folders:`, or on a host that keeps it elsewhere) is said.
      const configured = ctx.module.folders.some((folder) => toBytes(folder).equals(root.live));
      (configured ? ctx.log.warn : ctx.log.debug).call(ctx.log, `${showPath(root.live)} is not in snapshot ${common.snapshot.id}; left as it is`);
      continue;
    }
    if (!ctx.options.dryRun) mkdirSync(holder, { recursive: true, mode: 0o700 });
    const key = ctx.options.dryRun ? String(index) : fileSystemOf(holder, points);
    const group = groups.get(key) ?? [];
    group.push({ root, index, item, liveStats, scratch: group[0]?.scratch ?? scratch });
    groups.set(key, group);
  }
  for (const group of groups.values()) {
    const scratch = group[0].scratch;
    const include = group.map((one) => toSnapshot(one.root.live.toString('utf8'), moved));
    if (ctx.options.dryRun) {
      await provider.restore({ ...common, target: scratch.toString('utf8'), include });
      continue;
    }
    rmSync(scratch, { recursive: true, force: true });
    mkdirSync(scratch, { mode: 0o700 });
    for (const one of group) one.item.scratch = scratch;
    try {
      const { repository, id } = source(ctx);
      const label = `${ctx.module.name}: restore ${repository} ${group.map((one) => showPath(one.root.live)).join(', ')}`;
      const totals = () => manifestTotals(ctx.module, repository, id, group.length === 1 ? group[0].root.live : undefined);
      await withRestoreProgress(label, scratch, totals, () => provider.restore({ ...common, target: scratch.toString('utf8'), include }));
      relocateRestored(scratch.toString('utf8'), moved);
    } catch (error) {
      rmSync(scratch, { recursive: true, force: true, maxRetries: 3 });
      throw explainNoRoom(error, undefined);
    }
    for (const one of group) await takeStaged(ctx, common, one, scratch, held);
  }
}

// The file system a folder lies on, as a key: its device and the mount point it is under (a rename
// cannot cross a bind mount of the same device either).
function fileSystemOf(folder: BytePath, points: BytePath[]): string {
  const real = realpathSync(folder, { encoding: 'buffer' });
  let mount: BytePath = Buffer.from('/');
  for (const point of points) if (withinBytes(real, point) && point.length > mount.length) mount = point;
  return `${statSync(folder).dev}:${mount.toString('latin1')}`;
}

// Checks what the restore of one root brought back and notes where the swap takes it from.
async function takeStaged(ctx: PartContext, common: RestoreCommon, one: Staging, scratch: BytePath, held: string[] | undefined): Promise<void> {
  const { root, item, index, liveStats } = one;
  // Every path the snapshot records under this root must have come back (a provider script that exits 0
  // but skipped one would otherwise leave a stale live copy beside restored files, e.g. an old dump).
  const missing = (held ?? []).filter((p) => withinBytes(toBytes(p), root.live) && !lstatOrUndefined(joinBytes(scratch, toBytes(p))));
  if (missing.length > 0) {
    throw new LifeboatError('RESTORE', `the restore of snapshot ${common.snapshot.id} did not bring back ${missing.join(', ')}, which the snapshot holds; nothing was changed`, {
      hint: `check the provider's restore (it exited 0); the live files are as they were`,
    });
  }
  const restored = joinBytes(scratch, root.live);
  await digHoles(ctx, source(ctx), scratch, root.live);
  const restoredStats = lstatOrUndefined(restored);
  if (restoredStats) {
    item.staged = restored;
    // A directory replaced by a file (or the reverse) cannot put its trash inside itself.
    if (!(liveStats?.isDirectory() && restoredStats.isDirectory())) item.trash = joinBytes(dirnameBytes(root.live), `${RESTORE_SCRATCH_PREFIX}${ctx.runId}-${index}-trash`);
  } else {
    const configured = ctx.module.folders.some((folder) => toBytes(folder).equals(root.live));
    (configured ? ctx.log.warn : ctx.log.debug).call(ctx.log, `${showPath(root.live)} is not in snapshot ${common.snapshot.id}; left as it is`);
  }
}

// Files the backup manifest records as sparse get their holes back (restic 0.14 and borg restore them
// dense): `fallocate --dig-holes` turns runs of zeros into holes, leaving the content as it is.
async function digHoles(ctx: PartContext, snapshot: { repository: string; id: string }, scratch: BytePath, live: BytePath): Promise<void> {
  let manifest;
  try {
    manifest = loadManifest(ctx.module, snapshot.repository, snapshot.id);
  } catch {
    return;
  }
  if (!manifest) return;
  for await (const entry of manifestEntries(manifest.file)) {
    if (!entry.sparse) continue;
    const file = fromPathKey(entry.path);
    if (!withinBytes(file, live)) continue;
    const staged = joinBytes(scratch, file);
    // touch -r keeps its times to the nanosecond (fallocate would move the mtime).
    const script = 'ref="$1.lifeboat-times" && touch -r "$1" "$ref" && fallocate --dig-holes "$1"; status=$?; touch -r "$ref" "$1"; rm -f "$ref"; exit $status';
    const result = await runToEnd('sh', { args: ['-c', script, 'sh', staged.toString('utf8')], stdio: ['ignore', 'pipe', 'pipe'] });
    if (result.code !== 0) ctx.log.debug(`could not dig the holes of ${showPath(file)} again: ${result.error?.message ?? result.stderr.trim()}`);
  }
}

// The snapshot being restored, as repository and id.
function source(ctx: PartContext): { repository: string; id: string } {
  const restoreSource = requireSource(ctx);
  return { repository: restoreSource.repository, id: restoreSource.snapshot.id };
}

// A restore that ran out of room says so and how to restore elsewhere.
function explainNoRoom(error: unknown, target: string | undefined): unknown {
  if (!/ENOSPC|no space left on device/i.test(describeError(error))) return error;
  const where = target ? `under ${target}` : 'beside the live files (an in-place restore stages every path on its own file system first)';
  return new LifeboatError('RESTORE', `not enough room to restore ${where}: ${describeError(error)}; nothing live was changed`, {
    hint: target ? 'free space there, or give --target a folder on a file system with room' : 'free space, or restore with --target DIR on a file system with room and copy what you need',
    cause: error,
  });
}

// The snapshot being restored; the restore command resolves it before the run starts.
function requireSource(ctx: PartContext) {
  // Internal invariant: the restore command resolves the snapshot before the run starts.
  if (!ctx.state.restoreSource) throw new Error('no snapshot was resolved for this restore');
  return ctx.state.restoreSource;
}
