// A service driven by the module's own shell commands: `stop`, `start`, and `isActive` (exit 0 = running).
import type { Socket } from 'node:net';
import { LifeboatError } from '../errors.js';
import { lastLines } from '../process/exec.js';
import { readLines } from '../process/lines.js';
import { abortReason, start } from '../process/runner.js';
import type { ServiceBackend, ServiceContext } from './types.js';

type Role = 'stop' | 'start' | 'isActive';
const KILL_AFTER_MS = 10_000;
// How long output may stay open after the shell exits before we stop waiting for it.
const OUTPUT_GRACE_MS = 200;

// Builds the controller for `service: { stop, start, isActive }`.
export function commandService(commands: Record<Role, string>, ctx: ServiceContext): ServiceBackend {
  const owner = ownerOf(ctx);
  // Runs one command and turns a failure into an error naming the command, the module and the key to fix.
  const run = async (role: 'stop' | 'start'): Promise<void> => {
    const { exitCode, output } = await runShell(role, commands[role], ctx);
    if (exitCode === 0) return;
    throw new LifeboatError('MODULE_FAILED', `the ${role} command of ${owner} failed (${exitCode === null ? 'killed' : `exit ${exitCode}`})${output ? `: ${output}` : ''}`, {
      hint: `check \`service.${role}\` in the module's module.yaml: ${commands[role]}`,
    });
  };
  return {
    hint: `check \`service.stop\`, \`service.start\` and \`service.isActive\` in the module's module.yaml`,
    describe: () => (ctx.module ? `service of module "${ctx.module}"` : 'service'),
    isActive: async () => (await runShell('isActive', commands.isActive, ctx)).exitCode === 0,
    stop: () => run('stop'),
    start: () => run('start'),
  };
}

// The commands of each module's service still running (a stop that ignores SIGTERM outlives the
// built-in that ran it, which gives up after timeouts.part + killAfter): the next command of the same
// service waits for them, so a start never runs beside a stop that then takes the service down again.
const inFlight = new Map<string, Set<Promise<unknown>>>();

// Runs `/bin/sh -c COMMAND` in its own session (so Ctrl-C at Lifeboat's terminal never reaches a daemon it
// starts) and resolves when the shell exits, not when its output closes, so `daemon &` cannot hang the run.
// A command of the same service still running (being killed) is waited for first.
export async function runShell(role: Role, command: string, ctx: ServiceContext): Promise<{ exitCode: number | null; output: string }> {
  const key = `${ctx.module ?? ''}\0${ctx.cwd ?? ''}`;
  const running = inFlight.get(key) ?? new Set<Promise<unknown>>();
  inFlight.set(key, running);
  if (running.size > 0 && !ctx.dryRun) {
    ctx.log.warn(`waiting for the earlier command of the ${ownerOf(ctx) === 'the module' ? 'service' : `service of ${ownerOf(ctx)}`} to end (it was stopped and is being killed) before the ${role} command`);
    await Promise.allSettled([...running]);
  }
  const promise = runShellNow(role, command, ctx);
  running.add(promise);
  void promise.then(
    () => running.delete(promise),
    () => running.delete(promise),
  );
  return promise;
}

function runShellNow(role: Role, command: string, ctx: ServiceContext): Promise<{ exitCode: number | null; output: string }> {
  const quiet = role === 'isActive';
  if (ctx.dryRun) {
    ctx.log.info(`dry run: would run the ${role} command: ${command}`);
    return Promise.resolve({ exitCode: 0, output: '' });
  }
  if (ctx.signal?.aborted) return Promise.reject(interrupted(role, ctx));
  ctx.log.debug(`running the ${role} command: ${command}`);
  return new Promise((resolve, reject) => {
    // A timeout or signal ends the command's whole process group: SIGTERM, then SIGKILL.
    // With the module's umask, as its parts: a file the command creates gets the mode a part's would.
    const proc = start('/bin/sh', { args: ['-c', command], env: ctx.env, cwd: ctx.cwd, group: true, stdio: ['ignore', 'pipe', 'pipe'], signal: ctx.signal, killAfterMs: ctx.killAfterMs ?? KILL_AFTER_MS, umask: umaskOf(ctx) });
    const child = proc.child;
    const lines: string[] = [];
    let open = 2;
    let exitCode: number | null | undefined;
    let done = false;
    // Settles once: after the shell exited and its output closed (or the grace time ran out).
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      proc.dispose();
      if (error) reject(error);
      else if (ctx.signal?.aborted) reject(interrupted(role, ctx));
      else resolve({ exitCode: exitCode ?? null, output: ctx.log.masker.mask(lastLines(lines.join('\n'), 6)) });
    };
    // Keeps the lines for the error message and logs them (masked by the logger).
    const logLine = (line: string) => {
      lines.push(line);
      if (lines.length > 50) lines.shift();
      if (quiet) ctx.log.debug(`${role}: ${line}`);
      else ctx.log.info(`${role}: ${line}`);
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      readLines(stream, logLine);
      stream.on('close', () => {
        open -= 1;
        if (open === 0 && exitCode !== undefined) finish();
      });
    }
    child.on('error', (error) => finish(new LifeboatError('MODULE_FAILED', `the ${role} command of ${ownerOf(ctx)} could not start: ${error.message}`, { cause: error })));
    child.on('exit', (code) => {
      exitCode = code;
      if (open === 0) return finish();
      // Something the shell started in the background still holds its output: stop waiting for it.
      setTimeout(() => {
        if (done) return;
        if (!quiet) ctx.log.warn(`the ${role} command left a background process holding its output; redirect it (>/dev/null 2>&1) so it cannot die of SIGPIPE once Lifeboat exits`);
        for (const stream of [child.stdout, child.stderr]) (stream as Socket).unref?.();
        finish();
      }, OUTPUT_GRACE_MS);
    });
  });
}

// The error for a command stopped by a timeout or signal.
function interrupted(role: Role, ctx: ServiceContext): LifeboatError {
  const reason: unknown = ctx.signal?.reason;
  const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
  const why = abortReason(reason);
  return new LifeboatError('INTERRUPTED', `the ${role} command of ${ownerOf(ctx)} was stopped (${why})`, {
    hint: timedOut ? `make \`service.${role}\` finish within timeouts.part, or raise timeouts.part in the module's module.yaml` : undefined,
  });
}

// The umask of the module's commands: the context's, else LIFEBOAT_UMASK of the part environment (set by
// Lifeboat from the module's `umask:` for every part and built-in), else 022.
export function umaskOf(ctx: Pick<ServiceContext, 'umask' | 'env'>): number {
  if (ctx.umask !== undefined) return ctx.umask;
  const value = ctx.env.LIFEBOAT_UMASK;
  return value && /^0?[0-7]{3,4}$/.test(value) ? parseInt(value, 8) : 0o022;
}

// How messages name the module a command belongs to.
function ownerOf(ctx: ServiceContext): string {
  return ctx.module ? `module "${ctx.module}"` : 'the module';
}
