// The in-place swap of a restore, as a transaction over byte-safe paths. Each swap root (a configured path,
// or a mount point below one) was restored into a scratch folder on its own file system; only then does
// the swap begin, and it only renames within one file system:
//   - a directory is made to hold exactly what its staged copy holds, name by name: what the snapshot
//     lacks is moved into a trash folder (not deleted), what it has is renamed in; a directory that holds
//     a nested swap root (a mount point) is walked into, never moved, so mounts stay where they are;
//   - anything else is moved to the trash and the staged copy renamed over it.
// Every step is logged in memory; a failure undoes them in reverse (the trash goes back), so a failed
// swap leaves every path as it was. The trash and scratch folders are removed only after every root
// was swapped. A kill in between leaves the unfinished-restore marker (restore-marker.ts).
import { chmodSync, chownSync, lstatSync, mkdirSync, renameSync, rmSync, utimesSync, type Stats } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirnameBytes, joinBytes, listNames, lstatOrUndefined, showPath, withinBytes, type BytePath } from '../files/byte-path.js';
import { LifeboatError } from '../errors.js';

export const SCRATCH_PREFIX_BYTES = Buffer.from('.lifeboat-restore-');

export interface SwapRoot {
  // The live path.
  live: BytePath;
  // Where the snapshot's copy of it landed; undefined when the snapshot does not hold it.
  staged: BytePath | undefined;
  // The folder beside (or inside) the live path that this root's trash goes into.
  trash: BytePath;
  // True when the live path is a mount point (restored into, never replaced).
  mount: boolean;
}

type UndoStep = { kind: 'moved'; from: BytePath; to: BytePath } | { kind: 'placed'; at: BytePath } | { kind: 'meta'; at: BytePath; stats: Stats };

export interface SwapTransaction {
  // Puts everything back as it was before the swap began; returns the paths it could not restore.
  undo(): string[];
  // Removes the trash folders (the old files) once the whole restore succeeded: asynchronously, so that
  // several unlinks are in flight at once (one at a time, each waits for the disk: ~1 s for 2,000 files on
  // a busy machine).
  commit(): Promise<void>;
}

// Checks, before anything changes, that every root can be swapped (a mount point cannot become a file).
export function planSwap(roots: SwapRoot[]): void {
  for (const root of roots) {
    if (!root.staged || !root.mount) continue;
    if (!lstatSync(root.staged).isDirectory()) {
      throw new LifeboatError('RESTORE', `${showPath(root.live)} is a mount point, but the snapshot holds a file there; it cannot be replaced`, { hint: 'unmount it first, or restore with --target DIR and copy what you need' });
    }
  }
}

