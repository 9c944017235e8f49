// Each module's standing, from the run journal and its schedule: what `status`, `check` and the
// Prometheus textfile show.
import { lastResults, type JournalRun, type ModuleResults } from '../state/journal.js';
import type { ModuleConfig } from '../config/types.js';
import { nextRun, scheduleInterval } from '../config/cron.js';

export type ModuleState = 'ok' | 'failed' | 'stale' | 'never-run' | 'running' | 'disabled' | 'broken';

export interface ModuleStatus {
  module: string;
  enabled: boolean;
  schedule: string | null;
  state: ModuleState;
  // The latest finished (or interrupted) backup: success, failure, skipped, interrupted; or running.
  lastResult: JournalRun['result'] | null;
  lastRunAt: string | null;
  lastSuccess: string | null;
  lastFailure: string | null;
  lastError: string | null;
  lastFailedPart: string | null;
  // Seconds since the last success ended.
  ageSeconds: number | null;
  // Of the last successful backup: bytes it added to the repositories, and how long it took.
  bytes: number | null;
  durationMs: number | null;
  // Of the latest run, whatever its result.
  lastDurationMs: number | null;
  nextRun: string | null;
  // A module is stale when its last success is older than this (twice the schedule's interval).
  staleAfterSeconds: number | null;
  stale: boolean;
  verify: VerifyStatus;
  // State `broken`: its module.yaml cannot be loaded (each problem names the file and key); it cannot run.
  configProblems?: string[];
}

// The last restore drill, and whether the drill schedule (verify.schedule) has been missed.
export interface VerifyStatus {
  last: string | null;
  result: JournalRun['result'] | null;
  lastSuccess: string | null;
  error: string | null;
  schedule: string | null;
  nextRun: string | null;
  // A drill is overdue when its last success is older than this (twice the drill schedule's interval).
  overdueAfterSeconds: number | null;
  overdue: boolean;
  // When no drill ever succeeded: the module's first backup in the journal, from which a drill that never
  // ran becomes overdue (null when there is none).
  firstBackup: string | null;
}

// Computes the status of each module at `now`.
export function moduleStatuses(stateDir: string, modules: ModuleConfig[], now = new Date()): ModuleStatus[] {
  const backups = lastResults(stateDir, { action: 'backup' });
  const verifies = lastResults(stateDir, { action: 'verify' });
  return modules.map((module) => statusOf(module, backups.get(module.name) ?? {}, verifies.get(module.name) ?? {}, now));
}

// The status of a module whose module.yaml cannot be loaded: state `broken`, its past runs from the
// journal (nothing about schedules: they are in the file that is broken), and the problems.
export function brokenStatuses(stateDir: string, broken: Array<{ name: string; problems: string[] }>, now = new Date()): ModuleStatus[] {
  const backups = lastResults(stateDir, { action: 'backup' });
  const verifies = lastResults(stateDir, { action: 'verify' });
  return broken.map(({ name, problems }) => {
    const stand = { name, enabled: true, verify: {} } as ModuleConfig;
    return { ...statusOf(stand, backups.get(name) ?? {}, verifies.get(name) ?? {}, now), state: 'broken' as const, configProblems: problems };
  });
}

// One module's status from its last runs.
function statusOf(module: ModuleConfig, backup: ModuleResults, verify: ModuleResults, now: Date): ModuleStatus {
  const success = backup.lastSuccess;
  const last = backup.last;
  const successAt = success ? endOf(success) : null;
  const interval = module.schedule ? safe(() => scheduleInterval(module.schedule!, now)) : undefined;
  const staleAfterSeconds = interval ? Math.round((2 * interval) / 1000) : null;
  const ageSeconds = successAt ? Math.max(0, Math.round((now.getTime() - Date.parse(successAt)) / 1000)) : null;
  const failedSince = !success && backup.lastFailure !== undefined;
  const stale = module.enabled && staleAfterSeconds !== null && ((ageSeconds !== null && ageSeconds > staleAfterSeconds) || failedSince);
  const next = module.schedule && module.enabled ? safe(() => nextRun(module.schedule!, now)) : undefined;
  return {
    module: module.name,
    enabled: module.enabled,
    schedule: module.schedule ?? null,
    state: stateOf(module, last, stale),
    lastResult: last?.result ?? null,
    lastRunAt: last ? endOf(last) : null,
    lastSuccess: successAt,
    lastFailure: backup.lastFailure ? endOf(backup.lastFailure) : null,
    lastError: backup.lastFailure?.error ?? null,
    lastFailedPart: backup.lastFailure?.failedPart ?? null,
    ageSeconds,
    bytes: success ? success.bytes : null,
    durationMs: success?.durationMs ?? null,
    lastDurationMs: last?.durationMs ?? null,
    nextRun: next ? next.toISOString() : null,
    staleAfterSeconds,
    stale,
    verify: verifyStatusOf(module, verify, now, backup.first?.started ?? null),
  };
}

// The drill's standing: overdue when the last successful drill is older than twice the drill interval
// (a module whose drills never succeeded is overdue once it has a failed drill, or once its first backup
// is older than that: a scheduled drill that never ran is as missed as one that stopped running).
function verifyStatusOf(module: ModuleConfig, verify: ModuleResults, now: Date, firstBackup: string | null): VerifyStatus {
  const schedule = module.verify?.schedule ?? null;
  const lastSuccess = verify.lastSuccess ? endOf(verify.lastSuccess) : null;
  const interval = schedule ? safe(() => scheduleInterval(schedule, now)) : undefined;
  const overdueAfterSeconds = interval ? Math.round((2 * interval) / 1000) : null;
  const age = lastSuccess ? (now.getTime() - Date.parse(lastSuccess)) / 1000 : null;
  const neverRanFor = lastSuccess === null && firstBackup ? (now.getTime() - Date.parse(firstBackup)) / 1000 : null;
  const overdue =
    module.enabled &&
    overdueAfterSeconds !== null &&
    ((age !== null && age > overdueAfterSeconds) || (lastSuccess === null && verify.lastFailure !== undefined) || (neverRanFor !== null && neverRanFor > overdueAfterSeconds));
  const next = schedule && module.enabled ? safe(() => nextRun(schedule, now)) : undefined;
  return {
    last: verify.last ? endOf(verify.last) : null,
    result: verify.last?.result ?? null,
    lastSuccess,
    error: verify.last && verify.last.result !== 'success' ? (verify.last.error ?? null) : null,
    schedule,
    nextRun: next ? next.toISOString() : null,
    overdueAfterSeconds,
    overdue,
    firstBackup: lastSuccess === null ? firstBackup : null,
  };
}

// The one word a person reads first.
function stateOf(module: ModuleConfig, last: JournalRun | undefined, stale: boolean): ModuleState {
  if (!module.enabled) return 'disabled';
  if (!last) return 'never-run';
  if (last.result === 'running') return 'running';
  if (stale) return 'stale';
  return last.result === 'failure' || last.result === 'interrupted' ? 'failed' : 'ok';
}

// When a run ended (or, for one that never recorded an end, when it started).
function endOf(run: JournalRun): string {
  return run.ended ?? run.started;
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
