// The runner: walks the phase table for one module's action, running parts in order.
import { ACTIONS, EXIT_SKIP, builtinsOf, type BuiltinPart, type PhaseRuns, type PhaseStep } from './phases.js';
import { statSync } from 'node:fs';
import path from 'node:path';
import { discoverPhase, type PartEntry as AnyPartEntry } from '../parts/discover.js';
import { unsafeReason } from '../files/permissions.js';

type PartEntry = AnyPartEntry<BuiltinPart>;
import { runProcessPart } from '../parts/run.js';
import { readHandoff } from './env-handoff.js';
import { markModuleRestored, modulePathInRepository, snapshotEnvironment, trackStateEnvironment } from './restore-request.js';
import type { PartContext, PartRequest, RunContext } from './context.js';
import { LifeboatError, codeOf, describeError, hintOf, type ErrorCode } from '../errors.js';
import { registerRunner } from './nested-run.js';

export interface ActionOutcome {
  ok: boolean;
  skipped: boolean;
  interrupted: NodeJS.Signals | null;
  failedPart?: string;
  error?: string;
  // The fix the failing part's LifeboatError named (kept for the journal and `--json`); absent when none.
  hint?: string;
  // The error code of that failure (README "Commands": --json): PART_FAILED for a part file's exit status.
  code?: ErrorCode;
  exitCode?: number;
}

export interface PhasePlan {
  step: PhaseStep;
  parts: PartEntry[];
}

// Discovers every phase of an action (what `plan` shows and what the runner runs).
export function planAction(run: Pick<RunContext, 'root' | 'module' | 'action'>): PhasePlan[] {
  return ACTIONS[run.action].map((step) => ({
    step,
    parts: discoverPhase(step.phase, { root: run.root.root, moduleDir: run.module.dir }, builtinsOf(step.phase, run.action), run.action).map((entry) => checkModuleBin(entry, run.module.dir)),
  }));
}

// The NethServer scripts two built-ins run (bin/module-dump-state, bin/module-cleanup-state) follow the
// rules of parts: one writable by others refuses the run before anything starts, naming the script.
const MODULE_BINS: Record<string, string> = { '30module_dump_state': 'module-dump-state', '70module_cleanup_state': 'module-cleanup-state' };

function checkModuleBin(entry: PartEntry, moduleDir: string): PartEntry {
  const bin = entry.builtin && entry.status === 'run' ? MODULE_BINS[entry.name] : undefined;
  if (!bin) return entry;
  const file = path.join(moduleDir, 'bin', bin);
  let reason: string | undefined;
  try {
    reason = unsafeReason(statSync(file));
  } catch {
    return entry;
  }
  return reason ? { ...entry, status: 'refused', path: file, reason: `${reason}; fix with chmod go-w or chown root` } : entry;
}

// Refuses to start when any part of the action is unsafe to run (README "How it works"), naming each file.
export function assertSafeParts(plan: PhasePlan[]): void {
  const refused = plan.flatMap((phase) => phase.parts).filter((part) => part.status === 'refused');
  if (refused.length === 0) return;
  const problems = refused.map((part) => `${part.path}: refused: ${part.reason}`);
  throw new LifeboatError('UNSAFE_PERMISSIONS', problems.join('\n'), { problems });
}

// Runs an action: fail-fast phases until a failure, skip or signal; always-phases regardless; then the closing phase.
export async function runAction(run: RunContext, plan = planAction(run)): Promise<ActionOutcome> {
  assertSafeParts(plan);
  const outcome: ActionOutcome = { ok: true, skipped: false, interrupted: null };
  const stopped = () => !outcome.ok || outcome.skipped || outcome.interrupted !== null;
  let current = 'interrupted';
  const onInterrupt = () => {
    outcome.interrupted = run.signal.reason as NodeJS.Signals;
    fail(outcome, run, current, `interrupted by ${outcome.interrupted}`, undefined, 'INTERRUPTED');
    run.log.warn(`received ${outcome.interrupted}: stopping the running part; the always-phases still run`);
  };
  if (run.signal.aborted) onInterrupt();
  else run.signal.addEventListener('abort', onInterrupt, { once: true });
  try {
    for (const { step, parts } of plan) {
      if (!phaseRuns(step.runs, outcome, stopped())) continue;
      for (const entry of parts) {
        if (step.runs === 'ok' && stopped()) break;
        if (entry.status === 'skipped') run.log.warn(`${entry.phase}/${entry.name}: skipped: ${entry.reason} (${entry.path})`);
        if (entry.status !== 'run') continue;
        if (skipsForTarget(run, entry)) {
          run.log.info(`${entry.phase}/${entry.name}: not run: a --target restore runs only the built-in parts of its restore phases (a module's own steps act on the live service and databases)`);
          continue;
        }
        if (entry.note) run.log.warn(entry.note);
        current = `${entry.phase}/${entry.name}`;
        await runOnePart(run, step, entry, outcome);
      }
    }
  } finally {
    run.signal.removeEventListener('abort', onInterrupt);
  }
  run.state.failedPart = outcome.failedPart;
  run.state.error = outcome.error;
  run.state.hint = outcome.hint;
  run.state.code = outcome.code;
  return outcome;
}

