// `lifeboat backup [MODULE...]`: every named (or enabled) module, --parallel at a time.
import path from 'node:path';
import type { BrokenModule } from '../config/load.js';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { preflight } from '../check/preflight.js';
import { assertKeyOpens } from '../check/repositories.js';
import { strayPhaseFolders } from '../check/hooks.js';
import { assertBackupConfig } from '../check/backup-config.js';
import { renderFindings } from './check.js';
import { summaryLines } from './summary.js';
import { shortId } from '../log/format.js';
import { createLogger, escapeControl, loadOrPing, parseCount, pingIfRefused, printJson, type GlobalOptions } from './common.js';
import { exitStatusOf, newRunId, runModules, type ModuleResult } from '../lifecycle/action.js';
import { journalEnd, journalStart } from '../state/journal.js';
import { LifeboatError } from '../errors.js';
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
  newRepository?: boolean;
}

// Runs backup (then the module's retention, unless --no-retention) for each module and prints a summary
// (text or JSON, with what retention removed); exit 1 if any module failed.
export async function backupCommand([names]: unknown[], options: BackupOptions): Promise<number> {
  const log = createLogger(options);
  const loaded = await loadOrPing(options, names as string[], 'backup', log, !!(options as { dryRun?: boolean }).dryRun);
  const { root, broken } = loaded;
  let modules = loaded.modules;
  const parallel = Math.max(1, parseCount('--parallel', options.parallel, 1));
  const waitSeconds = options.wait === undefined ? undefined : parseCount('--wait', options.wait, 0);
  // Every provider is opened before anything runs: an unknown or unsafe plugin, a repository its
  // provider rejects, a missing password, an exclude or dump name the module's providers and databases
  // cannot honour (check/backup-config.ts) is a configuration error (exit 2), not a failure after the
  // services were stopped. Either refusal still sends the failure ping.
  // What belongs to one module (a refused part, a keyed repository its newest snapshot does not open
  // with) fails that module only when every module runs: the others still run (exit 1), the failure is
  // in the journal; a module named on the command line is refused (exit 2).
  const explicit = (names as string[] | undefined)?.length ? true : false;
  const refused: BrokenModule[] = [];
  await pingIfRefused(options, modules.map((m) => m.name), 'backup', log, !!(options as { dryRun?: boolean }).dryRun, async () => {
    const selected = modules.map((module) => ({ module, repositories: repositoriesFor(root, module, options.repo) }));
    assertBackupConfig(root, selected);
    const repositories = new Set(selected.flatMap((s) => s.repositories));
    for (const repository of repositories) await (await openProvider(repository, root, (...values) => log.masker.add(...values))).preflightBackup?.({ log });
    for (const one of selected) {
      try {
        assertSafeParts(planAction({ root, module: one.module, action: 'backup' }));
        await assertKeyOpens(root, [one], log);
      } catch (error) {
        // A refused part of the root's hooks.d/ is every module's: the command is refused.
        const shared = path.join(root.root, 'hooks.d') + path.sep;
        if (explicit || !(error instanceof LifeboatError) || error.exitCode !== 2 || error.problems.some((p) => p.startsWith(shared))) throw error;
        for (const problem of error.problems) log.error(`module ${one.module.name} cannot run: ${problem}`);
        refused.push({ name: one.module.name, problems: error.problems });
      }
    }
  });
  if (refused.length > 0) {
    modules = modules.filter((module) => !refused.some((r) => r.name === module.name));
    if (!options.dryRun) for (const module of refused) journalRefused(root, module);
    broken.push(...refused);
  }
  if (modules.length === 0 && broken.length === 0) log.warn('no enabled modules: nothing to back up');
  if (options.dryRun && !options.json) for (const module of modules) printPlan(root, module, ['backup']);
  // A dry run tries what `check` tries: repositories open, databases answer, folders and parts are right.
  if (options.dryRun && (await dryRunPreflight(root, modules, log, options))) return 1;
  // A misspelled phase folder (hooks.d/finaly/) would otherwise be ignored without a word.
  if (!options.dryRun) for (const stray of strayPhaseFolders(root, modules)) log.warn(`${stray.subject} ${stray.message}`);
  const signal = interruptSignal();
  const results = await runModules(
    modules.map((module) => ({ root, module, action: 'backup' as const, options: { repositories: options.repo, dryRun: !!options.dryRun, safetySnapshot: false, retention: options.retention !== false, newRepository: !!options.newRepository }, log, signal, waitSeconds })),
    parallel,
    broken.map(brokenResult),
    { root, action: 'backup', log, dryRun: !!options.dryRun },
  );
  printResults('backup', results, !!options.json, !!options.quiet, (r) => ({ removed: (r.removed ?? []).map(({ repository, id, time, kind }) => ({ repository, id, time, kind })), pruned: r.pruned ?? [] }));
  if (!options.json && !options.quiet && !options.dryRun) for (const line of summaryLines(results, modules, options.repo)) process.stdout.write(`${line}\n`);
  return exitStatusOf(results);
}

