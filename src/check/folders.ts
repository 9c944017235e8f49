// Every folder a module backs up must exist: a missing one would silently leave its data out.
import { statSync } from 'node:fs';
import path from 'node:path';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import { fail, ok, type Finding } from './findings.js';

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
    if (missing === 0 && module.folders.length) findings.push(ok(`module ${module.name}`, `${module.folders.length} folder(s) exist`));
  }
  return findings;
}
