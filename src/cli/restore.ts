// `lifeboat restore MODULE [SNAPSHOT]`: resolves the snapshot first (bad input changes nothing), then runs.
import path from 'node:path';
import { createLogger, loadForCommand, parseCount, type GlobalOptions } from './common.js';
import { exitStatusOf, runModuleAction } from '../lifecycle/action.js';
import { interruptSignal } from '../lifecycle/signals.js';
import { repositoriesFor } from '../lifecycle/repositories.js';
import { openProvider } from '../providers/registry.js';
import { isOwnHost, resolveSnapshot } from '../providers/snapshot-ref.js';
import { kindOf } from '../providers/kinds.js';
import { describeRelocations, relocations } from '../lifecycle/snapshot-places.js';
import { LifeboatError } from '../errors.js';
import { assertRepositoryTools } from '../check/backup-config.js';
import { printResults } from './backup.js';
import { printPlan } from './plan.js';
import { describeUnfinishedRestore, explainFailedRestore, readRestoreMarker } from '../lifecycle/restore-marker.js';

interface RestoreOptions extends GlobalOptions {
  repo?: string[];
  target?: string;
  safetySnapshot?: boolean;
  databases?: boolean;
  dryRun?: boolean;
  wait?: string;
}

// Restores one module from one repository (the first of the module's unless --repo); says first which
// snapshot it chose (id, kind, time).
export async function restoreCommand([name, ref]: unknown[], options: RestoreOptions): Promise<number> {
  const log = createLogger(options);
  // Ctrl-C is taken from the start: a signal between choosing the snapshot and the run must still end in
  // the run's interrupted path (journal end, nothing left in the target), not kill the process.
  const signal = interruptSignal();
  // A broken `environment` in the state dir must not block the restore that brings a good one back.
  const { root, modules } = loadForCommand(options, [name as string], log, { brokenStateEnv: (message) => log.warn(message) });
  const module = modules[0];
  const repositories = repositoriesFor(root, module, options.repo);
  if (repositories.length > 1 && options.repo) throw new LifeboatError('USAGE', 'restore reads from one repository: give --repo once');
  const repository = repositories[0];
  if (options.target !== undefined && options.target.trim() === '') throw new LifeboatError('USAGE', '--target is empty; give the folder to restore under (or leave --target out to restore in place)');
  const target = options.target === undefined ? undefined : path.resolve(options.target);
  // A missing restic, borg or zstd is said before anything runs (not after the service was stopped).
  assertRepositoryTools(root, [repository]);
  const provider = await openProvider(repository, root, (...v) => log.masker.add(...v));
  const snapshots = await provider.list(module.name, { log });
  const where = `module ${module.name}, repository ${repository}`;
  // A snapshot the repository lists but cannot give this module (a fresh host without a script provider's
  // records) is said so, not "no snapshots yet".
  const unlisted = snapshots.some((s) => s.id === ref) ? undefined : provider.unlisted?.(module.name, ref as string | undefined);
  if (unlisted && (snapshots.length === 0 || (ref !== undefined && ref !== 'latest'))) throw new LifeboatError('UNKNOWN_SNAPSHOT', `${where}: ${unlisted.message}`, { hint: unlisted.hint });
  const snapshot = resolveSnapshot(snapshots, ref as string | undefined, where, root.host);
  const kind = kindOf(snapshot);
  const moved = relocations(root, module, snapshot.paths);
  if (moved.length > 0) log.info(describeRelocations(snapshot.id, module.name, moved));
  if (!options.dryRun) await provider.preflightRestore?.(module.name, snapshot, { log });
  if (!isOwnHost(snapshot, root.host)) log.warn(`snapshot ${snapshot.id} was made by host ${snapshot.host}, not this host (${root.host}); restoring it as asked`);
  log.info(`restoring ${module.name} from snapshot ${snapshot.id} (${kind}, ${snapshot.time}${ref === undefined || ref === 'latest' ? ', the latest backup' : ''}) of ${repository}${target ? ` under ${target}` : ' in place'}`);
  const unfinished = readRestoreMarker(root.stateDir, module.name);
  if (unfinished?.phase === 'replacing') log.warn(`${describeUnfinishedRestore(unfinished)}${target ? '' : '; this restore replaces the files again'}`);
  if (options.dryRun && !options.json) printPlan(root, module, ['restore']);
  const result = await runModuleAction({
    root,
    module,
    action: 'restore',
    options: { repositories: [repository], snapshot: snapshot.id, target, dryRun: !!options.dryRun, safetySnapshot: options.safetySnapshot !== false, databases: !!options.databases },
    log,
    signal,
    waitSeconds: options.wait === undefined ? undefined : parseCount('--wait', options.wait, 0),
    prepare: (state) => {
      state.restoreSource = { repository, snapshot };
    },
  });
  if (!result.ok && !result.locked && !target && !options.dryRun) log.error(explainFailedRestore(root.stateDir, module.name, result.failedPart, result.stepsBeforeSwap));
  printResults('restore', [result], !!options.json, !!options.quiet, () => ({ restored: { repository, id: snapshot.id, time: snapshot.time, kind } }));
  return exitStatusOf([result]);
}
