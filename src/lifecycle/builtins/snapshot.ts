// Built-in 50snapshot: one snapshot of the module into every selected repository. A repository that
// fails does not stop the others, but fails the module. An upload that may follow the snapshot (tar with
// `upload:`) is finished by finally/95finish_uploads, after the service started again.
import { existsSync } from 'node:fs';
import { describeError, LifeboatError, partFailed } from '../../errors.js';
import { openProvider } from '../../providers/registry.js';
import { snapshotSet } from '../module-paths.js';
import { outermostPaths } from '../../files/outermost.js';
import { assertIncludesExist } from '../volumes.js';
import { selectedRepositories, vanishedRepository } from '../repositories.js';
import type { PartContext, PendingUpload } from '../context.js';
import { recordManifest } from '../manifest.js';
import { retention } from './retention.js';
import { startProgress } from '../../log/progress.js';
import type { Logger } from '../../log/logger.js';

// Snapshots folders, state dir, environment file and included paths.
export async function snapshot(ctx: PartContext): Promise<void> {
  assertIncludesExist(ctx.module);
  const { paths, exclude } = snapshotSet(ctx.module);
  const missingFolders = ctx.module.folders.filter((folder) => !existsSync(folder));
  if (missingFolders.length > 0) {
    throw new LifeboatError('CONFIG_INVALID', `folder ${missingFolders.join(', ')} does not exist; create it or remove it from ${ctx.module.file} (folders)`, { hint: `create it, or remove it from folders: in ${ctx.module.file}` });
  }
  // A path inside another comes with it (borg would store its entries twice).
  const present = outermostPaths(paths.filter((p) => existsSync(p)));
  // The manifest `verify` compares with, hashed in a worker thread while the providers snapshot.
  const manifest = ctx.options.dryRun ? undefined : recordManifest(ctx, present, exclude);
  const failures: string[] = [];
  const errors: unknown[] = [];
  // Database dumps 20dump_databases left to stream (each repository runs its own dump).
  const streams = ctx.state.dumpStreams;
  for (const repository of selectedRepositories(ctx)) {
    const bar = startProgress(`${ctx.module.name}: snapshot ${repository}`);
    try {
      const provider = await openProvider(repository, ctx.root, (...values) => ctx.log.masker.add(...values));
      if (!ctx.options.newRepository && !ctx.options.dryRun) {
        const vanished = vanishedRepository(ctx.root, ctx.module.name, repository);
        const common = { log: ctx.log, signal: ctx.signal, env: ctx.env };
        if (vanished && !(await provider.holdsSnapshots?.(ctx.module.name, common)) && (await provider.list(ctx.module.name, common)).length === 0) throw new Error(vanished);
      }
      const started = Date.now();
      // An upload that goes on after this part logs under the part that waits for it (95finish_uploads).
      const log = switchableLog(ctx.log);
      const result = await provider.create({
        module: ctx.module.name,
        paths: present,
        exclude,
        host: ctx.root.host,
        tags: [`module:${ctx.module.name}`],
        signal: ctx.signal,
        log: log.logger,
        dryRun: ctx.options.dryRun,
        env: ctx.env,
        onProgress: (progress) => bar.update(progress.bytesDone, progress.bytesTotal),
        streams,
        runId: ctx.runId,
        detachUpload: true,
      });
      if (ctx.options.dryRun) continue;
      ctx.state.snapshots.push({ repository, id: result.snapshot.id, time: result.snapshot.time, bytes: result.bytes });
      ctx.state.bytes += result.bytes ?? 0;
      ctx.log.info(`snapshot ${result.snapshot.id} in ${repository} (${Date.now() - started} ms)`);
      if (result.uploading) {
        uploadsOf(ctx).push({ repository, id: result.snapshot.id, uploading: result.uploading, logTo: log.switchTo });
        ctx.log.info(`snapshot ${result.snapshot.id}: the local archive is complete; its upload goes on while the service runs again (finally/95finish_uploads waits for it)`);
      }
    } catch (error) {
      if (ctx.signal.aborted) {
        manifest?.cancel();
        throw error;
      }
      // A vanished repository's plain Error (its message names the fix) joins them as a reason too.
      failures.push(`${repository}: ${describeError(error)}`);
      errors.push(error);
      ctx.log.error(`snapshot into ${repository} failed: ${describeError(error)}`);
    } finally {
      bar.done();
    }
  }
  await manifest?.finish(ctx.state.snapshots);
  if (failures.length > 0) {
    let message = `snapshot failed in ${failures.length} repository(ies): ${failures.join('; ')}`;
    // post-backup does not run after this failure, but the repositories this backup did write to still get
    // their retention (60retention's work, here): one repository down must not let the others grow without bound.
    if (ctx.state.snapshots.length > 0) {
      try {
        await retention(ctx);
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        message += `; ${describeError(error)}`;
        errors.push(error);
      }
    }
    throw partFailed(message, errors);
  }
}

// A logger whose lines go to `initial` until switchTo() names another (every method forwards).
function switchableLog(initial: Logger): { logger: Logger; switchTo: (next: Logger) => void } {
  let current = initial;
  const logger = new Proxy(initial, {
    get: (_target, key) => {
      const value = Reflect.get(current, key, current) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(current) : value;
    },
  });
  return { logger, switchTo: (next) => (current = next) };
}

function uploadsOf(ctx: PartContext): PendingUpload[] {
  return (ctx.state.pendingUploads ??= []);
}

// Built-in finally/95finish_uploads: waits for those uploads, after 90start_service started the service
// again (the downtime is the archive's time, not the upload's). A failed upload removed its snapshot: it
// is taken out of the run's snapshots and fails the run.
export async function finishUploads(ctx: PartContext): Promise<void> {
  const pending = uploadsOf(ctx).splice(0);
  const failures: string[] = [];
  const errors: unknown[] = [];
  for (const { repository, id, uploading, logTo } of pending) {
    logTo?.(ctx.log);
    try {
      await uploading;
      ctx.log.info(`snapshot ${id} in ${repository}: uploaded`);
    } catch (error) {
      const index = ctx.state.snapshots.findIndex((s) => s.repository === repository && s.id === id);
      if (index !== -1) ctx.state.bytes -= ctx.state.snapshots.splice(index, 1)[0].bytes ?? 0;
      failures.push(`${repository}: ${describeError(error)}`);
      errors.push(error);
    }
  }
  if (failures.length > 0) throw partFailed(`upload failed in ${failures.length} repository(ies): ${failures.join('; ')}`, errors);
}
