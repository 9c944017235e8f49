// Checks, before a run takes its lock, that a module's paths cannot swallow what Lifeboat itself keeps:
// a repository or the state dir inside a backed-up folder would be rolled back by an in-place restore
// (newest snapshots gone, stale locks), and a folder that is a symlink would be backed up as the link
// alone. Each is a configuration error (exit 2) naming both paths; nothing runs.
import { lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import { LifeboatError } from '../errors.js';
import { snapshotSet } from './module-paths.js';
import type { Action } from './phases.js';

// The local folder a repository url names, or undefined for a remote one (s3:, sftp:, ssh://, host:path).
export function localRepositoryPath(url: string | undefined, configRoot: string): string | undefined {
  if (!url) return undefined;
  if (url.startsWith('local:')) return path.resolve(configRoot, url.slice('local:'.length));
  if (/^[a-z0-9+]+:/i.test(url) || /^[^/]+:/.test(url)) return undefined;
  return path.resolve(configRoot, url);
}

// True when `inner` is `outer` or lies below it.
function within(inner: string, outer: string): boolean {
  return inner === outer || outer === '/' || inner.startsWith(`${outer}/`);
}

// Refuses a module whose paths hold a repository or the state dir, whose folders are symlinks, or a
// --target that is a live path or lies inside one.
export function assertSafeLayout(root: RootConfig, module: ModuleConfig, action: Action, options: { target?: string; repositories?: string[] }): void {
  const problems: string[] = [];
  const { paths } = snapshotSet(module);
  // The module's own state dir is one of its paths and lies inside the state dir: that way round is fine.
  const declared = paths.filter((p) => p !== module.stateDir && p !== module.envFile);
  for (const name of options.repositories ?? module.repositories) {
    const repo = root.global.repositories[name];
    const location = localRepositoryPath(repo?.url, root.root);
    if (!location) continue;
    for (const p of declared) {
      if (within(location, p) || within(p, location)) {
        problems.push(`${module.file}: repository "${name}" (${location}) ${within(location, p) ? 'lies inside' : 'holds'} the backed-up path ${p}: an in-place restore would roll the repository back; keep repositories outside the module's folders`);
      }
    }
  }
  for (const p of declared) {
    if (within(root.stateDir, p)) problems.push(`${module.file}: the state dir ${root.stateDir} lies inside the backed-up path ${p}: a restore would roll back locks, journal and manifests; move the state dir (--state-dir) or narrow folders`);
  }
  if (action === 'backup') {
    for (const folder of module.folders) {
      let link: string | undefined;
      try {
        if (lstatSync(folder).isSymbolicLink()) link = readlinkSync(folder);
      } catch {
        // a missing folder fails the backup in 50snapshot, naming it
      }
      if (link !== undefined) problems.push(`${module.file}: folder ${folder} is a symlink to ${link}; a snapshot would hold the link, not the data: list the real folder (${path.resolve(path.dirname(folder), link)}) in folders instead`);
    }
  }
  if (options.target !== undefined) {
    const target = path.resolve(options.target);
    if (target === '/') problems.push(`--target ${options.target}: restoring under / is an in-place restore without its safety net; leave --target out to restore in place`);
    else {
      for (const p of paths) {
        if (within(target, p)) problems.push(`--target ${target} lies inside ${p}, a live path of module ${module.name}: the restore would change live files; choose a folder outside the module's paths`);
      }
    }
  }
  if (problems.length) throw new LifeboatError('CONFIG_INVALID', [...new Set(problems)].join('\n'), { problems: [...new Set(problems)] });
}
