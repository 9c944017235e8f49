// The engines against the real servers: dump to a file, destroy, load, compare exactly; and the faults
// (unreachable, wrong password, missing database, client not installed, dump killed half-way) with
// messages that name the database, carry the tool's stderr and never a password.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { dumpJobs, loadJobs, stageDump, type EngineContext } from '../../src/engines/index.js';
import { decodeName, encodeName } from '../../src/engines/names.js';
import type { DatabaseConfig } from '../../src/config/types.js';
import { tmpDir } from '../helpers/tmp.js';
import {
  createMariadb,
  createPostgres,
  createRedisKeys,
  deleteRedisKeys,
  describeMariadb,
  describePostgres,
  describeRedis,
  dropMariadb,
  dropPostgres,
  freePort,
  mariadb,
  MY,
  PG,
  pathWithout,
  psql,
  redisCli,
  REDIS_URL,
  shimDir,
  startThrowawayPostgres,
  uniqueName,
  type ThrowawayPostgres,
  engineContext,
} from '../helpers/databases.js';
import { execFileSync } from 'node:child_process';

const context = engineContext;

// Dumps every entry into dir/databases, as 20dump_databases does when staging.
async function dumpAll(databases: DatabaseConfig[], dir: string, ctx: EngineContext): Promise<string[]> {
  const files: string[] = [];
  for (const job of await dumpJobs(databases, ctx)) {
    await stageDump(job, path.join(dir, job.file), ctx);
    files.push(job.file);
  }
  return files;
}

// Loads every entry from dir, as 30restore_databases does.
async function loadAll(databases: DatabaseConfig[], dir: string, ctx: EngineContext): Promise<void> {
  for (const job of loadJobs(databases, dir)) await job.load({ path: path.join(dir, job.file) }, ctx);
}

