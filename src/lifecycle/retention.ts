// Applies a module's retention in one repository, for `lifeboat forget` and the built-in
// post-backup/60retention: backups by the module's rules, safety snapshots by their own
// (src/providers/retention.ts), and never a snapshot an unfinished restore's commands name. Freeing the
// space of forgotten snapshots (restic prune, borg compact) is expensive and locks the repository
// exclusively, so it runs on its own cadence (the repository's `prune: { every }`, default 7d), which
// Lifeboat remembers per repository and module in <state>/prune.json.
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import { writeFileAtomic } from '../files/write-atomic.js';
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
  // true when the prune (restic prune, borg compact) ran; false when one was pending and not due yet;
  // undefined when nothing waited to be freed or the provider has no such step.
  pruned?: boolean;
}

// How often the space of forgotten snapshots is freed when a repository does not say (prune.every).
export const DEFAULT_PRUNE_EVERY = '7d';
const UNIT_MS: Record<string, number> = { h: 3600_000, d: 86400_000, w: 7 * 86400_000 };

// What <state>/prune.json remembers for one repository and module: the last prune, and whether snapshots
// were forgotten since (their data waits for the next prune).
interface PruneRecord {
  last?: string;
  pending?: boolean;
}

export interface RetentionOptions {
  log: Logger;
  dryRun?: boolean;
  signal?: AbortSignal;
  env?: Record<string, string>;
  // Snapshot ids that must stay whatever the rules say (the ones a backup just made).
  protect?: string[];
  // 'due' (default): prune when something waits to be freed and the cadence says so; 'now': prune
  // whatever the cadence (`lifeboat forget --prune`).
  prune?: 'due' | 'now';
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
    host: root.host,
    // a module with databases may have dump snapshots of a killed run to sweep
    sweep: module.databases.length > 0,
  });
  log.info(`${module.name} in ${repository}: ${options.dryRun ? 'would remove' : 'removed'} ${describeCount(result.removed)}, kept ${describeCount(result.kept)}`);
  if (!provider.prune) return { repository, ...result };
  // The prune: when snapshots were forgotten now or since the last one, and it is due.
  const key = `${repository}/${module.name}`;
  const records = readPruneRecords(root.stateDir);
  const record = records[key] ?? {};
  const pending = result.removed.length > 0 || record.pending === true || options.prune === 'now';
  if (!pending) return { repository, ...result };
  const every = String(root.global.repositories[repository]?.prune?.every ?? DEFAULT_PRUNE_EVERY);
  const now = new Date();
  const next = nextPrune(record.last, every);
  if (options.prune !== 'now' && next !== undefined && next.getTime() - pruneSlackMs(record.last!, next) > now.getTime()) {
    if (!options.dryRun) writePruneRecord(root.stateDir, key, { ...record, pending: true });
    log.info(`${module.name} in ${repository}: the space of forgotten snapshots is freed by the next prune, due ${next.toISOString()} (prune.every ${every}; last ${record.last})`);
    return { repository, ...result, pruned: false };
  }
  if (options.dryRun) {
    log.info(`${module.name} in ${repository}: would prune (${provider.kind === 'borg' ? 'borg compact' : `${provider.kind} prune`}; last ${record.last ?? 'never'}, prune.every ${every})`);
    return { repository, ...result, pruned: true };
  }
  // Remembered before it runs: a prune that fails stays pending and is tried again by the next run.
  writePruneRecord(root.stateDir, key, { ...record, pending: true });
  const started = Date.now();
  await provider.prune(module.name, { log, signal: options.signal, env: options.env });
  writePruneRecord(root.stateDir, key, { last: now.toISOString(), pending: false });
  log.info(`${module.name} in ${repository}: pruned (freed the space of forgotten snapshots) in ${((Date.now() - started) / 1000).toFixed(1)}s; ${every === '0' ? 'the next prune runs after the next forget that removes something (prune.every 0)' : `next due in ${every}, ${nextPrune(now.toISOString(), every)!.toISOString()} (prune.every)`}`);
  return { repository, ...result, pruned: true };
}

// When the next prune is due after `last` (undefined: never pruned, due now); every "0" is always due.
export function nextPrune(last: string | undefined, every: string): Date | undefined {
  if (!last) return undefined;
  const match = /^(\d+)([hdw])?$/.exec(every);
  const ms = match ? Number(match[1]) * (UNIT_MS[match[2] ?? 'd'] ?? 0) : 0;
  return new Date(Date.parse(last) + ms);
}

// A prune counts as due a little early (a tenth of prune.every, at most an hour): the job of the same
// hour a week later must not miss it because its retention started a few seconds sooner than last time.
function pruneSlackMs(last: string, next: Date): number {
  return Math.min((next.getTime() - Date.parse(last)) / 10, 3600_000);
}

function pruneFile(stateDir: string): string {
  return path.join(stateDir, 'prune.json');
}

// Every repository's and module's prune record; none when the file is missing or unreadable.
export function readPruneRecords(stateDir: string): Record<string, PruneRecord> {
  try {
    const parsed = JSON.parse(readFileSync(pruneFile(stateDir), 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, PruneRecord>) : {};
  } catch {
    return {};
  }
}

// Replaces one record (the module's lock is held: no other run writes this key meanwhile).
function writePruneRecord(stateDir: string, key: string, record: PruneRecord): void {
  const records = readPruneRecords(stateDir);
  records[key] = record;
  mkdirSync(stateDir, { recursive: true });
  writeFileAtomic(pruneFile(stateDir), `${JSON.stringify(records, null, 2)}\n`, 0o600);
}

// "3 (2 backups, 1 safety snapshot)"-style counts for log lines.
export function describeCount(snapshots: ProviderSnapshot[]): string {
  const safety = snapshots.filter((s) => kindOf(s) === 'safety').length;
  const backups = snapshots.length - safety;
  return `${snapshots.length} (${backups} backup${backups === 1 ? '' : 's'}, ${safety} safety snapshot${safety === 1 ? '' : 's'})`;
}
