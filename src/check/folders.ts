// Every folder a module backs up must exist: a missing one would silently leave its data out. So must
// every path and volume its etc/state-include.conf names.
import { statSync } from 'node:fs';
import path from 'node:path';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import { fail, ok, warn, type Finding } from './findings.js';
import { assertSafeLayout } from '../lifecycle/layout-check.js';
import { snapshotSet } from '../lifecycle/module-paths.js';
import { includeProblems } from '../lifecycle/volumes.js';
import { readRestoreMarker, scratchHolders } from '../lifecycle/restore-marker.js';
import { isScratchName } from '../lifecycle/restore-swap.js';
import { joinBytes, listNames, showPath } from '../files/byte-path.js';
import { LifeboatError } from '../errors.js';
import { foldersTooLong, MAX_ARG_STRLEN } from '../parts/env-limit.js';

// One finding per missing folder (naming the file and key), or one ok line per module.
export function checkFolders(root: RootConfig, modules: ModuleConfig[]): Finding[] {
  const findings: Finding[] = [];
  for (const module of modules) {
    const display = path.relative(root.root, module.file);
    let missing = 0;
    module.folders.forEach((folder, index) => {
      let kind: string | undefined;
      try {
        statSync(folder);
      } catch (error) {
        kind = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(error as NodeJS.ErrnoException).code})`;
      }
      if (!kind) return;
      missing++;
      findings.push(fail(`${display}: /folders/${index}`, `${folder} ${kind}; create it, or remove it from folders:`));
    });
    const long = foldersTooLong(module.folders);
    if (long) findings.push(warn(`module ${module.name}`, `FOLDERS would be ${long} bytes, longer than the kernel's limit of ${MAX_ARG_STRLEN} bytes for one environment variable (MAX_ARG_STRLEN): parts get no FOLDERS; a part of this module that uses it must read FOLDERS_FILE (one path per line) instead`));
    if (missing === 0 && module.folders.length) findings.push(ok(`module ${module.name}`, `${module.folders.length} folder(s) exist`));
    // etc/state-include.conf: what a backup would fail on (a missing path or volume, a `volumes/` typo).
    for (const problem of includeProblems(module)) findings.push(fail(`module ${module.name}`, problem));
    findings.push(...layoutFindings(root, module), ...leftoverFindings(root, module));
    // Retention runs after every backup: without any, the repository only grows.
    if (Object.keys(module.retention).length === 0) findings.push(warn(`module ${module.name}`, 'has no retention: every snapshot is kept and the repository only grows; set retention: in its module.yaml or defaults.retention in lifeboat.yaml'));
  }
  return findings;
}

// What a run would refuse before it starts: a repository or the state dir inside the module's paths,
// a symlinked folder, include lines outside the state dir or writable by others.
function layoutFindings(root: RootConfig, module: ModuleConfig): Finding[] {
  try {
    assertSafeLayout(root, module, 'backup', {});
    return [];
  } catch (error) {
    if (!(error instanceof LifeboatError)) throw error;
    return error.problems.map((problem) => fail(`module ${module.name}`, problem));
  }
}

// Scratch copies and trash folders an interrupted restore left in the live folders: the next backup or
// restore of the module removes them (an unfinished restore's finish or roll-back command does too).
function leftoverFindings(root: RootConfig, module: ModuleConfig): Finding[] {
  const found: string[] = [];
  for (const holder of scratchHolders(snapshotSet(module).paths)) {
    let names: Buffer[];
    try {
      names = listNames(holder);
    } catch {
      continue;
    }
    for (const name of names) if (isScratchName(name)) found.push(showPath(joinBytes(holder, name)));
  }
  if (found.length === 0) return [];
  const marker = readRestoreMarker(root.stateDir, module.name);
  const why = marker?.phase === 'replacing' ? 'an unfinished in-place restore left them; its finish or roll-back command removes them' : 'an interrupted restore left them; the next backup or restore of the module removes them';
  return [warn(`module ${module.name}`, `${found.length} scratch folder(s) in its live paths (${found.slice(0, 3).join(', ')}${found.length > 3 ? ', ...' : ''}): ${why}`)];
}
