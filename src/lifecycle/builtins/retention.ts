// Built-in post-backup/60retention: after a successful backup, applies the module's retention in each
// repository the backup just wrote to (see ../retention.ts); the snapshots it removed go into the run's
// state, so the journal and `backup --json` show them (and whether a prune ran). `--no-retention` skips it.
import { describeError, partFailed } from '../../errors.js';
import { kindOf } from '../../providers/kinds.js';
import type { PartContext } from '../context.js';
import { applyModuleRetention } from '../retention.js';

// Forgets, per repository written to, what the retention lets go; a failure fails the run (the snapshot
// stays: it is complete), so retention that stopped working is never silent.
export async function retention(ctx: PartContext): Promise<void> {
  if (ctx.state.failedPart || ctx.state.snapshots.length === 0) return;
  if (ctx.options.retention === false) {
    ctx.log.info('retention skipped (--no-retention)');
    return;
  }
  if (Object.keys(ctx.module.retention).length === 0) {
    ctx.log.info(`no retention for module ${ctx.module.name} (module retention or defaults.retention): keeping every snapshot`);
    return;
  }
  const made = ctx.state.snapshots.map((s) => s.id);
  const failures: string[] = [];
  const errors: unknown[] = [];
  for (const repository of [...new Set(ctx.state.snapshots.map((s) => s.repository))]) {
    try {
      const outcome = await applyModuleRetention(ctx.root, ctx.module, repository, { log: ctx.log, signal: ctx.signal, env: ctx.env, dryRun: ctx.options.dryRun, protect: made });
      for (const s of outcome.removed ?? []) ctx.state.removed.push({ repository, id: s.id, time: s.time, kind: kindOf(s) });
      if (outcome.pruned) ctx.state.pruned.push(repository);
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      failures.push(`${repository}: ${describeError(error)}`);
      errors.push(error);
      ctx.log.error(`retention in ${repository} failed: ${describeError(error)}`);
    }
  }
  if (failures.length > 0) throw partFailed(`retention failed in ${failures.length} repository(ies): ${failures.join('; ')}`, errors);
}
