// `lifeboat forget [MODULE...]`: applies each module's retention in each of its repositories.
import { createLogger, loadForCommand, printJson, type GlobalOptions } from './common.js';
import { repositoriesFor } from '../lifecycle/repositories.js';
import { openProvider } from '../providers/registry.js';
import { describeError } from '../errors.js';

interface ForgetOptions extends GlobalOptions {
  repo?: string[];
  dryRun?: boolean;
}

// Forgets snapshots outside the retention; a module without retention keeps everything.
export async function forgetCommand([names]: unknown[], options: ForgetOptions): Promise<number> {
  const log = createLogger(options);
  const { root, modules } = loadForCommand(options, names as string[], log);
  const report: Array<{ module: string; repository: string; removed: string[]; kept: string[]; error: string | null }> = [];
  let failed = false;
  for (const module of modules) {
    if (Object.keys(module.retention).length === 0) {
      log.warn(`module ${module.name} has no retention (module retention or defaults.retention): keeping every snapshot`);
      continue;
    }
    for (const repository of repositoriesFor(root, module, options.repo)) {
      try {
        const provider = await openProvider(repository, root, (...v) => log.masker.add(...v));
        if (!provider.forget) {
          log.warn(`repository ${repository} (${provider.kind}) cannot forget snapshots; skipped`);
          continue;
        }
        const result = await provider.forget(module.name, module.retention, { log, dryRun: options.dryRun });
        report.push({ module: module.name, repository, removed: result.removed.map((s) => s.id), kept: result.kept.map((s) => s.id), error: null });
        log.info(`${module.name} in ${repository}: ${options.dryRun ? 'would remove' : 'removed'} ${result.removed.length}, kept ${result.kept.length}`);
      } catch (error) {
        failed = true;
        report.push({ module: module.name, repository, removed: [], kept: [], error: log.masker.mask(describeError(error)) });
        log.error(`${module.name} in ${repository}: ${describeError(error)}`);
      }
    }
  }
  if (options.json) printJson({ ok: !failed, modules: report });
  return failed ? 1 : 0;
}
