// MariaDB / MySQL: mariadb-dump (or mysqldump) --single-transaction --routines --events --triggers
// --hex-blob --databases DB (or --all-databases), loaded with the mariadb (or mysql) client. User,
// password, host and port go into a 0600 option file in a private temp folder (--defaults-extra-file),
// never into argv; the file is removed as soon as the client exits.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { MysqlDatabase } from '../config/types.js';
import { which } from '../cli/which.js';
import { optionFileValue, readPassword } from './credentials.js';
import { encodeName, EXTENSIONS } from './names.js';
import { dumpFromTool, loadIntoTool, type ToolSpec } from './process.js';
import type { DumpJob, EngineContext, LoadJob, LoadSource } from './types.js';
import { checkTrailer } from './check.js';
import { createReadStream } from 'node:fs';

const ALL = 'all';

// `MariaDB database "app" on 127.0.0.1:3306`.
function labelOf(config: MysqlDatabase): string {
  const where = `${config.host ?? 'localhost'}${config.port ? `:${config.port}` : ''}`;
  return config.database === ALL ? `MariaDB server on ${where} (all databases)` : `MariaDB database "${config.database}" on ${where}`;
}

// mariadb-dump / mariadb when installed, else the MySQL names.
function client(kind: 'dump' | 'load', env: EngineContext['env']): string {
  const [mariadb, mysql] = kind === 'dump' ? ['mariadb-dump', 'mysqldump'] : ['mariadb', 'mysql'];
  if (which(mariadb, env.PATH ?? '') || !which(mysql, env.PATH ?? '')) return mariadb;
  return mysql;
}

// Writes the [client] option file into a fresh 0700 folder; returns it and how to remove it.
function optionFile(config: MysqlDatabase, label: string, ctx: EngineContext): { file: string; remove(): void } {
  const password = readPassword(config, label, ctx);
  const lines = ['[client]'];
  if (config.user) lines.push(`user=${optionFileValue(config.user)}`);
  if (password !== undefined) lines.push(`password=${optionFileValue(password)}`);
  if (config.host) lines.push(`host=${optionFileValue(config.host)}`);
  if (config.port) lines.push(`port=${config.port}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-mysql-'));
  const file = path.join(dir, 'client.cnf');
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

// One client call; the option file must come first on the command line.
function tool(kind: 'dump' | 'load', args: string[], config: MysqlDatabase, ctx: EngineContext): { spec: ToolSpec; remove(): void } {
  const label = labelOf(config);
  const options = optionFile(config, label, ctx);
  const spec: ToolSpec = { file: client(kind, ctx.env), args: [`--defaults-extra-file=${options.file}`, ...args], label, env: { MYSQL_PWD: undefined } };
  return { spec, remove: options.remove };
}

// The dump file of an entry (relative to databases/).
function dumpFile(config: MysqlDatabase): string {
  return `mysql-${config.name ?? encodeName(config.database)}${EXTENSIONS.mysql}`;
}

// The dump job of one `mysql:` entry.
export function mysqlDumps(config: MysqlDatabase): DumpJob[] {
  const target = config.database === ALL ? ['--all-databases'] : ['--databases', config.database];
  return [
    {
      engine: 'mysql',
      file: dumpFile(config),
      label: labelOf(config),
      streamable: config.stream !== false,
      start(ctx) {
        const args = ['--single-transaction', '--routines', '--events', '--triggers', '--hex-blob', '--default-character-set=utf8mb4', ...(config.options ?? []), ...target];
        const { spec, remove } = tool('dump', args, config, ctx);
        const run = dumpFromTool(spec, ctx);
        run.done.then(remove, remove);
        return run;
      },
    },
  ];
}

// The load job of one `mysql:` entry: the dump holds CREATE DATABASE IF NOT EXISTS and USE.
export function mysqlLoads(config: MysqlDatabase): LoadJob[] {
  const label = labelOf(config);
  return [
    {
      engine: 'mysql',
      file: dumpFile(config),
      label,
      load: (source, ctx) => loadMysql(config, source, ctx),
      check: (path) => checkTrailer(path, label, /-- Dump completed/, 'mariadb-dump'),
    },
  ];
}

// Feeds a dump to the mariadb client.
export async function loadMysql(config: MysqlDatabase, source: LoadSource, ctx: EngineContext): Promise<void> {
  const { spec, remove } = tool('load', ['--default-character-set=utf8mb4', '--batch', ...(config.loadOptions ?? [])], config, ctx);
  const input: Readable = 'path' in source ? createReadStream(source.path) : source.stream;
  try {
    await loadIntoTool(spec, input, ctx);
  } finally {
    remove();
  }
}
