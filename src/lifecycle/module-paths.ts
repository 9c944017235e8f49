// What a module's snapshot holds: folders + its state dir + its environment file + state-include.conf,
// minus `exclude` and state-exclude.conf.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ModuleConfig } from '../config/types.js';
import { includeLines, resolveIncludeLine } from './volumes.js';

// Scratch folders of an interrupted in-place restore never belong in a snapshot.
export const RESTORE_SCRATCH_PREFIX = '.lifeboat-restore-';

export interface SnapshotSet {
  paths: string[];
  exclude: string[];
}

// Computes the paths and excludes of a module's snapshot (paths may not all exist; see existingPaths).
export function snapshotSet(module: ModuleConfig): SnapshotSet {
  const include = includeLines(module).flatMap((line) => resolveIncludeLine(module, line) ?? []);
  const exclude = [...module.exclude, ...readListFile(path.join(module.dir, 'etc', 'state-exclude.conf')), `${RESTORE_SCRATCH_PREFIX}*`];
  const paths = [...new Set([...module.folders, module.stateDir, module.envFile, ...include])];
  return { paths, exclude };
}

// Lines of a NethServer-style list file, without comments and blanks; a missing file is empty.
function readListFile(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}
