// `lifeboat backup [MODULE...]`: every named (or enabled) module, --parallel at a time.
import { createLogger, loadForCommand, parseCount, printJson, type GlobalOptions } from './common.js';
import { exitStatusOf, runModules, type ModuleResult } from '../lifecycle/action.js';
import { interruptSignal } from '../lifecycle/signals.js';
import { repositoriesFor } from '../lifecycle/repositories.js';
import { printPlan } from './plan.js';
import { openProvider } from '../providers/registry.js';
import { assertSafeParts, planAction } from '../lifecycle/runner.js';

interface BackupOptions extends GlobalOptions {
  repo?: string[];
  dryRun?: boolean;
  parallel?: string;
  wait?: string;
  // false with --no-retention.
  retention?: boolean;
}

// Runs backup (then the module's retention, unless --no-retention) for each module and prints a summary
// (text or JSON, with what retention removed); exit 1 if any module failed.
export async function backupCommand([names]: unknown[], options: BackupOptions): Promise<number> {
  const log = createLogger(options);
  const { root, modules } = loadForCommand(options, names as string[], log);
  const parallel = Math.max(1, parseCount('--parallel', options.parallel, 1));
  const waitSeconds = options.wait === undefined ? undefined : parseCount('--wait', options.wait, 0);
  // Every provider is opened before anything runs: an unknown or unsafe plugin, or a repository its
  // provider rejects, is a configuration error (exit 2), not a failure after the services were stopped.
  const repositories = new Set(modules.flatMap((module) => repositoriesFor(root, module, options.repo)));
  for (const repository of repositories) await openProvider(repository, root, (...values) => log.masker.add(...values));
  // Likewise every module's parts: one refused part stops the command before any module runs.
  for (const module of modules) assertSafeParts(planAction({ root, module, action: 'backup' }));
  if (modules.length === 0) log.warn('no enabled modules: nothing to back up');
  if (options.dryRun && !options.json) for (const module of modules) printPlan(root, module, ['backup']);
  const signal = interruptSignal();
  const results = await runModules(
    modules.map((module) => ({ root, module, action: 'backup' as const, options: { repositories: options.repo, dryRun: !!options.dryRun, safetySnapshot: false, retention: options.retention !== false }, log, signal, waitSeconds })),
    parallel,
  );
  printResults('backup', results, !!options.json, (r) => ({ removed: (r.removed ?? []).map(({ repository, id, time, kind }) => ({ repository, id, time, kind })) }));
  return exitStatusOf(results);
}

// Prints the per-module outcome of backup/restore/verify: the JSON shape the README shows (plus the
// `extra` fields of each module), or one line each.
export function printResults(action: string, results: ModuleResult[], json: boolean, extra: (result: ModuleResult) => Record<string, unknown> = () => ({})): void {
  if (json) {
    printJson({
      ok: results.every((r) => r.ok),
      modules: results.map((r) => ({
        module: r.module,
        ...extra(r),
        ok: r.ok,
        ...(r.skipped ? { skipped: true } : {}),
        snapshots: r.snapshots.map(({ repository, id }) => ({ repository, id })),
        ...(r.safetySnapshots.length ? { safetySnapshots: r.safetySnapshots.map(({ repository, id }) => ({ repository, id })) } : {}),
        error: r.error,
        ...(r.failedPart ? { failedPart: r.failedPart } : {}),
      })),
    });
    return;
  }
  for (const r of results) {
    const what = r.ok ? (r.skipped ? 'skipped' : 'ok') : r.locked ? 'locked' : 'FAILED';
    const snaps = r.snapshots.map((s) => `${s.repository}:${s.id.slice(0, 12)}`).join(' ');
    const removed = (r.removed ?? []).map((s) => `${s.repository}:${s.id.slice(0, 12)}`).join(' ');
    process.stdout.write(`${action} ${r.module}: ${what}${snaps ? ` ${snaps}` : ''}${removed ? `; retention removed ${removed}` : ''}${r.ok ? '' : ` (${r.failedPart ?? ''}: ${r.error})`}\n`);
  }
}