// A restore with --target leaves everything live alone: the root's and the module's own parts of
// pre-restore, restore and post-restore (a Clan postRestore drops and reloads the live database, NethServer
// steps load keys into the running service) are not run; finally, on-success and on-failure parts are.
function skipsForTarget(run: RunContext, entry: PartEntry): boolean {
  if (run.action !== 'restore' || entry.builtin) return false;
  if (run.options.target === undefined || run.options.target === '/') return false;
  return entry.phase === 'pre-restore' || entry.phase === 'restore' || entry.phase === 'post-restore';
}

// Whether a phase runs, given how the action stands so far.
function phaseRuns(runs: PhaseRuns, outcome: ActionOutcome, stopped: boolean): boolean {
  switch (runs) {
    case 'ok':
      return !stopped;
    case 'always':
      return true;
    case 'success':
      return outcome.ok;
    case 'failure':
      return !outcome.ok;
  }
}

// Runs one part (built-in in-process, or a file) and folds its result into the outcome.
async function runOnePart(run: RunContext, step: PhaseStep, entry: PartEntry, outcome: ActionOutcome): Promise<void> {
  const label = `${entry.phase}/${entry.name}`;
  const log = run.log.child(entry.name);
  const source = run.action === 'restore' ? run.state.restoreSource : undefined;
  const request: PartRequest = {
    module: run.module.name,
    action: run.action,
    phase: entry.phase,
    snapshot: source?.snapshot.id ?? run.options.snapshot ?? null,
    repository: source?.repository ?? (run.options.repositories?.length === 1 ? run.options.repositories[0] : null),
    target: run.options.target ?? '/',
    dryRun: run.options.dryRun,
  };
  if (run.action === 'restore') {
    request.path = modulePathInRepository(run);
    request.environment = entry.builtin ? {} : await snapshotEnvironment(run).catch((error: unknown) => {
      log.warn(`the request's environment could not be read from the snapshot: ${describeError(error)}`);
      return {};
    });
  }
  trackStateEnvironment(run, entry);
  // The environment is read afresh before every part: a part that wrote an env file is seen by the next.
  let fresh: Record<string, string>;
  try {
    fresh = run.readEnv ? run.readEnv() : run.env;
  } catch (error) {
    const message = `cannot read the environment before this part: ${describeError(error)}`;
    log.error(message);
    if (outcome.ok) fail(outcome, run, label, message, hintOf(error), codeOf(error) ?? 'PART_FAILED');
    // A cleanup or a service start still runs, with the environment as last read.
    if (step.runs === 'ok') return;
    fresh = run.env;
  }
  run.env = fresh;
  const env: Record<string, string> = { ...fresh, ...readHandoff(run.envFile), LIFEBOAT_PHASE: entry.phase };
  if (step.runs === 'failure') {
    env.LIFEBOAT_ERROR = outcome.error ?? '';
    env.LIFEBOAT_FAILED_PART = outcome.failedPart ?? '';
    env.LIFEBOAT_EXIT_CODE = String(outcome.exitCode ?? 1);
  }
  if (run.options.dryRun && !entry.builtin) {
    log.info(`dry run: would run ${entry.path}`);
    return;
  }
  const started = Date.now();
  log.debug(`starting (${entry.layer})`);
  // Only fail-fast phases are interrupted; a signal that already arrived must not stop the always-phases.
  const interrupt = step.runs === 'ok' ? run.signal : undefined;
  if (run.action === 'restore' && !entry.builtin && !run.state.moduleRestored) (run.state.stepsBeforeSwap ??= []).push(`${entry.phase}/${entry.name}`);
  const result = entry.builtin ? await runBuiltin(run, entry, request, env, log, interrupt) : await runFilePart(run, entry, request, env, log, interrupt);
  log.debug(`finished in ${Date.now() - started} ms`);
  if (result.kind === 'ok' && entry.builtin?.name === '10restore_module' && entry.phase === 'restore') markModuleRestored(run);
  if (result.kind === 'ok') return;
  if (result.kind === 'skip') {
    log.info(`asked to skip the rest of ${run.action} for module ${run.module.name} (exit ${EXIT_SKIP})`);
    outcome.skipped = true;
    run.state.skipped = true;
    return;
  }
  log.error(result.message);
  if (result.hint) log.error(`hint: ${result.hint}`);
  if (outcome.ok) {
    outcome.exitCode = result.exitCode;
    fail(outcome, run, label, result.message, result.hint, result.code);
  }
}

