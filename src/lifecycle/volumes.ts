// NethServer's `volumes/NAME` lines in etc/state-include.conf: a container volume (podman, else docker),
// `NAME` (rootless module) or `<module>-NAME` (rootful), backed up through its mount point.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ModuleConfig } from '../config/types.js';
import { LifeboatError } from '../errors.js';
import { runSync } from '../process/runner.js';

const VOLUME_LINE_RE = /^volumes\/([A-Za-z0-9][A-Za-z0-9_.-]*)\/?$/;

// One line of etc/state-include.conf and its number in the file (1-based).
export interface IncludeEntry {
  text: string;
  number: number;
}

// The module's etc/state-include.conf.
export function includeFile(module: ModuleConfig): string {
  return path.join(module.dir, 'etc', 'state-include.conf');
}

// The lines of the module's etc/state-include.conf with their numbers, without comments and blanks.
export function includeEntries(module: ModuleConfig): IncludeEntry[] {
  const file = includeFile(module);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line, index) => ({ text: line.trim(), number: index + 1 }))
    .filter((entry) => entry.text !== '' && !entry.text.startsWith('#'));
}

// The lines of the module's etc/state-include.conf, without comments and blanks.
export function includeLines(module: ModuleConfig): string[] {
  return includeEntries(module).map((entry) => entry.text);
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

// What is wrong with the include lines, one problem per line as `<file>:<line>: <text>: <what> (<fix>)`:
// a path or volume that does not exist, a `volumes/` line without a valid name, and a `volume/NAME`
// that does not exist (the typo of volumes/NAME). `check` reports them; a backup fails on them.
export function includeProblems(module: ModuleConfig, entries = includeEntries(module)): string[] {
  const file = includeFile(module);
  const problems: string[] = [];
  for (const { text, number } of entries) {
    const where = `${file}:${number}: ${text}`;
    const volume = volumeOfLine(text);
    if (volume) {
      if (!volumeMountPoint(module, volume)) problems.push(`${where}: no container volume ${volumeCandidates(module, volume).join(' or ')} (${engine() ?? 'neither podman nor docker is installed'}); create it (${engine() ?? 'podman'} volume create ${volumeCandidates(module, volume).at(-1)}) or remove the line`);
      continue;
    }
    if (/^volumes(\/|$)/.test(text)) {
      problems.push(`${where}: names no volume: a volume line is volumes/NAME (letters, digits, _ . -, starting with a letter or digit); fix the name or remove the line`);
      continue;
    }
    if (existsSync(path.resolve(module.stateDir, text))) continue;
    const typo = /^volume\/([A-Za-z0-9][A-Za-z0-9_.-]*)\/?$/.exec(text);
    const hint = typo ? `; a container volume is written volumes/${typo[1]}` : '';
    problems.push(`${where}: ${path.resolve(module.stateDir, text)} does not exist${hint}; create it or remove the line`);
  }
  return problems;
}

// Before a backup: every include line must name something that exists, else the backup would silently
// miss it. Throws naming the file, line and fix.
export function assertIncludesExist(module: ModuleConfig): void {
  const problems = includeProblems(module);
  if (problems.length > 0) throw new LifeboatError('PART_FAILED', problems.join('; '), { problems });
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
    const made = runSync(tool, { args: ['volume', 'create', name], stdio: ['ignore', 'ignore', 'pipe'] });
    if (made.error) throw made.error;
    if (made.code !== 0) throw new Error(`Command failed: ${tool} volume create ${name}${made.stderr ? `\n${made.stderr}` : ''}`);
    created.push(name);
  }
  return created;
}

// `podman volume inspect NAME --format '{{.Mountpoint}}'` (docker alike); undefined when it does not exist.
function inspectVolume(name: string): string | undefined {
  const tool = engine();
  if (!tool) return undefined;
  const inspected = runSync(tool, { args: ['volume', 'inspect', name, '--format', '{{.Mountpoint}}'], stdio: ['ignore', 'pipe', 'ignore'] });
  const out = inspected.code === 0 ? inspected.stdout.trim() : '';
  return out.startsWith('/') ? out : undefined;
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
