// The dump snapshots of a run killed before its module snapshot (kill -9 during a streamed dump) are
// removed by the next backup's retention: nothing else would, and they look like complete snapshots in
// `restic snapshots`.
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { uniqueName } from '../helpers/databases.js';

let t: TestRoot;
afterEach(() => t.cleanup());

describe('dump snapshots of a killed run', () => {
  it('are swept by the next backup, the new run\'s kept', { timeout: 180_000 }, async () => {
    t = makeRoot();
    const pass = path.join(t.dir, 'pass');
    writeFileSync(pass, 'orphan-test-password\n', { mode: 0o600 });
    t.write('lifeboat.yaml', `repositories:\n  local: { provider: restic, url: ${path.join(t.dir, 'repo')}, passwordFile: ${pass} }\n`);
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'f'), 'x\n');
    const prefix = uniqueName();
    execFileSync('redis-cli', ['-h', '127.0.0.1', 'SET', `${prefix}:k`, 'v']);
    try {
      t.module('m', { folders: [data], databases: [{ redis: { url: 'redis://127.0.0.1:6379/0', keys: [`${prefix}:*`] } }], retention: { keepLast: 5 } });
      expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
      // what a run killed after its dump snapshot and before its module snapshot leaves behind
      const env = { ...process.env, RESTIC_REPOSITORY: path.join(t.dir, 'repo', 'm'), RESTIC_PASSWORD_FILE: pass };
      execFileSync('restic', ['backup', '--stdin', '--stdin-filename', 'cut.redis', '--tag', 'lifeboat-dump', '--tag', 'run:killed-run', '--host', 'h'], { env, input: 'half a dump', stdio: ['pipe', 'ignore', 'ignore'] });
      const dumps = () => (JSON.parse(execFileSync('restic', ['snapshots', '--json', '--tag', 'lifeboat-dump'], { env }).toString()) as Array<{ tags: string[] }>).map((s) => s.tags.find((tag) => tag.startsWith('run:')));
      expect(dumps()).toContain('run:killed-run');
      const next = await lifeboat(t, ['backup', 'm']);
      expect(next.exitCode, next.stderr).toBe(0);
      expect(next.stderr).toContain('removed 1 dump snapshot(s) whose module snapshot was forgotten or never made (a killed run)');
      const left = dumps();
      expect(left).not.toContain('run:killed-run');
      expect(left).toHaveLength(2);
    } finally {
      execFileSync('redis-cli', ['-h', '127.0.0.1', 'DEL', `${prefix}:k`]);
    }
  });
});

describe('a restore whose snapshot holds no dump of a database', () => {
  it('fails with --target too, naming the database, instead of saying ok', { timeout: 120_000 }, async () => {
    t = makeRoot();
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'f'), 'x\n');
    const db = path.join(t.dir, 'app.sqlite3');
    execFileSync('sqlite3', [db, 'CREATE TABLE t(a); INSERT INTO t VALUES (1);']);
    t.module('m', { folders: [data] });
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    // the database joins module.yaml after that snapshot
    t.module('m', { folders: [data], databases: [{ sqlite: { path: db } }] });
    const target = path.join(t.dir, 'target');
    const run = await lifeboat(t, ['restore', 'm', 'latest', '--target', target]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(`the snapshot holds no dump of SQLite database ${db} (databases/sqlite-app.sqlite3)`);
    expect(run.stderr).not.toContain('restore m: ok');
  });
});