type PartResult = { kind: 'ok' } | { kind: 'skip' } | { kind: 'fail'; message: string; exitCode: number; code: ErrorCode; hint?: string };

// Runs a part file through runProcessPart and maps its exit status.
async function runFilePart(run: RunContext, entry: PartEntry, request: PartRequest, env: Record<string, string>, log: RunContext['log'], interrupt?: AbortSignal): Promise<PartResult> {
  const result = await runProcessPart({
    file: entry.path,
    env,
    stdin: `${JSON.stringify(request)}\n`,
    cwd: run.module.stateDir,
    log,
    timeoutSeconds: run.module.timeouts.part,
    killAfterSeconds: run.module.timeouts.killAfter,
    umask: run.module.umask,
    interrupt,
  });
  if (result.error) return { kind: 'fail', message: result.error, exitCode: 126, code: 'PART_FAILED' };
  if (result.timedOut) return { kind: 'fail', message: `timed out after ${run.module.timeouts.part}s (timeouts.part) and was killed`, exitCode: 124, code: 'INTERRUPTED' };
  if (result.exitCode === 0) return { kind: 'ok' };
  if (result.exitCode === EXIT_SKIP) return { kind: 'skip' };
  if (result.signal) return { kind: 'fail', message: `killed by ${result.signal}`, exitCode: 128, code: 'PART_FAILED' };
  return { kind: 'fail', message: `exited with status ${result.exitCode}`, exitCode: result.exitCode ?? 1, code: 'PART_FAILED' };
}

// Runs a built-in in-process with the same timeout and signal rules as a file part.
async function runBuiltin(run: RunContext, entry: PartEntry, request: PartRequest, env: Record<string, string>, log: RunContext['log'], interrupt?: AbortSignal): Promise<PartResult> {
  const timeoutMs = run.module.timeouts.part * 1000;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = interrupt ? AbortSignal.any([interrupt, timeout]) : timeout;
  const ctx: PartContext = { ...run, env, log, signal, phase: entry.phase, part: entry.name, request };
  let timer: NodeJS.Timeout | undefined;
  let onAbort = () => {};
  // A built-in that ignores its abort signal is abandoned killAfter seconds later.
  const abandoned = new Promise<never>((_, reject) => {
    onAbort = () => {
      timer = setTimeout(() => reject(new LifeboatError('PART_FAILED', 'did not stop after being aborted', { hint: 'a built-in that ignores its stop signal is a bug in Lifeboat: report it with the log above' })), run.module.timeouts.killAfter * 1000 + 1000);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  abandoned.catch(() => {});
  try {
    const fn = await entry.builtin!.load();
    const value = await Promise.race([fn(ctx), abandoned]);
    if (timeout.aborted) return { kind: 'fail', message: `timed out after ${run.module.timeouts.part}s (timeouts.part)`, exitCode: 124, code: 'INTERRUPTED' };
    return value === 'skip' ? { kind: 'skip' } : { kind: 'ok' };
  } catch (error) {
    if (timeout.aborted) return { kind: 'fail', message: `timed out after ${run.module.timeouts.part}s (timeouts.part): ${describeError(error)}`, exitCode: 124, code: 'INTERRUPTED', hint: hintOf(error) };
    return { kind: 'fail', message: describeError(error), exitCode: 1, code: codeOf(error) ?? 'PART_FAILED', hint: hintOf(error) };
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (timer) clearTimeout(timer);
  }
}

// Marks the action failed at a part, keeping the first failure as the reason.
function fail(outcome: ActionOutcome, run: RunContext, part: string, message: string, hint?: string, code: ErrorCode = 'PART_FAILED'): void {
  if (!outcome.ok) return;
  outcome.ok = false;
  outcome.failedPart = part;
  outcome.error = message;
  if (hint) outcome.hint = hint;
  outcome.code = code;
  run.state.failedPart = part;
  run.state.error = message;
  run.state.hint = hint;
  run.state.code = code;
}

// Built-ins that run other parts (05safety_snapshot) reach the runner through nested-run.ts.
// (A plan it gets back is one planAction made, filtered.)
registerRunner({ planAction, runAction: (run, plan) => runAction(run, plan as PhasePlan[]) });
