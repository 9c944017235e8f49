// `lifeboat service stop|start|is-active MODULE`: the module's service controller, for parts and people.
import { existsSync } from 'node:fs';
import { createLogger, loadForCommand, type GlobalOptions } from './common.js';
import { openService } from '../services/index.js';
import { LifeboatError } from '../errors.js';

// Runs one service operation; is-active exits 0 when running and 3 when not (like systemctl).
export async function serviceCommand([operation, name]: unknown[], options: GlobalOptions): Promise<number> {
  const log = createLogger(options);
  if (!['stop', 'start', 'is-active'].includes(operation as string)) {
    throw new LifeboatError('USAGE', `unknown service operation ${JSON.stringify(operation)}; use stop, start or is-active`);
  }
  const { root, modules } = loadForCommand(options, [name as string], log);
  const module = modules[0];
  if (!module.service) throw new LifeboatError('USAGE', `module ${module.name} declares no service (service: in ${module.file})`);
  const env = { ...(process.env as Record<string, string>), ...root.rootEnv, ...module.env };
  // In the module's state dir as during a run; before its first run that folder does not exist yet, and
  // a missing cwd would fail the tool's start as if the tool were not installed: the module's folder then.
  const cwd = existsSync(module.stateDir) ? module.stateDir : module.dir;
  const controller = openService(module.service, { env, log, cwd, module: module.name, umask: module.umask });
  if (operation === 'is-active') {
    const active = await controller.isActive();
    process.stdout.write(`${active ? 'active' : 'inactive'}\n`);
    return active ? 0 : 3;
  }
  await (operation === 'stop' ? controller.stop() : controller.start());
  return 0;
}
