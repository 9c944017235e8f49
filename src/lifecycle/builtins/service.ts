// Built-ins 10stop_service and 90start_service: stop only what is active, start only what was stopped.
import { openService } from '../../services/index.js';
import type { PartContext } from '../context.js';

// Stops the module's service: before a backup only with stopDuringBackup, before an in-place restore always.
export async function stopService(ctx: PartContext): Promise<void> {
  const service = ctx.module.service;
  if (!service) return;
  if (ctx.action === 'backup' && !service.stopDuringBackup) return;
  if (ctx.action === 'restore' && isTargetRestore(ctx)) return;
  const controller = openService(service, { env: ctx.env, log: ctx.log, signal: ctx.signal, dryRun: ctx.options.dryRun, cwd: ctx.module.stateDir, module: ctx.module.name });
  if (!ctx.options.dryRun && !(await controller.isActive())) {
    ctx.log.info(`${controller.describe()} is not running; nothing to stop`);
    return;
  }
  // Recorded before stopping, so a stop that fails half-way still gets a start.
  ctx.state.stoppedService = true;
  ctx.log.info(`stopping ${controller.describe()}`);
  await controller.stop();
}

// Starts the service again if 10stop_service stopped it; runs in the always-phase, signals or not.
export async function startService(ctx: PartContext): Promise<void> {
  const service = ctx.module.service;
  if (!service || !ctx.state.stoppedService) return;
  const controller = openService(service, { env: ctx.env, log: ctx.log, signal: ctx.signal, dryRun: ctx.options.dryRun, cwd: ctx.module.stateDir, module: ctx.module.name });
  ctx.log.info(`starting ${controller.describe()}`);
  await controller.start();
  ctx.state.stoppedService = false;
}

// A restore with --target puts files elsewhere and leaves the running service alone.
export function isTargetRestore(ctx: PartContext): boolean {
  return ctx.options.target !== undefined && ctx.options.target !== '/';
}
