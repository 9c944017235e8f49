// The run journal: records as JSON lines, a torn last line, killed runs read as interrupted, last results.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT } from '../helpers/root.js';
import { afterAll, describe, expect, it } from 'vitest';
import { stateLayout } from '../../src/config/paths.js';
import { journalEnd, journalRuns, journalStart, lastResults, readJournal } from '../../src/state/journal.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-journal-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// A state dir that does not exist yet.
function stateDir(): string {
  return path.join(mkdtempSync(path.join(work, 's-')), 'state');
}

// One complete run: start then end.
function completeRun(dir: string, runId: string, module: string, result: 'success' | 'failure' | 'skipped', extra: { error?: string; action?: string } = {}): void {
  const action = extra.action ?? 'backup';
  journalStart(dir, { runId, module, action });
  journalEnd(dir, { runId, module, action, result, snapshots: result === 'success' ? [{ repository: 'local', id: `snap-${runId}` }] : [], bytes: 42, durationMs: 1500, failedPart: result === 'failure' ? 'pre-backup/20dump_databases' : undefined, error: extra.error });
}

describe('journal', () => {
  it('appends one JSON line per record, creating the state dir 0700 and the file 0600', () => {
    const dir = stateDir();
    const start = journalStart(dir, { runId: 'r1', module: 'wiki', action: 'backup', host: 'h1', time: new Date('2026-01-01T03:00:00Z') });
    const end = journalEnd(dir, { runId: 'r1', module: 'wiki', action: 'backup', result: 'success', snapshots: [{ repository: 'local', id: 'abc' }], bytes: 1234, durationMs: 2000.4, time: new Date('2026-01-01T03:00:02Z') });
    const file = stateLayout(dir).journal;
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0]!)).toEqual({ type: 'start', runId: 'r1', module: 'wiki', action: 'backup', time: '2026-01-01T03:00:00.000Z', host: 'h1', pid: process.pid, startTime: start.startTime });
    expect(JSON.parse(lines[1]!)).toEqual({ type: 'end', runId: 'r1', module: 'wiki', action: 'backup', time: '2026-01-01T03:00:02.000Z', result: 'success', snapshots: [{ repository: 'local', id: 'abc' }], bytes: 1234, durationMs: 2000 });
    expect(readJournal(dir)).toEqual([start, end]);
  });

  it('reads a missing journal as empty', () => {
    expect(readJournal(stateDir())).toEqual([]);
    expect(lastResults(stateDir()).size).toBe(0);
  });

  it('masks the error text and keeps every line under PIPE_BUF', () => {
    const dir = stateDir();
    journalStart(dir, { runId: 'r1', module: 'wiki', action: 'backup' });
    const long = `password=hunter22 ${'x'.repeat(10_000)}`;
    journalEnd(dir, { runId: 'r1', module: 'wiki', action: 'backup', result: 'failure', durationMs: 5, failedPart: 'backup/50snapshot', error: long }, (text) => text.replaceAll('hunter22', '***'));
    const text = readFileSync(stateLayout(dir).journal, 'utf8');
    for (const line of text.split('\n')) expect(Buffer.byteLength(line)).toBeLessThan(4096);
    expect(text).not.toContain('hunter22');
    const end = readJournal(dir)[1];
    expect(end).toMatchObject({ type: 'end', result: 'failure', failedPart: 'backup/50snapshot' });
    expect(end?.type === 'end' && end.error?.startsWith('password=*** xxx')).toBe(true);
  });

  it('tolerates a torn last line, and recovers a record appended after one', () => {
    const dir = stateDir();
    completeRun(dir, 'r1', 'wiki', 'success');
    appendFileSync(stateLayout(dir).journal, '{"type":"start","runId":"r2","mod');
    expect(readJournal(dir)).toHaveLength(2);
    completeRun(dir, 'r3', 'wiki', 'failure', { error: 'boom' });
    const records = readJournal(dir);
    expect(records.map((record) => `${record.type}:${record.runId}`)).toEqual(['start:r1', 'end:r1', 'start:r3', 'end:r3']);
  });

  it('reads a start without an end as an interrupted run once its process is gone', async () => {
    const dir = stateDir();
    completeRun(dir, 'r1', 'wiki', 'success');
    // A real run process that writes its start record and is then killed with SIGKILL.
    const child = spawn(process.execPath, ['-e', `require('fs').appendFileSync(${JSON.stringify(stateLayout(dir).journal)}, JSON.stringify({type:'start',runId:'r2',module:'wiki',action:'backup',time:new Date().toISOString(),host:require('os').hostname(),pid:process.pid}) + '\\n'); console.log('started'); setInterval(() => {}, 1000)`]);
    await new Promise((resolve) => child.stdout.once('data', resolve));
    expect(journalRuns(dir).at(-1)).toMatchObject({ runId: 'r2', result: 'running' });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const runs = journalRuns(dir);
    expect(runs.map((run) => run.result)).toEqual(['success', 'interrupted']);
    expect(runs[1]?.error).toMatch(/^interrupted/);
    const results = lastResults(dir).get('wiki');
    expect(results?.last?.runId).toBe('r2');
    expect(results?.lastFailure?.runId).toBe('r2');
    expect(results?.lastSuccess?.runId).toBe('r1');
  });

  it('reads a start followed by a later run of the same module as interrupted, even if the pid lives', () => {
    const dir = stateDir();
    journalStart(dir, { runId: 'r1', module: 'wiki', action: 'backup' });
    completeRun(dir, 'r2', 'wiki', 'success');
    expect(journalRuns(dir).map((run) => `${run.runId}:${run.result}`)).toEqual(['r1:interrupted', 'r2:success']);
  });

  it('keeps the last run, last success and last failure of each module, optionally per action', () => {
    const dir = stateDir();
    completeRun(dir, 'a1', 'wiki', 'success');
    completeRun(dir, 'a2', 'wiki', 'failure', { error: 'dump failed' });
    completeRun(dir, 'b1', 'chat', 'failure');
    completeRun(dir, 'a3', 'wiki', 'skipped');
    completeRun(dir, 'b2', 'chat', 'success');
    completeRun(dir, 'v1', 'chat', 'failure', { action: 'verify' });
    const all = lastResults(dir);
    expect(all.get('wiki')).toMatchObject({ last: { runId: 'a3', result: 'skipped' }, lastSuccess: { runId: 'a1', snapshots: [{ repository: 'local', id: 'snap-a1' }] }, lastFailure: { runId: 'a2', error: 'dump failed', failedPart: 'pre-backup/20dump_databases' } });
    expect(all.get('chat')).toMatchObject({ last: { runId: 'v1' }, lastSuccess: { runId: 'b2' }, lastFailure: { runId: 'v1' } });
    const backups = lastResults(dir, { action: 'backup' });
    expect(backups.get('chat')).toMatchObject({ last: { runId: 'b2' }, lastFailure: { runId: 'b1' } });
  });

  it('keeps records whole when Lifeboat processes write at the same time', async () => {
    // Eight processes, each running Lifeboat's own journal writer (the built journal module) for 100
    // runs of start and end records with long errors: every record must come back whole and in its
    // process's order.
    const dir = stateDir();
    journalStart(dir, { runId: 'seed', module: 'wiki', action: 'backup' });
    const writer = pathToFileURL(path.join(PROJECT, 'dist', 'src', 'state', 'journal.js')).href;
    const script = `
      const { journalStart, journalEnd } = await import(${JSON.stringify(writer)});
      const [dir, who] = process.argv.slice(1);
      for (let i = 0; i < 100; i++) {
        const runId = who + '-' + i;
        journalStart(dir, { runId, module: 'wiki', action: 'backup' });
        journalEnd(dir, { runId, module: 'wiki', action: 'backup', result: 'failure', snapshots: [], bytes: i, durationMs: 1, failedPart: 'backup/50snapshot', error: who.repeat(1500) });
      }`;
    const exits = await Promise.all(
      Array.from({ length: 8 }, (_, index) => new Promise<number | null>((resolve) => spawn(process.execPath, ['--input-type=module', '-e', script, dir, `p${index}`], { stdio: 'inherit' }).once('exit', resolve))),
    );
    expect(exits).toEqual(Array(8).fill(0));
    const records = readJournal(dir);
    expect(records).toHaveLength(1 + 8 * 200);
    for (let index = 0; index < 8; index++) {
      const who = `p${index}`;
      const mine = records.filter((r) => r.runId.startsWith(`${who}-`));
      expect(mine.map((r) => `${r.type}:${r.runId}`)).toEqual(Array.from({ length: 100 }, (_, i) => [`start:${who}-${i}`, `end:${who}-${i}`]).flat());
      for (const record of mine.filter((r) => r.type === 'end')) expect(record).toMatchObject({ result: 'failure', error: who.repeat(1500) });
    }
  });
});
