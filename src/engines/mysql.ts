// MariaDB / MySQL: mariadb-dump (or mysqldump) --single-transaction --routines --events --triggers
// --hex-blob --databases DB (or --all-databases), loaded with the mariadb (or mysql) client. User,
// password, host and port go into a 0600 option file in a private temp folder (--defaults-extra-file),
// never into argv; the file is removed as soon as the client exits.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { LifeboatError } from '../errors.js';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { MysqlDatabase } from '../config/types.js';
import { which } from '../cli/which.js';
import { optionFileValue, readPassword } from './credentials.js';
import { encodeName, EXTENSIONS } from './names.js';
import { dumpFromTool, loadIntoTool, runToolText, type ToolSpec } from './process.js';
import type { DumpJob, EngineContext, LoadJob, LoadSource } from './types.js';
import { checkTrailer } from './check.js';
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { cleanupContext, SCRATCH_HINT, scratchName, withScratch } from './scratch.js';

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
  const spec: ToolSpec = { file: client(kind, ctx.env), args: [`--defaults-extra-file=${options.file}`, ...args], label, env: { MYSQL_PWD: undefined }, explain: explainMysql };
  return { spec, remove: options.remove };
}

// The client's own error line (`ERROR 1054 (42S22) at line 48: ...`) without the statement it echoes
// before it, which can be megabytes of row data.
export function explainMysql(stderr: string): string | undefined {
  return stderr
    .split('\n')
    .filter((line) => /^ERROR \d+/.test(line))
    .at(-1)
    ?.slice(0, 500);
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
      check: (path) => checkTrailer(path, label, TRAILER, 'mariadb-dump'),
      ...(config.scratch === false ? {} : { drill: (path: string, ctx: EngineContext) => drillMysql(config, path, ctx) }),
    },
  ];
}

const TRAILER = /-- Dump completed/;

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

// Runs SQL with the client and returns its output (tab separated, no column names).
export async function query(config: MysqlDatabase, sql: string, ctx: EngineContext): Promise<string> {
  const { spec, remove } = tool('load', ['--default-character-set=utf8mb4', '--batch', '--skip-column-names'], config, ctx);
  try {
    return await runToolText(spec, ctx, sql);
  } finally {
    remove();
  }
}

// Counts the tables and (exactly) the rows of the given databases, on the server.
function contentSql(databases: string[]): string {
  const list = databases.map((name) => `'${name}'`).join(', ');
  return `SET SESSION group_concat_max_len = 16777216;
SELECT GROUP_CONCAT(CONCAT('SELECT COUNT(*) AS c FROM \`', REPLACE(table_schema, '\`', '\`\`'), '\`.\`', REPLACE(table_name, '\`', '\`\`'), '\`') SEPARATOR ' UNION ALL ')
  INTO @lifeboat_counts FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema IN (${list});
SET @lifeboat_counts = CONCAT('SELECT COUNT(*), COALESCE(SUM(c), 0) FROM (', COALESCE(@lifeboat_counts, 'SELECT 0 AS c FROM DUAL WHERE FALSE'), ') AS counted');
PREPARE lifeboat_count FROM @lifeboat_counts;
EXECUTE lifeboat_count;
`;
}

