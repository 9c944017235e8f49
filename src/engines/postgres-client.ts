// The PostgreSQL clients (pg_dump, pg_restore, psql): connection arguments (never a password: it goes in
// PGPASSWORD only), labels for messages, and the version-mismatch explanation.
import { Readable } from 'node:stream';
import type { PostgresDatabase } from '../config/types.js';
import { readPassword } from './credentials.js';
import type { ToolSpec } from './process.js';
import type { EngineContext } from './types.js';

export const ALL = 'all';

// `127.0.0.1:5432`, or the local socket when no host is given.
export function whereOf(config: PostgresDatabase): string {
  return `${config.host ?? 'the local socket'}${config.port ? `:${config.port}` : ''}`;
}

// `PostgreSQL database "app" on 127.0.0.1:5432`.
export function labelOf(config: PostgresDatabase, database: string): string {
  return `PostgreSQL database "${database}" on ${whereOf(config)}`;
}

// Connection arguments shared by every client; never a password.
function connectionArgs(config: PostgresDatabase): string[] {
  const args = ['--no-password'];
  if (config.host) args.push('--host', config.host);
  if (config.port) args.push('--port', String(config.port));
  if (config.user) args.push('--username', config.user);
  return args;
}

// The client environment: PGPASSWORD when a password is configured, a connect timeout, an app name.
// The drill's role gets nothing from the environment that could change where or as whom it connects.
function clientEnv(password: string | undefined, ctx: EngineContext, account: boolean): Record<string, string | undefined> {
  return {
    ...(password !== undefined ? { PGPASSWORD: password } : {}),
    PGCONNECT_TIMEOUT: ctx.env.PGCONNECT_TIMEOUT ?? '10',
    PGAPPNAME: 'lifeboat',
    PGDATABASE: undefined,
    ...(account ? { PGSERVICE: undefined, PGSERVICEFILE: undefined, PGOPTIONS: undefined, PGPASSFILE: undefined } : {}),
  };
}

// Rewrites the client/server version mismatch into a message with both versions and the fix.
export function explainPostgres(stderr: string): string | undefined {
  const mismatch = /server version: ([\d.]+)[^;]*; (pg_\w+) version: ([\d.]+)/.exec(stderr);
  if (mismatch) {
    const [, server, tool, client] = mismatch;
    const major = server.split('.')[0];
    return `${tool} ${client} is older than the server (PostgreSQL ${server}) and cannot dump it; install the client of version ${major} (Debian: apt-get install postgresql-client-${major}) or put its bin directory first on PATH`;
  }
  const archive = /unsupported version \(([\d.]+)\) in file header/.exec(stderr);
  if (archive) return `the dump was written by a newer pg_dump (archive format ${archive[1]}) than this pg_restore understands; install a newer postgresql-client`;
  return undefined;
}

// A pg client call for one database, as the configured user or as `account` (the drill's role).
export function tool(file: string, args: string[], config: PostgresDatabase, database: string, ctx: EngineContext, account?: { user: string; password: string }): ToolSpec {
  const label = labelOf(config, database);
  const password = account ? account.password : readPassword(config, label, ctx);
  const connect = account ? { ...config, user: account.user } : config;
  return { file, args: [...connectionArgs(connect), ...args], label, env: clientEnv(password, ctx, account !== undefined), explain: explainPostgres };
}

// A database name for --dbname as a libpq connection string: pg_dump, pg_restore and psql read a --dbname
// that holds "=" (or starts with postgres://) as one, so a database named `dbname=other host=elsewhere`
// would be another database, or another server that gets the password. Quoted, it is only a name.
export function dbnameArg(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

// An empty stdin for tools that read a file given in argv.
export function emptyStream(): Readable {
  return Readable.from([]);
}
