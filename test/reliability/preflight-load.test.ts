// `lifeboat load ENGINE` (and `load MODULE`, the restore's load step) refuses a file that plainly is not a
// dump of that engine before it asks the server anything: exit 2, a message naming the file and what was
// expected, the live database exactly as it was. Real dumps still load (test/engines/cli.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execaSync } from 'execa';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { createMariadb, createPostgres, createRedisKeys, deleteRedisKeys, describeMariadb, describePostgres, describeRedis, dropMariadb, dropPostgres, freePort, uniqueName } from '../helpers/databases.js';

let t: TestRoot;
const name = uniqueName();
let sqlitePath: string;
let files: { zip: string; sqlite: string; redis: string };
const TEXT = 'hello world\nthis is not a dump\n';

beforeAll(() => {
  t = makeRoot();
  createPostgres(name);
  createMariadb(name);
  createRedisKeys(name);
  sqlitePath = path.join(t.dir, 'app.sqlite3');
  execaSync('sqlite3', [sqlitePath, 'CREATE TABLE t (x); INSERT INTO t VALUES (1), (2);']);
  files = { zip: path.join(t.dir, 'archive.zip'), sqlite: path.join(t.dir, 'other.sqlite3'), redis: path.join(t.dir, 'other.redis') };
  // a zip-like header, then text: not a dump of any engine
  writeFileSync(files.zip, Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00]), Buffer.from('garbage, not a dump\n'.repeat(100))]));
  execaSync('sqlite3', [files.sqlite, 'CREATE TABLE other (y);']);
  writeFileSync(files.redis, 'LIFEBOAT-REDIS/1\n');
});

afterAll(() => {
  dropPostgres(name);
  dropMariadb(name);
  deleteRedisKeys(name);
  t?.cleanup();
});

interface Engine {
  engine: string;
  args: () => string[];
  label: () => string;
  expected: string;
  file: () => string;
  state: () => string;
}

const ENGINES: Engine[] = [
  { engine: 'postgres', args: () => ['--database', name, '--host', '127.0.0.1'], label: () => `PostgreSQL database "${name}" on 127.0.0.1`, expected: 'a pg_dump custom-format archive (one starts with "PGDMP")', file: () => `postgres-${name}.pgdump`, state: () => describePostgres(name) },
  { engine: 'mysql', args: () => ['--database', name, '--host', '127.0.0.1', '--user', 'root'], label: () => `MariaDB database "${name}" on 127.0.0.1`, expected: 'a mariadb-dump file (one has its "-- Host: ... Database: ..." line within the first 16 lines)', file: () => `mysql-${name}.sql`, state: () => describeMariadb(name) },
  { engine: 'redis', args: () => ['--url', 'redis://127.0.0.1:6379/0', '--keys', `${name}:*`], label: () => `Redis 127.0.0.1:6379 db 0 (keys ${name}:*)`, expected: 'a Lifeboat Redis dump (one starts with "LIFEBOAT-REDIS/1")', file: () => 'redis-db0.redis', state: () => describeRedis(name) },
  { engine: 'sqlite', args: () => ['--path', sqlitePath], label: () => `SQLite database ${sqlitePath}`, expected: 'an SQLite database file (one starts with "SQLite format 3")', file: () => 'sqlite-app.sqlite3', state: () => readFileSync(sqlitePath).toString('hex') },
];

// The two lines on stderr: the refusal and its fix.
function refusal(e: Engine, what: string, start: string): string {
  return `lifeboat: ${e.label()}: ${what} is not ${e.expected}: it starts with "${start}"; nothing was loaded\nlifeboat: hint: give a dump of this database made by its backup (databases/${e.file()} in the module's state dir) or by \`lifeboat dump ${e.engine}\``;
}

