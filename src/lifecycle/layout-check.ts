// Checks, before a run takes its lock, that a module's paths cannot swallow what Lifeboat itself keeps:
// a repository or the state dir inside a backed-up folder would be rolled back by an in-place restore
// (newest snapshots gone, stale locks), and a folder that is a symlink would be backed up as the link
// alone. Each is a configuration error (exit 2) naming both paths; nothing runs.
import { existsSync, lstatSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { unsafeReason } from '../files/permissions.js';
import path from 'node:path';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import { LifeboatError } from '../errors.js';
import { snapshotSet } from './module-paths.js';
import type { Action } from './phases.js';

// The local folder a repository url names, or undefined for a remote one (s3:, sftp:, ssh://, host:path).
export function localRepositoryPath(url: string | undefined, configRoot: string): string | undefined {
  if (!url) return undefined;
  if (url.startsWith('local:')) return path.resolve(configRoot, url.slice('local:'.length));
  if (url.startsWith('file://')) return path.resolve(configRoot, url.slice('file://'.length));
  if (/^[a-z0-9+]+:/i.test(url) || /^[^/]+:/.test(url)) return undefined;
  return path.resolve(configRoot, url);
}

// A path with every symlink on the way resolved, also when its last parts do not exist yet (a
// repository a first backup will create): the real place two paths are compared at.
export function realLocation(file: string): string {
  const missing: string[] = [];
  let current = path.resolve(file);
  for (;;) {
    try {
      return path.join(realpathSync(current), ...missing.reverse());
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return path.resolve(file);
      missing.push(path.basename(current));
      current = parent;
    }
  }
}

// True when `inner` is `outer` or lies below it.
function within(inner: string, outer: string): boolean {
  return inner === outer || outer === '/' || inner.startsWith(`${outer}/`);
}

// Refuses a module whose paths hold a repository or the state dir, whose folders are symlinks, or a
// --target that is a live path or lies inside one.
export function assertSafeLayout(root: RootConfig, module: ModuleConfig, action: Action, options: { target?: string; repositories?: string[] }): void {
  const problems: string[] = [];
  problems.push(...includeFileProblems(module));
  if (problems.length) throw new LifeboatError('CONFIG_INVALID', problems.join('\n'), { problems });
  const { paths } = snapshotSet(module);
  // The module's own state dir is one of its paths and lies inside the state dir: that way round is fine.
  // Compared where they really are: a symlink on the way hides nothing.
  const declared = paths.filter((p) => p !== module.stateDir && p !== module.envFile).map(realLocation);
  for (const name of options.repositories ?? module.repositories) {
    const repo = root.global.repositories[name];
    const configured = localRepositoryPath(repo?.url, root.root);
    if (!configured) continue;
    const location = realLocation(configured);
    for (const p of declared) {
      if (within(location, p) || within(p, location)) {
        problems.push(`${module.file}: repository "${name}" (${location}) ${within(location, p) ? 'lies inside' : 'holds'} the backed-up path ${p}: an in-place restore would roll the repository back; keep repositories outside the module's folders`);
      }
    }
  }
  const stateDir = realLocation(root.stateDir);
  for (const p of declared) {
    if (within(stateDir, p)) problems.push(`${module.file}: the state dir ${root.stateDir} lies inside the backed-up path ${p}: a restore would roll back locks, journal and manifests; move the state dir (--state-dir) or narrow folders`);
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
    // Where the target really is: a symlink to / or into a live folder is the same as naming it.
    const target = realLocation(options.target);
    const shown = target === path.resolve(options.target) ? target : `${path.resolve(options.target)} (really ${target})`;
    if (existsSync(target) && !statSync(target).isDirectory()) problems.push(`--target ${shown} exists and is not a folder; give a folder (it is created when missing)`);
    else if (target === '/') problems.push(`--target ${shown}: restoring under / is an in-place restore without its safety net; leave --target out to restore in place`);
    else {
      for (const p of paths) {
        if (within(target, realLocation(p))) problems.push(`--target ${shown} lies inside ${p}, a live path of module ${module.name}: the restore would change live files; choose a folder outside the module's paths`);
      }
    }
  }
  if (problems.length) throw new LifeboatError('CONFIG_INVALID', [...new Set(problems)].join('\n'), { problems: [...new Set(problems)] });
}

// etc/state-include.conf and state-exclude.conf name what root backs up and an in-place restore
// replaces: refused like module.yaml when others can write them; an include line is relative to the
// module's state dir and stays inside it, without passing through a symlink there.
function includeFileProblems(module: ModuleConfig): string[] {
  const problems: string[] = [];
  for (const name of ['state-include.conf', 'state-exclude.conf']) {
    const file = path.join(module.dir, 'etc', name);
    let reason: string | undefined;
    try {
      reason = unsafeReason(statSync(file));
    } catch {
      continue;
    }
    if (reason) problems.push(`${file}: refused: ${reason}; it names paths root backs up and restores: chmod go-w ${file} and chown it to root`);
  }
  const include = path.join(module.dir, 'etc', 'state-include.conf');
  if (!existsSync(include)) return problems;
  const lines = readFileSync(include, 'utf8').split('\n');
  const stateReal = realLocation(module.stateDir);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${include}:${index + 1}`;
    if (path.isAbsolute(line)) {
      problems.push(`${where}: "${line}" is absolute; lines are relative to the module's state dir (${module.stateDir}); put the path in folders: in module.yaml instead`);
      return;
    }
    const resolved = path.resolve(module.stateDir, line);
    if (!within(resolved, module.stateDir) || resolved === module.stateDir) {
      problems.push(`${where}: "${line}" leaves the module's state dir; lines name paths inside it (put other paths in folders: in module.yaml)`);
      return;
    }
    if (line.startsWith('volumes/')) return;
    const real = realLocation(resolved);
    if (real !== path.join(stateReal, path.relative(module.stateDir, resolved))) {
      problems.push(`${where}: "${line}" passes through a symlink (it is really ${real}); a snapshot would hold the link, not the data: name the real path in folders: in module.yaml instead`);
    }
  });
  return problems;
}
