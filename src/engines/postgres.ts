// PostgreSQL: pg_dump custom format (uncompressed: the repository compresses and deduplicates), one dump per
// database; `database: all` dumps every database but the templates plus the roles (pg_dumpall
// --globals-only). Loads with pg_restore, after checking that the archive is the dump of that database:
// into an existing database in one transaction (--clean --if-exists); a missing one is created by
// Lifeboat under its configured name first (never with pg_restore --create, which would connect to
// whatever database the archive's own DATABASE entry names). The password goes in PGPASSWORD only. The drill is in postgres-drill.ts, the
// checked loading of pg_dumpall's roles in postgres-globals.ts.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { PostgresDatabase } from '../config/types.js';
import { LifeboatError } from '../errors.js';
import { decodeName, encodeName, EXTENSIONS } from './names.js';
import { dumpFromTool, loadIntoTool, runToolText } from './process.js';
import { checkPgArchive, checkTrailer } from './check.js';
import { archiveDbname, peekStream } from './pg-archive.js';
import { ALL, dbnameArg, emptyStream, labelOf, tool } from './postgres-client.js';
import { archiveOfOther, checkArchiveName, drillPostgres } from './postgres-drill.js';
import { checkGlobals, loadGlobals } from './postgres-globals.js';
import type { DumpJob, EngineContext, EngineDeclaration, LoadJob, LoadSource } from './types.js';

export { explainPostgres } from './postgres-client.js';
export { drillPostgres } from './postgres-drill.js';
export { loadGlobals } from './postgres-globals.js';

// Every database but the templates (and those that refuse connections); `as` names the entry in errors.
export async function listDatabases(config: PostgresDatabase, ctx: EngineContext, as = ALL): Promise<string[]> {
  const sql = 'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname';
  const out = await runToolText(tool('psql', ['-X', '-A', '-t', '-0', '--dbname', 'postgres', '-c', sql], config, as, ctx), ctx);
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
    start: (run, output) => dumpFromTool(tool('pg_dump', ['--format=custom', '--compress=0', ...(config.options ?? []), '--dbname', dbnameArg(database)], config, database, run), run, output),
  });
  if (config.database !== ALL) return [one(config.database)];
  const databases = await listDatabases(config, ctx);
  const globals: DumpJob = {
    engine: 'postgres',
    file: `postgres-${config.name ?? ALL}/globals${EXTENSIONS.postgresGlobals}`,
    label: `PostgreSQL roles and tablespaces (pg_dumpall --globals-only) on ${config.host ?? 'the local socket'}`,
    streamable: stream,
    start: (run, output) => dumpFromTool({ ...tool('pg_dumpall', ['--globals-only'], config, ALL, run), label: `PostgreSQL roles on ${config.host ?? 'the local socket'}` }, run, output),
  };
  return [globals, ...databases.map(one)];
}

// The load jobs of one `postgres:` entry, from the dumps present in `dumpDir` (databases/).
export function postgresLoads(config: PostgresDatabase, dumpDir?: string): LoadJob[] {
  if (config.database !== ALL) {
    const file = dumpFile(config, config.database);
    return [databaseLoad(config, config.database, file)];
  }
  const folder = `postgres-${config.name ?? ALL}`;
  const dir = dumpDir === undefined ? undefined : path.join(dumpDir, folder);
  if (dir === undefined || !existsSync(dir)) return [{ engine: 'postgres', file: folder, label: labelOf(config, ALL), load: async () => {}, check: async () => 'no dumps' }];
  const files = readdirSync(dir).sort();
  const jobs: LoadJob[] = [];
  if (files.includes(`globals${EXTENSIONS.postgresGlobals}`)) {
    const label = `PostgreSQL roles on ${config.host ?? 'the local socket'}`;
    jobs.push({
      engine: 'postgres',
      file: `${folder}/globals${EXTENSIONS.postgresGlobals}`,
      label,
      load: (source, ctx) => loadGlobals(config, source, ctx),
      check: async (path, ctx) => {
        const complete = await checkTrailer(path, label, /PostgreSQL database cluster dump complete/, 'pg_dumpall');
        return `${complete}; ${await checkGlobals(config, path, ctx)}`;
      },
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

// Whether a database exists (psql variables quote the name safely).
async function databaseExists(config: PostgresDatabase, database: string, ctx: EngineContext): Promise<boolean> {
  const sql = `SELECT 1 FROM pg_database WHERE datname = :'name';\n`;
  const out = await runToolText(tool('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-v', `name=${database}`, '--dbname', 'postgres'], config, database, ctx), ctx, sql);
  return out.trim() === '1';
}

// Restores one database: in one transaction into an existing one, or creating it from the dump.
export async function loadPostgres(config: PostgresDatabase, database: string, source: LoadSource, ctx: EngineContext): Promise<void> {
  const label = labelOf(config, database);
  let stdin: Readable = emptyStream();
  if ('path' in source) await checkArchiveName(source.path, database, label);
  else {
    const peeked = await peekStream(source.stream);
    const found = archiveDbname(peeked.head);
    if ('bad' in found) throw new LifeboatError('DATABASE', `${label}: the dump on stdin cannot be used: ${found.bad}`);
    if (found.dbname !== database) throw archiveOfOther(label, 'on stdin', found.dbname);
    stdin = peeked.stream;
  }
  const exists = await databaseExists(config, database, ctx);
  const input = 'path' in source ? [source.path] : [];
  const extra = config.loadOptions ?? [];
  if (exists) {
    const args = ['--clean', '--if-exists', '--single-transaction', '--exit-on-error', ...extra, '--dbname', dbnameArg(database), ...input];
    await loadIntoTool(tool('pg_restore', args, config, database, ctx), stdin, ctx);
    return;
  }
  ctx.log.info(`${labelOf(config, database)} does not exist; creating it, then loading the dump into it`);
  // CREATE DATABASE by the configured name (psql quotes it); the archive's own DATABASE entry is never run.
  const create = `CREATE DATABASE :"name" TEMPLATE template0;\n`;
  await runToolText(tool('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', `name=${database}`, '--dbname', 'postgres'], config, database, ctx), ctx, create);
  const args = ['--single-transaction', '--exit-on-error', ...extra, '--dbname', dbnameArg(database), ...input];
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


// The PostgreSQL engine's declaration (src/engines/index.ts lists it).
export const postgresEngine: EngineDeclaration<PostgresDatabase> = {
  kind: 'postgres',
  dumps: postgresDumps,
  loads: postgresLoads,
  tools: () => [{ tool: 'pg_dump' }],
  async probe(config, ctx) {
    const database = config.database;
    const names = await listDatabases(config, ctx, database);
    // A reason: `check` makes it a finding with its fix.
    if (database !== 'all' && !names.includes(database)) throw new Error(`PostgreSQL database "${database}" does not exist (the server has: ${names.join(', ') || 'none'})`);
    return database === 'all' ? `answers: ${names.length} database(s)` : `PostgreSQL database "${database}" answers`;
  },
};
