// Real database servers for the engine tests: PostgreSQL 15 (127.0.0.1:5432, trust), MariaDB 10.11
// (127.0.0.1:3306, root without password), Redis 7 (127.0.0.1:6379), the sqlite3 CLI. Every test makes
// its own uniquely named database or keys (lifeboat_test_<random>) and drops them again; nothing else on
// the servers is touched. Also: a throwaway PostgreSQL with password auth, PATH shims for fault injection.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { EngineContext } from '../../src/engines/index.js';
import { Logger } from '../../src/log/logger.js';

export const PG = { host: '127.0.0.1', port: 5432, user: 'postgres' };
export const MY = { host: '127.0.0.1', port: 3306, user: 'root' };
export const REDIS_URL = 'redis://127.0.0.1:6379/0';

// A unique name for this test's database or key prefix.
export function uniqueName(): string {
  return `lifeboat_test_${randomBytes(5).toString('hex')}`;
}

// Runs psql as the superuser; returns stdout (unaligned, tuples only, | separated).
export function psql(database: string, sql: string, port = PG.port, env: Record<string, string> = {}): string {
  return execFileSync('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-h', PG.host, '-p', String(port), '-U', PG.user, '-d', database], {
    input: sql,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
}

// Runs the mariadb client as root with utf8mb4; returns stdout (tab separated, no headers).
export function mariadb(sql: string, database?: string): string {
  return execFileSync('mariadb', ['-h', MY.host, '-P', String(MY.port), '-u', MY.user, '--default-character-set=utf8mb4', '-N', '-B', ...(database ? [database] : [])], { input: sql, encoding: 'utf8' });
}

// Runs redis-cli; binary-safe output as a Buffer.
export function redisCli(args: string[], input?: Buffer | string): Buffer {
  return execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', ...args], { input });
}

// A PostgreSQL database with binary rows, unicode, a large object and optionally `padMiB` of random rows.
export function createPostgres(name: string, padMiB = 0): void {
  psql('postgres', `CREATE DATABASE "${name}";`);
  psql(
    name,
    `CREATE TABLE items (id int PRIMARY KEY, data bytea, label text);
     INSERT INTO items VALUES (1, '\\xdeadbeef00ff0a0d'::bytea, 'Grüße, 日本語, emoji 🚀'),
                              (2, decode(repeat('00ff', 100), 'hex'), E'tab\\tnewline\\nquote''s');
     SELECT lo_from_bytea(0, '\\x000102fffefd'::bytea || convert_to('large object ✓', 'UTF8'));
     CREATE TABLE pad (id serial PRIMARY KEY, filler text);
     INSERT INTO pad (filler) SELECT string_agg(md5(random()::text || i::text || j::text), '') FROM generate_series(1, ${padMiB * 512}) i, generate_series(1, 64) j GROUP BY i;`,
  );
}

// What a PostgreSQL test database holds, for exact comparison (rows, large objects, pad checksum).
export function describePostgres(name: string): string {
  return psql(
    name,
    `SELECT id, encode(data, 'hex'), label FROM items ORDER BY id;
     SELECT oid, encode(lo_get(oid), 'hex') FROM pg_largeobject_metadata ORDER BY oid;
     SELECT count(*), md5(coalesce(string_agg(filler, '' ORDER BY id), '')) FROM pad;`,
  );
}

export function dropPostgres(name: string, port = PG.port): void {
  spawnSync('psql', ['-X', '-q', '-h', PG.host, '-p', String(port), '-U', PG.user, '-d', 'postgres', '-c', `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`]);
}

// A MariaDB database with BLOBs and 4-byte unicode.
export function createMariadb(name: string): void {
  mariadb(
    `CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4;
     CREATE TABLE \`${name}\`.items (id int PRIMARY KEY, data longblob, label varchar(100)) CHARACTER SET utf8mb4;
     INSERT INTO \`${name}\`.items VALUES (1, UNHEX('DEADBEEF00FF0A0D5C27'), 'Grüße, 日本語, emoji 🚀'), (2, REPEAT(UNHEX('00FF'), 1000), 'tab\\tquote''s');`,
  );
}

export function describeMariadb(name: string): string {
  return mariadb(`SELECT id, HEX(data), label FROM items ORDER BY id;`, name);
}

export function dropMariadb(name: string): void {
  spawnSync('mariadb', ['-h', MY.host, '-u', MY.user, '-e', `DROP DATABASE IF EXISTS \`${name}\``]);
}

// Redis keys under `prefix:`: a string, a binary value, a hash, a list, one with a TTL.
export function createRedisKeys(prefix: string): void {
  redisCli(['SET', `${prefix}:string`, 'Grüße 日本']);
  redisCli(['-x', 'SET', `${prefix}:binary`], Buffer.from([0, 1, 2, 255, 254, 13, 10, 0]));
  redisCli(['HSET', `${prefix}:hash`, 'name', 'lifeboat', 'bytes', 'a\tb']);
  redisCli(['RPUSH', `${prefix}:list`, 'one', 'two', 'three']);
  redisCli(['SET', `${prefix}:ttl`, 'expires', 'PX', '3600000']);
}

// Every key under `prefix:` with its type, DUMP-independent value and whether it has a TTL.
export function describeRedis(prefix: string): string {
  const keys = redisCli(['--scan', '--pattern', `${prefix}:*`]).toString().split('\n').filter(Boolean).sort();
  return keys
    .map((key) => {
      const type = redisCli(['TYPE', key]).toString().trim();
      const value =
        type === 'string' ? redisCli(['--no-raw', 'GET', key]).toString().trim() : type === 'hash' ? redisCli(['HGETALL', key]).toString().trim() : redisCli(['LRANGE', key, '0', '-1']).toString().trim();
      const ttl = Number(redisCli(['PTTL', key]).toString());
      return `${key} ${type} ${JSON.stringify(value)} ${ttl > 0 ? 'ttl' : 'persistent'}`;
    })
    .join('\n');
}

export function deleteRedisKeys(prefix: string): void {
  const keys = redisCli(['--scan', '--pattern', `${prefix}:*`]).toString().split('\n').filter(Boolean);
  if (keys.length) redisCli(['DEL', ...keys]);
}

// A directory with shims that stand in for client tools on PATH (fault injection).
export function shimDir(shims: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-shims-'));
  for (const [name, body] of Object.entries(shims)) writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return dir;
}

// A PATH without the PostgreSQL clients: symlinks to everything in /usr/bin and /bin but them.
export function pathWithout(tools: string[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-path-'));
  for (const source of ['/usr/local/bin', '/usr/bin', '/bin']) {
    let names: string[] = [];
    try {
      names = readdirSync(source);
    } catch {
      continue;
    }
    for (const name of names) {
      if (tools.includes(name)) continue;
      try {
        symlinkSync(path.join(source, name), path.join(dir, name));
      } catch {
        // the same name from an earlier folder wins, as on PATH
      }
    }
  }
  return dir;
}

// A free TCP port on 127.0.0.1 (nothing listens on it afterwards).
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export interface ThrowawayPostgres {
  port: number;
  password: string;
  stop(): void;
}

// A PostgreSQL cluster of its own (initdb as the postgres user) with scram password auth on a free port.
export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-pg-'));
  chmodSync(dir, 0o755);
  const password = `pg-${randomBytes(8).toString('hex')}`;
  const port = await freePort();
  const bin = postgresBin();
  const asPostgres = ([tool, ...args]: string[]) => execFileSync('runuser', ['-u', 'postgres', '--', path.join(bin, tool), ...args], { stdio: 'ignore' });
  chownSync(dir, uid('postgres'), uid('postgres', 'g'));
  writeFileSync(path.join(dir, 'pw'), `${password}\n`, { mode: 0o600 });
  chownSync(path.join(dir, 'pw'), uid('postgres'), uid('postgres', 'g'));
  mkdirSync(path.join(dir, 'sock'));
  chownSync(path.join(dir, 'sock'), uid('postgres'), uid('postgres', 'g'));
  asPostgres(['initdb', '-D', path.join(dir, 'data'), '-A', 'scram-sha-256', `--pwfile=${path.join(dir, 'pw')}`, '-U', 'postgres']);
  asPostgres(['pg_ctl', '-D', path.join(dir, 'data'), '-o', `-p ${port} -k ${path.join(dir, 'sock')} -c listen_addresses=127.0.0.1`, '-l', path.join(dir, 'log'), '-w', 'start']);
  return {
    port,
    password,
    stop() {
      spawnSync('runuser', ['-u', 'postgres', '--', path.join(bin, 'pg_ctl'), '-D', path.join(dir, 'data'), '-m', 'immediate', 'stop'], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The server binaries (initdb, pg_ctl): Debian keeps them in /usr/lib/postgresql/<major>/bin.
function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const majors = readdirSync(root).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a));
  if (majors.length === 0) throw new Error(`no PostgreSQL server binaries under ${root} (Debian: apt-get install postgresql)`);
  return path.join(root, majors[0], 'bin');
}

// The uid (or gid) of a system user.
function uid(user: string, kind: 'u' | 'g' = 'u'): number {
  return Number(execFileSync('id', [`-${kind}`, user], { encoding: 'utf8' }).trim());
}

// An engine context for calling the engines directly: the process environment plus `env`, a debug logger
// whose lines the test can read.
export function engineContext(env: Record<string, string | undefined> = {}): EngineContext & { lines: string[] } {
  const lines: string[] = [];
  const log = new Logger({ level: 'debug', sink: { write: (line) => lines.push(line) } });
  return { env: { ...process.env, ...env }, log, workDir: '/tmp', lines };
}
