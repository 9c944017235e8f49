// Every database must answer with the configured credentials, and exist: a dump that fails at 3 a.m.
// because a password changed or a database was renamed is found here instead.
import { closeSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { listDatabases } from '../engines/postgres.js';
import { query } from '../engines/mysql-client.js';
import { redisTarget } from '../engines/redis.js';
import { RedisClient, describeTarget } from '../engines/resp.js';
import type { EngineContext } from '../engines/types.js';
import { fail, ok, type Finding } from './findings.js';

// One finding per database entry of every module.
export async function checkDatabases(root: RootConfig, modules: ModuleConfig[], log: Logger): Promise<Finding[]> {
  const findings: Finding[] = [];
  for (const module of modules) {
    const display = path.relative(root.root, module.file);
    const ctx: EngineContext = { env: { ...process.env, ...root.rootEnv, ...module.env }, log, signal: AbortSignal.timeout(60_000), workDir: module.stateDir };
    for (const [index, entry] of module.databases.entries()) {
      const [kind, config] = Object.entries(entry)[0] as [string, Record<string, unknown>];
      const subject = `${display}: /databases/${index}/${kind}`;
      try {
        findings.push(ok(subject, await probe(kind, config, ctx)));
      } catch (error) {
        findings.push(fail(subject, `${log.masker.mask(describeError(error).split('\n')[0])}; fix the entry (host, user, password) or the server`));
      }
    }
  }
  return findings;
}

// Connects like the dump would and returns what was found; throws with the reason (a plain Error: the
// caller turns it into a `check` finding with its fix).
async function probe(kind: string, config: Record<string, unknown>, ctx: EngineContext): Promise<string> {
  if (kind === 'postgres') {
    const database = config.database as string;
    const names = await listDatabases(config as never, ctx, database);
    if (database !== 'all' && !names.includes(database)) throw new Error(`PostgreSQL database "${database}" does not exist (the server has: ${names.join(', ') || 'none'})`);
    return database === 'all' ? `answers: ${names.length} database(s)` : `PostgreSQL database "${database}" answers`;
  }
  if (kind === 'mysql') {
    const database = config.database as string;
    const names = (await query(config as never, 'SHOW DATABASES', ctx)).split('\n').filter(Boolean);
    if (database !== 'all' && !names.includes(database)) throw new Error(`MySQL/MariaDB database "${database}" does not exist or this user cannot see it`);
    return database === 'all' ? `answers: ${names.length} database(s)` : `MySQL/MariaDB database "${database}" answers`;
  }
  if (kind === 'redis') {
    const target = redisTarget(config, ctx);
    const client = await RedisClient.connect(target, `Redis ${describeTarget(target)}`, ctx.signal);
    try {
      const reply = await client.call('PING');
      if (reply instanceof Error) throw reply;
    } finally {
      client.destroy();
    }
    return `Redis ${describeTarget(target)} answers`;
  }
  const file = config.path as string;
  const header = readHeader(file);
  if (header !== 'SQLite format 3\0') throw new Error(`${file} is not an SQLite database`);
  return `SQLite database ${file} exists`;
}

// The first 16 bytes of a file (an SQLite database starts with "SQLite format 3\0").
function readHeader(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(16);
    return buffer.subarray(0, readSync(fd, buffer, 0, 16, 0)).toString('latin1');
  } finally {
    closeSync(fd);
  }
}
