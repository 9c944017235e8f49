// backup/snapshots/forget over several modules: every module runs, --parallel, locks, --dry-run, --repo.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { journalRecords, waitForFile } from '../helpers/faults.js';

let t: TestRoot;
beforeEach(() => {
  t = makeRoot();
  for (const name of ['alpha', 'beta', 'gamma']) {
    const data = path.join(t.dir, 'data', name);
    mkdirSync(data, { recursive: true });
    writeFileSync(path.join(data, 'file.txt'), `${name}\n`);
    t.module(name, { folders: [data], retention: { keepLast: 2 } });
  }
});
afterEach(() => t.cleanup());

const snapshotsOf = (module: string) => {
  const dir = path.join(t.dir, 'repo', module);
  return existsSync(dir) ? readdirSync(dir) : [];
};

describe('backup of several modules', () => {
  it('runs every module even when one fails, and exits 1', async () => {
    t.part('pre-backup', '40fail', '#!/bin/sh\nexit 1\n', 'beta');
    const result = await lifeboat(t, ['backup', '--json']);
    expect(result.exitCode).toBe(1);
    const json = JSON.parse(result.stdout);
    expect(json.ok).toBe(false);
    expect(json.modules.map((m: { module: string; ok: boolean }) => `${m.module}:${m.ok}`)).toEqual(['alpha:true', 'beta:false', 'gamma:true']);
    expect(snapshotsOf('alpha')).toHaveLength(1);
    expect(snapshotsOf('beta')).toHaveLength(0);
    expect(snapshotsOf('gamma')).toHaveLength(1);
  });

  it('--parallel 3 runs the modules at the same time', async () => {
    for (const name of ['alpha', 'beta', 'gamma']) {
      t.part('pre-backup', '40overlap', `#!/bin/sh\ntouch "${t.dir}/in-$LIFEBOAT_MODULE"\nfor i in $(seq 100); do [ $(ls "${t.dir}" | grep -c '^in-') -ge 3 ] && { echo yes > "${t.dir}/overlap-$LIFEBOAT_MODULE"; exit 0; }; sleep 0.05; done\n`, name);
    }
    const result = await lifeboat(t, ['backup', '--parallel', '3']);
    expect(result.exitCode, result.stderr).toBe(0);
    for (const name of ['alpha', 'beta', 'gamma']) expect(existsSync(path.join(t.dir, `overlap-${name}`))).toBe(true);
  });

  it('skips disabled modules unless named', async () => {
    t.module('gamma', { folders: [path.join(t.dir, 'data', 'gamma')], enabled: false });
    const result = await lifeboat(t, ['backup', '--json']);
    expect(JSON.parse(result.stdout).modules.map((m: { module: string }) => m.module)).toEqual(['alpha', 'beta']);
    expect(result.stderr).toContain('module gamma is disabled');
    expect((await lifeboat(t, ['backup', 'gamma'])).exitCode).toBe(0);
    expect(snapshotsOf('gamma')).toHaveLength(1);
  });
});

describe('locking through the CLI', () => {
  it('a second run of the same module exits 3 at once; --wait lets it run after the first', async () => {
    // The first run holds the lock until the test releases it (no timing: each step waits for its event).
    const release = path.join(t.dir, 'release');
    t.part('pre-backup', '40slow', `#!/bin/sh\ntouch "${t.dir}/started"\nwhile [ ! -e "${release}" ]; do sleep 0.05; done\n`, 'alpha');
    const first = lifeboat(t, ['backup', 'alpha']);
    await waitForFile(path.join(t.dir, 'started'), 60_000);
    const second = await lifeboat(t, ['backup', 'alpha']);
    expect(second.exitCode).toBe(3);
    expect(second.stderr).toContain('module "alpha" is locked by pid');
    const waiting = lifeboat(t, ['backup', 'alpha', '--wait', '300']);
    let waitingErr = '';
    waiting.stderr!.on('data', (chunk: Buffer) => (waitingErr += chunk.toString()));
    while (!waitingErr.includes('waiting up to 300s for module "alpha"')) await new Promise((r) => setTimeout(r, 25));
    writeFileSync(release, '');
    expect((await first).exitCode).toBe(0);
    const waited = await waiting;
    expect(waited.exitCode, waited.stderr).toBe(0);
    expect(snapshotsOf('alpha')).toHaveLength(2);
    // the waiting run started its work only after the first had ended
    const records = journalRecords(t.stateDir).filter((r) => r.module === 'alpha');
    expect(records.map((r) => r.type)).toEqual(['start', 'end', 'start', 'end']);
    expect(records[0].runId).toBe(records[1].runId);
  });
});

describe('--dry-run', () => {
  it('prints the plan and the commands, runs nothing, journals nothing', async () => {
    t.part('pre-backup', '40touch', `#!/bin/sh\ntouch "${t.dir}/ran"\n`, 'alpha');
    const result = await lifeboat(t, ['backup', 'alpha', '--dry-run']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('module alpha: backup');
    expect(result.stderr).toContain(`dry run: would run ${path.join(t.root, 'modules/alpha/hooks.d/pre-backup/40touch')}`);
    expect(result.stderr).toMatch(/dry run: would run \S+\/plugins\/copy\/create/);
    expect(existsSync(path.join(t.dir, 'ran'))).toBe(false);
    expect(snapshotsOf('alpha')).toHaveLength(0);
    expect(existsSync(path.join(t.stateDir, 'journal.jsonl'))).toBe(false);
  });
});

describe('snapshots and forget', () => {
  it('lists nothing for a module never backed up', async () => {
    const result = await lifeboat(t, ['snapshots', 'alpha', '--json']);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([]);
  });

  it('an unknown --repo or snapshot is bad input: exit 2, nothing changed', async () => {
    const repo = await lifeboat(t, ['backup', 'alpha', '--repo', 'offsite']);
    expect(repo.exitCode).toBe(2);
    expect(repo.stderr).toContain('--repo offsite: no such repository in lifeboat.yaml; defined: local');
    expect(snapshotsOf('alpha')).toHaveLength(0);
    expect((await lifeboat(t, ['backup', 'alpha'])).exitCode).toBe(0);
    const before = readFileSync(path.join(t.dir, 'data', 'alpha', 'file.txt'), 'utf8');
    const snap = await lifeboat(t, ['restore', 'alpha', 'nosuchsnapshot']);
    expect(snap.exitCode).toBe(2);
    expect(snap.stderr).toContain('module alpha, repository local: snapshot "nosuchsnapshot" not found');
    expect(readFileSync(path.join(t.dir, 'data', 'alpha', 'file.txt'), 'utf8')).toBe(before);
  });

  it('forget keeps what the retention says (script provider without forget: a warning)', async () => {
    for (let i = 0; i < 3; i++) expect((await lifeboat(t, ['backup', 'alpha'])).exitCode).toBe(0);
    const result = await lifeboat(t, ['forget', 'alpha']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain('repository local (copy) cannot forget snapshots; skipped');
    expect(snapshotsOf('alpha')).toHaveLength(3);
  });
});
