// The run journal: one JSON line when a module's run starts and one when it ends, appended to
// <state dir>/journal.jsonl; `status` and `report` read it. A start without an end is a killed run.
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stateLayout } from '../config/paths.js';
import { escapeControl } from '../log/control.js';
import { isProcessAlive, processStartTime } from './lock.js';

export type RunResult = 'success' | 'failure' | 'skipped';

export interface JournalSnapshot {
  repository: string;
  id: string;
}

export interface JournalStartRecord {
  type: 'start';
  runId: string;
  module: string;
  action: string;
  time: string;
  host: string;
  pid: number;
  // The process's start time, so a reused pid does not make a killed run look alive.
  startTime?: string | null;
}

export interface JournalEndRecord {
  type: 'end';
  runId: string;
  module: string;
  action: string;
  time: string;
  result: RunResult;
  snapshots: JournalSnapshot[];
  // Snapshots the run's retention removed (backup, post-backup/60retention); left out when none.
  removed?: JournalSnapshot[];
  // Safety snapshots an in-place restore took of the state it replaced; left out when none.
  safety?: JournalSnapshot[];
  // Repositories where that retention pruned (restic prune, borg compact); left out when none.
  pruned?: string[];
  bytes: number;
  durationMs: number;
  failedPart?: string;
  error?: string;
  // The fix the failure named (a LifeboatError's hint); left out when it named none.
  hint?: string;
  // The failure's error code (src/errors.ts); left out on success.
  code?: string;
}

export type JournalRecord = JournalStartRecord | JournalEndRecord;

// One run as read back: its start and end joined; 'interrupted' when it has no end and its process is gone.
export interface JournalRun {
  runId: string;
  module: string;
  action: string;
  host: string;
  pid: number | null;
  started: string;
  ended?: string;
  result: RunResult | 'interrupted' | 'running';
  snapshots: JournalSnapshot[];
  bytes: number;
  durationMs?: number;
  failedPart?: string;
  error?: string;
  hint?: string;
  code?: string;
}

export interface ModuleResults {
  // The run that started earliest (of the action asked for).
  first?: JournalRun;
  last?: JournalRun;
  lastSuccess?: JournalRun;
  // The latest failure or interrupted run.
  lastFailure?: JournalRun;
}

// Each line stays below PIPE_BUF (4096) so appends from parallel runs never interleave.
const MAX_LINE_BYTES = 4000;
const INTERRUPTED_ERROR = 'interrupted: the run ended without an end record (killed, or the host went down)';

// Called when a module's run begins (after its lock is taken).
export function journalStart(stateDir: string, run: { runId: string; module: string; action: string; host?: string; time?: Date }): JournalStartRecord {
  const record: JournalStartRecord = {
    type: 'start',
    runId: run.runId,
    module: run.module,
    action: run.action,
    time: (run.time ?? new Date()).toISOString(),
    host: run.host ?? os.hostname(),
    pid: process.pid,
    startTime: processStartTime(process.pid),
  };
  appendRecord(stateDir, record);
  return record;
}

// Called when a module's run ends, whatever the result; `mask` hides secrets in the error text.
export function journalEnd(
  stateDir: string,
  run: {
    runId: string;
    module: string;
    action: string;
    result: RunResult;
    snapshots?: JournalSnapshot[];
    removed?: JournalSnapshot[];
    safety?: JournalSnapshot[];
    pruned?: string[];
    bytes?: number;
    durationMs: number;
    failedPart?: string | null;
    error?: string | null;
    hint?: string | null;
    code?: string | null;
    time?: Date;
  },
  mask: (text: string) => string = (text) => text,
): JournalEndRecord {
  const record: JournalEndRecord = {
    type: 'end',
    runId: run.runId,
    module: run.module,
    action: run.action,
    time: (run.time ?? new Date()).toISOString(),
    result: run.result,
    snapshots: (run.snapshots ?? []).map(({ repository, id }) => ({ repository, id })),
    bytes: run.bytes ?? 0,
    durationMs: Math.round(run.durationMs),
  };
  if (run.removed?.length) record.removed = run.removed.map(({ repository, id }) => ({ repository, id }));
  if (run.safety?.length) record.safety = run.safety.map(({ repository, id }) => ({ repository, id }));
  if (run.pruned?.length) record.pruned = [...run.pruned];
  // Error texts hold what parts and servers said: control characters are stored escaped.
  if (run.failedPart) record.failedPart = escapeControl(run.failedPart);
  if (run.error) record.error = escapeControl(mask(run.error));
  if (run.error && run.hint) record.hint = escapeControl(mask(run.hint));
  if (run.error && run.code) record.code = escapeControl(run.code);
  appendRecord(stateDir, record);
  return record;
}

