// Concurrency: ten simultaneous runs of one module. Without --wait exactly one runs and the nine others
// exit 3 at once; with --wait all ten run, one after another, never two at a time. Over providers: the
// `copy` script provider with ten runs, real restic and borg with four (each run is a real backup; the
// repository, listed by the tool itself, must hold exactly one snapshot per successful run).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { describeTree } from '../helpers/fs-state.js';
import { journalRecords } from '../helpers/faults.js';

const PASSWORD = 'concurrency-password';
interface ProviderCase {
  name: string;
  runs: number;
  repository?: (dir: string) => string;
  // snapshots of module m as the provider's own tool lists them
  snapshots: (t: TestRoot) => string[];
}
const PROVIDERS: ProviderCase[] = [
  { name: 'copy', runs: 10, snapshots: (t) => (existsSync(path.join(t.dir, 'repo', 'm')) ? readdirSync(path.join(t.dir, 'repo', 'm')) : []) },
  {
    name: 'restic',
    runs: 4,
    repository: (dir) => `{ provider: restic, url: ${path.join(dir, 'repo')}, passwordFile: ${path.join(dir, 'pass')} }`,
    snapshots: (t) =>
      existsSync(path.join(t.dir, 'repo', 'm'))
        ? (JSON.parse(execFileSync('restic', ['--no-lock', 'snapshots', '--json'], { env: { ...process.env, RESTIC_REPOSITORY: path.join(t.dir, 'repo', 'm'), RESTIC_PASSWORD: PASSWORD }, encoding: 'utf8' })) as Array<{ id: string }>).map((s) => s.id)
        : [],
  },
  {
    name: 'borg',
    runs: 4,
    repository: (dir) => `{ provider: borg, url: ${path.join(dir, 'repo')}, passwordFile: ${path.join(dir, 'pass')} }`,
    snapshots: (t) =>
      existsSync(path.join(t.dir, 'repo', 'm'))
        ? execFileSync('borg', ['list', '--consider-checkpoints', '--short', path.join(t.dir, 'repo', 'm')], { env: { ...process.env, BORG_PASSPHRASE: PASSWORD, BORG_BASE_DIR: path.join(t.stateDir, 'borg') }, encoding: 'utf8' }).split('\n').filter(Boolean)
        : [],
  },
];

let t: TestRoot;
let data: string;

function setupRoot(provider: ProviderCase): void {
  t = makeRoot();
  writeFileSync(path.join(t.dir, 'pass'), `${PASSWORD}\n`, { mode: 0o600 });
  if (provider.repository) t.write('lifeboat.yaml', `repositories:\n  local: ${provider.repository(t.dir)}\n`);
  data = path.join(t.dir, 'data');
  mkdirSync(data);
  writeFileSync(path.join(data, 'file.txt'), 'content\n');
  t.module('m', { folders: [data] });
  // Proves exclusion: `mkdir running` fails if another run of the module is inside this part right now.
  t.part(
    'pre-backup',
    '40exclusive',
    `#!/bin/sh\nmkdir "${t.dir}/running" || { echo "another run is inside the part" >&2; exit 99; }\necho "$LIFEBOAT_RUN_ID" >> "${t.dir}/order"\n` +
      `while [ ! -e "${t.dir}/release" ]; do sleep 0.05; done\nrmdir "${t.dir}/running"\n`,
    'm',
  );
}

describe.each(PROVIDERS)('$name: simultaneous backups of one module', (provider) => {
  const RUNS = provider.runs;
  const snapshots = () => provider.snapshots(t);
  beforeEach(() => setupRoot(provider));
  afterEach(() => t.cleanup());

  it('without --wait: exactly one runs, the others exit 3 naming the holder', { timeout: 900_000 }, async () => {
    const exits: number[] = [];
    const children = Array.from({ length: RUNS }, () => {
      const child = lifeboat(t, ['backup', 'm', '--json']);
      void child.then((result) => exits.push(result.exitCode ?? -1));
      return child;
    });
    // The holder waits in its part until the others have given up; never longer than a minute.
    const deadline = Date.now() + 60_000;
    while (exits.length < RUNS - 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    writeFileSync(path.join(t.dir, 'release'), '');
    const results = await Promise.all(children);
    const codes = results.map((r) => r.exitCode).sort();
    expect(codes, results.map((r) => r.stderr).join('\n---\n')).toEqual([0, ...Array(RUNS - 1).fill(3)]);
    for (const locked of results.filter((r) => r.exitCode === 3)) {
      expect(locked.stderr).toMatch(/module "m" is locked by pid \d+/);
      expect(JSON.parse(locked.stdout).modules[0]).toMatchObject({ module: 'm', ok: false, snapshots: [] });
    }
    expect(snapshots()).toHaveLength(1);
    const records = journalRecords(t.stateDir);
    expect(records.map((r) => `${r.type}:${r.result ?? ''}`)).toEqual(['start:', 'end:success']);
    expect(readdirSync(path.join(t.stateDir, 'locks'))).toEqual([]);
  });

  it('with --wait: all of them run, one after another', { timeout: 900_000 }, async () => {
    writeFileSync(path.join(t.dir, 'release'), '');
    const results = await Promise.all(Array.from({ length: RUNS }, () => lifeboat(t, ['backup', 'm', '--wait', '600'])));
    expect(results.map((r) => r.exitCode), results.map((r) => r.stderr).join('\n---\n')).toEqual(Array(RUNS).fill(0));
    expect(snapshots()).toHaveLength(RUNS);
    // The journal's runs do not overlap: each starts after the previous one ended.
    const records = journalRecords(t.stateDir);
    const runs = new Map<string, { start: number; end: number }>();
    for (const r of records) {
      const entry = runs.get(String(r.runId)) ?? { start: 0, end: 0 };
      entry[r.type === 'start' ? 'start' : 'end'] = Date.parse(String(r.time));
      runs.set(String(r.runId), entry);
    }
    const ordered = [...runs.values()].sort((a, b) => a.start - b.start);
    expect(ordered).toHaveLength(RUNS);
    for (let i = 1; i < ordered.length; i++) expect(ordered[i].start).toBeGreaterThanOrEqual(ordered[i - 1].end);
    expect(records.filter((r) => r.type === 'end').every((r) => r.result === 'success')).toBe(true);
  });

  it('a restore while a backup holds the module exits 3 and changes nothing', { timeout: 900_000 }, async () => {
    writeFileSync(path.join(t.dir, 'release'), '');
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    rmSync(path.join(t.dir, 'release'));
    writeFileSync(path.join(data, 'file.txt'), 'changed since the backup\n');
    const before = describeTree(data);
    const holder = lifeboat(t, ['backup', 'm']);
    const deadline = Date.now() + 60_000;
    while (!existsSync(path.join(t.dir, 'running')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const restore = await lifeboat(t, ['restore', 'm']);
    writeFileSync(path.join(t.dir, 'release'), '');
    expect((await holder).exitCode).toBe(0);
    expect(restore.exitCode, restore.stderr).toBe(3);
    expect(restore.stderr).toMatch(/module "m" is locked by pid \d+/);
    expect(describeTree(data)).toEqual(before);
    expect(journalRecords(t.stateDir).filter((r) => r.action === 'restore')).toEqual([]);
  });
});
