// The MariaDB restore drill. The dump is loaded through a temporary account that exists only for the
// drill (lifeboat_verify_<pid>_<random>, a random password, created and dropped by the configured user)
// and is granted ALL on the databases whose names start with its own name, nothing else; the client runs
// in its sandbox mode. So whatever a dump holds (USE of a live database, INSERT INTO live.t, DROP
// DATABASE, dynamic SQL, \! commands) the server or the client refuses it, and the drill fails. Renaming
// the dump's databases to scratch names (mysql-lines.ts) only makes honest dumps load.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { MysqlDatabase } from '../config/types.js';
import { LifeboatError } from '../errors.js';
import { checkTrailer } from './check.js';
import { ALL, client, labelOf, loadingArgs, query, tool, whereOf, type Account } from './mysql-client.js';
import { DumpNameCheck, ScratchRenamer } from './mysql-lines.js';
import { loadIntoTool } from './process.js';
import { cleanupContext, SCRATCH_HINT, scratchName, withScratch } from './scratch.js';
import type { EngineContext } from './types.js';

export const MYSQL_TRAILER = /-- Dump completed/;

// `lifeboat\_verify\_123\_ab12cd34%`: the databases the drill's account may use.
function grantPattern(base: string): string {
  return `${base.replace(/[_%\\]/g, (char) => `\\${char}`)}%`;
}

// Runs `sql` built around the account as the server sees the configured user's host (USER()), so the
// temporary account is reachable exactly the way the configured one connects.
function accountSql(account: Account, statements: Array<(who: string) => string>): string {
  const who = `QUOTE('${account.user}'), '@', QUOTE(SUBSTRING_INDEX(USER(), '@', -1))`;
  return statements.map((statement) => `SET @lifeboat_sql = CONCAT(${statement(who)});\nPREPARE lifeboat_stmt FROM @lifeboat_sql;\nEXECUTE lifeboat_stmt;\nDEALLOCATE PREPARE lifeboat_stmt;\n`).join('');
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

// The client's refusals that mean the dump tried to reach beyond its scratch databases.
const REACHED_OUT = /Access denied for user 'lifeboat_verify_|command denied to user 'lifeboat_verify_|Access denied; you need|Not allowed in the sandbox mode|command is not allowed|disabled the local infile/;

// The restore drill: load into scratch databases through the temporary account, count tables and rows,
// drop the scratch databases and the account again on every path.
export async function drillMysql(config: MysqlDatabase, file: string, ctx: EngineContext): Promise<string> {
  const label = labelOf(config);
  await checkTrailer(file, label, MYSQL_TRAILER, 'mariadb-dump');
  const loader = client('load', ctx.env);
  if (path.basename(loader) !== 'mariadb') {
    throw new LifeboatError('DATABASE', `${label}: the restore drill needs the mariadb client (its --sandbox mode), found only ${loader}`, { hint: `install it (Debian: apt-get install mariadb-client), or ${SCRATCH_HINT}` });
  }
  const base = scratchName();
  const account: Account = { user: base, password: randomBytes(24).toString('hex') };
  ctx.log.masker.add(account.password);
  const rename = new ScratchRenamer(base);
  const what = `${label}: the dump ${file} is not this database's dump`;
  return withScratch(
    `the temporary account and scratch database(s) ${base}* on ${whereOf(config)}`,
    ctx,
    async () => {
      await query(
        config,
        accountSql(account, [(who) => `'CREATE USER ', ${who}, ' IDENTIFIED BY ', QUOTE('${account.password}')`, (who) => `'GRANT ALL PRIVILEGES ON \`${grantPattern(base)}\`.* TO ', ${who}`]),
        ctx,
      );
    },
    async () => {
      const { spec, remove } = tool('load', [...loadingArgs(loader), ...(config.loadOptions ?? [])], config, ctx, account);
      // Only the header is checked here: what the dump's statements reach is the server's to refuse.
      const checked = createReadStream(file).pipe(new DumpNameCheck(config.database === ALL ? undefined : config.database, what, true));
      let refused: Error | undefined;
      const input = checked.pipe(rename);
      checked.on('error', (error) => {
        refused = error;
        input.destroy(error);
      });
      try {
        await loadIntoTool({ ...spec, label: `${label}, loaded into scratch database ${base} as the temporary account ${base}` }, input, ctx);
      } catch (error) {
        if (refused) throw refused;
        if (error instanceof LifeboatError && REACHED_OUT.test(error.message)) {
          throw new LifeboatError('DATABASE', `${error.message} (the dump reaches beyond its scratch database; the server refused it)`, {
            hint: 'this is not a plain mariadb-dump of the database: it may have been altered in the repository; do not restore it before you know why',
            cause: error,
          });
        }
        throw error;
      } finally {
        remove();
      }
      const names = [...rename.names.values()];
      if (names.length === 0) throw new LifeboatError('DATABASE', `${label}: the dump ${file} selects no database (no USE statement), so it cannot be loaded into a scratch database`);
      const [tables, rows] = (await query(config, contentSql(names), ctx, account)).trim().split('\t').map(Number);
      const which = names.length === 1 ? `scratch database ${names[0]}` : `${names.length} scratch databases`;
      return `loaded into ${which}: ${tables} table(s), ${rows} row(s)`;
    },
    async () => {
      const cleanup = cleanupContext(ctx);
      // A session of the account still running (the client was stopped) would hold locks DROP DATABASE waits for.
      const sessions = await query(config, `SELECT id FROM information_schema.processlist WHERE user = '${account.user}';\n`, cleanup).catch(() => '');
      for (const id of sessions.split('\n').filter((line) => /^\d+$/.test(line))) await query(config, `KILL CONNECTION ${id};\n`, cleanup).catch(() => {});
      const like = grantPattern(base).replace(/'/g, "''");
      const found = await query(config, `SELECT HEX(schema_name) FROM information_schema.schemata WHERE schema_name LIKE '${like}';\n`, cleanup);
      const databases = found.split('\n').filter(Boolean).map((hex) => Buffer.from(hex, 'hex').toString('utf8'));
      const drops = databases.map((name) => `DROP DATABASE IF EXISTS \`${name.replace(/`/g, '``')}\`;\n`).join('');
      await query(config, `${drops}${accountSql(account, [(who) => `'DROP USER IF EXISTS ', ${who}`])}`, cleanup);
    },
    'grant the configured user CREATE USER and ALL on `lifeboat_verify\\_%`.* WITH GRANT OPTION',
  );
}
