// A snapshot made with another --state-dir or --root (README "Restoring on a fresh host"). The module's
// state dir (<state>/modules/<m>/state) and environment file (<root>/modules/<m>/environment) are kept
// under the absolute paths of the host that made the snapshot; a restore puts them into this host's
// (in place, or under --target), and the restore steps' request.environment is read from them.
import { existsSync, mkdirSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { ModuleConfig, RootConfig } from '../config/types.js';

// One module path the snapshot holds elsewhere: `from` in the snapshot, `to` on this host.
export interface Relocation {
  what: string;
  from: string;
  to: string;
  option: string;
  was: string;
}

const clean = (p: string) => (p.length > 1 ? p.replace(/\/+$/, '') : p);
const within = (child: string, parent: string) => child === parent || child.startsWith(`${parent}/`);

// The module paths (state dir, environment file) the snapshot holds under another base than this host's.
export function relocations(root: Pick<RootConfig, 'root' | 'stateDir'>, module: Pick<ModuleConfig, 'name' | 'stateDir' | 'envFile'>, held: string[] | undefined): Relocation[] {
  if (!held) return [];
  const paths = held.map(clean);
  const out: Relocation[] = [];
  const places = [
    { what: 'state dir', to: clean(module.stateDir), suffix: `/modules/${module.name}/state`, option: '--state-dir' },
    { what: 'environment file', to: clean(module.envFile), suffix: `/modules/${module.name}/environment`, option: '--root' },
  ];
  for (const place of places) {
    if (paths.some((p) => within(place.to, p))) continue;
    const from = paths.find((p) => p.endsWith(place.suffix));
    if (from) out.push({ what: place.what, from, to: place.to, option: place.option, was: from.slice(0, -place.suffix.length) || '/' });
  }
  return out;
}

// A path as the snapshot holds it → where it goes on this host.
export function toHere(p: string, moved: Relocation[]): string {
  const rel = moved.find((m) => within(clean(p), m.from));
  return rel ? rel.to + clean(p).slice(rel.from.length) : p;
}

// A path of this host → where the snapshot holds it.
export function toSnapshot(p: string, moved: Relocation[]): string {
  const rel = moved.find((m) => within(clean(p), m.to));
  return rel ? rel.from + clean(p).slice(rel.to.length) : p;
}

// After a provider restored into `scratch` (paths as the snapshot holds them): each relocated path is
// moved to its place on this host, inside the same scratch folder.
export function relocateRestored(scratch: string, moved: Relocation[]): void {
  moved.forEach((m, index) => {
    const from = path.join(scratch, m.from);
    if (!existsSync(from)) return;
    const aside = path.join(scratch, `.lifeboat-relocated-${index}`);
    renameSync(from, aside);
    const to = path.join(scratch, m.to);
    // Only the empty folders leading to `from` can be there (the restore brought back nothing else under it).
    rmSync(to, { recursive: true, force: true });
    mkdirSync(path.dirname(to), { recursive: true, mode: 0o700 });
    renameSync(aside, to);
    // The folders that led to `from` are empty now: not part of the restore.
    for (let dir = path.dirname(from); dir !== scratch && within(dir, scratch); dir = path.dirname(dir)) {
      try {
        rmdirSync(dir);
      } catch {
        break;
      }
    }
  });
}

// One line for the log: what comes back where.
export function describeRelocations(snapshot: string, module: string, moved: Relocation[]): string {
  return `snapshot ${snapshot} was made with ${moved.map((m) => `${m.option} ${m.was}`).join(' and ')}: its ${moved.map((m) => `${m.what} of module ${module}, ${m.from}, is restored as this host's ${m.to}`).join('; its ')}`;
}
