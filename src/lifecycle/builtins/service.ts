// Built-ins 40stop_service (backup) / 10stop_service (restore) and 90start_service (finally): stop only what
// is active, start only what was stopped.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { openService } from '../../services/index.js';
import type { PartContext } from '../context.js';

// Stops the module's service: before a backup only with stopDuringBackup, before an in-place restore always.
export async function stopService(ctx: PartContext): Promise<void> {
  const service = ctx.module.service;
  if (!service) return;
  // The service controllers load only for a module that has a service.
  const { openService } = await import('../../services/index.js');
  const controller = openService(service, { env: ctx.env, log: ctx.log, signal: ctx.signal, dryRun: ctx.options.dryRun, cwd: ctx.module.stateDir, module: ctx.module.name, killAfterMs: ctx.module.timeouts.killAfter * 1000 });
  if (!ctx.options.dryRun) await adoptLeftStopped(ctx, controller);
  if (ctx.action === 'backup' && !service.stopDuringBackup) return;
  if (ctx.action === 'restore' && isTargetRestore(ctx)) return;
  if (!ctx.options.dryRun && !(await controller.isActive())) {
    ctx.log.info(`${controller.describe()} is not running; nothing to stop`);
    return;
  }
  // Recorded before stopping (in memory and on disk), so a stop that fails half-way, or a run that is
  // SIGKILLed while the service is down, still gets a start: at the end of this run or of the next one.
  ctx.state.stoppedService = true;
  if (!ctx.options.dryRun) writeFileSync(stoppedMarker(ctx), `${JSON.stringify({ runId: ctx.runId, pid: process.pid, time: new Date().toISOString() })}\n`, { mode: 0o600 });
  ctx.log.info(`stopping ${controller.describe()}`);
  await controller.stop();
}

// A run that was killed while the service was stopped left a marker: if the service is still down, this
// run starts it at its end (90start_service), whatever it would stop itself.
async function adoptLeftStopped(ctx: PartContext, controller: ReturnType<typeof openService>): Promise<void> {
  const file = stoppedMarker(ctx);
  let left: { runId?: string; time?: string };
  try {
    left = JSON.parse(readFileSync(file, 'utf8')) as { runId?: string; time?: string };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    left = {};
  }
  if (left.runId === ctx.runId) return;
  if (await controller.isActive()) {
    rmSync(file, { force: true });
    return;
  }
  ctx.state.stoppedService = true;
  ctx.log.warn(`run ${left.runId ?? '?'} stopped ${controller.describe()} at ${left.time ?? '?'} and did not start it again (it was killed, or the start failed); this run starts it at its end`);
}

// <state>/modules/<module>/service-stopped.json: present while Lifeboat has the service stopped.
function stoppedMarker(ctx: PartContext): string {
  const dir = path.join(ctx.root.stateDir, 'modules', ctx.module.name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return path.join(dir, 'service-stopped.json');
}

// Starts the service again if a stop_service part stopped it; runs in finally, after failures and signals too.
export async function startService(ctx: PartContext): Promise<void> {
  const service = ctx.module.service;
  if (!service || !ctx.state.stoppedService) return;
  const { openService } = await import('../../services/index.js');
  const controller = openService(service, { env: ctx.env, log: ctx.log, signal: ctx.signal, dryRun: ctx.options.dryRun, cwd: ctx.module.stateDir, module: ctx.module.name, killAfterMs: ctx.module.timeouts.killAfter * 1000 });
  ctx.log.info(`starting ${controller.describe()}`);
  await controller.start();
  ctx.state.stoppedService = false;
  if (!ctx.options.dryRun) rmSync(stoppedMarker(ctx), { force: true });
}

// A restore with --target puts files elsewhere and leaves the running service alone.
export function isTargetRestore(ctx: PartContext): boolean {
  return ctx.options.target !== undefined && ctx.options.target !== '/';
}