// Reads every record in order; a torn line (a crash mid-write) is skipped, or recovered when a later
// record was glued onto it.
export function readJournal(stateDir: string): JournalRecord[] {
  let text: string;
  try {
    text = readFileSync(stateLayout(stateDir).journal, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const records: JournalRecord[] = [];
  for (const line of text.split('\n')) {
    const record = parseLine(line) ?? parseLine(line.slice(Math.max(0, line.lastIndexOf('{"type":'))));
    if (record) records.push(record);
  }
  return records;
}

// Joins starts and ends into runs, in the order they started.
export function journalRuns(stateDir: string): JournalRun[] {
  const runs = new Map<string, JournalRun>();
  const startTimes = new Map<string, string | null>();
  for (const record of readJournal(stateDir)) {
    if (record.type === 'start') {
      runs.set(record.runId, { runId: record.runId, module: record.module, action: record.action, host: record.host, pid: record.pid, started: record.time, result: 'running', snapshots: [], bytes: 0 });
      startTimes.set(record.runId, record.startTime ?? null);
      continue;
    }
    const run = runs.get(record.runId) ?? { runId: record.runId, module: record.module, action: record.action, host: '', pid: null, started: new Date(Date.parse(record.time) - record.durationMs).toISOString(), result: 'running', snapshots: [], bytes: 0 };
    // Escaped again on reading: a journal written by an older version may hold raw control characters.
    const failedPart = record.failedPart === undefined ? undefined : escapeControl(String(record.failedPart));
    const error = record.error === undefined ? undefined : escapeControl(String(record.error));
    const hint = record.hint === undefined ? undefined : escapeControl(String(record.hint));
    const code = record.code === undefined ? undefined : escapeControl(String(record.code));
    Object.assign(run, { ended: record.time, result: record.result, snapshots: record.snapshots, bytes: record.bytes, durationMs: record.durationMs, failedPart, error, hint, code });
    runs.set(record.runId, run);
  }
  const list = [...runs.values()];
  list.forEach((run, index) => {
    if (run.result !== 'running') return;
    const later = list.slice(index + 1).some((other) => other.module === run.module);
    const alive = !later && run.host === os.hostname() && run.pid !== null && isProcessAlive(run.pid, startTimes.get(run.runId));
    if (!alive) Object.assign(run, { result: 'interrupted', error: INTERRUPTED_ERROR });
  });
  return list;
}

// The latest run, success and failure of each module (optionally of one action), for `status` and `report`.
export function lastResults(stateDir: string, options: { action?: string } = {}): Map<string, ModuleResults> {
  const results = new Map<string, ModuleResults>();
  for (const run of journalRuns(stateDir)) {
    if (options.action && run.action !== options.action) continue;
    const entry = results.get(run.module) ?? {};
    if (!entry.first || run.started < entry.first.started) entry.first = run;
    entry.last = run;
    if (run.result === 'success') entry.lastSuccess = run;
    if (run.result === 'failure' || run.result === 'interrupted') entry.lastFailure = run;
    results.set(run.module, entry);
  }
  return results;
}

// The successful backups of a module that left a snapshot in `repository`: how many, and the last one's
// time (a repository that now lists none of them has vanished: an unmounted disk, a moved folder).
export function earlierBackups(stateDir: string, module: string, repository: string): { count: number; last?: string } {
  let count = 0;
  let last: string | undefined;
  for (const record of readJournal(stateDir)) {
    if (record.type !== 'end' || record.module !== module || record.action !== 'backup' || record.result !== 'success') continue;
    if (!record.snapshots.some((snapshot) => snapshot.repository === repository)) continue;
    count++;
    last = record.time;
  }
  return { count, last };
}

// Appends one record as one line with one write; creates the state dir 0700 and the file 0600.
function appendRecord(stateDir: string, record: JournalRecord): void {
  const file = stateLayout(stateDir).journal;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  appendFileSync(file, fitLine(record), { mode: 0o600 });
}

// Serialises a record, shortening its list of removed snapshots, then its hint and error texts, then its
// snapshot list until the line fits MAX_LINE_BYTES.
function fitLine(record: JournalRecord): string {
  let line = `${JSON.stringify(record)}\n`;
  while (Buffer.byteLength(line) > MAX_LINE_BYTES && record.type === 'end') {
    if (record.removed?.length) record.removed = record.removed.slice(0, -1);
    else if (record.hint && record.hint.length > 16) record.hint = `${record.hint.slice(0, Math.floor(record.hint.length / 2))}…`;
    else if (record.hint) delete record.hint;
    else if (record.error && record.error.length > 16) record.error = `${record.error.slice(0, Math.floor(record.error.length / 2))}…`;
    else if (record.error) delete record.error;
    else if (record.snapshots.length > 0) record.snapshots = record.snapshots.slice(0, -1);
    else break;
    line = `${JSON.stringify(record)}\n`;
  }
  return line;
}

// One line to a record, or undefined when it is not a whole, well-formed record.
function parseLine(line: string): JournalRecord | undefined {
  if (!line.trim()) return undefined;
  try {
    const value = JSON.parse(line) as Partial<JournalRecord>;
    if ((value.type !== 'start' && value.type !== 'end') || typeof value.runId !== 'string' || typeof value.module !== 'string') return undefined;
    if (value.type === 'end' && !Array.isArray(value.snapshots)) value.snapshots = [];
    return value as JournalRecord;
  } catch {
    return undefined;
  }
}
