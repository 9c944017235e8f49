// The preflight: everything a backup needs that can be tried without changing anything. `check` runs it
// for every enabled module, `backup --dry-run` for the modules it would back up.
import type { ModuleConfig, RootConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { checkDatabases } from './databases.js';
import { checkFolders } from './folders.js';
import { checkHooks } from './hooks.js';
import { checkRepositories } from './repositories.js';
import { checkBinaries, checkFiles } from './setup.js';
import { moduleProblems } from './backup-config.js';
import { repositoriesFor } from '../lifecycle/repositories.js';
import { fail, type Finding } from './findings.js';

// Tools, file safety, hook directories, folders, excludes and dump names, repositories and databases, in
// that order.
export async function preflight(root: RootConfig, modules: ModuleConfig[], log: Logger, repositories?: string[]): Promise<Finding[]> {
  return [
    ...checkBinaries(root, modules),
    ...checkFiles(root, modules),
    ...checkHooks(root, modules),
    ...checkFolders(root, modules),
    ...modules.flatMap((module) => moduleProblems(root, module, repositoriesFor(root, module, repositories)).map((problem) => fail(`module ${module.name}`, problem))),
    ...(await checkRepositories(root, modules, log, repositories)),
    ...(await checkDatabases(root, modules, log)),
  ];
}
