// Built-ins 30module_dump_state and 70module_cleanup_state: NethServer's bin/module-dump-state and
// bin/module-cleanup-state, run like any part (environment, stdin, cwd, timeout, signals).
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { LifeboatError } from '../../errors.js';
import { unsafeReason } from '../../files/permissions.js';
import { runProcessPart } from '../../parts/run.js';
import type { PartContext } from '../context.js';

// Runs bin/module-dump-state when the module has one.
export function moduleDumpState(ctx: PartContext): Promise<void> {
  return runModuleBin(ctx, 'module-dump-state');
}

// Runs bin/module-cleanup-state when the module has one.
export function moduleCleanupState(ctx: PartContext): Promise<void> {
  return runModuleBin(ctx, 'module-cleanup-state');
}

// Runs one of the module's bin/ scripts as a part; absent means nothing to do.
async function runModuleBin(ctx: PartContext, name: string): Promise<void> {
  const file = path.join(ctx.module.dir, 'bin', name);
  if (!existsSync(file)) return;
  const stats = statSync(file);
  const unsafe = unsafeReason(stats);
  if (unsafe) throw new LifeboatError('UNSAFE_PERMISSIONS', `${file}: refused: ${unsafe}; fix with chmod go-w or chown root`);
  if ((stats.mode & 0o111) === 0) {
    ctx.log.warn(`${file} is not executable; skipped (chmod +x to run it)`);
    return;
  }
  if (ctx.options.dryRun) {
    ctx.log.info(`dry run: would run ${file}`);
    return;
  }
  const result = await runProcessPart({
    file,
    env: ctx.env,
    stdin: `${JSON.stringify(ctx.request)}\n`,
    cwd: ctx.module.stateDir,
    log: ctx.log,
    timeoutSeconds: ctx.module.timeouts.part,
    killAfterSeconds: ctx.module.timeouts.killAfter,
    umask: ctx.module.umask,
    interrupt: ctx.signal.aborted ? undefined : ctx.signal,
  });
  const fix = { hint: `its output is above; fix ${file}, or remove it when the module has no state to dump` };
  if (result.error) throw new LifeboatError('PART_FAILED', result.error, fix);
  if (result.timedOut) throw new LifeboatError('PART_FAILED', `bin/${name} timed out after ${ctx.module.timeouts.part}s and was killed`, { hint: 'make it finish sooner, or raise timeouts.part in module.yaml' });
  if (result.exitCode !== 0) throw new LifeboatError('PART_FAILED', `bin/${name} ${result.signal ? `was killed by ${result.signal}` : `exited with status ${result.exitCode}`}`, fix);
}

// Built-in 08create_volumes: before an in-place restore, creates the container volumes that
// etc/state-include.conf names (`volumes/NAME`) and that are missing, so 10restore_module fills them.
export async function createVolumes(ctx: PartContext): Promise<void> {
  if (ctx.options.target !== undefined && ctx.options.target !== '/') return;
  const { createMissingVolumes } = await import('../volumes.js');
  if (ctx.options.dryRun) return;
  const held = ctx.state.restoreSource?.snapshot.paths ?? [];
  for (const name of createMissingVolumes(ctx.module, undefined, held)) ctx.log.info(`created container volume ${name}`);
}
