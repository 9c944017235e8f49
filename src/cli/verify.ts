// `lifeboat verify [MODULE...]`: the restore drill for every named (or enabled) module; journalled as
// action `verify`; exit 1 when any module's restore, manifest, dumps or repository check fails.
import { rmSync } from 'node:fs';
import { createLogger, loadOrPing, parseCount, type GlobalOptions } from './common.js';
import { exitStatusOf, runModules } from '../lifecycle/action.js';
import { interruptSignal } from '../lifecycle/signals.js';
import { repositoriesFor } from '../lifecycle/repositories.js';
import { verifyScratchDir } from '../lifecycle/builtins/verify.js';
import { brokenResult, printResults } from './backup.js';

interface VerifyOptions extends GlobalOptions {
  repo?: string[];
  wait?: string;
}

// Runs the verify action per module, one at a time (each restores a whole snapshot), then cleans up.
export async function verifyCommand([names]: unknown[], options: VerifyOptions): Promise<number> {
  const log = createLogger(options);
  const { root, modules, broken } = await loadOrPing(options, names as string[], 'verify', log, !!(options as { dryRun?: boolean }).dryRun);
  for (const module of modules) repositoriesFor(root, module, options.repo);
  if (modules.length === 0) log.warn('no enabled modules: nothing to verify');
  const waitSeconds = options.wait === undefined ? undefined : parseCount('--wait', options.wait, 0);
  const signal = interruptSignal();
  try {
    const results = await runModules(
      modules.map((module) => ({ root, module, action: 'verify' as const, options: { repositories: options.repo, dryRun: false, safetySnapshot: false }, log, signal, waitSeconds })),
      1,
      broken.map(brokenResult),
      { root, action: 'verify', log, dryRun: false },
    );
    printResults('verify', results, !!options.json, !!options.quiet);
    return exitStatusOf(results);
  } finally {
    // The scratch restores hold a whole copy of each module (secrets included): never leave them behind.
    for (const module of modules) rmSync(verifyScratchDir(root, module.name), { recursive: true, force: true });
  }
}
