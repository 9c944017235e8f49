// The preflight: everything a backup needs that can be tried without changing anything. `check` runs it
// for every enabled module, `backup --dry-run` for the modules it would back up.
import type { ModuleConfig, RootConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { checkDatabases } from './databases.js';
import type { Finding } from './findings.js';
import { checkFolders } from './folders.js';
import { checkHooks } from './hooks.js';
import { checkRepositories } from './repositories.js';
import { checkBinaries, checkFiles } from './setup.js';

// Tools, file safety, hook directories, folders, repositories and databases, in that order.
export async function preflight(root: RootConfig, modules: ModuleConfig[], log: Logger, repositories?: string[]): Promise<Finding[]> {
  return [
    ...checkBinaries(root, modules),
    ...checkFiles(root, modules),
    ...checkHooks(root, modules),
    ...checkFolders(root, modules),
    ...(await checkRepositories(root, modules, log, repositories)),
    ...(await checkDatabases(root, modules, log)),
  ];
}
