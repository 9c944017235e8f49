// Runs one action for one module end to end: lock, run directory, part environment, journal, runner.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { stateLayout } from '../config/paths.js';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import { LifeboatError, codeOf, describeError, hintOf, type ErrorCode } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { acquireLock } from '../state/lock.js';
import { journalEnd, journalStart } from '../state/journal.js';
import { registerRunSecrets } from './secrets.js';
import { createHandoffFile } from './env-handoff.js';
import { isModuleRestored, warnOnce } from './restore-request.js';
import { openStateDirForParts } from './state-access.js';
import { readEnvFile } from '../config/env-file.js';
import { newRunState, type ActionOptions, type RunContext, type RunState, type SnapshotRef } from './context.js';
import { assertSafeParts, planAction, runAction } from './runner.js';
import type { Action } from './phases.js';
import { startNotifications } from '../notify/index.js';
import { blockingRestoreMarker, describeUnfinishedRestore, removeLeftovers, settleRestoreMarker } from './restore-marker.js';
import { assertSafeLayout } from './layout-check.js';
import { snapshotSet } from './module-paths.js';

export interface ModuleResult {
  module: string;
  ok: boolean;
  skipped: boolean;
  locked: boolean;
  // When locked: who holds the lock (`pid 1234 (backup, started ...)`).
  lockedBy?: string;
  snapshots: SnapshotRef[];
  safetySnapshots: SnapshotRef[];
  // Snapshots the backup's retention (60retention) removed.
  removed?: SnapshotRef[];
  // Repositories where that retention also pruned (restic prune, borg compact).
  pruned?: string[];
  error: string | null;
  failedPart: string | null;
  // A restore: the module's own parts that ran before Lifeboat replaced anything (they may change files).
  stepsBeforeSwap?: string[];
  // The fix of the failure (a LifeboatError's hint), when it named one.
  hint?: string;
  // The error code of the failure (src/errors.ts; PART_FAILED for a part file's exit status).
  code?: ErrorCode;
  // How long the module's action took (the end-of-run summary shows it).
  durationMs?: number;
}

export interface ModuleActionInput {
  root: RootConfig;
  module: ModuleConfig;
  action: Action;
  options: ActionOptions;
  log: Logger;
  signal: AbortSignal;
  waitSeconds?: number;
  // Filled in before the run starts (the restore command puts the resolved snapshot here).
  prepare?: (state: RunState) => void;
}

// A run id that sorts by time and is unique across hosts: 20261121T233000Z-1a2b3c.
export function newRunId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')}-${randomBytes(3).toString('hex')}`;
}