describe('postgres', () => {
  const name = uniqueName();
  const entry: DatabaseConfig = { postgres: { database: name, ...PG } };
  beforeAll(() => createPostgres(name, 1));
  afterAll(() => dropPostgres(name));

  it('round-trips binary rows, unicode and large objects: dropped database, then emptied tables', async () => {
    const dir = await tmpDir();
    const ctx = context();
    const before = describePostgres(name);
    expect(before).toContain('Grüße');
    expect(await dumpAll([entry], dir, ctx)).toEqual([`postgres-${name}.pgdump`]);
    expect(readdirSync(dir)).toEqual([`postgres-${name}.pgdump`]);
    dropPostgres(name);
    await loadAll([entry], dir, ctx);
    expect(describePostgres(name)).toBe(before);
    psql(name, `DELETE FROM items; DELETE FROM pad; SELECT lo_unlink(oid) FROM pg_largeobject_metadata; CREATE TABLE later (x int);`);
    await loadAll([entry], dir, ctx);
    expect(describePostgres(name)).toBe(before);
  });

  it('database: all lists every database but the templates, and the roles', async () => {
    const ctx = context();
    const jobs = await dumpJobs([{ postgres: { database: 'all', ...PG } }], ctx);
    const files = jobs.map((job) => job.file);
    expect(files[0]).toBe('postgres-all/globals.sql');
    expect(files).toContain(`postgres-all/${name}.pgdump`);
    expect(files.some((file) => file.includes('template'))).toBe(false);
    const dir = await tmpDir();
    await stageDump(jobs[0], path.join(dir, jobs[0].file), ctx);
    expect(readFileSync(path.join(dir, jobs[0].file), 'utf8')).toMatch(/CREATE ROLE postgres/);
  });

  it('a missing database, an unreachable server and a missing pg_dump fail naming the database', async () => {
    const dir = await tmpDir();
    const missing = uniqueName();
    await expect(dumpAll([{ postgres: { database: missing, ...PG } }], dir, context())).rejects.toThrow(new RegExp(`PostgreSQL database "${missing}" on 127.0.0.1:5432: pg_dump failed \\(exit 1\\): .*database "${missing}" does not exist`));
    const port = await freePort();
    await expect(dumpAll([{ postgres: { database: name, host: '127.0.0.1', port, user: 'postgres' } }], dir, context())).rejects.toThrow(/pg_dump failed .*Connection refused/);
    const noPg = pathWithout(['pg_dump', 'pg_dumpall', 'pg_restore', 'psql']);
    await expect(dumpAll([entry], dir, context({ PATH: noPg }))).rejects.toThrow(`PostgreSQL database "${name}" on 127.0.0.1:5432: pg_dump is not installed (not found on PATH)`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a pg_dump killed half-way leaves no dump behind', async () => {
    const dir = await tmpDir();
    const shims = shimDir({ pg_dump: '/usr/bin/pg_dump "$@" | head -c 65536\necho "simulated crash" >&2\nkill -KILL $$' });
    await expect(dumpAll([entry], dir, context({ PATH: `${shims}:${process.env.PATH}` }))).rejects.toThrow(new RegExp(`PostgreSQL database "${name}".*pg_dump was killed by SIGKILL: simulated crash`));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a pg_dump older than the server gets a message with both versions and the fix', async () => {
    // pg_dump's own words when it meets a newer server (the machine has one PostgreSQL version only)
    const shims = shimDir({ pg_dump: 'echo "pg_dump: error: aborting because of server version mismatch" >&2\necho "pg_dump: detail: server version: 16.4 (Debian 16.4-1); pg_dump version: 15.8" >&2\nexit 1' });
    const error = await dumpAll([entry], await tmpDir(), context({ PATH: `${shims}:${process.env.PATH}` })).catch((e: Error) => e);
    expect(String(error)).toContain(`PostgreSQL database "${name}" on 127.0.0.1:5432: pg_dump failed (exit 1): pg_dump 15.8 is older than the server (PostgreSQL 16.4)`);
    expect(String(error)).toContain('apt-get install postgresql-client-16');
  });

  it('the password travels in PGPASSWORD only and is masked in messages', async () => {
    const dir = await tmpDir();
    const seen = path.join(dir, 'seen');
    const shims = shimDir({ pg_dump: `echo "$*" > ${seen}\necho "server said: password $PGPASSWORD is wrong" >&2\nexit 1` });
    const ctx = context({ PATH: `${shims}:${process.env.PATH}`, APP_DB_PASSWORD: 'hunter2-secret' });
    const error = await dumpAll([{ postgres: { database: name, ...PG, passwordEnv: 'APP_DB_PASSWORD' } }], path.join(dir, 'out'), ctx).catch((e: Error) => e);
    expect(String(error)).toContain('server said: password *** is wrong');
    expect(String(error)).not.toContain('hunter2');
    expect(readFileSync(seen, 'utf8')).not.toContain('hunter2');
    expect(readFileSync(seen, 'utf8')).toContain(`--dbname dbname='${name}'`);
  });

  describe('with password authentication (a throwaway cluster)', () => {
    let server: ThrowawayPostgres;
    beforeAll(async () => {
      server = await startThrowawayPostgres();
    });
    afterAll(() => server?.stop());

    it('dumps with the right password from passwordFile and fails with a wrong one', async () => {
      const dir = await tmpDir();
      const good = path.join(dir, 'good.pass');
      const bad = path.join(dir, 'bad.pass');
      writeFileSync(good, `${server.password}\n`, { mode: 0o600 });
      writeFileSync(bad, 'not-the-password\n', { mode: 0o600 });
      const base = { database: 'postgres', host: '127.0.0.1', port: server.port, user: 'postgres' };
      expect(await dumpAll([{ postgres: { ...base, passwordFile: good } }], path.join(dir, 'a'), context())).toEqual(['postgres-postgres.pgdump']);
      const ctx = context();
      const error = await dumpAll([{ postgres: { ...base, passwordFile: bad } }], path.join(dir, 'b'), ctx).catch((e: Error) => e);
      expect(String(error)).toMatch(/PostgreSQL database "postgres" on 127.0.0.1:\d+: pg_dump failed \(exit 1\): .*password authentication failed for user "postgres"/);
      expect(ctx.lines.join('\n')).not.toContain(server.password);
    });
  });
});

// Checks every dump of `databases` in dir, then again with each file cut short: that must fail.
async function checkAll(databases: DatabaseConfig[], dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const job of loadJobs(databases, dir)) {
    const file = path.join(dir, job.file);
    found.push(await job.check(file, context()));
    const full = readFileSync(file);
    writeFileSync(file, full.subarray(0, Math.floor(full.length * 0.6)));
    await expect(job.check(file, context())).rejects.toThrow(job.label);
    writeFileSync(file, full);
  }
  return found;
}