// The restore drill: the dump is fed to the client with every database it creates or USEs renamed to a
// scratch database (lifeboat_verify_...), so the live databases are never touched; then the tables and
// rows that arrived are counted and the scratch databases are dropped again.
export async function drillMysql(config: MysqlDatabase, file: string, ctx: EngineContext): Promise<string> {
  const label = labelOf(config);
  await checkTrailer(file, label, TRAILER, 'mariadb-dump');
  const rename = new ScratchRenamer();
  const where = `${config.host ?? 'localhost'}${config.port ? `:${config.port}` : ''}`;
  return withScratch(
    `the scratch database(s) lifeboat_verify_* on ${where}`,
    ctx,
    async () => {},
    async () => {
      const { spec, remove } = tool('load', ['--default-character-set=utf8mb4', '--batch', ...(config.loadOptions ?? [])], config, ctx);
      try {
        await loadIntoTool({ ...spec, label: `${label}, loaded into a scratch database` }, createReadStream(file).pipe(rename), ctx);
      } catch (error) {
        if (error instanceof LifeboatError && /Access denied .* to database 'lifeboat_verify_/.test(error.message)) throw new LifeboatError('DATABASE', error.message, { hint: `grant the user CREATE and DROP on \`lifeboat_verify\\_%\`.*, or ${SCRATCH_HINT}`, cause: error });
        throw error;
      } finally {
        remove();
      }
      const names = [...rename.names.values()];
      if (names.length === 0) throw new LifeboatError('DATABASE', `${label}: the dump ${file} selects no database (no USE statement), so it cannot be loaded into a scratch database`);
      const [tables, rows] = (await query(config, contentSql(names), ctx)).trim().split('\t').map(Number);
      const which = names.length === 1 ? `scratch database ${names[0]}` : `${names.length} scratch databases`;
      return `loaded into ${which}: ${tables} table(s), ${rows} row(s)`;
    },
    async () => {
      const names = [...rename.names.values()];
      if (names.length) await query(config, names.map((name) => `DROP DATABASE IF EXISTS \`${name}\`;\n`).join(''), cleanupContext(ctx));
    },
  );
}

// Lines of a mariadb-dump file that name a database, rewritten by the drill.
const DATABASE_LINES = ['USE `', 'CREATE DATABASE ', 'DROP DATABASE ', '/*!40000 DROP DATABASE '];
const LONGEST_PREFIX = Math.max(...DATABASE_LINES.map((prefix) => prefix.length));
// A statement line longer than this is data, never one of the lines above.
const MAX_STATEMENT = 64 * 1024;

// Renames the databases of a mariadb-dump stream to scratch names, line by line, without holding more
// than the start of a line (data lines of many megabytes pass straight through):
//   CREATE DATABASE ... `app` ...   ->  the same with the scratch name
//   USE `app`;                      ->  CREATE DATABASE IF NOT EXISTS `scratch`; USE `scratch`;
//   DROP DATABASE ...               ->  a comment (only --add-drop-database writes these)
export class ScratchRenamer extends Transform {
  // Original database name -> scratch name, in the order the dump names them.
  readonly names = new Map<string, string>();
  private held: Buffer[] = [];
  private heldLength = 0;
  // start: at a line start, deciding; statement: the line is one to rewrite; data: pass to the newline.
  private mode: 'start' | 'statement' | 'data' = 'start';

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let at = 0;
    while (at < chunk.length) {
      const newline = chunk.indexOf(10, at);
      const end = newline < 0 ? chunk.length : newline + 1;
      if (this.mode === 'data') {
        this.push(chunk.subarray(at, end));
      } else {
        this.held.push(chunk.subarray(at, end));
        this.heldLength += end - at;
        if (this.mode === 'start' && (this.heldLength >= LONGEST_PREFIX || newline >= 0)) {
          const start = Buffer.concat(this.held).subarray(0, LONGEST_PREFIX).toString('latin1');
          this.mode = DATABASE_LINES.some((prefix) => start.startsWith(prefix)) ? 'statement' : 'data';
          if (this.mode === 'data') this.release(false);
        } else if (this.mode === 'statement' && newline < 0 && this.heldLength > MAX_STATEMENT) {
          this.release(false);
          this.mode = 'data';
        }
        if (this.mode === 'statement' && newline >= 0) this.release(true);
      }
      if (newline >= 0) this.mode = 'start';
      at = end;
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.release(this.mode === 'statement');
    done();
  }

  // Emits the held bytes, rewritten when they are a whole database line.
  private release(rewrite: boolean): void {
    if (this.heldLength === 0) return;
    const bytes = Buffer.concat(this.held);
    this.held = [];
    this.heldLength = 0;
    this.push(rewrite ? Buffer.from(this.rewrite(bytes.toString('utf8')), 'utf8') : bytes);
  }

  private scratchFor(name: string): { scratch: string; fresh: boolean } {
    const known = this.names.get(name);
    if (known) return { scratch: known, fresh: false };
    const scratch = scratchName();
    this.names.set(name, scratch);
    return { scratch, fresh: true };
  }

  private rewrite(line: string): string {
    const newline = line.endsWith('\n') ? '\n' : '';
    const use = /^USE `((?:[^`]|``)+)`;\s*$/.exec(line);
    if (use) {
      const { scratch, fresh } = this.scratchFor(use[1].replace(/``/g, '`'));
      return `${fresh ? `CREATE DATABASE IF NOT EXISTS \`${scratch}\`;\n` : ''}USE \`${scratch}\`;${newline}`;
    }
    const create = /^(CREATE DATABASE (?:\/\*!32312 IF NOT EXISTS\*\/ )?)`((?:[^`]|``)+)`(.*)$/s.exec(line);
    if (create) return `${create[1]}\`${this.scratchFor(create[2].replace(/``/g, '`')).scratch}\`${create[3]}`;
    if (/DROP DATABASE/.test(line)) return `-- lifeboat verify: skipped ${line.trim().replace(/\*\//g, '* /')}${newline}`;
    return line;
  }
}
