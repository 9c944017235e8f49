// MariaDB / MySQL: mariadb-dump (or mysqldump) --single-transaction --routines --events --triggers
// --hex-blob --databases DB (or --all-databases), loaded with the mariadb (or mysql) client in its
// sandbox mode (mysql-client.ts). A restore first checks that the dump is the dump of the database it is
// restored as (mysql-lines.ts); the restore drill is in mysql-drill.ts.
import { createReadStream } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { MysqlDatabase } from '../config/types.js';
import { encodeName, EXTENSIONS } from './names.js';
import { dumpFromTool, loadIntoTool } from './process.js';
import type { DumpJob, EngineContext, EngineDeclaration, LoadJob, LoadSource } from './types.js';
import { checkTrailer } from './check.js';
import { ALL, client, labelOf, loadingArgs, query, tool } from './mysql-client.js';
import { which } from '../process/which.js';
import { DumpNameCheck } from './mysql-lines.js';
import { StatementGuard } from './mysql-statements.js';
import { LifeboatError } from '../errors.js';
import { drillMysql, MYSQL_TRAILER } from './mysql-drill.js';

export { explainMysql } from './mysql-client.js';
export { ScratchRenamer, DumpNameCheck } from './mysql-lines.js';
export { drillMysql } from './mysql-drill.js';

// The dump file of an entry (relative to databases/).
function dumpFile(config: MysqlDatabase): string {
  return `mysql-${config.name ?? encodeName(config.database)}${EXTENSIONS.mysql}`;
}

// The dump job of one `mysql:` entry.
export function mysqlDumps(config: MysqlDatabase): DumpJob[] {
  // `--` ends the options: a database named `--host=...` is a name, not an option that points the dump elsewhere.
  const target = config.database === ALL ? ['--all-databases'] : ['--databases', '--', config.database];
  return [
    {
      engine: 'mysql',
      file: dumpFile(config),
      label: labelOf(config),
      streamable: config.stream !== false,
      start(ctx, output) {
        const args = ['--single-transaction', '--routines', '--events', '--triggers', '--hex-blob', '--default-character-set=utf8mb4', ...(config.options ?? []), ...target];
        const { spec, remove } = tool('dump', args, config, ctx);
        const run = dumpFromTool(spec, ctx, output);
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
      check: (path) => checkTrailer(path, label, MYSQL_TRAILER, 'mariadb-dump'),
      ...(config.scratch === false ? {} : { drill: (path: string, ctx: EngineContext) => drillMysql(config, path, ctx) }),
    },
  ];
}

// The name check of a dump restored as `config`'s database (all names allowed for `database: all`).
export function nameCheck(config: MysqlDatabase, what: string): DumpNameCheck {
  return new DumpNameCheck(config.database === ALL ? undefined : config.database, what);
}

// The statement check of a restore (one database): no client command, hidden USE, prepared statement,
// delimiter or quoting change that could select another database (mysql-statements.ts).
export function statementCheck(config: MysqlDatabase, what: string): StatementGuard | undefined {
  if (config.database === ALL) return undefined;
  const hint = "restore the snapshot that holds this database's own dump; a dump that could select another database is never loaded";
  return new StatementGuard((line, why) => new LifeboatError('DATABASE', `${what}: line ${line}: ${why}; nothing was loaded`, { hint }));
}

// The checks of a restore, chained: name check, then statement check.
function checked(config: MysqlDatabase, input: Readable, what: string): Readable {
  const names = input.pipe(nameCheck(config, what));
  input.on('error', (error) => names.destroy(error));
  const statements = statementCheck(config, what);
  if (!statements) return names;
  names.on('error', (error) => statements.destroy(error));
  return names.pipe(statements);
}

// Feeds a dump to the mariadb client. A dump file is read through first, so one that names another
// database is refused before anything is loaded; a stream is checked on its way to the client, which
// never receives a line naming another database.
export async function loadMysql(config: MysqlDatabase, source: LoadSource, ctx: EngineContext): Promise<void> {
  const label = labelOf(config);
  const what = `${label}: the dump ${'path' in source ? source.path : 'on stdin'} cannot be restored here`;
  if ('path' in source) await pipeline(checked(config, createReadStream(source.path), what), new Writable({ write: (_chunk, _encoding, done) => done() }));
  const { spec, remove } = tool('load', [...loadingArgs(client('load', ctx.env)), ...(config.loadOptions ?? [])], config, ctx);
  const input: Readable = 'path' in source ? createReadStream(source.path) : source.stream;
  const stream = checked(config, input, what);
  let refused: Error | undefined;
  stream.on('error', (error) => (refused = error));
  try {
    await loadIntoTool(spec, stream, ctx);
  } catch (error) {
    throw refused ?? error;
  } finally {
    remove();
  }
}

// The MySQL/MariaDB engine's declaration (src/engines/index.ts lists it).
export const mysqlEngine: EngineDeclaration<MysqlDatabase> = {
  kind: 'mysql',
  dumps: (config) => mysqlDumps(config),
  loads: (config) => mysqlLoads(config),
  tools: () => [{ tool: which('mariadb-dump') ? 'mariadb-dump' : 'mysqldump' }],
  async probe(config, ctx) {
    const database = config.database;
    const names = (await query(config, 'SHOW DATABASES', ctx)).split('\n').filter(Boolean);
    // A reason: `check` makes it a finding with its fix.
    if (database !== 'all' && !names.includes(database)) throw new Error(`MySQL/MariaDB database "${database}" does not exist or this user cannot see it`);
    return database === 'all' ? `answers: ${names.length} database(s)` : `MySQL/MariaDB database "${database}" answers`;
  },
};
