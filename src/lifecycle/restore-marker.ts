// The unfinished-restore marker: an in-place restore writes <state>/modules/<m>/restore-unfinished.json
// before it creates its first scratch folder (phase `staging`: the live files are untouched) and again
// before it replaces the first live path (phase `replacing`); it is removed once the restore phase has
// finished (every restore part done). Found later (the run was SIGKILLed, or failed after replacing),
// `staging` only means scratch folders to clean up; `replacing` means the live files may be a mix of the
// snapshot and the state before: `backup` refuses to snapshot that mix, and `restore` says how to finish
// the restore or roll it back to the safety snapshot.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { RESTORE_SCRATCH_PREFIX } from './module-paths.js';
import { isDirectory } from '../files/file-kind.js';
import { dirnameBytes, joinBytes, listNames, showPath, toBytes } from '../files/byte-path.js';
import { mountPoints, mountsBelow } from '../files/mounts.js';
import { isScratchName } from './restore-swap.js';

export interface RestoreMarker {
  phase: 'staging' | 'replacing';
  runId: string;
  module: string;
  repository: string;
  // The snapshot being restored.
  snapshot: string;
  // The state from before the (first unfinished) restore, when a safety snapshot was taken.
  safety: { repository: string; id: string } | null;
  paths: string[];
  started: string;
  pid: number;
  // True when this run began on the mix an earlier unfinished restore left: it stays `replacing`.
  mixedBefore?: boolean;
}

// Where a module's marker lives: beside its state dir, never inside anything a snapshot holds.
export function restoreMarkerFile(stateDir: string, module: string): string {
  return path.join(stateDir, 'modules', module, 'restore-unfinished.json');
}

