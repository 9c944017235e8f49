// Thirty-five days with nobody watching: the clock is faked (libfaketime, Debian's `faketime`) and the job
// lines `lifeboat schedule --cron` generated run exactly as written, day by day, for a module with files
// and a PostgreSQL database, a daily backup and a weekly restore drill. A repository outage on days 10-12
// shows up as failure pings, status FAILED then STALE and check exit 1; on day 35 every drill ran and the
// latest backup restores exactly, and the snapshots left are exactly those keepDaily: 7, keepWeekly: 4
// allow. A damaged repository on day 20 fails that Sunday's drill, loudly.
// (restic is a static Go binary that libfaketime does not reach: Lifeboat hands it its own clock with
// `restic backup --time`, so snapshot times, the journal, retention and schedules share the faked clock.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import path from 'node:path';
import { stringify } from 'yaml';
import { makeRoot, type TestRoot, BIN } from '../helpers/root.js';
import { startHttpSink, type HttpSink } from '../helpers/http-sink.js';
import { createPostgres, describePostgres, dropPostgres, psql, uniqueName } from '../helpers/databases.js';
import { journalRuns } from '../../src/state/journal.js';
import { nextRun } from '../../src/config/cron.js';
import { requireTool } from '../ops/tools.js';

const BASE = Date.parse('2027-03-01T00:00:00Z'); // a Monday
const DAY = 86400_000;
let t: TestRoot;
let sink: HttpSink;
let db: string;