// Prints the preflight's warnings and failures (once each); true when something would fail.
async function dryRunPreflight(root: RootConfig, modules: ModuleConfig[], log: Logger, options: BackupOptions): Promise<boolean> {
  const findings = (await preflight(root, modules, log, options.repo)).filter((f) => f.level !== 'ok');
  if (findings.length && !options.json) process.stdout.write(`\npreflight:\n${renderFindings(findings)}`);
  for (const f of findings) if (options.json) log.log(f.level === 'fail' ? 'error' : 'warn', `${f.subject}: ${f.message}`);
  const failed = findings.some((f) => f.level === 'fail');
  if (failed && options.json) printJson({ ok: false, modules: [], preflight: findings });
  if (failed) log.error('the backup would fail: see the preflight above (or run `lifeboat check`)');
  return failed;
}

// A module that could not load (a broken module.yaml) as a failed result: the others still ran. The
// first line of each problem only: the whole text (a YAML error's line and caret) was logged on loading.
export function brokenResult(module: BrokenModule): ModuleResult {
  return { module: module.name, ok: false, skipped: false, locked: false, snapshots: [], safetySnapshots: [], error: module.problems.map((problem) => problem.split('\n')[0]).join('; '), failedPart: 'configuration' };
}

// A module refused before it ran, as a failed backup in the journal (so `status` and the report show it).
function journalRefused(root: RootConfig, module: BrokenModule): void {
  const runId = newRunId();
  try {
    journalStart(root.stateDir, { runId, module: module.name, action: 'backup', host: root.host });
    journalEnd(root.stateDir, { runId, module: module.name, action: 'backup', result: 'failure', durationMs: 0, failedPart: 'configuration', error: module.problems.join('; ') });
  } catch {
    // A state dir that cannot be written: the run's own journal error says so for the modules that run.
  }
}

// Prints the per-module outcome of backup/restore/verify: the JSON shape the README shows (plus the
// `extra` fields of each module), or one line each.
// With -q (quiet) only failed modules get their line: a quiet run that went well prints nothing.
export function printResults(action: string, results: ModuleResult[], json: boolean, quiet: boolean, extra: (result: ModuleResult) => Record<string, unknown> = () => ({})): void {
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
        ...(r.hint ? { hint: r.hint } : {}),
        ...(r.code ? { code: r.code } : {}),
      })),
    });
    return;
  }
  for (const r of results) {
    if (quiet && (r.ok || r.locked)) continue;
    // Locked by another run: skipped (exit 3), not a failure; the holder is named.
    if (r.locked && r.lockedBy) {
      process.stdout.write(escapeControl(`${action} ${r.module}: skipped: locked by ${r.lockedBy}; pass --wait SECONDS to wait for it`) + '\n');
      continue;
    }
    const what = r.ok ? (r.skipped ? 'skipped' : 'ok') : r.locked ? 'locked' : 'FAILED';
    const snaps = r.snapshots.map((s) => `${s.repository}:${shortId(s.id)}`).join(' ');
    const removed = (r.removed ?? []).map((s) => `${s.repository}:${shortId(s.id)}`).join(' ');
    // A run stopped before any part (a lock held by another run) has no part to name.
    // A module that could not load: its problems were logged in full on loading; the line names the file.
    const unloaded = r.failedPart === 'configuration' && r.snapshots.length === 0 ? /^[^:\s]*\/[^:\s]*/.exec(r.error ?? '')?.[0] : undefined;
    const why = r.ok ? '' : unloaded ? ` (configuration: ${unloaded}, shown above)` : ` (${r.failedPart ? `${r.failedPart}: ` : ''}${r.error ?? 'no reason recorded'})`;
    process.stdout.write(escapeControl(`${action} ${r.module}: ${what}${snaps ? ` ${snaps}` : ''}${removed ? `; retention removed ${removed}` : ''}${why}`) + '\n');
  }
}
