// Lifeboat's record of the snapshots a script provider's `create` made, per repository and module:
// <state>/providers/<repository>/<module>.json, `{ "<name>": { "time": ISO, "tags": [...], "host": H } }`.
// A `list` that prints only names still gets each snapshot's time, host and tags (so its kind) from it.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface RecordedSnapshot {
  time: string;
  tags: string[];
  host?: string;
}

export type SnapshotRecord = Record<string, RecordedSnapshot>;

// Where the record of one module in one repository lives.
export function recordFile(stateDir: string, repository: string, module: string): string {
  return path.join(stateDir, 'providers', encodeURIComponent(repository), `${encodeURIComponent(module)}.json`);
}

// Reads the record; a missing or unreadable file is an empty record (nothing recorded on this host).
export function readRecord(file: string): SnapshotRecord {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
    const record: SnapshotRecord = {};
    for (const [name, entry] of Object.entries(value as Record<string, Partial<RecordedSnapshot>>)) {
      if (typeof entry?.time !== 'string' || !Array.isArray(entry.tags)) continue;
      record[name] = { time: entry.time, tags: entry.tags.filter((tag): tag is string => typeof tag === 'string'), ...(typeof entry.host === 'string' ? { host: entry.host } : {}) };
    }
    return record;
  } catch {
    return {};
  }
}

// Changes the record atomically (temporary file, rename; 0600 in a 0700 folder).
export function updateRecord(file: string, change: (record: SnapshotRecord) => void): void {
  const record = readRecord(file);
  change(record);
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    renameSync(temp, file);
  } finally {
    rmSync(temp, { force: true });
  }
}
