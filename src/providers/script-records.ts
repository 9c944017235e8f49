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
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(records)}\n`, { mode: 0o600 });
  renameSync(temp, file);
}

// Drops one record (its snapshot was forgotten).
export function removeRecord(file: string, name: string): void {
  const records = readRecords(file);
  if (!Object.hasOwn(records, name)) return;
  delete records[name];
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(records)}\n`, { mode: 0o600 });
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
