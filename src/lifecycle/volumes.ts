// NethServer's `volumes/NAME` lines in etc/state-include.conf: a container volume (podman, else docker),
// `NAME` (rootless module) or `<module>-NAME` (rootful), backed up through its mount point.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ModuleConfig } from '../config/types.js';
import { LifeboatError } from '../errors.js';

const VOLUME_LINE_RE = /^volumes\/([A-Za-z0-9][A-Za-z0-9_.-]*)\/?$/;

// The lines of the module's etc/state-include.conf, without comments and blanks.
export function includeLines(module: ModuleConfig): string[] {
  const file = path.join(module.dir, 'etc', 'state-include.conf');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
}

// The volume name of a `volumes/NAME` line, or undefined for an ordinary path line.
export function volumeOfLine(line: string): string | undefined {
  return VOLUME_LINE_RE.exec(line)?.[1];
}

// The names a line's volume may have, in lookup order.
export function volumeCandidates(module: ModuleConfig, name: string): string[] {
  return [name, `${module.name}-${name}`];
}

// The mount point of the first candidate volume that exists, or undefined when none does.
export function volumeMountPoint(module: ModuleConfig, name: string): string | undefined {
  for (const candidate of volumeCandidates(module, name)) {
    const mountPoint = inspectVolume(candidate);
    if (mountPoint) return mountPoint;
  }
  return undefined;
}

// Resolves one include line: a volume's mount point (undefined when it does not exist), else the path
// relative to the module's state dir.
export function resolveIncludeLine(module: ModuleConfig, line: string): string | undefined {
  const volume = volumeOfLine(line);
  return volume ? volumeMountPoint(module, volume) : path.resolve(module.stateDir, line);
}

// Before a backup: every include line must name something that exists, else the backup would silently
// miss it. Throws naming the line, the file and the fix.
export function assertIncludesExist(module: ModuleConfig, lines = includeLines(module)): void {
  const file = path.join(module.dir, 'etc', 'state-include.conf');
  const problems: string[] = [];
  for (const line of lines) {
    const volume = volumeOfLine(line);
    if (volume) {
      if (!volumeMountPoint(module, volume)) problems.push(`${file}: ${line}: no container volume ${volumeCandidates(module, volume).join(' or ')} (${engine() ?? 'neither podman nor docker is installed'})`);
    } else if (!existsSync(path.resolve(module.stateDir, line))) {
      problems.push(`${file}: ${line}: ${path.resolve(module.stateDir, line)} does not exist`);
    }
  }
  if (problems.length > 0) throw new LifeboatError('PART_FAILED', `${problems.join('; ')}; create it or remove the line`, { problems });
}

// Before an in-place restore: creates each missing volume (`<module>-NAME` as root, `NAME` otherwise), so
// the restore can fill its mount point. Returns the names created.
// The name the snapshot held the volume under wins (its mount point, .../volumes/NAME/_data, is in the
// snapshot's paths): a volume backed up as NAME is made again as NAME, so the restore fills it.
export function createMissingVolumes(module: ModuleConfig, lines = includeLines(module), snapshotPaths: string[] = []): string[] {
  const created: string[] = [];
  for (const line of lines) {
    const volume = volumeOfLine(line);
    if (!volume || volumeMountPoint(module, volume)) continue;
    const tool = engine();
    if (!tool) throw new LifeboatError('PART_FAILED', `cannot create volume for ${line}: neither podman nor docker is installed`);
    const held = volumeCandidates(module, volume).find((candidate) => snapshotPaths.some((p) => p.includes(`/volumes/${candidate}/`) || p.endsWith(`/volumes/${candidate}`)));
    const name = held ?? (process.getuid?.() === 0 ? `${module.name}-${volume}` : volume);
    execFileSync(tool, ['volume', 'create', name], { stdio: ['ignore', 'ignore', 'pipe'] });
    created.push(name);
  }
  return created;
}

// `podman volume inspect NAME --format '{{.Mountpoint}}'` (docker alike); undefined when it does not exist.
function inspectVolume(name: string): string | undefined {
  const tool = engine();
  if (!tool) return undefined;
  try {
    const out = execFileSync(tool, ['volume', 'inspect', name, '--format', '{{.Mountpoint}}'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return out.startsWith('/') ? out : undefined;
  } catch {
    return undefined;
  }
}

let found: string | null | undefined;
// podman, else docker, from PATH; null when neither is there.
function engine(): string | null {
  if (found !== undefined) return found;
  found = null;
  for (const tool of ['podman', 'docker']) {
    for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
      if (dir && existsSync(path.join(dir, tool))) {
        found = tool;
        return found;
      }
    }
  }
  return found;
}