describe('dump checks (the restore drill, no server needed)', () => {
  const name = uniqueName();
  beforeAll(() => {
    createPostgres(name, 1);
    createMariadb(name);
    createRedisKeys(name);
  });
  afterAll(() => {
    dropPostgres(name);
    dropMariadb(name);
    deleteRedisKeys(name);
  });

  it('accepts complete dumps and refuses truncated ones', async () => {
    const dir = await tmpDir();
    const sqlite = path.join(dir, 'app.db');
    execFileSync('sqlite3', [sqlite, `CREATE TABLE t(x); INSERT INTO t SELECT randomblob(1000) FROM generate_series(1, 50);`]);
    const databases: DatabaseConfig[] = [{ postgres: { database: name, ...PG } }, { mysql: { database: name, ...MY } }, { redis: { url: REDIS_URL, keys: [`${name}:*`] } }, { sqlite: { path: sqlite } }];
    await dumpAll(databases, path.join(dir, 'dumps'), context());
    const found = await checkAll(databases, path.join(dir, 'dumps'));
    expect(found[0]).toMatch(/^\d+ archive entries, all readable$/);
    expect(found.slice(1)).toEqual([expect.stringMatching(/complete$/), '5 key(s), complete', 'integrity_check ok']);
  });
});

describe('mysql', () => {
  const name = uniqueName();
  const entry: DatabaseConfig = { mysql: { database: name, ...MY } };
  beforeAll(() => createMariadb(name));
  afterAll(() => dropMariadb(name));

  it('round-trips BLOBs and 4-byte unicode: dropped database, then emptied table', async () => {
    const dir = await tmpDir();
    const ctx = context();
    const before = describeMariadb(name);
    expect(before).toContain('🚀');
    expect(await dumpAll([entry], dir, ctx)).toEqual([`mysql-${name}.sql`]);
    dropMariadb(name);
    await loadAll([entry], dir, ctx);
    expect(describeMariadb(name)).toBe(before);
    mariadb('DELETE FROM items;', name);
    await loadAll([entry], dir, ctx);
    expect(describeMariadb(name)).toBe(before);
  });

  it('a wrong password, a missing database and an unreachable server fail naming the database; the password stays out of argv', async () => {
    const dir = await tmpDir();
    const user = uniqueName();
    mariadb(`CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY 'right-password-1'; GRANT ALL ON \`${name}\`.* TO '${user}'@'127.0.0.1';`);
    try {
      const pass = path.join(dir, 'pass');
      writeFileSync(pass, 'right-password-1\n', { mode: 0o600 });
      const ok = await dumpAll([{ mysql: { database: name, host: '127.0.0.1', user, passwordFile: pass } }], path.join(dir, 'ok'), context());
      expect(ok).toHaveLength(1);
      const ctx = context({ WRONG: 'wrong-password-2' });
      const error = await dumpAll([{ mysql: { database: name, host: '127.0.0.1', user, passwordEnv: 'WRONG' } }], path.join(dir, 'bad'), ctx).catch((e: Error) => e);
      expect(String(error)).toMatch(new RegExp(`MariaDB database "${name}" on 127.0.0.1: mariadb-dump failed \\(exit 2\\): .*Access denied for user '${user}'`));
      expect(ctx.lines.join('\n')).not.toContain('wrong-password-2');
    } finally {
      mariadb(`DROP USER IF EXISTS '${user}'@'127.0.0.1';`);
    }
    const missing = uniqueName();
    await expect(dumpAll([{ mysql: { database: missing, ...MY } }], dir, context())).rejects.toThrow(new RegExp(`MariaDB database "${missing}".*Unknown database '${missing}'`));
    const port = await freePort();
    await expect(dumpAll([{ mysql: { database: name, host: '127.0.0.1', port, user: 'root' } }], dir, context())).rejects.toThrow(/mariadb-dump failed .*Can't connect/);
  });
});

describe('redis', () => {
  const prefix = uniqueName();
  const other = uniqueName();
  const entry: DatabaseConfig = { redis: { url: REDIS_URL, keys: [`${prefix}:*`], name: prefix } };
  afterAll(() => {
    deleteRedisKeys(prefix);
    deleteRedisKeys(other);
  });

  it('round-trips strings, binary values, hashes, lists and TTLs; keys outside the patterns are never touched', async () => {
    createRedisKeys(prefix);
    redisCli(['SET', `${other}:mine`, 'before']);
    const dir = await tmpDir();
    const ctx = context();
    const before = describeRedis(prefix);
    expect(before).toMatch(/:binary string .*x00.*x01.*x02.*xff/);
    expect(before).toMatch(/:ttl string .*expires.* ttl$/m);
    expect(await dumpAll([entry], dir, ctx)).toEqual([`redis-${prefix}.redis`]);
    deleteRedisKeys(prefix);
    redisCli(['SET', `${prefix}:stray`, 'created after the backup']);
    redisCli(['SET', `${other}:mine`, 'after']);
    await loadAll([entry], dir, ctx);
    expect(describeRedis(prefix)).toBe(before);
    expect(redisCli(['GET', `${other}:mine`]).toString().trim()).toBe('after');
    expect(Number(redisCli(['PTTL', `${prefix}:ttl`]).toString())).toBeGreaterThan(3_500_000);
  });

  it('refuses a truncated dump before touching a key', async () => {
    createRedisKeys(prefix);
    const dir = await tmpDir();
    const [file] = await dumpAll([entry], dir, context());
    const full = readFileSync(path.join(dir, file));
    writeFileSync(path.join(dir, file), full.subarray(0, full.length - 20));
    redisCli(['SET', `${prefix}:string`, 'changed']);
    await expect(loadAll([entry], dir, context())).rejects.toThrow(/Redis 127.0.0.1:6379 db 0 \(keys .*\): the dump is not usable: .*truncated/);
    expect(redisCli(['GET', `${prefix}:string`]).toString().trim()).toBe('changed');
  });

  it('a wrong password and an unreachable server fail naming the server; the password is masked', async () => {
    const user = uniqueName();
    redisCli(['ACL', 'SETUSER', user, 'on', '>right-pass-3', `~${prefix}:*`, '+@all']);
    try {
      const ctx = context({ REDIS_PASS: 'wrong-pass-4' });
      const error = await dumpAll([{ redis: { url: `redis://${user}@127.0.0.1:6379/0`, keys: [`${prefix}:*`], passwordEnv: 'REDIS_PASS' } }], await tmpDir(), ctx).catch((e: Error) => e);
      expect(String(error)).toMatch(/Redis 127.0.0.1:6379 db 0 \(keys .*\): AUTH failed: WRONGPASS/);
      expect(ctx.lines.join('\n')).not.toContain('wrong-pass-4');
    } finally {
      redisCli(['ACL', 'DELUSER', user]);
    }
    const port = await freePort();
    await expect(dumpAll([{ redis: { url: `redis://127.0.0.1:${port}/0` } }], await tmpDir(), context())).rejects.toThrow(new RegExp(`Redis 127.0.0.1:${port} db 0 \\(whole database\\).*ECONNREFUSED`));
  });
});

describe('sqlite', () => {
  it('copies a live WAL database through the backup API and replaces the file atomically on load', async () => {
    const dir = await tmpDir();
    const db = path.join(dir, 'live', 'app.sqlite3');
    execFileSync('mkdir', ['-p', path.dirname(db)]);
    execFileSync('sqlite3', [db, `PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES ('Grüße'), (x'00ff10'), (42);`]);
    const describe = () => execFileSync('sqlite3', [db, 'SELECT quote(x) FROM t ORDER BY rowid;'], { encoding: 'utf8' });
    const before = describe();
    const entry: DatabaseConfig = { sqlite: { path: db } };
    const dumps = path.join(dir, 'dumps');
    expect(await dumpAll([entry], dumps, context())).toEqual(['sqlite-app.sqlite3']);
    execFileSync('sqlite3', [db, `DELETE FROM t; INSERT INTO t VALUES ('after');`]);
    await loadAll([entry], dumps, context());
    expect(describe()).toBe(before);
    expect(existsSync(`${db}-wal`)).toBe(false);
    await expect(dumpAll([{ sqlite: { path: path.join(dir, 'nope.db') } }], dumps, context())).rejects.toThrow(`SQLite database ${path.join(dir, 'nope.db')} does not exist`);
  });
});

describe('names', () => {
  it('maps every database name to one file name and back', () => {
    for (const name of ['app', 'my db', 'Grüße/日本', '..', '.', 'a%b', '']) {
      const encoded = encodeName(name);
      expect(encoded).toMatch(/^[A-Za-z0-9._%-]+$/);
      expect(['.', '..']).not.toContain(encoded);
      expect(decodeName(encoded)).toBe(name);
    }
  });

  it('refuses two entries that would write one dump file', async () => {
    await expect(dumpJobs([{ redis: { url: REDIS_URL, keys: ['a:*'] } }, { redis: { url: REDIS_URL, keys: ['b:*'] } }], context())).rejects.toThrow(/would both be dumped to databases\/redis-db0.redis/);
  });
});
