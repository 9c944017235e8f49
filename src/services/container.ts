// A docker or podman container as the service: container inspect / stop / start.
// Only the command lines are tested here (dry run and a fake engine on PATH); no real engine runs in CI.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { LifeboatError, describeError } from '../errors.js';
import { lastLines, runTool, type ToolResult } from '../process/exec.js';
import type { ServiceBackend, ServiceContext } from './types.js';

export type ContainerEngine = 'docker' | 'podman';

// Builds the controller for `service.container: NAME` (with `service.engine`, else whichever is on PATH).
export function containerService(name: string, engine: ContainerEngine | undefined, ctx: ServiceContext): ServiceBackend {
  let resolved: ContainerEngine | undefined = engine;
  // Picks the engine on first use, so describing a service never fails.
  const pick = (): ContainerEngine => (resolved ??= findEngine(ctx.env.PATH ?? process.env.PATH ?? ''));
  const label = () => `container ${name} (${resolved ?? engine ?? findEngineQuietly(ctx.env.PATH ?? process.env.PATH ?? '') ?? 'docker or podman'})`;
  // Runs the engine; a failure becomes an error naming the container and what was attempted.
  const run = async (args: string[], okExitCodes: number[] = []): Promise<ToolResult> => {
    const tool = pick();
    try {
      return await runTool(tool, args, { env: ctx.env, log: ctx.log, signal: ctx.signal, dryRun: ctx.dryRun, cwd: ctx.cwd, okExitCodes });
    } catch (error) {
      if (error instanceof LifeboatError && error.code === 'INTERRUPTED') throw error;
      throw new LifeboatError('MODULE_FAILED', `${label()}: \`${tool} ${args.join(' ')}\` failed: ${describeError(error)}`, {
        hint: `check \`service.container\` in the module's module.yaml and \`${tool} ps -a\``,
        cause: error,
      });
    }
  };
  return {
    get hint() {
      return `see \`${pick()} logs ${name}\``;
    },
    describe: label,
    // `container inspect` (not plain `inspect`) so an image of the same name is never matched.
    async isActive() {
      const result = await run(['container', 'inspect', '-f', '{{.State.Running}}', name], [1, 125]);
      if (ctx.dryRun) return true;
      const answer = result.stdout.trim();
      if (result.exitCode === 0 && (answer === 'true' || answer === 'false')) return answer === 'true';
      const detail = ctx.log.masker.mask(lastLines(result.stderr || result.stdout, 4));
      const missing = /no such (container|object)/i.test(detail);
      throw new LifeboatError('MODULE_FAILED', `${label()} ${missing ? 'does not exist' : 'could not be inspected'}: ${detail || `exit ${result.exitCode}`}`, {
        hint: missing ? `check \`service.container\` in the module's module.yaml (\`${pick()} ps -a\` lists the containers)` : `check that ${pick()} works for this user`,
      });
    },
    stop: async () => void (await run(['stop', name])),
    start: async () => void (await run(['start', name])),
  };
}

// The first of docker, podman found as an executable on PATH; an error saying how to fix it otherwise.
export function findEngine(searchPath: string): ContainerEngine {
  const found = findEngineQuietly(searchPath);
  if (found) return found;
  throw new LifeboatError('MODULE_FAILED', 'neither docker nor podman is on PATH, so the module\'s container cannot be stopped or started', {
    hint: 'install one of them, or set `service.engine` in the module\'s module.yaml',
  });
}

// Same search without throwing, for descriptions.
function findEngineQuietly(searchPath: string): ContainerEngine | undefined {
  for (const engine of ['docker', 'podman'] as const) {
    for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
      try {
        accessSync(path.join(dir, engine), constants.X_OK);
        return engine;
      } catch {
        // not in this directory
      }
    }
  }
  return undefined;
}
