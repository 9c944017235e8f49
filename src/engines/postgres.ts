// PostgreSQL: pg_dump custom format (uncompressed: the repository compresses and deduplicates), one dump per
// database; `database: all` dumps every database but the templates plus the roles (pg_dumpall
// --globals-only). Loads with pg_restore: into an existing database in one transaction (--clean
// --if-exists), or with --create when the database is missing. The password goes in PGPASSWORD only.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { PostgresDatabase } from '../config/types.js';
import { readPassword } from './credentials.js';
import { decodeName, encodeName, EXTENSIONS } from './names.js';
import { dumpFromTool, loadIntoTool, runToolText, stderrSummary, type ToolSpec } from './process.js';
import { checkPgArchive, checkTrailer, countPgEntries } from './check.js';
import { cleanupContext, scratchName, withScratch } from './scratch.js';
import type { DumpJob, EngineContext, LoadJob, LoadSource } from './types.js';

const ALL = 'all';

// `PostgreSQL database "app" on 127.0.0.1:5432` (the socket when no host is given).
function labelOf(config: PostgresDatabase, database: string): string {
  const where = `${config.host ?? 'the local socket'}${config.port ? `:${config.port}` : ''}`;
  return `PostgreSQL database "${database}" on ${where}`;
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
function clientEnv(config: PostgresDatabase, label: string, ctx: EngineContext): Record<string, string | undefined> {
  const password = readPassword(config, label, ctx);
  return {
    ...(password !== undefined ? { PGPASSWORD: password } : {}),
    PGCONNECT_TIMEOUT: ctx.env.PGCONNECT_TIMEOUT ?? '10',
    PGAPPNAME: 'lifeboat',
    PGDATABASE: undefined,
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

// A pg client call for one database.
function tool(file: string, args: string[], config: PostgresDatabase, database: string, ctx: EngineContext): ToolSpec {
  const label = labelOf(config, database);
  return { file, args: [...connectionArgs(config), ...args], label, env: clientEnv(config, label, ctx), explain: explainPostgres };
}

// Every database but the templates (and those that refuse connections), for `database: all`.
export async function listDatabases(config: PostgresDatabase, ctx: EngineContext): Promise<string[]> {
  const sql = 'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname';
  const out = await runToolText(tool('psql', ['-X', '-A', '-t', '-0', '--dbname', 'postgres', '-c', sql], config, ALL, ctx), ctx);
  return out.split('\0').map((name) => name.replace(/^\n/, '')).filter((name) => name !== '');
}

// The dump file (relative to databases/) of one database of an entry.
function dumpFile(config: PostgresDatabase, database: string): string {
  const base = `postgres-${config.name ?? encodeName(config.database)}`;
  if (config.database !== ALL) return `${base}${EXTENSIONS.postgres}`;
  return `${base}/${encodeName(database)}${EXTENSIONS.postgres}`;
}

// The dump jobs of one `postgres:` entry (for `all`, asks the server which databases there are).
export async function postgresDumps(config: PostgresDatabase, ctx: EngineContext): Promise<DumpJob[]> {
  const stream = config.stream !== false;
  const one = (database: string): DumpJob => ({
    engine: 'postgres',
    file: dumpFile(config, database),
    label: labelOf(config, database),
    streamable: stream,
    start: (run) => dumpFromTool(tool('pg_dump', ['--format=custom', '--compress=0', ...(config.options ?? []), '--dbname', database], config, database, run), run),
  });
  if (config.database !== ALL) return [one(config.database)];
  const databases = await listDatabases(config, ctx);
  const globals: DumpJob = {
    engine: 'postgres',
    file: `postgres-${config.name ?? ALL}/globals${EXTENSIONS.postgresGlobals}`,
    label: `PostgreSQL roles and tablespaces (pg_dumpall --globals-only) on ${config.host ?? 'the local socket'}`,
    streamable: stream,
    start: (run) => dumpFromTool({ ...tool('pg_dumpall', ['--globals-only'], config, ALL, run), label: `PostgreSQL roles on ${config.host ?? 'the local socket'}` }, run),
  };
  return [globals, ...databases.map(one)];
}

// The load jobs of one `postgres:` entry, from the dumps present in `dumpDir` (databases/).
export function postgresLoads(config: PostgresDatabase, dumpDir: string): LoadJob[] {
  if (config.database !== ALL) {
    const file = dumpFile(config, config.database);
    const label = labelOf(config, config.database);
    return [databaseLoad(config, config.database, file)];
  }
  const folder = `postgres-${config.name ?? ALL}`;
  const dir = path.join(dumpDir, folder);
  if (!existsSync(dir)) return [{ engine: 'postgres', file: folder, label: labelOf(config, ALL), load: async () => {}, check: async () => 'no dumps' }];
  const files = readdirSync(dir).sort();
  const jobs: LoadJob[] = [];
  if (files.includes(`globals${EXTENSIONS.postgresGlobals}`)) {
    const label = `PostgreSQL roles on ${config.host ?? 'the local socket'}`;
    jobs.push({
      engine: 'postgres',
      file: `${folder}/globals${EXTENSIONS.postgresGlobals}`,
      label,
      load: (source, ctx) => loadGlobals(config, source, ctx),
      check: (path) => checkTrailer(path, label, /PostgreSQL database cluster dump complete/, 'pg_dumpall'),
    });
  }
  for (const file of files.filter((name) => name.endsWith(EXTENSIONS.postgres))) {
    jobs.push(databaseLoad(config, decodeName(file.slice(0, -EXTENSIONS.postgres.length)), `${folder}/${file}`));
  }
  return jobs;
}

// The load job of one database's archive: load, read-through check and (unless `scratch: false`) the drill.
function databaseLoad(config: PostgresDatabase, database: string, file: string): LoadJob {
  const label = labelOf(config, database);
  return {
    engine: 'postgres',
    file,
    label,
    load: (source, ctx) => loadPostgres(config, database, source, ctx),
    check: (path, ctx) => checkPgArchive(path, label, ctx),
    ...(config.scratch === false ? {} : { drill: (path: string, ctx: EngineContext) => drillPostgres(config, database, path, ctx) }),
  };
}

// Counts what a loaded database holds: tables, their rows (exactly, one count(*) each) and large objects.
const CONTENT_SQL = `SELECT
  (SELECT count(*) FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')),
  (SELECT coalesce(sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text::bigint), 0)
     FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')),
  (SELECT count(*) FROM pg_largeobject_metadata);
`;

// The restore drill: the archive is restored into a new database on the same server (from template0, in
// one transaction, without owners and grants, which belong to the live database), its tables and rows are
// counted, and the scratch database is dropped again.
export async function drillPostgres(config: PostgresDatabase, database: string, file: string, ctx: EngineContext): Promise<string> {
  const label = labelOf(config, database);
  const entries = await countPgEntries(file, label, ctx);
  const scratch = scratchName();
  const inScratch = `${label}, loaded into scratch database ${scratch}`;
  const admin = (sql: string, run: EngineContext) => runToolText(tool('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--dbname', 'postgres'], config, database, run), run, sql);
  return withScratch(
    `scratch database ${scratch} on ${config.host ?? 'the local socket'}`,
    ctx,
    () => admin(`CREATE DATABASE "${scratch}" TEMPLATE template0;\n`, ctx).then(() => {}),
    async () => {
      const args = ['--exit-on-error', '--single-transaction', '--no-owner', '--no-privileges', ...(config.loadOptions ?? []), '--dbname', scratch, file];
      await loadIntoTool({ ...tool('pg_restore', args, config, database, ctx), label: inScratch }, emptyStream(), ctx);
      const counts = await runToolText({ ...tool('psql', ['-X', '-A', '-t', '-F', ' ', '-v', 'ON_ERROR_STOP=1', '--dbname', scratch], config, database, ctx), label: inScratch }, ctx, CONTENT_SQL);
      const [tables, rows, objects] = counts.trim().split(' ').map(Number);
      const large = objects ? `, ${objects} large object(s)` : '';
      return `${entries} archive entries loaded into scratch database ${scratch}: ${tables} table(s), ${rows} row(s)${large}`;
    },
    async () => {
      // WITH (FORCE) ends a session still connected to it (PostgreSQL 13 and later); older servers without.
      const cleanup = cleanupContext(ctx);
      await admin(`DROP DATABASE IF EXISTS "${scratch}" WITH (FORCE);\n`, cleanup).catch(() => admin(`DROP DATABASE IF EXISTS "${scratch}";\n`, cleanup));
    },
    `grant the user CREATEDB (ALTER ROLE ${config.user ? `"${config.user}"` : 'CURRENT_USER'} CREATEDB)`,
  );
}

// Whether a database exists (psql variables quote the name safely).
async function databaseExists(config: PostgresDatabase, database: string, ctx: EngineContext): Promise<boolean> {
  const sql = `SELECT 1 FROM pg_database WHERE datname = :'name';\n`;
  const out = await runToolText(tool('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-v', `name=${database}`, '--dbname', 'postgres'], config, database, ctx), ctx, sql);
  return out.trim() === '1';
}

// Restores one database: in one transaction into an existing one, or creating it from the dump.
export async function loadPostgres(config: PostgresDatabase, database: string, source: LoadSource, ctx: EngineContext): Promise<void> {
  const exists = await databaseExists(config, database, ctx);
  const input = 'path' in source ? [source.path] : [];
  const stdin: Readable = 'path' in source ? emptyStream() : source.stream;
  const extra = config.loadOptions ?? [];
  if (exists) {
    const args = ['--clean', '--if-exists', '--single-transaction', '--exit-on-error', ...extra, '--dbname', database, ...input];
    await loadIntoTool(tool('pg_restore', args, config, database, ctx), stdin, ctx);
    return;
  }
  ctx.log.info(`${labelOf(config, database)} does not exist; creating it from the dump`);
  const args = ['--create', '--exit-on-error', ...extra, '--dbname', 'postgres', ...input];
  try {
    await loadIntoTool(tool('pg_restore', args, config, database, ctx), stdin, ctx);
  } catch (error) {
    // Never leave a half-loaded database that did not exist before.
    const drop = `DROP DATABASE IF EXISTS :"name";\n`;
    await runToolText(tool('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', `name=${database}`, '--dbname', 'postgres'], config, database, ctx), ctx, drop).catch((dropError: Error) =>
      ctx.log.warn(`could not drop the half-loaded ${labelOf(config, database)}: ${dropError.message}`),
    );
    throw error;
  }
}

// Loads pg_dumpall --globals-only output; roles that already exist are fine, other errors are warnings.
async function loadGlobals(config: PostgresDatabase, source: LoadSource, ctx: EngineContext): Promise<void> {
  const spec = tool('psql', ['-X', '-q', '--dbname', 'postgres', ...('path' in source ? ['-f', source.path] : [])], config, ALL, ctx);
  const stderr = await loadIntoTool({ ...spec, label: `PostgreSQL roles on ${config.host ?? 'the local socket'}` }, 'path' in source ? emptyStream() : source.stream, ctx);
  const problems = stderr.split('\n').filter((line) => /ERROR/.test(line) && !/already exists/.test(line));
  if (problems.length) ctx.log.warn(`loading the roles reported: ${stderrSummary(problems.join('\n'))}`);
}

// An empty stdin for tools that read a file given in argv.
function emptyStream(): Readable {
  return Readable.from([]);
}
