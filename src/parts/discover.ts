// Discovery of the parts of a phase over the three layers: built-in, the root's hooks.d, the module's.
import { lstatSync, readdirSync, readlinkSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { MOVED_TO_FINALLY, type Action, type BuiltinPart, type PhaseName } from './phases.js';
import { PROJECT_DIR } from '../config/paths.js';
import { unsafeReason } from '../files/permissions.js';

import { DEFAULT_NAME_RE, compareBytes } from './names.js';

export type Layer = 'builtin' | 'root' | 'module';
export type PartStatus = 'run' | 'masked' | 'skipped' | 'refused';

export interface PartEntry<B extends BuiltinPart = BuiltinPart> {
  phase: PhaseName;
  name: string;
  layer: Layer;
  path: string;
  status: PartStatus;
  reason?: string;
  // A warning to log when it runs (a part found in the folder of the phase it used to belong to).
  note?: string;
  builtin?: B;
  // The entries of earlier layers this one replaced or masked.
  replaces: PartEntry<B>[];
}

export interface LayerDirs {
  root: string;
  moduleDir?: string;
}

// Directories of one layer for a phase; NethServer's actions/restore-module/ joins the module's restore.
export function layerDirectories(phase: PhaseName, dirs: LayerDirs): Array<{ layer: Layer; dir: string }> {
  const out: Array<{ layer: Layer; dir: string }> = [{ layer: 'root', dir: path.join(dirs.root, 'hooks.d', phase) }];
  if (dirs.moduleDir) {
    if (phase === 'restore') out.push({ layer: 'module', dir: path.join(dirs.moduleDir, 'actions', 'restore-module') });
    out.push({ layer: 'module', dir: path.join(dirs.moduleDir, 'hooks.d', phase) });
  }
  return out;
}

// The old post-* folders whose moved built-in names join this action's finally phase (see MOVED_TO_FINALLY).
function movedLayers(phase: PhaseName, dirs: LayerDirs, action?: Action): Array<{ layer: Layer; dir: string; from: PhaseName; names: string[] }> {
  if (phase !== 'finally' || !action) return [];
  return Object.entries(MOVED_TO_FINALLY)
    .filter(([, moved]) => moved!.action === action)
    .flatMap(([from, moved]) => layerDirectories(from as PhaseName, dirs).map((layer) => ({ ...layer, from: from as PhaseName, names: moved!.names })));
}

// The parts of a phase in run order (C byte order of names), later layers replacing earlier ones.
// `builtins` are this phase's built-in parts (of this action), given by the caller in table order.
export function discoverPhase<B extends BuiltinPart>(phase: PhaseName, dirs: LayerDirs, builtins: B[], action?: Action): PartEntry<B>[] {
  const byName = new Map<string, PartEntry<B>>();
  const movedAway = new Set(MOVED_TO_FINALLY[phase]?.names ?? []);
  for (const { layer, dir, from, names } of movedLayers(phase, dirs, action)) {
    for (const name of readNames(dir).filter((n) => names.includes(n))) {
      const entry = classify<B>(phase, layer, path.join(dir, name), name);
      if (!entry) continue;
      entry.note = `${from}/${name} now belongs to finally/ (it runs after a failure too); it was taken there: move ${entry.path} to hooks.d/finally/`;
      byName.set(name, entry);
    }
  }
  for (const builtin of builtins) {
    const moved = byName.get(builtin.name);
    byName.set(builtin.name, {
      phase,
      name: builtin.name,
      layer: 'builtin',
      path: path.join(PROJECT_DIR, 'hooks.d', phase, builtin.name),
      status: 'run',
      builtin,
      replaces: [],
    });
    if (moved) byName.set(builtin.name, { ...moved, replaces: [byName.get(builtin.name)!] });
  }
  for (const { layer, dir } of layerDirectories(phase, dirs)) {
    for (const name of readNames(dir)) {
      if (movedAway.has(name)) continue;
      const entry = classify<B>(phase, layer, path.join(dir, name), name);
      if (!entry) continue;
      const earlier = byName.get(name);
      if (earlier) entry.replaces = [...earlier.replaces, earlier];
      byName.set(name, entry);
    }
  }
  return [...byName.values()].sort((a, b) => compareBytes(a.name, b.name));
}

// Names in a hook directory that run-parts would consider; a missing directory has none.
function readNames(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => DEFAULT_NAME_RE.test(name));
  } catch {
    return [];
  }
}

// Decides what one file is: a part to run, a mask, a skipped or refused file; directories are not parts.
function classify<B extends BuiltinPart>(phase: PhaseName, layer: Layer, file: string, name: string): PartEntry<B> | undefined {
  const base = { phase, name, layer, path: file, replaces: [] as PartEntry<B>[] };
  let link: Stats;
  try {
    link = lstatSync(file);
  } catch {
    return undefined;
  }
  if (link.isSymbolicLink()) {
    const target = readlinkSync(file);
    if (path.resolve(path.dirname(file), target) === '/dev/null') return { ...base, status: 'masked', reason: 'symlink to /dev/null' };
    // Whoever owns the link chose what runs: a link of another user to a root-owned binary is refused.
    const linkOwner = unsafeOwner(link);
    if (linkOwner) return { ...base, status: 'refused', reason: `a symlink ${linkOwner}; fix with chown -h root` };
  }
  let stats: Stats;
  try {
    stats = statSync(file);
  } catch {
    // Like a forgotten chmod +x: a module's own part whose target is gone is an error, a warning elsewhere.
    if (layer === 'module' && link.isSymbolicLink()) return { ...base, status: 'refused', reason: `dangling symlink (its target ${readlinkSync(file)} does not exist); a module's own part must run: point it at the script, or remove it (a symlink to /dev/null masks a part)` };
    return { ...base, status: 'skipped', reason: 'dangling symlink' };
  }
  if (stats.isDirectory()) return undefined;
  if (!stats.isFile()) return { ...base, status: 'skipped', reason: 'not a regular file' };
  if (stats.size === 0) return { ...base, status: 'masked', reason: 'empty file' };
  const unsafe = unsafeReason(stats);
  if (unsafe) return { ...base, status: 'refused', reason: `${unsafe}; fix with chmod go-w or chown root` };
  if ((stats.mode & 0o111) === 0) {
    // A forgotten chmod +x in a module's own hooks must not pass silently: an error there, a warning elsewhere.
    if (layer === 'module') return { ...base, status: 'refused', reason: `not executable; a module's own part must be: chmod +x ${file} (or empty it to mask a part)` };
    return { ...base, status: 'skipped', reason: 'not executable (chmod +x to run it)' };
  }
  return { ...base, status: 'run' };
}

// "owned by another user (uid N)" for a file of a user that is neither root nor the one running Lifeboat.
function unsafeOwner(stats: Stats): string | undefined {
  const me = process.getuid?.() ?? 0;
  return stats.uid !== 0 && stats.uid !== me ? `owned by another user (uid ${stats.uid})` : undefined;
}
