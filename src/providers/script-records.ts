// What Lifeboat knows of the snapshots a script provider's `create` made: module, time, paths, tags (so
// the kind) and host, in
// <state>/providers/<repository>/snapshots.json, so a `list` without `time` or `module` still dates and
// separates them and a `restore` gets exactly the paths the snapshot holds.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface SnapshotRecord {
  module: string;
  time: string;
  paths: string[];
  tags?: string[];
  host?: string;
}

export type Records = Record<string, SnapshotRecord>;

// The records file of one repository.
export function recordsFile(stateDir: string, repository: string): string {
  return path.join(stateDir, 'providers', repository, 'snapshots.json');
}

// Reads the records; a missing or damaged file is empty (Lifeboat then knows only what `list` says).
export function readRecords(file: string): Records {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Records) : {};
  } catch {
    return {};
  }
}

// Adds one record (written whole to a temp file, then renamed: 0600 in a 0700 folder).
export function addRecord(file: string, name: string, record: SnapshotRecord): void {
  const records = readRecords(file);
  records[name] = record;
  writeJson(file, records);
}

// Drops one record (its snapshot was forgotten).
export function removeRecord(file: string, name: string): void {
  const records = readRecords(file);
  if (!Object.hasOwn(records, name)) return;
  delete records[name];
  writeJson(file, records);
}

// A `create` that exited 0 but whose snapshot `list` did not show within the wait: the backup failed, but
// the snapshot may still appear. `before` holds the names listed before that create ran, `name` the name
// the create printed (when it printed one), `until` when Lifeboat stops waiting for it (then it is given up).
export interface LateCreate extends SnapshotRecord {
  before: string[];
  name?: string;
  until?: string;
}

// The late creates of one repository, beside its records.
export function lateFile(stateDir: string, repository: string): string {
  return path.join(stateDir, 'providers', repository, 'late-creates.json');
}

export function readLateCreates(file: string): LateCreate[] {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return Array.isArray(parsed) ? (parsed as LateCreate[]).filter((late) => late && typeof late.module === 'string' && Array.isArray(late.before)) : [];
  } catch {
    return [];
  }
}

export function writeLateCreates(file: string, late: LateCreate[]): void {
  writeJson(file, late);
}

// The snapshot a late create made: the one entry, of those Lifeboat did not record and that name no
// module, that was not listed before it ran (the one it printed, when that is listed). Undefined when
// there is none, or several (which is which?).
export function lateSnapshotOf(late: LateCreate, unrecorded: string[]): string | undefined {
  if (typeof late.name === 'string' && unrecorded.includes(late.name)) return late.name;
  const appeared = unrecorded.filter((name) => !late.before.includes(name));
  return appeared.length === 1 ? appeared[0] : undefined;
}

// Writes JSON whole to a temp file, then renames it (0600 in a 0700 folder).
function writeJson(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(value)}\n`, { mode: 0o600 });
  renameSync(temp, file);
}

// FOLDERS for a restore: the wanted paths the snapshot holds (or, asked for nothing, all it holds).
export function foldersToRestore(held: string[] | undefined, include: string[] | undefined): string[] {
  if (!held) return include ?? [];
  if (!include) return held;
  const under = (child: string, parent: string) => child === parent || child.startsWith(`${parent.replace(/\/+$/, '')}/`);
  const out = new Set<string>();
  for (const wanted of include) {
    for (const path of held) {
      if (under(wanted, path)) out.add(wanted);
      else if (under(path, wanted)) out.add(path);
    }
  }
  return [...out];
}