// Runs the action for one module; never throws for a module failure (it is in the result), only for bad input.
export async function runModuleAction(input: ModuleActionInput): Promise<ModuleResult> {
  const { root, module, action, options } = input;
  const log = input.log.child(module.name);
  const layout = stateLayout(root.stateDir);
  const plan = planAction({ root, module, action });
  // A refused part ends the command (exit 2) before the lock, the journal or any part.
  assertSafeParts(plan);
  assertSafeLayout(root, module, action, options);
  const result: ModuleResult = { module: module.name, ok: false, skipped: false, locked: false, snapshots: [], safetySnapshots: [], error: null, failedPart: null };
  let lock: { release(): void } | undefined;
  if (!options.dryRun) {
    try {
      mkdirSync(layout.locks, { recursive: true, mode: 0o700 });
      lock = await acquireLock(layout.locks, module.name, { waitSeconds: input.waitSeconds, log });
    } catch (error) {
      if (error instanceof LifeboatError && error.code === 'LOCKED') {
        // A skip, not a failure: a warning, so a quiet (-q, cron) run prints nothing on an overlap.
        log.warn(error.message);
        return { ...result, locked: true, lockedBy: /locked by (.+?)(?: after waiting [\d.]+s)?; wait for it/.exec(error.message)?.[1], error: error.message, code: error.code };
      }
      if (error instanceof LifeboatError) throw error;
      // A full or read-only state dir: a plain failure of this module, nothing was run.
      const message = `cannot take the lock in ${layout.locks}: ${describeError(error)}; nothing was run`;
      log.error(message);
      return { ...result, error: message };
    }
  }
  const runId = newRunId();
  const envFile = path.join(layout.runs, `${runId}.env`);
  const started = Date.now();
  try {
    const setupError = attempt(() => {
      mkdirSync(module.stateDir, { recursive: true, mode: 0o700 });
      openStateDirForParts(root.stateDir, module.stateDir);
      mkdirSync(layout.runs, { recursive: true, mode: 0o700 });
      createHandoffFile(envFile);
      writeFileSync(foldersFile(envFile), module.folders.map((folder) => `${folder}\n`).join(''), { mode: 0o600 });
      if (!options.dryRun) journalStart(root.stateDir, { runId, module: module.name, action, host: root.host });
    });
    if (setupError) {
      const message = `cannot prepare the run in the state dir ${root.stateDir}: ${setupError}; nothing was run`;
      log.error(message);
      return { ...result, error: message };
    }
    const state = newRunState();
    input.prepare?.(state);
    log.masker.addEnv(root.rootEnv, module.env);
    await registerRunSecrets(root, module, options.repositories, log);
    const readEnv = () => {
      // Until a restore brought the state dir back, a broken environment there is left out with a warning.
      const env = partEnvironment(root, module, action, runId, options, envFile, state, readModuleEnvFiles(root, module, action === 'restore' && !isModuleRestored(state) ? (message) => warnOnce(state, log, message) : undefined));
      log.masker.addEnv(env.files);
      return env.all;
    };
    const run: RunContext = { root, module, action, runId, options, envFile, log, signal: input.signal, state, readEnv, env: partEnvironment(root, module, action, runId, options, envFile, state).all };
    // Backing up the files of an unfinished in-place restore would store a mix as a good snapshot.
    const unfinished = action === 'backup' && !options.dryRun ? blockingRestoreMarker(root.stateDir, module.name, (message) => log.warn(message)) : undefined;
    if (action !== 'verify' && !options.dryRun && !unfinished) {
      // Scratch copies and trash folders of killed runs (this run holds the module's lock).
      const removed = removeLeftovers(root.stateDir, module.name, snapshotSet(module).paths);
      if (removed.length) log.warn(`removed what an interrupted restore left behind: ${removed.join(', ')}`);
    }
    const outcome = unfinished
      ? { ok: false, skipped: false, interrupted: null, failedPart: 'lifeboat', error: `refused: ${describeUnfinishedRestore(unfinished)}`, code: 'RESTORE' as ErrorCode }
      : await runAction(run, plan).catch((error: unknown) => {
          if (error instanceof LifeboatError && error.exitCode === 2) throw error;
          return { ok: false, skipped: false, interrupted: null, failedPart: 'lifeboat', error: describeError(error), hint: hintOf(error), code: codeOf(error) };
        });
    if (action === 'restore' && !options.dryRun) settleRestoreMarker(root.stateDir, module.name, runId, outcome.failedPart);
    Object.assign(result, {
      ok: outcome.ok,
      skipped: outcome.skipped,
      snapshots: state.snapshots,
      safetySnapshots: state.safetySnapshots,
      removed: state.removed,
      pruned: state.pruned,
      error: outcome.error ? log.masker.mask(outcome.error) : null,
      failedPart: outcome.failedPart ?? null,
      ...(state.stepsBeforeSwap?.length ? { stepsBeforeSwap: state.stepsBeforeSwap } : {}),
      ...(outcome.hint ? { hint: log.masker.mask(outcome.hint) } : {}),
      ...(!outcome.ok && outcome.code ? { code: outcome.code } : {}),
      durationMs: Date.now() - started,
    });
    const journalError = options.dryRun
      ? undefined
      : attempt(() =>
          journalEnd(root.stateDir, {
            runId,
            module: module.name,
            action,
            result: outcome.ok ? (outcome.skipped ? 'skipped' : 'success') : 'failure',
            snapshots: state.snapshots.map(({ repository, id }) => ({ repository, id })),
            removed: state.removed.map(({ repository, id }) => ({ repository, id })),
            safety: state.safetySnapshots.map(({ repository, id }) => ({ repository, id })),
            pruned: state.pruned,
            bytes: state.bytes,
            durationMs: Date.now() - started,
            failedPart: outcome.failedPart,
            error: result.error ?? undefined,
            hint: result.hint,
            code: result.code,
          }),
        );
    if (journalError) {
      // The run is over but nothing says so: `status` will show it as interrupted, and so does the exit.
      result.ok = false;
      result.error = `${result.error ? `${result.error}; ` : ''}the end of this run could not be written to the journal ${layout.journal}: ${journalError}`;
      log.error(`the end of this run could not be written to the journal ${layout.journal}: ${journalError}`);
    }
    if (outcome.ok) log.info(`${action} ${outcome.skipped ? 'skipped (a part exited 75)' : 'done'} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    else {
      log.error(`${action} failed at ${outcome.failedPart}: ${result.error}`);
      if (result.hint) log.error(`hint: ${result.hint}`);
    }
    return result;
  } finally {
    rmSync(envFile, { force: true });
    rmSync(foldersFile(envFile), { force: true });
    lock?.release();
  }
}

// The root's `environment`, the module's, and `environment` in the module's state dir (NethServer's agent
// writes it), read now: a part that changed one is seen by the next. A bad file fails the part about to run.
// With `brokenStateEnv`, a state dir environment that cannot be read is left out and reported there.
export function readModuleEnvFiles(root: RootConfig, module: ModuleConfig, brokenStateEnv?: (message: string) => void): Record<string, string> {
  const stateEnvFile = path.join(module.stateDir, 'environment');
  let stateEnv: Record<string, string> = {};
  try {
    stateEnv = readEnvFile(stateEnvFile, stateEnvFile);
  } catch (error) {
    if (!brokenStateEnv || !(error instanceof LifeboatError)) throw error;
    brokenStateEnv(`${describeError(error)}; left out until the restore brings the state dir's environment back`);
  }
  return {
    ...readEnvFile(path.join(root.root, 'environment'), 'environment'),
    ...readEnvFile(module.envFile, `modules/${module.name}/environment`),
    ...stateEnv,
  };
}

// The environment every part of the run sees (README "How it works"): the caller's, the env files
// (as loaded, or `files` read afresh), then Lifeboat's own variables.
function partEnvironment(root: RootConfig, module: ModuleConfig, action: Action, runId: string, options: ActionOptions, envFile: string, state: RunState, files?: Record<string, string>): { all: Record<string, string>; files: Record<string, string> } {
  const base: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) base[key] = value;
  const snapshot = state.restoreSource?.snapshot.id ?? '';
  const fromFiles = files ?? { ...root.rootEnv, ...module.env };
  const all = {
    ...base,
    ...fromFiles,
    LIFEBOAT_MODULE: module.name,
    MODULE_ID: module.name,
    LIFEBOAT_ACTION: action,
    LIFEBOAT_RUN_ID: runId,
    LIFEBOAT_ROOT: root.root,
    LIFEBOAT_MODULE_DIR: module.dir,
    LIFEBOAT_STATE_DIR: module.stateDir,
    LIFEBOAT_REPOSITORY: state.restoreSource?.repository ?? (options.repositories ?? module.repositories).join(','),
    LIFEBOAT_SNAPSHOT: snapshot,
    LIFEBOAT_TARGET: options.target ?? '/',
    LIFEBOAT_DRY_RUN: options.dryRun ? '1' : '0',
    // The module's umask, also what script providers run their tools with.
    LIFEBOAT_UMASK: (module.umask ?? 0o022).toString(8).padStart(4, '0'),
    FOLDERS: module.folders.join(':'),
    FOLDERS_FILE: foldersFile(envFile),
    NAME: snapshot,
    LIFEBOAT_ENV_FILE: envFile,
  };
  return { all, files: fromFiles };
}

