// Whether a snapshot's module paths are this host's (README "Restoring on a fresh host"). The module's
// state dir (<state>/modules/<m>/state) and environment file (<root>/modules/<m>/environment) are kept
// under the absolute paths of the host that made the snapshot. Restored in place with another --state-dir
// or --root, they would not come back (each path goes back where the snapshot holds it, and this host's
// paths are not in it) while the restore said ok, and NethServer's restore steps would get an empty
// request.environment. Such a restore is refused before anything runs.
import path from 'node:path';
import { LifeboatError } from '../errors.js';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import type { ProviderSnapshot } from '../providers/types.js';

interface Moved {
  what: string;
  held: string;
  here: string;
  option: string;
  was: string;
  now: string;
}

// The module paths the snapshot holds under another base (state dir or root) than this host's.
export function movedModulePaths(root: Pick<RootConfig, 'root' | 'stateDir'>, module: Pick<ModuleConfig, 'name' | 'stateDir' | 'envFile'>, held: string[] | undefined): Moved[] {
  if (!held) return [];
  const clean = (p: string) => (p.length > 1 ? p.replace(/\/+$/, '') : p);
  const paths = held.map(clean);
  const moved: Moved[] = [];
  const places = [
    { what: 'state dir', here: clean(module.stateDir), suffix: `/modules/${module.name}/state`, option: '--state-dir', now: root.stateDir },
    { what: 'environment file', here: clean(module.envFile), suffix: `/modules/${module.name}/environment`, option: '--root', now: root.root },
  ];
  for (const place of places) {
    if (paths.includes(place.here)) continue;
    const other = paths.find((p) => p.endsWith(place.suffix) && p !== place.here);
    if (other) moved.push({ what: place.what, held: other, here: place.here, option: place.option, was: other.slice(0, -place.suffix.length) || '/', now: place.now });
  }
  return moved;
}

// Refuses an in-place restore of a snapshot whose module state dir or environment file lies elsewhere
// than this host's (exit 2, nothing run or changed); with --target it only says where they land.
export function checkSnapshotPlaces(
  root: Pick<RootConfig, 'root' | 'stateDir'>,
  module: Pick<ModuleConfig, 'name' | 'stateDir' | 'envFile'>,
  snapshot: ProviderSnapshot,
  repository: string,
  target: string | undefined,
  warn: (message: string) => void,
): void {
  const moved = movedModulePaths(root, module, snapshot.paths);
  if (moved.length === 0) return;
  const holds = moved.map((m) => `module ${module.name}'s ${m.what} as ${m.held}, but this host's is ${m.here}`).join('; and ');
  if (target !== undefined) {
    warn(`snapshot ${snapshot.id} of ${repository} holds ${holds}: under ${target} it comes back as ${moved.map((m) => path.join(target, m.held)).join(' and ')}`);
    return;
  }
  const options = moved.map((m) => `${m.option} ${m.was}`).join(' ');
  throw new LifeboatError(
    'USAGE',
    `snapshot ${snapshot.id} of ${repository} was made with ${moved.map((m) => `${m.option} ${m.was}`).join(' and ')}, not ${moved.map((m) => m.now).join(' and ')}: it holds ${holds}; restored in place, that would not come back (and restore steps would get an empty request.environment); nothing was run or changed`,
    {
      hint: `restore with the paths it was made with (${options}; an empty state dir there is fine), or restore it with --target DIR and copy ${moved.map((m) => `DIR${m.held} into ${m.here}`).join(' and ')}`,
    },
  );
}