// Reads the marker; a file that cannot be parsed still counts (with what can be said without it).
export function readRestoreMarker(stateDir: string, module: string): RestoreMarker | undefined {
  let text: string;
  try {
    text = readFileSync(restoreMarkerFile(stateDir, module), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as RestoreMarker;
    if (typeof value.snapshot === 'string' && typeof value.repository === 'string') {
      return { ...value, phase: value.phase === 'staging' ? 'staging' : 'replacing', safety: value.safety ?? null, paths: value.paths ?? [] };
    }
  } catch {
    // fall through
  }
  return { phase: 'replacing', runId: '?', module, repository: '?', snapshot: '?', safety: null, paths: [], started: '?', pid: 0 };
}

// Written (atomically, 0600, synced) before the first scratch folder and before the first live path
// changes. Once a marker says `replacing`, the live files are a mix, and the state before that mix is the
// one to roll back to: every later write keeps the safety snapshot named then (none, when that restore
// ran with --no-safety-snapshot), never one taken of the mix; a later run can only leave it `replacing`.
export function writeRestoreMarker(stateDir: string, marker: RestoreMarker): void {
  const file = restoreMarkerFile(stateDir, marker.module);
  const previous = readRestoreMarker(stateDir, marker.module);
  const inherited = previous !== undefined && (previous.mixedBefore === true || (previous.phase === 'replacing' && previous.runId !== marker.runId));
  let value: RestoreMarker;
  if (inherited) value = { ...marker, phase: 'replacing', safety: previous.safety, mixedBefore: true };
  else if (previous?.runId === marker.runId) value = { ...marker, safety: previous.safety };
  else value = { ...marker, mixedBefore: false };
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(value)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
}

// Called when a restore run ends: removes this run's marker once its restore phase finished (the
// failure, if any, came later: starting the service, on-success/on-failure parts), or when it never got
// to replace anything (its scratch folders are gone already).
export function settleRestoreMarker(stateDir: string, module: string, runId: string, failedPart: string | undefined): void {
  const marker = readRestoreMarker(stateDir, module);
  if (!marker || marker.runId !== runId) return;
  if (marker.phase === 'replacing' && failedPart && /^(pre-restore|restore)\//.test(failedPart)) return;
  rmSync(restoreMarkerFile(stateDir, module), { force: true });
}

// Before a backup: a `staging` marker (a restore killed before it replaced anything) only leaves scratch
// folders, which are removed; a `replacing` marker is returned, and the backup must not run.
export function blockingRestoreMarker(stateDir: string, module: string, warn: (message: string) => void): RestoreMarker | undefined {
  const marker = readRestoreMarker(stateDir, module);
  if (!marker || marker.phase === 'replacing') return marker;
  const removed = removeRestoreScratch(marker.paths);
  rmSync(restoreMarkerFile(stateDir, module), { force: true });
  warn(`restore run ${marker.runId} was interrupted before it replaced any file; removed its scratch folders${removed.length ? ` (${removed.join(', ')})` : ''}`);
  return undefined;
}

// Removes the scratch folders of restores of these paths (inside each directory and each mount point
// below it, beside anything else), except those of the run `keepRunId` and --target scratch folders of
// processes still running; returns what it removed. Names are bytes (a live folder may hold any name).
export function removeRestoreScratch(paths: string[], keepRunId?: string): string[] {
  const removed: string[] = [];
  for (const holder of scratchHolders(paths)) {
    let names: Buffer[];
    try {
      names = listNames(holder);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!isScratchName(name)) continue;
      const text = name.toString('latin1');
      if (keepRunId && text.startsWith(`${RESTORE_SCRATCH_PREFIX}${keepRunId}-`)) continue;
      const owner = /-target-(\d+)$/.exec(text);
      if (owner && processAlive(Number(owner[1]))) continue;
      const file = joinBytes(holder, name);
      rmSync(file, { recursive: true, force: true, maxRetries: 3 });
      removed.push(showPath(file));
    }
  }
  return removed;
}

// Where restores of these paths put scratch folders: each directory, each mount point below it, and the
// parent of anything else.
export function scratchHolders(paths: string[]): Buffer[] {
  const points = mountPoints();
  const holders = new Map<string, Buffer>();
  const add = (holder: Buffer) => holders.set(holder.toString('latin1'), holder);
  for (const raw of paths) {
    const live = toBytes(raw);
    if (isDirectory(raw)) add(live);
    add(dirnameBytes(live));
    for (const point of mountsBelow(live, points)) add(point);
  }
  return [...holders.values()];
}

// The --target scratch folder of a run: it names this process, so a concurrent restore into the same
// folder (another module's) leaves it alone.
export function targetScratchName(runId: string): string {
  return `${RESTORE_SCRATCH_PREFIX}${runId}-target-${process.pid}`;
}

// Before a backup or restore of a module (its lock held): leftovers of killed runs (scratch copies,
// trash folders) are removed, unless an unfinished restore still needs them; returns what was removed.
export function removeLeftovers(stateDir: string, module: string, paths: string[]): string[] {
  const marker = readRestoreMarker(stateDir, module);
  if (marker?.phase === 'replacing') return [];
  return removeRestoreScratch([...new Set([...paths, ...(marker?.paths ?? [])])]);
}

// True when a process with this id runs (signal 0 only checks).
function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return pid === process.pid;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// The two ways out of an unfinished restore, as commands to copy.
export function unfinishedRestoreHelp(marker: RestoreMarker): string {
  const finish = `to finish it: lifeboat restore ${marker.module} ${marker.snapshot} --repo ${marker.repository}`;
  const rollback = marker.safety
    ? `; to roll back to the state before it: lifeboat restore ${marker.module} ${marker.safety.id} --repo ${marker.safety.repository} --no-safety-snapshot`
    : '; it cannot be rolled back: no safety snapshot was taken (--no-safety-snapshot)';
  return `${finish}${rollback}`;
}

// One sentence about an unfinished restore found on disk, for `backup` and `restore`.
export function describeUnfinishedRestore(marker: RestoreMarker): string {
  return (
    `module ${marker.module} has an unfinished in-place restore of snapshot ${marker.snapshot} (run ${marker.runId}, started ${marker.started}): ` +
    `its files may be a mix of that snapshot and the state before; ${unfinishedRestoreHelp(marker)}`
  );
}

// What a failed in-place restore left behind, in one sentence for the person who ran it.
// `steps`: the module's own parts that ran before the failure; Lifeboat cannot vouch for what they wrote.
export function explainFailedRestore(stateDir: string, module: string, failedPart: string | null, steps: string[] = []): string {
  const marker = readRestoreMarker(stateDir, module);
  if (marker?.phase === 'replacing') return `the in-place restore did not finish: ${describeUnfinishedRestore(marker)}`;
  if (failedPart && !/^(pre-restore|restore)\//.test(failedPart) && failedPart !== 'lifeboat') {
    return `the files of module ${module} were restored completely; what failed came after the restore phase (${failedPart})`;
  }
  if (steps.length === 0) return `the restore of module ${module} failed before it replaced anything: the live files were not changed`;
  return (
    `the restore of module ${module} failed before it replaced anything: the live files were not changed by Lifeboat, ` +
    `but the module's own steps that ran first may have changed what they write (${steps.join(', ')})`
  );
}
