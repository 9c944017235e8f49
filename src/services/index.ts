// Opens a module's service (systemd, container or commands) and checks that stop and start really took effect.
import type { ServiceConfig } from '../config/types.js';
import { LifeboatError } from '../errors.js';
import { commandService } from './command.js';
import { containerService } from './container.js';
import { systemdService } from './systemd.js';
import type { ServiceBackend, ServiceContext, ServiceController } from './types.js';

export type { ServiceContext, ServiceController } from './types.js';

const DEFAULT_SETTLE_SECONDS = 10;
const POLL_MS = 200;

// Called by the service built-ins and `lifeboat service`: picks the backend the config names.
export function openService(config: ServiceConfig, ctx: ServiceContext): ServiceController {
  return settled(openBackend(config, ctx), ctx);
}

// Chooses the backend; an incomplete config (normally caught when loading) is refused with the key to fix.
function openBackend(config: ServiceConfig, ctx: ServiceContext): ServiceBackend {
  if (config.systemd) return systemdService(config.systemd, ctx);
  if (config.container) return containerService(config.container, config.engine, ctx);
  const { stop, start, isActive } = config;
  if (stop && start && isActive) return commandService({ stop, start, isActive }, ctx);
  throw new LifeboatError('CONFIG_INVALID', `the service of ${ctx.module ? `module "${ctx.module}"` : 'the module'} needs \`systemd\`, \`container\`, or all of \`stop\`, \`start\` and \`isActive\``, {
    hint: 'complete `service` in the module\'s module.yaml',
  });
}

// Wraps a backend so stop/start wait until isActive() agrees, and fail naming the service when it never does.
function settled(backend: ServiceBackend, ctx: ServiceContext): ServiceController {
  return {
    describe: () => backend.describe(),
    isActive: () => backend.isActive(),
    stop: async () => {
      await backend.stop();
      await waitForState(backend, false, ctx);
    },
    start: async () => {
      await backend.start();
      await waitForState(backend, true, ctx);
    },
  };
}

// Polls isActive() for a few seconds after stop/start; a dry run has nothing to wait for.
async function waitForState(backend: ServiceBackend, running: boolean, ctx: ServiceContext): Promise<void> {
  if (ctx.dryRun) return;
  const seconds = ctx.settleSeconds ?? DEFAULT_SETTLE_SECONDS;
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    if ((await backend.isActive()) === running) return;
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  const what = running ? 'is still not running' : 'is still running';
  const after = running ? 'it was started' : 'it was stopped';
  throw new LifeboatError('MODULE_FAILED', `${backend.describe()} ${what} ${seconds}s after ${after}`, { hint: backend.hint });
}