// Runs a command line under a faked clock, as cron would: /bin/sh -c LINE, a plain environment. Async, so
// the ping receiver in this process keeps answering.
async function runAt(time: number, line: string): Promise<{ status: number; stdout: string; stderr: string }> {
  const stamp = new Date(time).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
  const result = await execa('faketime', [stamp, '/bin/sh', '-c', line], { reject: false, extendEnv: false, env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', TZ: 'UTC', HOME: t.dir } });
  return { status: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

// `lifeboat ARGS` under the faked clock.
function lifeboatAt(time: number, args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return runAt(time, [process.execPath, BIN, '--root', t.root, '--state-dir', t.stateDir, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' '));
}

// Every data pack of a restic repository.
function packsOf(repo: string): string[] {
  const data = path.join(repo, 'data');
  return readdirSync(data).flatMap((dir) => readdirSync(path.join(data, dir)).map((name) => path.join(data, dir, name)));
}

// Flips bytes in the middle of a pack (restic's files are read-only: write through a fresh copy).
function damagePack(file: string): void {
  const bytes = readFileSync(file);
  for (let i = Math.floor(bytes.length / 2); i < Math.min(bytes.length, Math.floor(bytes.length / 2) + 64); i++) bytes[i] ^= 0xff;
  rmSync(file);
  writeFileSync(file, bytes);
}

beforeAll(async () => {
  requireTool('faketime');
  requireTool('restic');
  requireTool('pg_dump');
  t = makeRoot();
  sink = await startHttpSink();
  db = uniqueName();
  createPostgres(db);
  psql(db, 'CREATE TABLE days (d int PRIMARY KEY);');
  const pass = path.join(t.dir, 'restic.pass');
  writeFileSync(pass, 'thirty-five-days\n', { mode: 0o600 });
  t.write('lifeboat.yaml', stringify({ repositories: { local: { provider: 'restic', url: path.join(t.dir, 'repo'), passwordFile: pass } }, notify: [{ webhook: `${sink.url}/ping/app`, actions: ['backup', 'verify'] }] }));
  mkdirSync(path.join(t.dir, 'data'));
  t.module('app', {
    folders: [path.join(t.dir, 'data')],
    databases: [{ postgres: { database: db, host: '127.0.0.1', user: 'postgres' } }],
    schedule: '0 3 * * *',
    verify: { schedule: '30 4 * * 0' },
    retention: { keepDaily: 7, keepWeekly: 4 },
  });
});
afterAll(async () => {
  dropPostgres(db);
  await sink?.close();
  t?.cleanup();
});

describe('thirty-five days', () => {
  it('runs the generated cron lines day by day; an outage is loud; every drill ran; the latest backup restores exactly', async () => {
    const schedule = await lifeboatAt(BASE, ['schedule', '--cron']);
    expect(schedule.status, schedule.stderr).toBe(0);
    const jobs = schedule.stdout.trim().split('\n').map((line) => {
      const fields = line.split(' ');
      return { cron: fields.slice(0, 5).join(' '), command: fields.slice(5).join(' ') };
    });
    expect(jobs.map((job) => job.command.split(' ').slice(6).join(' '))).toEqual(['-q backup app', '-q verify --wait 21600 app']);

    // The repository's disk is gone for three days (10-12), and on day 20 (a Sunday) every data pack is
    // damaged between the backup and the drill; the operator puts the repository back afterwards.
    const outage = [10, 11, 12];
    const damage = 20;
    for (let day = 0; day < 35; day++) {
      const start = BASE + day * DAY;
      writeFileSync(path.join(t.dir, 'data', `day-${day}.txt`), `written on day ${day}\n`);
      psql(db, `INSERT INTO days VALUES (${day});`);
      const repo = path.join(t.dir, 'repo');
      if (day === outage[0]) {
        renameSync(repo, `${repo}.away`);
        writeFileSync(repo, 'the disk is not mounted\n');
      }
      // Every job whose cron expression fires during this day, in time order.
      const due: Array<{ time: number; command: string }> = [];
      for (const job of jobs) {
        for (let at = nextRun(job.cron, new Date(start - 1)); at && at.getTime() < start + DAY; at = nextRun(job.cron, at)) due.push({ time: at.getTime(), command: job.command });
      }
      due.sort((a, b) => a.time - b.time);
      for (const job of due) {
        const drill = job.command.endsWith(' verify --wait 21600 app');
        if (day === damage && drill) {
          cpSync(repo, `${repo}.good`, { recursive: true });
          for (const pack of packsOf(path.join(repo, 'app'))) damagePack(pack);
        }
        const pings = sink.received.length;
        const run = await runAt(job.time, job.command);
        if (outage.includes(day) || (day === damage && drill)) {
          expect(run.status, run.stderr).toBe(1);
          expect(sink.received.slice(pings).map((r) => r.url.split('?')[0])).toEqual(['/ping/app/start', '/ping/app/fail']);
        } else {
          expect(run.status, `day ${day}: ${job.command}\n${run.stderr}`).toBe(0);
        }
      }
      if (outage.includes(day)) {
        const status = JSON.parse((await lifeboatAt(start + 4 * 3600_000, ['status', '--json'])).stdout);
        // FAILED at once; STALE once the last success (day 9, 03:00) is older than twice the daily interval.
        expect(status.modules[0].state).toBe(day === outage[0] ? 'failed' : 'stale');
        const check = await lifeboatAt(start + 4 * 3600_000, ['check']);
        expect(check.status).toBe(1);
        expect(check.stdout).toMatch(/^FAIL +repository local \(module app\) +cannot be opened: /m);
        if (day === outage[2]) expect(check.stdout).toMatch(/^FAIL +module app +STALE: last success /m);
      }
      if (day === outage[2]) {
        rmSync(repo);
        renameSync(`${repo}.away`, repo);
      }
      if (day === outage[2] + 1) expect(JSON.parse((await lifeboatAt(start + 4 * 3600_000, ['status', '--json'])).stdout).modules[0].state).toBe('ok');
      if (day === damage) {
        const status = JSON.parse((await lifeboatAt(start + 5 * 3600_000, ['status', '--json'])).stdout);
        expect(status.modules[0].verify.result).toBe('failure');
        const check = await lifeboatAt(start + 5 * 3600_000, ['check']);
        expect(check.status).toBe(1);
        expect(check.stdout).toMatch(/^FAIL +module app \(restore drill\) +the last drill FAILED /m);
        rmSync(repo, { recursive: true });
        renameSync(`${repo}.good`, repo);
      }
    }

    const runs = journalRuns(t.stateDir);
    const backups = runs.filter((run) => run.action === 'backup');
    const drills = runs.filter((run) => run.action === 'verify');
    expect(backups).toHaveLength(35);
    expect(backups.filter((run) => run.result === 'failure').map((run) => run.started.slice(0, 10))).toEqual(['2027-03-11', '2027-03-12', '2027-03-13']);
    // Every Sunday's drill ran: 7, 14, 21 (the damaged repository), 28 March and 4 April.
    expect(drills.map((run) => `${run.started.slice(0, 10)} ${run.result}`)).toEqual(['2027-03-07 success', '2027-03-14 success', '2027-03-21 failure', '2027-03-28 success', '2027-04-04 success']);
    const end = BASE + 35 * DAY;
    const check = await lifeboatAt(end, ['check']);
    expect(check.status, check.stdout).toBe(0);
    expect(check.stdout).toMatch(/^OK +module app \(restore drill\) +last drill passed 2027-04-04 04:3\dZ$/m);

    // Retention kept exactly what keepDaily: 7, keepWeekly: 4 allow of the backups of days 0-9 and 13-34
    // (each at 03:00): the last backup of each of the 7 newest days (29 March - 4 April) and of the 4
    // newest ISO weeks (whose newest backups are 4 April, 28, 21 and 14 March).
    const listed = await lifeboatAt(end, ['snapshots', 'app', '--json']);
    expect(listed.status, listed.stderr).toBe(0);
    const snapshots = JSON.parse(listed.stdout) as Array<{ time: string; kind: string }>;
    expect(snapshots.map((s) => `${s.kind} ${s.time.slice(0, 13)}`)).toEqual(
      ['03-14', '03-21', '03-28', '03-29', '03-30', '03-31', '04-01', '04-02', '04-03', '04-04'].map((day) => `backup 2027-${day}T03`),
    );

    // The latest backup restores exactly: files and database, in place.
    const expectedDb = describePostgres(db) + psql(db, 'SELECT string_agg(d::text, \',\' ORDER BY d) FROM days;');
    const expectedFiles = Object.fromEntries(Array.from({ length: 35 }, (_, day) => [`day-${day}.txt`, `written on day ${day}\n`]));
    for (const name of readdirSync(path.join(t.dir, 'data'))) rmSync(path.join(t.dir, 'data', name));
    writeFileSync(path.join(t.dir, 'data', 'damage.txt'), 'not in any backup\n');
    psql(db, 'DELETE FROM days; DELETE FROM items;');
    const restore = await lifeboatAt(end, ['restore', 'app']);
    expect(restore.status, restore.stderr).toBe(0);
    expect(readdirSync(path.join(t.dir, 'data')).sort()).toEqual(Object.keys(expectedFiles).sort());
    for (const [name, content] of Object.entries(expectedFiles)) expect(readFileSync(path.join(t.dir, 'data', name), 'utf8')).toBe(content);
    expect(describePostgres(db) + psql(db, 'SELECT string_agg(d::text, \',\' ORDER BY d) FROM days;')).toBe(expectedDb);
  }, 1_800_000);
});
