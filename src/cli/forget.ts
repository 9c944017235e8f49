// `lifeboat forget [MODULE...]`: applies each module's retention in each of its repositories.
import { createLogger, loadForCommand, printJson, type GlobalOptions } from './common.js';
import { repositoriesFor } from '../lifecycle/repositories.js';
import { applyModuleRetention } from '../lifecycle/retention.js';
import { describeError } from '../errors.js';
import { kindOf } from '../providers/kinds.js';
import type { ProviderSnapshot } from '../providers/types.js';

interface ForgetOptions extends GlobalOptions {
  repo?: string[];
  dryRun?: boolean;
  // Prune now, whatever the repository's prune cadence.
  prune?: boolean;
}

interface ForgetReport {
  module: string;
  repository: string;
  removed: string[];
  kept: string[];
  // The same snapshots with their time and kind.
  removedSnapshots: SnapshotSummary[];
  // Whether the prune ran (restic prune, borg compact); false when pending but not due.
  pruned?: boolean;
  error: string | null;
}

interface SnapshotSummary {
  id: string;
  time: string;
  kind: string;
}

// Forgets snapshots outside the retention (backups by the module's rules, safety snapshots by their
// own); a module without retention keeps everything.
export async function forgetCommand([names]: unknown[], options: ForgetOptions): Promise<number> {
  const log = createLogger(options);
  const { root, modules } = loadForCommand(options, names as string[], log);
  const report: ForgetReport[] = [];
  let failed = false;
  for (const module of modules) {
    if (Object.keys(module.retention).length === 0) {
      log.warn(`module ${module.name} has no retention (module retention or defaults.retention): keeping every snapshot`);
      continue;
    }
    for (const repository of repositoriesFor(root, module, options.repo)) {
      try {
        const outcome = await applyModuleRetention(root, module, repository, { log, dryRun: options.dryRun, prune: options.prune ? 'now' : 'due' });
        if (!outcome.removed) continue;
        report.push({ module: module.name, repository, removed: ids(outcome.removed), kept: ids(outcome.kept ?? []), removedSnapshots: outcome.removed.map(summarize), ...(outcome.pruned === undefined ? {} : { pruned: outcome.pruned }), error: null });
      } catch (error) {
        failed = true;
        report.push({ module: module.name, repository, removed: [], kept: [], removedSnapshots: [], error: log.masker.mask(describeError(error)) });
        log.error(`${module.name} in ${repository}: ${describeError(error)}`);
      }
    }
  }
  if (options.json) printJson({ ok: !failed, modules: report });
  return failed ? 1 : 0;
}

// The ids of snapshots, oldest first.
function ids(snapshots: ProviderSnapshot[]): string[] {
  return snapshots.map((s) => s.id);
}

// A snapshot as forget --json shows it.
export function summarize(snapshot: ProviderSnapshot): SnapshotSummary {
  return { id: snapshot.id, time: snapshot.time, kind: kindOf(snapshot) };
}
