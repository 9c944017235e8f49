// The MariaDB / MySQL clients: which binary, the 0600 option file that carries user, password, host and
// port (--defaults-extra-file, never argv; removed as soon as the client exits), and the arguments that
// keep a loading client from doing anything but send SQL to the server.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { toolPath } from '../process/tool-env.js';
import os from 'node:os';
import path from 'node:path';
import type { MysqlDatabase } from '../config/types.js';
import { which } from '../process/which.js';
import { optionFileValue, readPassword } from './credentials.js';
import { runToolText, type ToolSpec } from './process.js';
import type { EngineContext } from './types.js';

export const ALL = 'all';

// An account other than the configured one (the restore drill's temporary account).
export interface Account {
  user: string;
  password: string;
}

// `127.0.0.1:3306` (localhost when no host is given).
export function whereOf(config: MysqlDatabase): string {
  return `${config.host ?? 'localhost'}${config.port ? `:${config.port}` : ''}`;
}

// `MariaDB database "app" on 127.0.0.1:3306`.
export function labelOf(config: MysqlDatabase): string {
  return config.database === ALL ? `MariaDB server on ${whereOf(config)} (all databases)` : `MariaDB database "${config.database}" on ${whereOf(config)}`;
}

// mariadb-dump / mariadb when installed, else the MySQL names.
export function client(kind: 'dump' | 'load', env: EngineContext['env']): string {
  const [mariadb, mysql] = kind === 'dump' ? ['mariadb-dump', 'mysqldump'] : ['mariadb', 'mysql'];
  const PATH = env.PATH ?? toolPath();
  if (which(mariadb, PATH) || !which(mysql, PATH)) return mariadb;
  return mysql;
}

// What a client that reads a dump may do: send SQL. `--sandbox` (MariaDB) refuses \! system, \. source,
// tee and the like; LOAD DATA LOCAL cannot read local files; `\e` runs $EDITOR even in the sandbox, so
// the editor is `true`. The MySQL client has no sandbox mode: it gets the rest.
export function loadingArgs(file: string): string[] {
  return [...(path.basename(file) === 'mariadb' ? ['--sandbox'] : []), '--local-infile=0', '--batch', '--default-character-set=utf8mb4'];
}
const LOADING_ENV = { EDITOR: 'true', VISUAL: 'true', MYSQL_HISTFILE: '/dev/null' };

// Writes the [client] option file into a fresh 0700 folder; returns it and how to remove it.
function optionFile(config: MysqlDatabase, label: string, ctx: EngineContext, account?: Account): { file: string; remove(): void } {
  const password = account ? account.password : readPassword(config, label, ctx);
  const user = account ? account.user : config.user;
  const lines = ['[client]'];
  if (user) lines.push(`user=${optionFileValue(user)}`);
  if (password !== undefined) lines.push(`password=${optionFileValue(password)}`);
  if (config.host) lines.push(`host=${optionFileValue(config.host)}`);
  if (config.port) lines.push(`port=${config.port}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-mysql-'));
  const file = path.join(dir, 'client.cnf');
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

// One client call; the option file must come first on the command line.
export function tool(kind: 'dump' | 'load', args: string[], config: MysqlDatabase, ctx: EngineContext, account?: Account): { spec: ToolSpec; remove(): void } {
  const label = labelOf(config);
  const options = optionFile(config, label, ctx, account);
  const file = client(kind, ctx.env);
  const spec: ToolSpec = { file, args: [`--defaults-extra-file=${options.file}`, ...args], label, env: { MYSQL_PWD: undefined, ...(kind === 'load' ? LOADING_ENV : {}) }, explain: explainMysql };
  return { spec, remove: options.remove };
}

// The client's own error line (`ERROR 1054 (42S22) at line 48: ...`) without the statement it echoes
// before it, which can be megabytes of row data.
export function explainMysql(stderr: string): string | undefined {
  return stderr
    .split('\n')
    .filter((line) => /^ERROR( \d+)?/.test(line))
    .at(-1)
    ?.slice(0, 500);
}

// Runs SQL with the client and returns its output (tab separated, no column names).
export async function query(config: MysqlDatabase, sql: string, ctx: EngineContext, account?: Account): Promise<string> {
  const { spec, remove } = tool('load', [...loadingArgs(client('load', ctx.env)), '--skip-column-names'], config, ctx, account);
  try {
    return await runToolText(spec, ctx, sql);
  } finally {
    remove();
  }
}
