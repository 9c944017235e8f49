// An exclude pattern that matches a database dump is found by the preflight, before anything runs: exit 2
// naming module.yaml (or etc/state-exclude.conf), the pattern, the dump file and the fix; the service is
// never stopped, no snapshot is made, the database is as it was. `check` reports the same problem.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execaSync } from 'execa';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { createFakeService, type FakeService } from '../helpers/service.js';

let t: TestRoot | undefined;
let service: FakeService | undefined;
afterEach(() => {
  service?.cleanup();
  t?.cleanup();
  t = service = undefined;
});

// Module m: one folder, a SQLite database, a running service stopped during backups; a tar repository.
async function arrange(extra: Record<string, unknown>): Promise<{ t: TestRoot; db: string; dump: string }> {
  const root = makeRoot({ repositories: { archive: { provider: 'tar', url: '/placeholder', compression: 'none' } } });
  t = root;
  root.write('lifeboat.yaml', `repositories:\n  archive: { provider: tar, url: ${path.join(root.dir, 'tar')}, compression: none }\n`);
  const data = path.join(root.dir, 'data');
  mkdirSync(data);
  writeFileSync(path.join(data, 'f.txt'), 'x\n');
  const db = path.join(root.dir, 'app.sqlite3');
  execaSync('sqlite3', [db, 'CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);']);
  service = await createFakeService();
  root.module('m', { folders: [data], databases: [{ sqlite: { path: db } }], service: { ...service.config, stopDuringBackup: true }, ...extra });
  return { t: root, db, dump: path.join(root.stateDir, 'modules', 'm', 'state', 'databases', 'sqlite-app.sqlite3') };
}

const rows = (db: string) => execaSync('sqlite3', [db, 'SELECT group_concat(x) FROM t;']).stdout;
const FIX = 'remove or narrow the pattern so that databases/ in the state dir stays in the snapshot (Lifeboat removes the dumps after the snapshot itself)';

describe('an exclude pattern that matches a database dump', () => {
  it('refuses the backup before anything runs: exit 2, naming module.yaml, the pattern, the dump and the fix', async () => {
    const { t, db, dump } = await arrange({ exclude: ['*.log', '*.sqlite3'] });
    const pid = service!.pid();
    const run = await lifeboat(t, ['backup', 'm']);
    expect(run.exitCode, run.stderr).toBe(2);
    expect(run.stderr.split('\n')).toContain(`lifeboat: modules/m/module.yaml: /exclude/1 "*.sqlite3" matches the database dump ${dump}; ${FIX}`);
    expect(run.stderr).not.toContain('/exclude/0');
    // nothing ran: the same service process, no dump written, no snapshot, the database as it was
    expect(service!.isRunning()).toBe(true);
    expect(service!.pid()).toBe(pid);
    expect(existsSync(dump)).toBe(false);
    expect(existsSync(path.join(t.dir, 'tar'))).toBe(false);
    const snapshots = await lifeboat(t, ['snapshots', 'm', '--json']);
    expect(snapshots.exitCode, snapshots.stderr).toBe(0);
    expect(JSON.parse(snapshots.stdout)).toEqual([]);
    expect(rows(db)).toBe('1,2');
  });

  it('names etc/state-exclude.conf when the pattern comes from there', async () => {
    const { t, dump } = await arrange({});
    t.write('modules/m/etc/state-exclude.conf', '# ours\ndatabases\n');
    const run = await lifeboat(t, ['backup', 'm']);
    expect(run.exitCode, run.stderr).toBe(2);
    expect(run.stderr.split('\n')).toContain(`lifeboat: modules/m/etc/state-exclude.conf:2: "databases" matches the database dump ${dump}; ${FIX}`);
    expect(service!.isRunning()).toBe(true);
    expect(existsSync(path.join(t.dir, 'tar'))).toBe(false);
  });

  it('is a failure in check, with the same words', async () => {
    const { t, dump } = await arrange({ exclude: ['*.sqlite3'] });
    const run = await lifeboat(t, ['check']);
    expect(run.exitCode, run.stdout).toBe(1);
    const table = run.stdout.split('\n').map((line) => line.split(/ {2,}/).join('|'));
    expect(table).toContain(`FAIL|module m|modules/m/module.yaml: /exclude/0 "*.sqlite3" matches the database dump ${dump}; ${FIX}`);
    expect(service!.isRunning()).toBe(true);
  });

  it('lets a pattern that matches no dump through (the backup runs)', async () => {
    const { t, db } = await arrange({ exclude: ['*.log'] });
    const run = await lifeboat(t, ['backup', 'm']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(rows(db)).toBe('1,2');
  });
});
