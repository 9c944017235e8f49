// Untrusted storage, dumps: whoever can write to the repository can put any dump into a snapshot. Each
// crafted dump below is fed to the restore drill (as verify does), to restores and to `lifeboat load`,
// against the real PostgreSQL 15, MariaDB 10.11 and Redis 7; each must fail (verify exits non-zero)
// while nothing outside the module changes: a live canary database, table, role and key stay as they
// were, no file appears from a shell command, no temporary account, role or scratch database is left.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { dumpJobs, loadJobs, stageDump, type LoadJob } from '../../src/engines/index.js';
import { loadMysql } from '../../src/engines/mysql.js';
import { loadGlobals, loadPostgres } from '../../src/engines/postgres.js';
import { globalsScript } from '../../src/engines/postgres-globals.js';
import { checkDatabases } from '../../src/check/databases.js';
import { loadRedis } from '../../src/engines/redis.js';
import type { DatabaseConfig, MysqlDatabase, PostgresDatabase, RedisDatabase } from '../../src/config/types.js';
import { LifeboatError } from '../../src/errors.js';
import { lifeboat, makeRoot } from '../helpers/root.js';
import {
  createMariadb,
  createPostgres,
  deleteRedisKeys,
  describeMariadb,
  describePostgres,
  dropMariadb,
  dropPostgres,
  engineContext,
  mariadb,
  MY,
  PG,
  psql,
  redisCli,
  REDIS_URL,
  uniqueName,
} from '../helpers/databases.js';

const pid = process.pid;
// Names of this file's canaries: a live MariaDB database and another one, a live PostgreSQL database, a
// role, Redis keys of another module.
const live = uniqueName();
const other = uniqueName();
const canaryRole = `${uniqueName()}_canary`;
const evilRole = `${uniqueName()}_evil`;
const redisOther = uniqueName();
let work: string;
let marker: string;

// Everything outside the module that a crafted dump could reach, as one comparable text.
function outside(): string {
  const my = [
    mariadb(`SELECT GROUP_CONCAT(id ORDER BY id) FROM \`${live}\`.t;`),
    mariadb(`SHOW DATABASES LIKE '${other}';`),
    mariadb(`SELECT user, host FROM mysql.user WHERE user LIKE 'lifeboat\\_verify\\_${pid}\\_%' OR user = '${evilRole}';`),
    mariadb(`SHOW DATABASES LIKE 'lifeboat\\_verify\\_${pid}\\_%';`),
  ];
  const pg = [
    psql(live, 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM t;'),
    psql('postgres', `SELECT rolname, rolsuper, rolcanlogin FROM pg_roles WHERE rolname IN ('${canaryRole}', '${evilRole}') OR rolname LIKE 'lifeboat\\_verify\\_${pid}\\_%' ORDER BY 1;`),
    psql('postgres', `SELECT rolname, rolpassword IS NULL, rolsuper FROM pg_authid WHERE rolname = 'postgres';`),
    psql('postgres', `SELECT roleid::regrole, member::regrole FROM pg_auth_members WHERE member::regrole::text = '${canaryRole}';`),
    psql('postgres', `SELECT datname FROM pg_database WHERE datname LIKE 'lifeboat\\_verify\\_${pid}\\_%';`),
  ];
  const redis = [redisCli(['GET', `${redisOther}:canary`]).toString(), redisCli(['GET', `${live}:kept`]).toString()];
  return [...my, ...pg, ...redis, `marker: ${existsSync(marker)}`].join('\n');
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-untrusted-'));
  marker = path.join(work, 'marker');
  mariadb(`CREATE DATABASE \`${live}\`; CREATE TABLE \`${live}\`.t (id int); INSERT INTO \`${live}\`.t VALUES (1); CREATE DATABASE \`${other}\`;`);
  psql('postgres', `CREATE DATABASE "${live}"; CREATE ROLE "${canaryRole}" NOLOGIN;`);
  psql(live, 'CREATE TABLE t (id int); INSERT INTO t VALUES (1);');
  redisCli(['SET', `${redisOther}:canary`, 'theirs']);
  redisCli(['SET', `${live}:kept`, 'ours']);
});

afterAll(() => {
  dropMariadb(live);
  dropMariadb(other);
  dropPostgres(live);
  psql('postgres', `DROP ROLE IF EXISTS "${canaryRole}"; DROP ROLE IF EXISTS "${evilRole}";`);
  mariadb(`DROP USER IF EXISTS '${evilRole}'@'%';`);
  deleteRedisKeys(redisOther);
  deleteRedisKeys(live);
  rmSync(work, { recursive: true, force: true });
});

// A fresh folder under this file's work folder (removed with it).
function freshDir(): string {
  return mkdtempSync(path.join(work, 'dir-'));
}

// Dumps one entry into `dir` and returns its load job and file.
async function dumpOne(entry: DatabaseConfig, dir = work): Promise<{ job: LoadJob; file: string }> {
  const ctx = engineContext();
  const [job] = await dumpJobs([entry], ctx);
  await stageDump(job, path.join(dir, job.file), ctx);
  const [load] = loadJobs([entry], dir);
  return { job: load, file: path.join(dir, load.file) };
}

// The message of a rejected promise (fails the test when it resolves).
async function failure(promise: Promise<unknown>): Promise<LifeboatError> {
  const result = await promise.then(
    (value) => new Error(`resolved: ${String(value)}`),
    (error: unknown) => error,
  );
  expect(result).toBeInstanceOf(LifeboatError);
  return result as LifeboatError;
}