// Swaps every root in; on any failure undoes what was done and rethrows.
export function swapAll(roots: SwapRoot[]): SwapTransaction {
  const steps: UndoStep[] = [];
  const nested = roots.map((root) => root.live);
  const trashes = new Set<string>();
  let counter = 0;
  const trashFor = (root: SwapRoot) => {
    if (!trashes.has(root.trash.toString('latin1'))) {
      mkdirSync(root.trash, { mode: 0o700 });
      trashes.add(root.trash.toString('latin1'));
    }
    return joinBytes(root.trash, String(counter++));
  };
  const moveToTrash = (root: SwapRoot, file: BytePath) => {
    const to = trashFor(root);
    renameSync(file, to);
    steps.push({ kind: 'moved', from: file, to });
  };
  const place = (from: BytePath, at: BytePath) => {
    renameSync(from, at);
    steps.push({ kind: 'placed', at });
  };
  const setMeta = (at: BytePath, from: Stats) => {
    steps.push({ kind: 'meta', at, stats: lstatSync(at) });
    applyMetadata(at, from);
  };
  // True when another swap root lies strictly below `file` (it must be walked into, not moved).
  const holdsNested = (file: BytePath) => nested.some((other) => !other.equals(file) && withinBytes(other, file));
  const isNestedRoot = (file: BytePath, self: BytePath) => !file.equals(self) && nested.some((other) => other.equals(file));

  // Makes directory `live` hold exactly what `staged` holds (staged undefined: nothing but nested roots).
  const syncDir = (root: SwapRoot, live: BytePath, staged: BytePath | undefined) => {
    const wanted = new Map((staged ? listNames(staged) : []).map((name) => [name.toString('latin1'), name]));
    for (const name of listNames(live)) {
      if (isScratchName(name)) continue;
      const file = joinBytes(live, name);
      if (wanted.has(name.toString('latin1'))) continue;
      if (isNestedRoot(file, root.live)) continue;
      if (holdsNested(file) && lstatSync(file).isDirectory()) syncDir(root, file, undefined);
      else moveToTrash(root, file);
    }
    for (const name of wanted.values()) {
      if (isScratchName(name)) continue;
      const file = joinBytes(live, name);
      const next = joinBytes(staged!, name);
      const current = lstatOrUndefined(file);
      if (current && isNestedRoot(file, root.live)) continue;
      const nextStats = lstatSync(next);
      if (current?.isDirectory() && nextStats.isDirectory() && holdsNested(file)) {
        syncDir(root, file, next);
        setMeta(file, nextStats);
        continue;
      }
      if (current) moveToTrash(root, file);
      place(next, file);
    }
  };

  const undo = (): string[] => {
    const failed: string[] = [];
    for (const step of steps.reverse()) {
      try {
        if (step.kind === 'placed') rmSync(step.at, { recursive: true, force: true, maxRetries: 3 });
        else if (step.kind === 'moved') renameSync(step.to, step.from);
        else applyMetadata(step.at, step.stats);
      } catch (error) {
        failed.push(`${showPath(step.kind === 'moved' ? step.from : step.at)}: ${(error as Error).message}`);
      }
    }
    steps.length = 0;
    for (const trash of trashes) rmSync(Buffer.from(trash, 'latin1'), { recursive: true, force: true });
    return failed;
  };

  try {
    for (const root of roots) {
      if (!root.staged) continue;
      const current = lstatOrUndefined(root.live);
      const next = lstatSync(root.staged);
      if (current?.isDirectory() && next.isDirectory()) {
        syncDir(root, root.live, root.staged);
        setMeta(root.live, next);
      } else if (current?.isDirectory()) {
        // The snapshot holds a file where a directory is now; the staged copy lies inside that directory.
        const aside = joinBytes(dirnameBytes(root.live), `${SCRATCH_PREFIX_BYTES.toString()}aside-${process.pid}-${counter++}`);
        renameSync(root.staged, aside);
        moveToTrash(root, root.live);
        place(aside, root.live);
      } else {
        if (current) moveToTrash(root, root.live);
        place(root.staged, root.live);
      }
    }
  } catch (error) {
    const failed = undo();
    const left = failed.length ? `; these could not be put back: ${failed.join('; ')}` : '; every path was put back as it was';
    throw new SwapFailed(`the in-place swap failed: ${(error as Error).message}${left}`, failed.length === 0, error);
  }
  return {
    undo,
    async commit() {
      const removing = [...trashes].map((trash) => rm(Buffer.from(trash, 'latin1'), { recursive: true, force: true, maxRetries: 3 }));
      trashes.clear();
      steps.length = 0;
      await Promise.all(removing);
    },
  };
}

// A swap that failed; `undone` says whether every path was put back.
export class SwapFailed extends LifeboatError {
  constructor(message: string, readonly undone: boolean, cause: unknown) {
    super('RESTORE', message, { cause, hint: undone ? undefined : 'run one of the two commands below to finish the restore or roll it back' });
  }
}

// True for Lifeboat's own scratch names, which a swap never touches.
export function isScratchName(name: BytePath): boolean {
  return name.length >= SCRATCH_PREFIX_BYTES.length && name.subarray(0, SCRATCH_PREFIX_BYTES.length).equals(SCRATCH_PREFIX_BYTES);
}

// Gives a swapped directory the staged one's mode, owner and times.
export function applyMetadata(live: BytePath, stats: Stats): void {
  if (stats.isSymbolicLink()) return;
  chmodSync(live, stats.mode & 0o7777);
  try {
    chownSync(live, stats.uid, stats.gid);
  } catch {
    // not permitted when not root; mode and times still match
  }
  utimesSync(live, stats.atime, stats.mtime);
}
