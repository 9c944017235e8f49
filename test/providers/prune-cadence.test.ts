// Pruning on its own cadence: retention forgets after every backup, but restic `prune` and borg `compact`
// (which rewrite data and lock the repository exclusively) run only when forgotten data waits and the
// repository's prune.every has passed since the last prune. The clock is faked (libfaketime) for
// Lifeboat; restic and borg get Lifeboat's time for their snapshots (restic --time, borg --timestamp).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { BIN, makeRoot, type TestRoot } from '../helpers/root.js';
import { requireTool } from '../ops/tools.js';

const BASE = Date.parse('2027-05-03T03:00:00Z');
const DAY = 86400_000;
let t: TestRoot;
let data: string;

// `lifeboat ARGS` with Lifeboat's clock at `time`.
async function lifeboatAt(time: number, args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const stamp = new Date(time).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');
  const result = await execa('faketime', [stamp, process.execPath, BIN, '--root', t.root, '--state-dir', t.stateDir, ...args], { reject: false, env: { TZ: 'UTC' } });
  return { status: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

// The data packs of the module's restic repository.
function resticPacks(): number {
  const dir = path.join(t.dir, 'restic', 'app', 'data');
  return readdirSync(dir).reduce((sum, sub) => sum + readdirSync(path.join(dir, sub)).length, 0);
}

// A day's backup: yesterday's file goes, today's (incompressible, so it needs packs of its own) comes.
async function backupOnDay(day: number): Promise<{ pruned: string[]; removed: number; stdout: string; stderr: string }> {
  for (const name of readdirSync(data)) rmSync(path.join(data, name));
  writeFileSync(path.join(data, `day-${day}.bin`), randomBytes(300_000));
  const run = await lifeboatAt(BASE + day * DAY, ['backup', 'app', '--json']);
  expect(run.status, run.stderr).toBe(0);
  const result = JSON.parse(run.stdout).modules[0];
  return { pruned: result.pruned, removed: result.removed.length, stdout: run.stdout, stderr: run.stderr };
}

beforeAll(() => {
  requireTool('faketime');
  requireTool('restic');
  requireTool('borg');
  t = makeRoot();
  const pass = path.join(t.dir, 'pass');
  writeFileSync(pass, 'prune-cadence\n', { mode: 0o600 });
  t.write('lifeboat.yaml', stringify({
    repositories: {
      local: { provider: 'restic', url: path.join(t.dir, 'restic'), passwordFile: pass },
      vault: { provider: 'borg', url: path.join(t.dir, 'borg'), passwordFile: pass, prune: { every: '7d' } },
    },
  }));
  data = path.join(t.dir, 'data');
  mkdirSync(data);
  t.module('app', { folders: [data], retention: { keepLast: 1 } });
});
afterAll(() => t?.cleanup());

describe('prune on its own cadence (restic prune, borg compact)', () => {
  it('prunes the first time, not again within prune.every, then again once it has passed', async () => {
    // Day 0: nothing forgotten, nothing to prune.
    expect(await backupOnDay(0)).toMatchObject({ removed: 0, pruned: [] });
    // Day 1: the first forget that removed something prunes at once (never pruned before).
    const first = await backupOnDay(1);
    expect(first).toMatchObject({ removed: 2, pruned: ['local', 'vault'] });
    expect(first.stderr).toMatch(/app in local: pruned \(freed the space of forgotten snapshots\) in \d+\.\ds; next due in 7d/);
    // Day 2: forgotten, not pruned (the last prune is a day old): the log says when it is due.
    const second = await backupOnDay(2);
    expect(second).toMatchObject({ removed: 2, pruned: [] });
    expect(second.stderr).toContain('app in local: the space of forgotten snapshots is freed by the next prune, due 2027-05-11T03:00:');
    expect(second.stderr).toContain('app in vault: the space of forgotten snapshots is freed by the next prune, due 2027-05-11T03:00:');
    const state = JSON.parse(readFileSync(path.join(t.stateDir, 'prune.json'), 'utf8'));
    expect(Object.keys(state).sort()).toEqual(['local/app', 'vault/app']);
    expect(state['local/app']).toMatchObject({ pending: true });
    expect(state['local/app'].last).toMatch(/^2027-05-04T03:00:/);
    // Day 8: a week after the last prune, the forgotten data of days 1 and 2 is freed.
    const before = resticPacks();
    const third = await backupOnDay(8);
    expect(third).toMatchObject({ removed: 2, pruned: ['local', 'vault'] });
    expect(resticPacks()).toBeLessThan(before);
    expect(JSON.parse(readFileSync(path.join(t.stateDir, 'prune.json'), 'utf8'))['local/app']).toEqual({ last: expect.stringMatching(/^2027-05-11T03:00:/), pending: false });

    // The journal and the text summary say where a prune ran.
    const ends = readFileSync(path.join(t.stateDir, 'journal.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line)).filter((record) => record.type === 'end');
    expect(ends.map((record) => record.pruned ?? [])).toEqual([[], ['local', 'vault'], [], ['local', 'vault']]);
    for (const name of readdirSync(data)) rmSync(path.join(data, name));
    writeFileSync(path.join(data, 'day-20.bin'), randomBytes(1000));
    const text = await lifeboatAt(BASE + 20 * DAY, ['backup', 'app']);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^summary app local: 1 files, .* total, .* stored, 1 snapshot\(s\) removed, pruned, \d+\.\ds$/m);

    // `forget --prune` prunes whatever the cadence says.
    const forget = await lifeboatAt(BASE + 21 * DAY, ['forget', 'app', '--prune', '--json']);
    expect(forget.status, forget.stderr).toBe(0);
    expect(JSON.parse(forget.stdout).modules.map((m: { repository: string; pruned?: boolean }) => `${m.repository} ${m.pruned}`)).toEqual(['local true', 'vault true']);
  }, 600_000);
});
