// A systemd unit as the service: systemctl is-active --quiet / stop / start.
import { LifeboatError, describeError } from '../errors.js';
import { runTool, type ToolResult } from '../process/exec.js';
import type { ServiceBackend, ServiceContext } from './types.js';

// Exit statuses of `systemctl is-active` that mean "not running": 3 inactive/failed, 4 no such unit.
const INACTIVE_CODES = [3, 4];

// Builds the controller for `service.systemd: UNIT`.
export function systemdService(unit: string, ctx: ServiceContext): ServiceBackend {
  const label = `systemd unit ${unit}`;
  // Runs systemctl; a failure becomes an error naming the unit and what was attempted.
  const systemctl = async (args: string[], okExitCodes: number[] = []): Promise<ToolResult> => {
    try {
      return await runTool('systemctl', args, { env: ctx.env, log: ctx.log, signal: ctx.signal, dryRun: ctx.dryRun, cwd: ctx.cwd, okExitCodes });
    } catch (error) {
      if (error instanceof LifeboatError && error.code === 'INTERRUPTED') throw error;
      throw new LifeboatError('MODULE_FAILED', `${label}: \`systemctl ${args.join(' ')}\` failed: ${describeError(error)}`, {
        hint: `check \`service.systemd\` in the module's module.yaml and \`systemctl status ${unit}\``,
        cause: error,
      });
    }
  };
  return {
    hint: `see \`systemctl status ${unit}\` and \`journalctl -u ${unit}\``,
    describe: () => label,
    isActive: async () => (await systemctl(['is-active', '--quiet', unit], INACTIVE_CODES)).exitCode === 0,
    stop: async () => void (await systemctl(['stop', unit])),
    start: async () => void (await systemctl(['start', unit])),
  };
}
