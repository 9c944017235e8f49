// The restore drill's database half against the real servers: each dump is loaded into a scratch database
// (a temporary PostgreSQL or MariaDB database, a throwaway redis-server), what arrived is counted, the
// scratch is removed again and the live databases are never touched. Damage that reading a dump back
// cannot see (a flipped digit in COPY data, a broken SQL value, a payload byte) fails the drill.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { dumpJobs, loadJobs, stageDump, type LoadJob } from '../../src/engines/index.js';
import { ScratchRenamer } from '../../src/engines/mysql.js';
import type { DatabaseConfig } from '../../src/config/types.js';
import { LifeboatError } from '../../src/errors.js';
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
  mariadb,
  MY,
  PG,
  pathWithout,
  psql,
  shimDir,
  REDIS_URL,
  uniqueName,
  engineContext,
} from '../helpers/databases.js';

const context = engineContext;

// The drill's throwaway redis-server folders go to os.tmpdir(), which follows TMPDIR: this file gets a
// temp dir of its own, so counting lifeboat-redis-* there sees only its own (never another worker's).
const ownTmp = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-drill-tmp-'));
const sharedTmpDir = process.env.TMPDIR;
beforeAll(() => {
  process.env.TMPDIR = ownTmp;
  expect(os.tmpdir()).toBe(ownTmp);
});
afterAll(() => {
  if (sharedTmpDir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = sharedTmpDir;
  rmSync(ownTmp, { recursive: true, force: true });
});

// Scratch databases, temporary roles and accounts left on the servers, and throwaway redis-server folders.
function leftovers(): string[] {
  const pg = psql('postgres', `SELECT datname FROM pg_database WHERE datname LIKE 'lifeboat\\_verify\\_${process.pid}\\_%';`).split('\n').filter(Boolean);
  const my = mariadb(`SHOW DATABASES LIKE 'lifeboat\\_verify\\_${process.pid}\\_%';`).split('\n').filter(Boolean);
  const redis = readdirSync(ownTmp).filter((name) => name.startsWith('lifeboat-redis-'));
  // The drill's temporary PostgreSQL roles and MariaDB accounts.
  const roles = psql('postgres', `SELECT rolname FROM pg_roles WHERE rolname LIKE 'lifeboat\\_verify\\_${process.pid}\\_%';`).split('\n').filter(Boolean);
  const users = mariadb(`SELECT user FROM mysql.user WHERE user LIKE 'lifeboat\\_verify\\_${process.pid}\\_%';`).split('\n').filter(Boolean);
  return [...pg, ...my, ...redis, ...roles, ...users];
}

// Changes the bytes `from` (which must occur once) into `to` in a dump file.
function damage(file: string, from: string, to: string): void {
  const bytes = readFileSync(file);
  const at = bytes.indexOf(Buffer.from(from, 'utf8'));
  expect(at, `${from} in ${file}`).toBeGreaterThanOrEqual(0);
  expect(bytes.indexOf(Buffer.from(from, 'utf8'), at + 1)).toBe(-1);
  Buffer.from(to, 'utf8').copy(bytes, at);
  writeFileSync(file, bytes);
}

describe('restore drill into scratch databases', () => {
  const name = uniqueName();
  const databases: DatabaseConfig[] = [{ postgres: { database: name, ...PG } }, { mysql: { database: name, ...MY } }, { redis: { url: REDIS_URL, keys: [`${name}:*`] } }];
  let live: string;
  let livePostgres: string;
  beforeAll(() => {
    createPostgres(name, 1);
    createMariadb(name);
    createRedisKeys(name);
    livePostgres = describePostgres(name);
    live = [livePostgres, describeMariadb(name), describeRedis(name)].join('\n');
  });
  afterAll(() => {
    dropPostgres(name);
    dropMariadb(name);
    deleteRedisKeys(name);
  });

  // Dumps every entry into a fresh folder and returns the load jobs with their files.
  async function dumped(entries = databases): Promise<Array<{ job: LoadJob; file: string }>> {
    const dir = await tmpDir();
    const ctx = context();
    for (const job of await dumpJobs(entries, ctx)) await stageDump(job, path.join(dir, job.file), ctx);
    return loadJobs(entries, dir).map((job) => ({ job, file: path.join(dir, job.file) }));
  }

  it('loads each dump into a scratch database, counts what arrived, removes the scratch and leaves the live data alone', async () => {
    const before = leftovers();
    const found: string[] = [];
    for (const { job, file } of await dumped()) found.push(await job.drill!(file, context()));
    // items: 2 rows, pad: 512 rows (createPostgres with 1 MiB), one large object.
    expect(found[0]).toMatch(/^\d+ archive entries loaded into scratch database lifeboat_verify_\d+_[0-9a-f]{8}: 2 table\(s\), 514 row\(s\), 1 large object\(s\); dropped again$/);
    expect(found[1]).toMatch(/^loaded into scratch database lifeboat_verify_\d+_[0-9a-f]{8}: 1 table\(s\), 2 row\(s\); dropped again$/);
    expect(found[2]).toMatch(/^5 key\(s\) loaded into a throwaway redis-server 7\.[\d.]+ \(DBSIZE 5\); stopped again$/);
    expect(leftovers()).toEqual(before);
    expect([describePostgres(name), describeMariadb(name), describeRedis(name)].join('\n')).toBe(live);
  });

  it('fails on damage that reading the dump back does not see, naming the database and the error', async () => {
    const before = leftovers();
    const [pg, my, redis] = await dumped();
    // PostgreSQL: the id 1 of the first row becomes "x" inside the uncompressed COPY data.
    damage(pg.file, '1\t\\\\xdeadbeef00ff0a0d', 'x\t\\\\xdeadbeef00ff0a0d');
    // MariaDB: a hex literal that no longer parses.
    damage(my.file, '0xDEADBEEF00FF0A0D5C27', '0xDEADBEEF00FF0A0D5C2G');
    // Redis: one byte of a string value inside its DUMP payload (whose CRC64 no longer matches).
    damage(redis.file, 'Grüße', 'Grüßa');
    for (const { job, file } of [pg, my, redis]) await expect(job.check(file, context())).resolves.toMatch(/readable|complete/);
    await expect(pg.job.drill!(pg.file, context())).rejects.toThrow(new RegExp(`PostgreSQL database "${name}" on 127.0.0.1:5432, loaded into scratch database lifeboat_verify_\\S+ as the temporary role lifeboat_verify_\\S+: pg_restore failed \\(exit 1\\): .*invalid input syntax for type integer: "x"`));
    await expect(my.job.drill!(my.file, context())).rejects.toThrow(new RegExp(`MariaDB database "${name}" on 127.0.0.1:3306, loaded into scratch database lifeboat_verify_\\S+ as the temporary account lifeboat_verify_\\S+: mariadb failed \\(exit 1\\): ERROR 1054 \\(42S22\\) at line \\d+: Unknown column '0xDEADBEEF00FF0A0D5C2G' in 'VALUES'$`));
    await expect(redis.job.drill!(redis.file, context())).rejects.toThrow(/Redis 127\.0\.0\.1:6379 db 0 \(keys \S+\), loaded into a throwaway redis-server [\d.]+: RESTORE failed: ERR DUMP payload version or checksum are wrong/);
    expect(leftovers()).toEqual(before);
    expect([describePostgres(name), describeMariadb(name), describeRedis(name)].join('\n')).toBe(live);
  });

  it('a drill stopped half-way (timeout, SIGTERM) still drops its scratch database', async () => {
    const before = leftovers();
    const [pg] = await dumped(databases.slice(0, 1));
    // pg_restore waits until the test stops the drill; the scratch database exists by then.
    const shims = shimDir({ pg_restore: 'case "$*" in *--list*) exec /usr/bin/pg_restore "$@";; esac\ntouch "$0.started"\nsleep 60 </dev/null >/dev/null 2>&1 &\nwait $!\nexec /usr/bin/pg_restore "$@"' });
    const controller = new AbortController();
    const ctx = { ...context({ PATH: `${shims}:${process.env.PATH}` }), signal: controller.signal };
    const drill = pg.job.drill!(pg.file, ctx).catch((error: Error) => error);
    for (let i = 0; i < 400 && !existsSync(path.join(shims, 'pg_restore.started')); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    // The scratch database and the temporary role.
    expect(leftovers().length).toBe(before.length + 2);
    controller.abort('SIGTERM');
    expect(String(await drill)).toMatch(/pg_restore was stopped \(SIGTERM\)/);
    expect(leftovers()).toEqual(before);
    expect(describePostgres(name)).toBe(livePostgres);
  });

  it('scratch: false keeps the read-back check only', async () => {
    const off = databases.map((entry) => Object.fromEntries(Object.entries(entry).map(([kind, config]) => [kind, { ...config, scratch: false }])) as DatabaseConfig);
    const jobs = loadJobs(off, '/nonexistent');
    expect(jobs.map((job) => job.drill)).toEqual([undefined, undefined, undefined]);
  });

  it('a user who may not create databases, and a host without redis-server, get the reason and the fix', async () => {
    const role = uniqueName();
    psql('postgres', `CREATE ROLE ${role} LOGIN NOCREATEDB;`);
    mariadb(`CREATE USER '${role}'@'%'; CREATE USER '${role}'@'localhost'; GRANT SELECT ON \`${name}\`.* TO '${role}'@'%', '${role}'@'localhost';`);
    try {
      const [pg, my] = await dumped(databases.slice(0, 2));
      const asRole = loadJobs([{ postgres: { database: name, ...PG, user: role } }, { mysql: { database: name, ...MY, user: role } }], path.dirname(pg.file));
      const pgError = await asRole[0].drill!(pg.file, context()).catch((error: LifeboatError) => error);
      expect(pgError.message).toMatch(/^cannot create the temporary role and scratch database lifeboat_verify_\S+ on 127\.0\.0\.1:5432 for the restore drill: .*permission denied to create role/);
      expect(pgError.hint).toBe(`grant the user CREATEDB and CREATEROLE (ALTER ROLE "${role}" CREATEDB CREATEROLE), or set \`scratch: false\` on this entry in module.yaml to have verify only read the dump back`);
      const myError = await asRole[1].drill!(my.file, context()).catch((error: LifeboatError) => error);
      expect(myError.message).toMatch(/^cannot create the temporary account and scratch database\(s\) lifeboat_verify_\S+ on 127\.0\.0\.1:3306 for the restore drill: .*Access denied; you need \(at least one of\) the CREATE USER privilege/);
      expect(myError.hint).toBe('grant the configured user CREATE USER and ALL on `lifeboat_verify\\_%`.* WITH GRANT OPTION, or set `scratch: false` on this entry in module.yaml to have verify only read the dump back');
    } finally {
      psql('postgres', `DROP ROLE IF EXISTS ${role};`);
      mariadb(`DROP USER IF EXISTS '${role}'@'%'; DROP USER IF EXISTS '${role}'@'localhost';`);
    }
    const [, , redis] = await dumped();
    const noServer = context({ PATH: pathWithout(['redis-server']) });
    const redisError = await redis.job.drill!(redis.file, noServer).catch((error: LifeboatError) => error);
    expect(redisError.message).toBe('redis-server is not installed: the restore drill loads Redis dumps into a throwaway redis-server');
    expect(redisError.hint).toBe('install it (Debian: apt-get install redis-server), or set `scratch: false` on this entry in module.yaml to have verify only read the dump back');
  });
});

describe('ScratchRenamer (the MariaDB dump rewriter)', () => {
  const dump = [
    '-- MariaDB dump',
    '/*!40000 DROP DATABASE IF EXISTS `app`*/;',
    'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `app` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;',
    'USE `app`;',
    `INSERT INTO \`t\` VALUES (1,'USE \`app\`;\\nCREATE DATABASE x','${'y'.repeat(200_000)}');`,
    'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `we``ird` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;',
    'USE `we``ird`;',
    'CREATE TABLE `u` (id int);',
    'USE `app`;',
    '-- Dump completed',
    '',
  ].join('\n');

  async function rewrite(chunkSize: number): Promise<{ out: string; names: Map<string, string> }> {
    const renamer = new ScratchRenamer('lifeboat_verify_1_0000abcd');
    const bytes = Buffer.from(dump, 'utf8');
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += chunkSize) chunks.push(bytes.subarray(at, at + chunkSize));
    const out: Buffer[] = [];
    for await (const chunk of Readable.from(chunks).pipe(renamer)) out.push(chunk as Buffer);
    return { out: Buffer.concat(out).toString('utf8'), names: renamer.names };
  }

  it('renames every database it creates or uses, leaves data lines alone, and does not depend on chunk boundaries', async () => {
    const whole = await rewrite(1 << 20);
    expect([...whole.names.keys()]).toEqual(['app', 'we`ird']);
    const [app, weird] = [...whole.names.values()];
    const lines = whole.out.split('\n');
    expect(lines[1]).toBe('-- lifeboat verify: skipped /*!40000 DROP DATABASE IF EXISTS `app`* /;');
    expect(lines[2]).toBe(`CREATE DATABASE /*!32312 IF NOT EXISTS*/ \`${app}\` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;`);
    expect(lines[3]).toBe(`USE \`${app}\`;`);
    expect(lines[4]).toBe(dump.split('\n')[4]);
    expect(lines[5]).toBe(`CREATE DATABASE /*!32312 IF NOT EXISTS*/ \`${weird}\` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;`);
    expect(lines.slice(6, 10)).toEqual([`USE \`${weird}\`;`, 'CREATE TABLE `u` (id int);', `USE \`${app}\`;`, '-- Dump completed']);
    for (const size of [1, 3, 7, 4096]) {
      const split = await rewrite(size);
      const [a, w] = [...split.names.values()];
      expect(split.out.replaceAll(a, app).replaceAll(w, weird)).toBe(whole.out);
    }
  });

  it('creates a database first when a USE names one the dump never created', async () => {
    const renamer = new ScratchRenamer('lifeboat_verify_1_0000abcd');
    const out: Buffer[] = [];
    for await (const chunk of Readable.from([Buffer.from('USE `app`;\nSELECT 1;\n')]).pipe(renamer)) out.push(chunk as Buffer);
    const scratch = renamer.names.get('app');
    expect(Buffer.concat(out).toString()).toBe(`CREATE DATABASE IF NOT EXISTS \`${scratch}\`;\nUSE \`${scratch}\`;\nSELECT 1;\n`);
  });
});