describe('MariaDB: a crafted dump in the drill reaches nothing but its scratch databases', () => {
  const source = uniqueName();
  const config: MysqlDatabase = { database: source, ...MY };
  let dump: string;
  let drillJob: LoadJob;
  let before: string;
  let sourceBefore: string;
  beforeAll(async () => {
    createMariadb(source);
    const { job, file } = await dumpOne({ mysql: config });
    drillJob = job;
    dump = readFileSync(file, 'utf8');
    writeFileSync(path.join(work, 'inner.sql'), `INSERT INTO \`${live}\`.t VALUES (666);\n`);
    before = outside();
    sourceBefore = describeMariadb(source);
  });
  afterAll(() => dropMariadb(source));

  // The real dump with `lines` put in right after its USE line.
  function crafted(name: string, lines: string[]): string {
    const use = `USE \`${source}\`;\n`;
    expect(dump).toContain(use);
    const file = path.join(work, `crafted-${name}.sql`);
    writeFileSync(file, dump.replace(use, `${use}${lines.join('\n')}\n`));
    return file;
  }

  const insert = 'INSERT INTO t VALUES (666);';
  const cases: Array<[string, () => string[], RegExp]> = [
    ['use live; (lower case)', () => [`use \`${live}\`;`, insert], /Access denied for user 'lifeboat_verify_\d+_\w+'@'[^']+' to database/],
    ['INSERT INTO live.t', () => [`INSERT INTO \`${live}\`.t VALUES (666);`], /INSERT command denied to user 'lifeboat_verify_/],
    ['\\u live', () => [`\\u ${live}`, insert], /Access denied for user 'lifeboat_verify_/],
    ['/*!40000 USE live */;', () => [`/*!40000 USE \`${live}\` */;`, insert], /Access denied for user 'lifeboat_verify_/],
    ['a leading space before USE', () => [` USE \`${live}\`;`, insert], /Access denied for user 'lifeboat_verify_/],
    ['a tab before USE', () => [`\tUSE \`${live}\`;`, insert], /Access denied for user 'lifeboat_verify_/],
    ['a comment after USE', () => [`USE \`${live}\`; -- the live one`, insert], /Access denied for user 'lifeboat_verify_/],
    ['PREPARE from CONCAT', () => [`SET @q = CONCAT('INSERT INTO \`', '${live}', '\`.t VALUES (666)');`, 'PREPARE s FROM @q;', 'EXECUTE s;'], /INSERT command denied to user 'lifeboat_verify_/],
    ['\\. another file', () => [`\\. ${path.join(work, 'inner.sql')}`], /Not allowed in the sandbox mode/],
    ['source another file', () => [`source ${path.join(work, 'inner.sql')}`], /Not allowed in the sandbox mode/],
    ['drop database other;', () => [`drop database \`${other}\`;`], /DROP command denied to user 'lifeboat_verify_|Access denied for user 'lifeboat_verify_/],
    ['\\! touch (a shell command)', () => [`\\! touch ${marker}`], /Not allowed in the sandbox mode/],
    ['system touch', () => [`system touch ${marker}`], /Not allowed in the sandbox mode/],
    ['tee into a file', () => [`tee ${marker}`, 'SELECT 1;'], /Not allowed in the sandbox mode/],
    ['LOAD DATA LOCAL INFILE', () => ['CREATE TABLE stolen (line text);', "LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE stolen;"], /local infile/],
    ['a procedure with DEFINER=root, called', () => ['DELIMITER ;;', `CREATE DEFINER=\`root\`@\`localhost\` PROCEDURE p() INSERT INTO \`${live}\`.t VALUES (666) ;;`, 'DELIMITER ;', 'CALL p();'], /INSERT command denied to user 'lifeboat_verify_/],
    ['a view with a definer the renamer does not see', () => [` CREATE DEFINER=\`root\`@\`localhost\` SQL SECURITY DEFINER VIEW v AS SELECT 1;`], /you need \(at least one of\) the SUPER, SET USER privilege/],
    ['GRANT to itself', () => ['GRANT ALL PRIVILEGES ON *.* TO CURRENT_USER;'], /Access denied for user 'lifeboat_verify_/],
    ['CREATE USER', () => [`CREATE USER '${evilRole}'@'%';`], /you need \(at least one of\) the CREATE USER privilege/],
    ['a database named like another drill', () => [`create database \`lifeboat_verify_1_00000000\`;`], /Access denied for user 'lifeboat_verify_/],
    ['SELECT INTO OUTFILE', () => [`SELECT 1 INTO OUTFILE '${marker}';`], /FILE privilege/],
  ];

  it.each(cases)('%s: the drill fails, nothing outside changes', async (name, lines, refused) => {
    const file = crafted(name.replace(/\W+/g, '-'), lines());
    const error = await failure(drillJob.drill!(file, engineContext({ EDITOR: `touch ${marker}`, VISUAL: `touch ${marker}` })));
    expect(error.message).toMatch(refused);
    expect(error.message).toMatch(/^MariaDB database "\S+" on 127\.0\.0\.1:3306, loaded into scratch database lifeboat_verify_\d+_\w+ as the temporary account lifeboat_verify_\d+_\w+: mariadb failed \(exit 1\): ERROR/);
    expect(outside()).toBe(before);
    expect(describeMariadb(source)).toBe(sourceBefore);
  });

  it('\\e runs no editor of the environment, and an honest dump still loads', async () => {
    const file = crafted('editor', ['SELECT 1 \\e', 'SELECT 2;']);
    await drillJob.drill!(file, engineContext({ EDITOR: `touch ${marker}`, VISUAL: `touch ${marker}` })).catch(() => {});
    expect(existsSync(marker)).toBe(false);
    await expect(drillJob.drill!(crafted('honest', []), engineContext())).resolves.toMatch(/^loaded into scratch database lifeboat_verify_\d+_\w+: 1 table\(s\), 2 row\(s\); dropped again$/);
    expect(outside()).toBe(before);
  });

  it('a drill stopped half-way (timeout, SIGTERM) still drops its temporary account and scratch database', async () => {
    const file = crafted('sleep', ['SELECT SLEEP(60);']);
    const controller = new AbortController();
    const drill = drillJob.drill!(file, { ...engineContext(), signal: controller.signal }).catch((error: Error) => error);
    const account = () => mariadb(`SELECT COUNT(*) FROM information_schema.processlist WHERE user LIKE 'lifeboat\\_verify\\_${pid}\\_%' AND info LIKE 'SELECT SLEEP%';`).trim();
    for (let i = 0; i < 400 && account() !== '1'; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(account()).toBe('1');
    controller.abort('SIGTERM');
    expect(String(await drill)).toMatch(/mariadb was stopped \(SIGTERM\)/);
    expect(outside()).toBe(before);
    // Its session on the server, still sleeping when the client was stopped, was ended too.
    expect(account()).toBe('0');
  });

  it('routines, triggers, events and views with DEFINER=root load (as the temporary account)', async () => {
    const rich = uniqueName();
    createMariadb(rich);
    try {
      mariadb(
        `CREATE TABLE log (n int);
         CREATE TRIGGER tr AFTER INSERT ON items FOR EACH ROW INSERT INTO log VALUES (NEW.id);
         CREATE VIEW v AS SELECT id FROM items;
         CREATE PROCEDURE p() SELECT COUNT(*) FROM items;
         CREATE FUNCTION f() RETURNS int DETERMINISTIC RETURN 1;
         CREATE EVENT e ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM log;`,
        rich,
      );
      const { job, file } = await dumpOne({ mysql: { database: rich, ...MY } });
      expect(readFileSync(file, 'utf8')).toMatch(/DEFINER=`root`@/);
      await expect(job.drill!(file, engineContext())).resolves.toMatch(/: 2 table\(s\), 2 row\(s\); dropped again$/);
    } finally {
      dropMariadb(rich);
    }
    expect(outside()).toBe(before);
  });

  it('a database whose name holds a line break is never loaded into the live one', async () => {
    const name = `${uniqueName()}\nx`;
    mariadb(`CREATE DATABASE \`${name}\`; CREATE TABLE \`${name}\`.t (id int); INSERT INTO \`${name}\`.t VALUES (1);`);
    try {
      const { job, file } = await dumpOne({ mysql: { database: name, ...MY, name: 'newline' } });
      const error = await failure(job.drill!(file, engineContext()));
      expect(error.message).toMatch(/the database name holds a line break/);
      const restore = await failure(job.load({ path: file }, engineContext()));
      expect(restore.message).toMatch(/the database name holds a line break.*nothing was loaded/);
      expect(mariadb(`SELECT COUNT(*) FROM t;`, name).trim()).toBe('1');
      expect(mariadb(`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '${name.replace('\n', '\\n')}';`).trim()).toBe('1');
    } finally {
      mariadb(`DROP DATABASE IF EXISTS \`${name}\`;`);
    }
    expect(outside()).toBe(before);
  });
});

describe('MariaDB restores: a dump of another database is refused before anything is loaded', () => {
  const a = uniqueName();
  const b = uniqueName();
  let before: string;
  let dumpOfA: string;
  beforeAll(async () => {
    createMariadb(a);
    createMariadb(b);
    dumpOfA = (await dumpOne({ mysql: { database: a, ...MY } })).file;
    mariadb(`INSERT INTO items VALUES (3, NULL, 'after the dump');`, a);
    mariadb(`DELETE FROM items WHERE id = 2;`, b);
    before = [describeMariadb(a), describeMariadb(b), outside()].join('\n');
  });
  afterAll(() => {
    dropMariadb(a);
    dropMariadb(b);
  });

  it("A's dump restored as B (a file, and on stdin): refused naming both, A and B unchanged", async () => {
    const asB: MysqlDatabase = { database: b, ...MY };
    const error = await failure(loadMysql(asB, { path: dumpOfA }, engineContext()));
    expect(error.message).toBe(`MariaDB database "${b}" on 127.0.0.1:3306: the dump ${dumpOfA} cannot be restored here: it is the dump of database "${a}"; nothing was loaded`);
    expect(error.hint).toMatch(/never loaded over it/);
    const streamed = await failure(loadMysql(asB, { stream: Readable.from([readFileSync(dumpOfA)]) }, engineContext()));
    expect(streamed.message).toMatch(/the dump on stdin cannot be restored here: it is the dump of database/);
    expect([describeMariadb(a), describeMariadb(b), outside()].join('\n')).toBe(before);
  });

  it("B's own dump with a line that selects another database: refused before any statement runs", async () => {
    const own = (await dumpOne({ mysql: { database: b, ...MY } }, freshDir())).file;
    const text = readFileSync(own, 'utf8');
    const drops = text.replace(/(DROP TABLE IF EXISTS `items`;)/, `use \`${a}\`;\n$1`);
    writeFileSync(own, drops);
    const error = await failure(loadMysql({ database: b, ...MY }, { path: own }, engineContext()));
    expect(error.message).toMatch(new RegExp(`the dump \\S+ cannot be restored here: line \\d+ selects a database in a way mariadb-dump never writes \\("use \`${a}\`;"\\); nothing was loaded$`));
    expect([describeMariadb(a), describeMariadb(b), outside()].join('\n')).toBe(before);
  });
});

describe('PostgreSQL: a crafted archive in the drill runs with the rights of a role that owns only the scratch database', () => {
  let before: string;
  beforeAll(() => {
    before = outside();
  });

  // A database whose CHECK constraint calls a function doing `attack` once restored anywhere else;
  // returns the drill job and its archive.
  async function craftedArchive(attack: string, extra = ''): Promise<{ job: LoadJob; file: string; name: string }> {
    const name = uniqueName();
    createPostgres(name);
    try {
      psql(
        name,
        `${extra}
         CREATE FUNCTION attack(int) RETURNS boolean LANGUAGE plpgsql AS $body$
         BEGIN
           IF current_database() = '${name}' THEN RETURN true; END IF;
           ${attack}
           RETURN true;
         END $body$;
         CREATE TABLE a (x int CHECK (attack(x)));
         INSERT INTO a VALUES (1);`,
      );
      const dir = freshDir();
      const { job, file } = await dumpOne({ postgres: { database: name, ...PG } }, dir);
      return { job, file, name };
    } finally {
      dropPostgres(name);
    }
  }

  const cases: Array<[string, string, RegExp, string?]> = [
    ['CREATE ROLE ... SUPERUSER', `EXECUTE 'CREATE ROLE "${evilRole}" SUPERUSER LOGIN';`, /must be superuser to create superusers/],
    ['CREATE ROLE', `EXECUTE 'CREATE ROLE "${evilRole}" LOGIN';`, /permission denied to create role/],
    ['RESET ROLE, then CREATE ROLE ... SUPERUSER', `EXECUTE 'RESET ROLE'; EXECUTE 'CREATE ROLE "${evilRole}" SUPERUSER LOGIN';`, /must be superuser to create superusers/],
    ['SET ROLE postgres', `EXECUTE 'SET ROLE postgres'; EXECUTE 'DROP ROLE "${canaryRole}"';`, /permission denied to set role "postgres"/],
    ['SET SESSION AUTHORIZATION postgres', `EXECUTE 'SET SESSION AUTHORIZATION postgres'; EXECUTE 'DROP ROLE "${canaryRole}"';`, /permission denied to set session authorization/],
    ['COPY ... TO PROGRAM', `EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch ${marker}''';`, /must be superuser or have privileges of the pg_execute_server_program role/],
    ['DROP ROLE', `EXECUTE 'DROP ROLE "${canaryRole}"';`, /permission denied to drop role/],
    ['GRANT postgres TO itself', `EXECUTE 'GRANT postgres TO CURRENT_USER';`, /must be superuser to alter superusers/],
    ['ALTER DATABASE of the live one', `EXECUTE 'ALTER DATABASE "${live}" CONNECTION LIMIT 0';`, /must be owner of database/],
    ['ALTER ROLE of another role', `EXECUTE 'ALTER ROLE "${canaryRole}" LOGIN';`, /permission denied/],
    ['lo_import of a server file', `PERFORM lo_import('/etc/hostname');`, /permission denied for function lo_import|must be superuser/],
    ['dblink into the live database', `PERFORM dblink_exec('dbname=${live} user=postgres host=127.0.0.1', 'INSERT INTO t VALUES (666)');`, /permission denied to create extension "dblink"/, 'CREATE EXTENSION dblink;'],
  ];

  it.each(cases)('%s: the drill fails, nothing outside changes', async (_name, attack, refused, extra) => {
    const { job, file } = await craftedArchive(attack, extra);
    const error = await failure(job.drill!(file, engineContext()));
    expect(error.message).toMatch(refused);
    expect(error.message).toMatch(/^PostgreSQL database "\S+" on 127\.0\.0\.1:5432, loaded into scratch database lifeboat_verify_\d+_\w+ as the temporary role lifeboat_verify_\d+_\w+: pg_restore failed \(exit 1\)/);
    expect(outside()).toBe(before);
  });

  it('with user postgres (a superuser) the log says the dump is loaded as the temporary role', async () => {
    const { job, file } = await craftedArchive('NULL;');
    const ctx = engineContext();
    await expect(job.drill!(file, ctx)).resolves.toMatch(/archive entries loaded into scratch database lifeboat_verify_\d+_\w+: 3 table\(s\), 3 row\(s\), 1 large object\(s\); dropped again$/);
    expect(ctx.lines.join('\n')).toMatch(/the configured user postgres is a superuser; the drill loads the dump as the temporary role lifeboat_verify_\d+_\w+, which owns only the scratch database, never as that user/);
    expect(outside()).toBe(before);
  });

  it("an archive of another database: the drill, a restore and `load` from stdin refuse it, the database is unchanged", async () => {
    const a = uniqueName();
    createPostgres(a);
    try {
      const dir = freshDir();
      const { file } = await dumpOne({ postgres: { database: a, ...PG } }, dir);
      psql(a, `INSERT INTO items VALUES (3, NULL, 'after the dump');`);
      const liveBefore = describePostgres(a);
      const asLive: PostgresDatabase = { database: live, ...PG };
      const [job] = loadJobs([{ postgres: asLive }], dir);
      const drill = await failure(job.drill!(file, engineContext()));
      expect(drill.message).toBe(`PostgreSQL database "${live}" on 127.0.0.1:5432: the dump ${file} is the dump of database "${a}", not of this one; nothing was loaded`);
      const restore = await failure(loadPostgres(asLive, live, { path: file }, engineContext()));
      expect(restore.message).toBe(drill.message);
      const streamed = await failure(loadPostgres(asLive, live, { stream: Readable.from([readFileSync(file)]) }, engineContext()));
      expect(streamed.message).toBe(`PostgreSQL database "${live}" on 127.0.0.1:5432: the dump on stdin is the dump of database "${a}", not of this one; nothing was loaded`);
      // The name pg_restore --list reports is the one checked.
      expect(execFileSync('pg_restore', ['--list', file], { encoding: 'utf8' })).toContain(`dbname: ${a}\n`);
      expect(describePostgres(a)).toBe(liveBefore);
    } finally {
      dropPostgres(a);
    }
    expect(outside()).toBe(before);
  });
});

describe('PostgreSQL globals.sql: only role and tablespace statements are loaded', () => {
  const all: PostgresDatabase = { database: 'all', ...PG };
  const role = `${uniqueName()}_role`;
  let before: string;
  beforeAll(() => {
    before = outside();
  });
  afterAll(() => psql('postgres', `DROP ROLE IF EXISTS "${role}";`));

  // A globals file as pg_dumpall writes it, with `body` as its statements.
  function globals(body: string): string {
    const file = path.join(work, `globals-${Math.random().toString(16).slice(2)}.sql`);
    writeFileSync(file, `--\n-- PostgreSQL database cluster dump\n--\n\n\\restrict abc123\n\nSET default_transaction_read_only = off;\n\nSET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n\n${body}\n\n\\unrestrict abc123\n\n--\n-- PostgreSQL database cluster dump complete\n--\n\n`);
    return file;
  }

  const cases: Array<[string, string, RegExp]> = [
    ['\\! a shell command', `\\! touch ${marker}`, /line \d+: "\\\\! touch .*" is not a role or tablespace statement pg_dumpall writes/],
    ['\\! after a role on the same line', `CREATE ROLE "${evilRole}"; \\! touch ${marker}`, /"\\\\! touch .*" is not a role or tablespace statement/],
    ['\\copy', `\\copy (SELECT 1) TO '${marker}'`, /"\\\\copy \(SELECT 1\) TO .*" is not a role or tablespace statement/],
    ['\\connect', `\\connect ${live}`, /is not a role or tablespace statement/],
    ['a psql variable', `CREATE ROLE :evil;`, /is not a role or tablespace statement/],
    ['COPY TO PROGRAM', `COPY (SELECT 1) TO PROGRAM 'touch ${marker}';`, /"COPY \( SELECT 1 \) TO PROGRAM 'touch .*'" is not a role or tablespace statement/],
    ['DO', `DO $$ BEGIN EXECUTE 'DROP ROLE "${canaryRole}"'; END $$;`, /is not a role or tablespace statement/],
    ['CREATE FUNCTION', `CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';`, /"CREATE FUNCTION f .*" is not a role or tablespace statement/],
    ['DROP ROLE after a role', `CREATE ROLE "${evilRole}"; DROP ROLE "${canaryRole}";`, /"DROP ROLE \\"\S+_canary\\"" is not a role or tablespace statement/],
    ['a new role made superuser', `CREATE ROLE "${evilRole}";\nALTER ROLE "${evilRole}" WITH SUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN PASSWORD 'x';`, /makes role "\S+_evil" a superuser, which it is not on this server/],
    ['an existing role made superuser', `ALTER ROLE "${canaryRole}" WITH SUPERUSER;`, /makes role "\S+_canary" a superuser/],
    ['membership in postgres', `GRANT postgres TO "${canaryRole}";`, /grants role "postgres", which is a superuser/],
    ['membership in pg_execute_server_program', `GRANT pg_execute_server_program TO "${canaryRole}" GRANTED BY postgres;`, /grants role "pg_execute_server_program", which reads, writes or runs programs on the server/],
    ['session_preload_libraries', `ALTER ROLE "${canaryRole}" SET session_preload_libraries TO '/tmp/evil.so';`, /sets session_preload_libraries, which loads code into the server/],
    ['standard_conforming_strings off', `SET standard_conforming_strings = off;\nCOMMENT ON ROLE "${canaryRole}" IS 'a\\';`, /"SET standard_conforming_strings = off" is not a role or tablespace statement/],
    ["an E'' string", `COMMENT ON ROLE "${canaryRole}" IS E'x';`, /prefixed string literal/],
    ['a block comment', `CREATE ROLE /* x */ "${evilRole}";`, /is not a role or tablespace statement/],
    ['an unterminated statement', `CREATE ROLE "${evilRole}"`, /the file ends inside a statement/],
  ];

  it.each(cases)('%s: refused as a whole before anything runs', async (_name, body, refused) => {
    const file = globals(body);
    const error = await failure(loadGlobals(all, { path: file }, engineContext()));
    expect(error.message).toMatch(new RegExp(`^PostgreSQL roles on 127\\.0\\.0\\.1:5432: the roles file ${file} cannot be loaded: `));
    expect(error.message).toMatch(refused);
    expect(error.message).toMatch(/; nothing was loaded$/);
    expect(outside()).toBe(before);
  });

  it("pg_dumpall's own output loads (a role with a comment, a setting and a membership); the server's superusers are left alone", async () => {
    psql('postgres', `CREATE ROLE "${role}" LOGIN CONNECTION LIMIT 3 PASSWORD 'secret-${role}'; COMMENT ON ROLE "${role}" IS 'it''s me'; ALTER ROLE "${role}" SET work_mem TO '8MB'; GRANT "${canaryRole}" TO "${role}";`);
    const dumped = execFileSync('pg_dumpall', ['--globals-only', '-h', PG.host, '-U', PG.user], { encoding: 'utf8' });
    expect(dumped).toMatch(/^\\restrict \w+$/m);
    // Only this test's roles (other tests share the server), the postgres superuser, and the frame.
    const mine = dumped.split('\n').filter((line) => !/^(CREATE|ALTER|COMMENT|GRANT)/.test(line) || line.includes(role) || / postgres[ ;]/.test(line));
    const withPassword = [...mine, `ALTER ROLE postgres WITH PASSWORD 'taken-over';`].join('\n');
    const file = path.join(work, 'globals-real.sql');
    writeFileSync(file, withPassword);
    const described = () => psql('postgres', `SELECT r.rolname, r.rolcanlogin, r.rolconnlimit, a.rolpassword, r.rolconfig, shobj_description(r.oid, 'pg_authid') FROM pg_roles r JOIN pg_authid a ON a.oid = r.oid WHERE r.rolname = '${role}'; SELECT count(*) FROM pg_auth_members WHERE member = '"${role}"'::regrole;`);
    const wanted = described();
    psql('postgres', `DROP ROLE "${role}";`);
    const ctx = engineContext();
    await loadGlobals(all, { path: file }, ctx);
    expect(described()).toBe(wanted);
    expect(ctx.lines.join('\n')).toMatch(/statement\(s\) about roles and tablespaces that exist already, or about the server's superusers, left as they are/);
    // Loading it again changes nothing and fails on nothing (the role exists now).
    await loadGlobals(all, { stream: Readable.from([readFileSync(file)]) }, engineContext());
    expect(described()).toBe(wanted);
    expect(outside()).toBe(before);
  });
});

describe('Redis: a dump holding keys outside the entry patterns is refused before any key changes', () => {
  const mine = `${live}:m`;
  const config: RedisDatabase = { url: REDIS_URL, keys: [`${mine}:*`] };
  let file: string;
  let before: string;
  beforeAll(async () => {
    redisCli(['SET', `${mine}:a`, 'one']);
    redisCli(['SET', `${redisOther}:canary`, 'dumped']);
    // One dump of both patterns: the module's keys and another module's.
    const dir = freshDir();
    ({ file } = await dumpOne({ redis: { url: REDIS_URL, keys: [`${mine}:*`, `${redisOther}:*`], name: 'both' } }, dir));
    redisCli(['SET', `${redisOther}:canary`, 'theirs']);
    redisCli(['SET', `${mine}:a`, 'changed since']);
    before = `${outside()}\n${redisCli(['GET', `${mine}:a`])}`;
  });

  it('restore from a file and from stdin, and the drill, refuse it naming the key; no key changes', async () => {
    const expected = new RegExp(`^Redis 127\\.0\\.0\\.1:6379 db 0 \\(keys \\S+\\): the dump holds key "${redisOther}:canary", which matches none of the entry's keys patterns \\(${mine}:\\*\\); no key was changed$`);
    expect((await failure(loadRedis(config, { path: file }, engineContext()))).message).toMatch(expected);
    expect((await failure(loadRedis(config, { stream: Readable.from([readFileSync(file)]) }, engineContext()))).message).toMatch(expected);
    const [job] = loadJobs([{ redis: config }], path.dirname(file));
    expect((await failure(job.drill!(file, engineContext()))).message).toMatch(/the dump holds key .* which matches none of the entry's keys patterns/);
    expect(`${outside()}\n${redisCli(['GET', `${mine}:a`])}`).toBe(before);
    expect(readdirSync('/tmp').filter((name) => name.startsWith('lifeboat-redis-load-'))).toEqual([]);
  });

  it('patterns match as SCAN MATCH does (* ? [] ^ ranges, escapes)', async () => {
    const { keyMatches } = await import('../../src/engines/redis-keys.js');
    const cases: Array<[string, string, boolean]> = [
      ['app/*', 'app/x/y', true],
      ['app/*', 'apq/x', false],
      ['a?c', 'abc', true],
      ['a?c', 'ac', false],
      ['a[bc]d', 'acd', true],
      ['a[^bc]d', 'acd', false],
      ['a[a-c]d', 'abd', true],
      ['a[c-a]d', 'abd', true],
      ['a\\*', 'a*', true],
      ['a\\*', 'ab', false],
      ['*:canary', 'x:canary', true],
      ['**x', 'abx', true],
    ];
    for (const [pattern, key, matches] of cases) expect([pattern, key, keyMatches(pattern, Buffer.from(key))]).toEqual([pattern, key, matches]);
  });
});

describe('end to end: a crafted dump written into the repository', () => {
  it('verify exits 1 and restore refuses it; the live databases and the module are unchanged', async () => {
    const name = uniqueName();
    createMariadb(name);
    const t = makeRoot();
    try {
      const data = path.join(t.dir, 'data');
      mkdirSync(data);
      writeFileSync(path.join(data, 'file.txt'), 'data\n');
      t.module('shop', { folders: [data], databases: [{ mysql: { database: name, ...MY } }] });
      const backup = await lifeboat(t, ['backup', 'shop']);
      expect(backup.exitCode, backup.stderr).toBe(0);
      // The attacker rewrites the dump inside the repository.
      const found = execFileSync('find', [path.join(t.dir, 'repo'), '-name', `mysql-${name}.sql`], { encoding: 'utf8' }).trim().split('\n');
      expect(found).toHaveLength(1);
      const dump = readFileSync(found[0], 'utf8');
      const use = `USE \`${name}\`;\n`;
      writeFileSync(found[0], dump.replace(use, `${use}INSERT INTO \`${live}\`.t VALUES (666);\n\\! touch ${marker}\n`));
      const before = [outside(), describeMariadb(name)].join('\n');
      const verify = await lifeboat(t, ['verify', 'shop']);
      expect(verify.exitCode).toBe(1);
      expect(verify.stderr).toMatch(/INSERT command denied to user 'lifeboat_verify_\d+_\w+'@'[^']+' for table `\S+`\.`t` \(the dump reaches beyond its scratch database; the server refused it\)/);
      expect([outside(), describeMariadb(name)].join('\n')).toBe(before);
      // A dump of another database in its place: restore refuses it before loading anything.
      const otherDump = (await dumpOne({ mysql: { database: live, ...MY } }, freshDir())).file;
      writeFileSync(found[0], readFileSync(otherDump));
      const restore = await lifeboat(t, ['restore', 'shop', '--no-safety-snapshot']);
      expect(restore.exitCode).not.toBe(0);
      expect(restore.stderr).toMatch(new RegExp(`MariaDB database "${name}" on 127\\.0\\.0\\.1:3306: the dump \\S+ cannot be restored here: it is the dump of database "${live}"; nothing was loaded`));
      expect([outside(), describeMariadb(name)].join('\n')).toBe(before);
    } finally {
      dropMariadb(name);
      t.cleanup();
    }
  });
});

// Found by a fresh-eyes attack on the fixes above (review of issue 19).
describe('fresh-eyes attack: globals.sql statements that reach the connected superuser or every role', () => {
  const all: PostgresDatabase = { database: 'all', ...PG };
  const powerful = `${uniqueName()}_cr`;
  // The superuser's password and settings, compared before and after (never printed).
  const superuser = () => psql('postgres', `SELECT md5(coalesce(a.rolpassword, '-')), r.rolconfig, a.rolcreaterole, a.rolreplication, a.rolbypassrls FROM pg_authid a JOIN pg_roles r ON r.oid = a.oid WHERE a.rolname = 'postgres'; SELECT count(*) FROM pg_db_role_setting WHERE setrole = 0;`);
  let before: string;
  beforeAll(() => {
    psql('postgres', `CREATE ROLE "${powerful}" NOLOGIN CREATEROLE;`);
    before = [outside(), superuser()].join('\n');
  });
  afterAll(() => psql('postgres', `DROP ROLE IF EXISTS "${powerful}";`));

  function globals(body: string): string {
    const file = path.join(work, `globals-fe-${Math.random().toString(16).slice(2)}.sql`);
    writeFileSync(file, `--\n-- PostgreSQL database cluster dump\n--\n\nSET default_transaction_read_only = off;\n\nSET client_encoding = 'UTF8';\nSET standard_conforming_strings = on;\n\n${body}\n\n--\n-- PostgreSQL database cluster dump complete\n--\n\n`);
    return file;
  }

  const cases: Array<[string, string, RegExp]> = [
    ['ALTER ROLE CURRENT_USER ... PASSWORD', `ALTER ROLE CURRENT_USER WITH PASSWORD 'pwned';`, /names CURRENT_USER where a role of the file belongs/],
    ['ALTER ROLE SESSION_USER ... PASSWORD', `ALTER ROLE SESSION_USER WITH PASSWORD 'pwned';`, /names SESSION_USER where a role of the file belongs/],
    ['ALTER ROLE current_role SET', `ALTER ROLE current_role SET work_mem TO '1MB';`, /names CURRENT_ROLE where/],
    ['ALTER ROLE ALL SET', `ALTER ROLE ALL SET default_transaction_read_only = 'on';`, /names ALL where a role of the file belongs/],
    ['GRANT a role TO PUBLIC', `GRANT "${canaryRole}" TO PUBLIC;`, /names PUBLIC where/],
    ['a new role with CREATEROLE, REPLICATION, BYPASSRLS', `CREATE ROLE "${evilRole}";\nALTER ROLE "${evilRole}" WITH NOSUPERUSER INHERIT CREATEROLE NOCREATEDB LOGIN REPLICATION BYPASSRLS PASSWORD 'x';`, /gives role "\S+_evil" CREATEROLE, which it does not have on this server \(as good as superuser\)/],
    ['REPLICATION for an existing role', `ALTER ROLE "${canaryRole}" WITH REPLICATION;`, /gives role "\S+_canary" REPLICATION, which it does not have/],
    ['BYPASSRLS for an existing role', `ALTER ROLE "${canaryRole}" BYPASSRLS;`, /gives role "\S+_canary" BYPASSRLS/],
    ['GRANT pg_write_all_data', `GRANT pg_write_all_data TO "${canaryRole}";`, /grants the predefined role "pg_write_all_data"/],
    ['GRANT pg_read_all_data', `GRANT pg_read_all_data TO "${canaryRole}" GRANTED BY postgres;`, /grants the predefined role "pg_read_all_data"/],
    ['GRANT pg_signal_backend', `GRANT pg_signal_backend TO "${canaryRole}";`, /grants the predefined role "pg_signal_backend"/],
    ['GRANT pg_checkpoint, pg_monitor', `GRANT pg_monitor, pg_checkpoint TO "${canaryRole}";`, /grants the predefined role "pg_monitor"/],
  ];

  it.each(cases)('%s: refused as a whole before anything runs; the superuser and every role unchanged', async (_name, body, refused) => {
    const file = globals(body);
    // The parser alone (no server) must refuse it first, so nothing of it can run if it did not.
    const state = { superusers: new Set(['postgres']), roles: new Set(['postgres', canaryRole]), tablespaces: new Set<string>() };
    expect(() => globalsScript(readFileSync(file, 'latin1'), state, 'x')).toThrow(refused);
    const error = await failure(loadGlobals(all, { path: file }, engineContext()));
    expect(error.message).toMatch(refused);
    expect(error.message).toMatch(/; nothing was loaded$/);
    expect([outside(), superuser()].join('\n')).toBe(before);
  });

  it('a role that has CREATEROLE on the server keeps it: its pg_dumpall lines load', async () => {
    const file = globals(`CREATE ROLE "${powerful}";\nALTER ROLE "${powerful}" WITH NOSUPERUSER INHERIT CREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;`);
    await loadGlobals(all, { path: file }, engineContext());
    expect(psql('postgres', `SELECT rolcreaterole FROM pg_roles WHERE rolname = '${powerful}';`).trim()).toBe('t');
    expect([outside(), superuser()].join('\n')).toBe(before);
  });

  it('verify (the check of globals.sql) fails on a file a restore would refuse, running nothing', async () => {
    const dir = freshDir();
    mkdirSync(path.join(dir, 'postgres-all'));
    const file = path.join(dir, 'postgres-all', 'globals.sql');
    writeFileSync(file, readFileSync(globals(`ALTER ROLE CURRENT_USER WITH PASSWORD 'pwned';\n\\! touch ${marker}`)));
    const job = loadJobs([{ postgres: all }], dir).find((candidate) => candidate.file === 'postgres-all/globals.sql')!;
    const error = await failure(job.check(file, engineContext()));
    expect(error.message).toMatch(new RegExp(`^PostgreSQL roles on 127\\.0\\.0\\.1:5432: the roles file ${file} would be refused by a restore: line \\d+: "\\\\\\\\! touch .*" is not a role or tablespace statement pg_dumpall writes; nothing was loaded$`));
    writeFileSync(file, readFileSync(globals(`ALTER ROLE CURRENT_USER WITH PASSWORD 'pwned';`)));
    expect((await failure(job.check(file, engineContext()))).message).toMatch(/names CURRENT_USER where a role of the file belongs/);
    writeFileSync(file, readFileSync(globals(`CREATE ROLE "${evilRole}";\nCOMMENT ON ROLE "${evilRole}" IS 'x';`)));
    await expect(job.check(file, engineContext())).resolves.toMatch(/complete; 2 role and tablespace statement\(s\), all of a kind a restore loads$/);
    expect([outside(), superuser()].join('\n')).toBe(before);
  });
});

describe('fresh-eyes attack: a PostgreSQL archive whose DATABASE entry names another database', () => {
  it('restored as a database that does not exist yet: loaded into that one, never into the one the entry names', async () => {
    const before = outside();
    const liveBefore = describeLive();
    const claimed = uniqueName();
    expect(claimed).toHaveLength(live.length);
    createPostgres(claimed);
    const dir = freshDir();
    let file: string;
    try {
      file = (await dumpOne({ postgres: { database: claimed, ...PG } }, dir)).file;
    } finally {
      dropPostgres(claimed);
    }
    // Patched bytes only: the DATABASE entry's tag (the name's 2nd occurrence) becomes the live database,
    // its CREATE DATABASE statement a padded SELECT 1 (same lengths, so the archive stays readable).
    const bytes = readFileSync(file);
    const name = Buffer.from(claimed);
    const tag = bytes.indexOf(name, bytes.indexOf(name) + 1);
    Buffer.from(live).copy(bytes, tag);
    const create = bytes.indexOf('CREATE DATABASE ');
    const end = bytes.indexOf(';', create) + 1;
    Buffer.from('SELECT 1;'.padEnd(end - create, ' ')).copy(bytes, create);
    writeFileSync(file, bytes);
    try {
      const ctx = engineContext();
      await loadPostgres({ database: claimed, ...PG }, claimed, { path: file }, ctx);
      expect(ctx.lines.join('\n')).toMatch(/does not exist; creating it, then loading the dump into it/);
      expect(psql(claimed, 'SELECT id, label FROM items ORDER BY id;')).toMatch(/^1\|Grüße/);
      expect(describeLive()).toBe(liveBefore);
      expect(outside()).toBe(before);
    } finally {
      dropPostgres(claimed);
    }
  });

  // The live database's tables (a crafted archive would add `items` to it).
  function describeLive(): string {
    return psql(live, `SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public';`);
  }
});

describe('fresh-eyes attack: MariaDB dump lines that select another database', () => {
  const b = uniqueName();
  let own: string;
  let before: string;
  beforeAll(async () => {
    createMariadb(b);
    // Data that looks like the attacks, inside quotes, must still load.
    mariadb(`INSERT INTO items VALUES (3, NULL, 'x; USE \`${live}\`; \\\\u ${live} /*!USE x*/ DELIMITER // PREPARE');`, b);
    mariadb(`CREATE TRIGGER tr BEFORE INSERT ON items FOR EACH ROW SET NEW.label = NEW.label;
DELIMITER //
CREATE PROCEDURE p() BEGIN PREPARE s FROM 'SELECT 1'; EXECUTE s; SELECT 2 INTO @x; SET @y := 1; END//
DELIMITER ;
CREATE EVENT e ON SCHEDULE EVERY 1 DAY DISABLE DO SELECT 1;`, b);
    own = (await dumpOne({ mysql: { database: b, ...MY } }, freshDir())).file;
    before = [describeMariadb(b), outside()].join('\n');
  });
  afterAll(() => dropMariadb(b));

  const cases: Array<[string, (name: string) => string, RegExp]> = [
    ['\\u without a space', (name) => `\\u${name}\nINSERT INTO t VALUES (666);`, /a backslash outside quotes/],
    ['USE in the middle of a line', (name) => `SELECT 1; USE ${name}; INSERT INTO t VALUES (666);`, /USE after other text on its line/],
    ['USE in a version comment mid-line', (name) => `SELECT 1; /*!USE ${name}*/; INSERT INTO t VALUES (666);`, /USE after other text on its line/],
    ['USE after a comment', (name) => `/* x */ USE ${name}; INSERT INTO t VALUES (666);`, /USE after other text on its line/],
    ['DELIMITER //', (name) => `DELIMITER //\nSELECT 1// USE ${name}// INSERT INTO t VALUES (666)//\nDELIMITER ;`, /DELIMITER "\/\/" is not a delimiter mariadb-dump writes/],
    ['DELIMITER mid-line', (name) => `SELECT 1; delimiter //\nUSE ${name}// INSERT INTO t VALUES (666)//`, /DELIMITER inside a statement/],
    ['PREPARE of USE', (name) => `PREPARE s FROM 'USE ${name}';\nEXECUTE s;\nINSERT INTO t VALUES (666);`, /a statement starting with PREPARE/],
    ['EXECUTE IMMEDIATE', (name) => `EXECUTE IMMEDIATE CONCAT('US', 'E ${name}');\nINSERT INTO t VALUES (666);`, /a statement starting with EXECUTE/],
    ['sql_mode NO_BACKSLASH_ESCAPES', () => `SET sql_mode = 'NO_BACKSLASH_ESCAPES';`, /switches to a way of reading quotes the restore cannot follow/],
    ['sql_mode from a crafted variable', () => `SET @m = CONCAT('NO_BACKSL', 'ASH_ESCAPES');\nSET sql_mode = @m;`, /setting @m to anything but a server variable/],
    ['a user variable set with :=', () => `SELECT @saved_sql_mode := 'ANSI';`, /setting a user variable \(:= or INTO @\)/],
    ['SET NAMES sjis', () => `SET NAMES sjis;`, /switches to a way of reading quotes/],
  ];

  it.each(cases)("%s: refused before anything is loaded; the other database is unchanged", async (_name, line, refused) => {
    const text = readFileSync(own, 'utf8');
    const anchor = 'DROP TABLE IF EXISTS `items`;';
    expect(text).toContain(anchor);
    const crafted = path.join(freshDir(), 'crafted.sql');
    writeFileSync(crafted, text.replace(anchor, `${line(live)}\n${anchor}`));
    const error = await failure(loadMysql({ database: b, ...MY }, { path: crafted }, engineContext()));
    expect(error.message).toMatch(new RegExp(`^MariaDB database "${b}" on 127\\.0\\.0\\.1:3306: the dump ${crafted} cannot be restored here: line \\d+: `));
    expect(error.message).toMatch(refused);
    const streamed = await failure(loadMysql({ database: b, ...MY }, { stream: Readable.from([readFileSync(crafted)]) }, engineContext()));
    expect(streamed.message).toMatch(refused);
    expect([describeMariadb(b), outside()].join('\n')).toBe(before);
  });

  it('its honest dump (routines, a trigger, an event, quoted look-alikes) still loads', async () => {
    await loadMysql({ database: b, ...MY }, { path: own }, engineContext());
    expect([describeMariadb(b), outside()].join('\n')).toBe(before);
  });
});

describe('fresh-eyes attack: check names the database of the entry that failed', () => {
  it('a PostgreSQL entry whose connection fails (a role that does not exist) is reported by its own database name', async () => {
    // (PGOPTIONS in a module environment no longer reaches psql at all: tools never get the environment files.)
    const module = { file: path.join(work, 'shop.yml'), env: {}, databases: [{ postgres: { database: live, ...PG, user: `lifeboat_no_such_role_${process.pid}` } }], stateDir: work };
    const [finding] = await checkDatabases({ root: work, rootEnv: {} } as never, [module] as never, engineContext().log);
    expect(finding.level).toBe('fail');
    expect(finding.subject).toBe('shop.yml: /databases/0/postgres');
    expect(finding.message).toMatch(new RegExp(`^PostgreSQL database "${live}" on 127\\.0\\.0\\.1:5432: psql failed`));
    expect(finding.message).not.toMatch(/"all"/);
  });
});
