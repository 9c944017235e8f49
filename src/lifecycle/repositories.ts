// Which repositories an action uses: the module's (default every repository), narrowed by --repo.
import path from 'node:path';
import { LifeboatError } from '../errors.js';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import { earlierBackups } from '../state/journal.js';

// The repositories of a module for this run; --repo naming one the module does not use is a usage error.
export function repositoriesFor(root: RootConfig, module: ModuleConfig, wanted?: string[]): string[] {
  if (module.repositories.length === 0) {
    // No lifeboat.yaml at all (deleted, a config management run that did not write it): say so.
    if (root.file === undefined) {
      throw new LifeboatError('CONFIG_MISSING', `module "${module.name}" has no repository: ${path.join(root.root, 'lifeboat.yaml')} does not exist (it defines the repositories); put it back (or run \`lifeboat init\` for a new one)`);
    }
    throw new LifeboatError('CONFIG_INVALID', `module "${module.name}" has no repository: define one under repositories: in lifeboat.yaml`);
  }
  if (!wanted || wanted.length === 0) return module.repositories;
  for (const name of wanted) {
    if (!root.global.repositories[name]) {
      throw new LifeboatError('UNKNOWN_REPOSITORY', `--repo ${name}: no such repository in lifeboat.yaml; defined: ${Object.keys(root.global.repositories).join(', ') || 'none'}`);
    }
    if (!module.repositories.includes(name)) {
      throw new LifeboatError('UNKNOWN_REPOSITORY', `--repo ${name}: module "${module.name}" does not use it (its repositories: ${module.repositories.join(', ')})`);
    }
  }
  return wanted;
}

// The repositories a running part works with (resolved by the command before the run starts).
export function selectedRepositories(ctx: { root: RootConfig; module: ModuleConfig; options: { repositories?: string[] } }): string[] {
  return repositoriesFor(ctx.root, ctx.module, ctx.options.repositories);
}

// When a repository lists no snapshot of the module although the journal recorded successful backups
// into it, it has vanished (an unmounted disk, a folder moved away): a backup must not create a new empty
// repository in its place and report success. The message says so, naming where and the fixes.
export function vanishedRepository(root: RootConfig, module: string, repository: string): string | undefined {
  const earlier = earlierBackups(root.stateDir, module, repository);
  if (earlier.count === 0) return undefined;
  const where = root.global.repositories[repository]?.url ?? repository;
  return `repository ${repository} at ${where} has no snapshots of module ${module}, but the journal records ${earlier.count} successful backup(s) into it (the last ${earlier.last}): it has vanished (an unmounted disk, a moved folder); Lifeboat does not create a new empty one in its place. Mount or restore it, or start a new repository deliberately: lifeboat backup ${module} --repo ${repository} --new-repository`;
}