describe('load refuses a file that is not a dump of the engine, before touching the server', () => {
  for (const e of ENGINES) {
    it(`${e.engine}: a zip file (--input), a text file (stdin), another engine's dump: exit 2, nothing changed`, async () => {
      const before = e.state();
      const zip = await lifeboat(t, ['load', e.engine, ...e.args(), '--input', files.zip]);
      expect(zip.exitCode, zip.stderr).toBe(2);
      expect(zip.stderr.trim()).toBe(refusal(e, `the dump ${files.zip}`, 'PK\\x03\\x04\\x14\\x00\\x00\\x00garbage,'));
      const text = await lifeboat(t, ['load', e.engine, ...e.args()], { input: TEXT });
      expect(text.exitCode, text.stderr).toBe(2);
      expect(text.stderr.trim()).toBe(refusal(e, 'the dump on stdin', 'hello world\\nthis'));
      const other = e.engine === 'sqlite' ? files.redis : files.sqlite;
      const wrong = await lifeboat(t, ['load', e.engine, ...e.args(), '--input', other]);
      expect(wrong.exitCode, wrong.stderr).toBe(2);
      expect(wrong.stderr.trim()).toBe(refusal(e, `the dump ${other}`, e.engine === 'sqlite' ? 'LIFEBOAT-REDIS/1' : 'SQLite format 3\\x00'));
      expect(e.state()).toBe(before);
    });
  }

  it('refuses before connecting: the same refusal with no server listening on the port', async () => {
    const port = String(await freePort());
    for (const [engine, args] of [
      ['postgres', ['--database', name, '--host', '127.0.0.1', '--port', port]],
      ['mysql', ['--database', name, '--host', '127.0.0.1', '--port', port, '--user', 'root']],
      ['redis', ['--url', `redis://127.0.0.1:${port}/0`]],
    ] as const) {
      const run = await lifeboat(t, ['load', engine, ...args, '--input', files.zip]);
      expect(run.exitCode, run.stderr).toBe(2);
      expect(run.stderr).toContain(`: the dump ${files.zip} is not a`);
      expect(run.stderr).not.toMatch(/ECONNREFUSED|connect|Connection refused/i);
    }
  });

  it('lifeboat load MODULE (the restore\'s load step) refuses a dump in the state dir that is not one', async () => {
    const data = path.join(t.dir, 'data');
    mkdirSync(data, { recursive: true });
    t.module('m', { folders: [data], databases: [{ sqlite: { path: sqlitePath } }] });
    const dir = path.join(t.dir, 'dumps');
    mkdirSync(path.join(dir), { recursive: true });
    writeFileSync(path.join(dir, 'sqlite-app.sqlite3'), TEXT);
    const before = readFileSync(sqlitePath);
    const run = await lifeboat(t, ['load', 'm', '--input', dir]);
    expect(run.exitCode, run.stderr).toBe(2);
    expect(run.stderr).toContain(`lifeboat: SQLite database ${sqlitePath}: the dump ${path.join(dir, 'sqlite-app.sqlite3')} is not an SQLite database file (one starts with "SQLite format 3"): it starts with "hello world\\nthis"; nothing was loaded`);
    expect(readFileSync(sqlitePath).equals(before)).toBe(true);
  });

  it('a restore whose snapshot holds a dump that is not one fails its load step naming it, the database unchanged', async () => {
    const r = makeRoot();
    try {
      const data = path.join(r.dir, 'data');
      mkdirSync(data);
      writeFileSync(path.join(data, 'f.txt'), 'x\n');
      const db = path.join(r.dir, 'live.sqlite3');
      execaSync('sqlite3', [db, 'CREATE TABLE t (x); INSERT INTO t VALUES (1);']);
      r.module('m', { folders: [data], databases: [{ sqlite: { path: db } }] });
      const backup = await lifeboat(r, ['backup', 'm']);
      expect(backup.exitCode, backup.stderr).toBe(0);
      // the copy provider keeps the snapshot as plain files: put a text file where the dump is
      const stateDump = path.join(r.stateDir, 'modules', 'm', 'state', 'databases', 'sqlite-live.sqlite3');
      const [snapshot] = readdirSync(path.join(r.dir, 'repo', 'm'));
      writeFileSync(path.join(r.dir, 'repo', 'm', snapshot, stateDump), TEXT);
      execaSync('sqlite3', [db, 'INSERT INTO t VALUES (2);']);
      const before = readFileSync(db);
      const restore = await lifeboat(r, ['restore', 'm', '--no-safety-snapshot']);
      expect(restore.exitCode, restore.stderr).toBe(1);
      expect(restore.stderr).toContain(
        `restore failed at restore/30restore_databases: SQLite database ${db}: the dump ${stateDump} is not an SQLite database file (one starts with "SQLite format 3"): it starts with "hello world\\nthis"; nothing was loaded`,
      );
      expect(readFileSync(db).equals(before)).toBe(true);
    } finally {
      r.cleanup();
    }
  });
});
