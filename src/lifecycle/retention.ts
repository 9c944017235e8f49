// Applies a module's retention in one repository, for `lifeboat forget` and the built-in
// post-backup/60retention: backups by the module's rules, safety snapshots by their own
// (src/providers/retention.ts), and never a snapshot an unfinished restore's commands name.
import type { ModuleConfig, RootConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { openProvider } from '../providers/registry.js';
import { forgetByRetention } from '../providers/retention.js';
import { kindOf } from '../providers/kinds.js';
import type { ProviderSnapshot } from '../providers/types.js';
import { readRestoreMarker } from './restore-marker.js';

export interface RetentionOutcome {
  repository: string;
  // undefined when the repository's provider cannot forget (nothing was removed).
  removed?: ProviderSnapshot[];
  kept?: ProviderSnapshot[];
}

export interface RetentionOptions {
  log: Logger;
  dryRun?: boolean;
  signal?: AbortSignal;
  env?: Record<string, string>;
  // Snapshot ids that must stay whatever the rules say (the ones a backup just made).
  protect?: string[];
}

// Forgets what the module's retention lets go in one repository and says so in one log line.
export async function applyModuleRetention(root: RootConfig, module: ModuleConfig, repository: string, options: RetentionOptions): Promise<RetentionOutcome> {
  const { log } = options;
  const provider = await openProvider(repository, root, (...values) => log.masker.add(...values));
  if (!provider.forget) {
    log.warn(`repository ${repository} (${provider.kind}) cannot forget snapshots; skipped`);
    return { repository };
  }
  const marker = readRestoreMarker(root.stateDir, module.name);
  const named = marker ? [marker.snapshot, marker.safety?.id ?? ''] : [];
  const result = await forgetByRetention(provider, module.name, module.retention, {
    log,
    dryRun: options.dryRun,
    signal: options.signal,
    env: options.env,
    protect: [...named, ...(options.protect ?? [])].filter(Boolean),
  });
  log.info(`${module.name} in ${repository}: ${options.dryRun ? 'would remove' : 'removed'} ${describeCount(result.removed)}, kept ${describeCount(result.kept)}`);
  return { repository, ...result };
}

// "3 (2 backups, 1 safety snapshot)"-style counts for log lines.
export function describeCount(snapshots: ProviderSnapshot[]): string {
  const safety = snapshots.filter((s) => kindOf(s) === 'safety').length;
  const backups = snapshots.length - safety;
  return `${snapshots.length} (${backups} backup${backups === 1 ? '' : 's'}, ${safety} safety snapshot${safety === 1 ? '' : 's'})`;
}