// FOLDERS_FILE: the module's folders one a line, for parts (FOLDERS can outgrow the kernel's limit).
function foldersFile(envFile: string): string {
  return envFile.replace(/\.env$/, '.folders');
}

// Runs the action over several modules, `parallel` at a time; every module runs even when one fails.
// The notify: webhooks get a start ping before and a success or failure ping after (not in dry runs).
// `failed` are modules that could not even load (a broken module.yaml): reported and pinged as failures.
export async function runModules(inputs: ModuleActionInput[], parallel: number, failed: ModuleResult[] = [], ping?: { root: RootConfig; action: Action; log: Logger; dryRun: boolean }): Promise<ModuleResult[]> {
  const first = inputs[0] ?? ping;
  const dryRun = inputs[0] ? inputs[0].options.dryRun : ping?.dryRun;
  const names = [...inputs.map((input) => input.module.name), ...failed.map((result) => result.module)];
  const notifier = first && !dryRun ? startNotifications(first.root, first.action, names, first.log) : undefined;
  const results: ModuleResult[] = new Array(inputs.length);
  let next = 0;
  const worker = async () => {
    while (next < inputs.length) {
      const index = next++;
      results[index] = await runModuleAction(inputs[index]);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, inputs.length)) }, worker));
  } catch (error) {
    // A refused part or a bad repository ends the command (exit 2); the start ping still gets its end.
    await notifier?.finish([...inputs.map((input, index) => results[index] ?? { module: input.module.name, ok: false, error: describeError(error), snapshots: [] }), ...failed]);
    throw error;
  }
  await notifier?.finish([...results, ...failed]);
  return [...results, ...failed];
}

// The exit status of a multi-module run: 1 if any failed, else 3 if any was locked, else 0.
export function exitStatusOf(results: ModuleResult[]): number {
  if (results.some((r) => !r.ok && !r.locked)) return 1;
  if (results.some((r) => r.locked)) return 3;
  return 0;
}

// Runs a step that writes to the state dir; its error as text (ENOSPC, EROFS), or undefined when it worked.
function attempt(step: () => void): string | undefined {
  try {
    step();
    return undefined;
  } catch (error) {
    return describeError(error);
  }
}
