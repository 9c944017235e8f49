// The PostgreSQL restore drill. The archive is restored by a temporary role that exists only for the
// drill (lifeboat_verify_<pid>_<random>: LOGIN with a random password, no other attribute, owner of the
// scratch database and of nothing else), logged in as that role, not switched to it with SET ROLE (which
// a dump could undo with RESET ROLE). So whatever the archive holds (a function that creates a superuser,
// COPY ... TO PROGRAM, dblink, DROP ROLE) runs with that role's rights: the server refuses what reaches
// beyond the scratch database, and the drill fails. The configured user only creates and drops the role
// and the database. Globals (pg_dumpall) are never executed by the drill.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { PostgresDatabase } from '../config/types.js';
import { LifeboatError } from '../errors.js';
import { countPgEntries, EMPTY_ARCHIVE } from './check.js';
import { archiveDbname, fileHead } from './pg-archive.js';
import { emptyStream, labelOf, tool, whereOf } from './postgres-client.js';
import { loadIntoTool, runToolText } from './process.js';
import { cleanupContext, SCRATCH_HINT, scratchName, withScratch } from './scratch.js';
import type { EngineContext } from './types.js';

// Counts what a loaded database holds: tables, their rows (exactly, one count(*) each) and large objects.
const CONTENT_SQL = `SELECT
  (SELECT pg_catalog.count(*) FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')),
  (SELECT pg_catalog.coalesce(pg_catalog.sum((pg_catalog.xpath('/row/c/text()', pg_catalog.query_to_xml(pg_catalog.format('SELECT pg_catalog.count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text::bigint), 0)
     FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')),
  (SELECT pg_catalog.count(*) FROM pg_catalog.pg_largeobject_metadata);
`.replace(/pg_catalog\.coalesce/g, 'coalesce');

// A SCRAM-SHA-256 verifier for `password`, so the plain password never travels in a statement the
// server might log.
function scramVerifier(password: string): string {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, 4096, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$4096:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

// Refuses an archive that is not the dump of `database` (its header names the database it was dumped from).
export async function checkArchiveName(file: string, database: string, label: string): Promise<void> {
  const found = archiveDbname(await fileHead(file));
  if ('bad' in found) throw new LifeboatError('DATABASE', `${label}: the dump ${file} cannot be used: ${found.bad}`);
  if (found.dbname !== database) throw archiveOfOther(label, file, found.dbname);
}

// The error for an archive of another database.
export function archiveOfOther(label: string, file: string, dbname: string): LifeboatError {
  return new LifeboatError('DATABASE', `${label}: the dump ${file} is the dump of database "${dbname}", not of this one; nothing was loaded`, {
    hint: "restore the snapshot that holds this database's own dump; an archive of another database is never loaded over it",
  });
}

// Client failures that mean the archive reached beyond the scratch database.
const REACHED_OUT = /permission denied|must be superuser|must be owner|must be member|must have admin|only superusers|is not trusted/i;
// The server would not let the drill's role log in (pg_hba.conf: peer or ident for every user).
const NO_LOGIN = /(?:Peer|Ident|password) authentication failed for user "lifeboat_verify_|no pg_hba\.conf entry for .*user "lifeboat_verify_/;

// The restore drill: a new database owned by the temporary role, pg_restore into it as that role in one
// transaction without owners and grants, tables, rows and large objects counted, then database and role
// dropped on every path.
export async function drillPostgres(config: PostgresDatabase, database: string, file: string, ctx: EngineContext): Promise<string> {
  const label = labelOf(config, database);
  await checkArchiveName(file, database, label);
  const entries = await countPgEntries(file, label, ctx);
  const scratch = scratchName();
  const account = { user: scratch, password: randomBytes(24).toString('hex') };
  ctx.log.masker.add(account.password);
  const inScratch = `${label}, loaded into scratch database ${scratch} as the temporary role ${scratch}`;
  const admin = (sql: string, run: EngineContext) => runToolText(tool('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '--dbname', 'postgres'], config, database, run), run, sql);
  const asRole = (file: string, args: string[]) => ({ ...tool(file, args, config, database, ctx, account), label: inScratch });
  return withScratch(
    `the temporary role and scratch database ${scratch} on ${whereOf(config)}`,
    ctx,
    async () => {
      const superuser = await admin(`SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user;\n`, ctx);
      if (superuser.trim() === 't') ctx.log.info(`${label}: the configured user ${config.user ?? '(default)'} is a superuser; the drill loads the dump as the temporary role ${scratch}, which owns only the scratch database, never as that user`);
      await admin(
        `CREATE ROLE "${scratch}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 4 PASSWORD '${scramVerifier(account.password)}';
GRANT "${scratch}" TO CURRENT_USER;
CREATE DATABASE "${scratch}" TEMPLATE template0 OWNER "${scratch}";
REVOKE ALL ON DATABASE "${scratch}" FROM PUBLIC;
`,
        ctx,
      );
    },
    async () => {
      const args = ['--exit-on-error', '--single-transaction', '--no-owner', '--no-privileges', ...(config.loadOptions ?? []), '--dbname', scratch, file];
      try {
        await loadIntoTool(asRole('pg_restore', args), emptyStream(), ctx);
      } catch (error) {
        if (error instanceof LifeboatError && NO_LOGIN.test(error.message)) {
          throw new LifeboatError('DATABASE', error.message, {
            hint: `the drill logs in as a temporary role with a password: allow it in pg_hba.conf (host all /^lifeboat_verify_ 127.0.0.1/32 scram-sha-256) and connect over TCP (host: 127.0.0.1), or ${SCRATCH_HINT}`,
            cause: error,
          });
        }
        if (error instanceof LifeboatError && REACHED_OUT.test(error.message)) {
          throw new LifeboatError('DATABASE', `${error.message} (the dump needs rights beyond its scratch database; the server refused them)`, {
            hint: `the archive runs something only a superuser or another role may (an untrusted extension, a role, a program): it may have been altered in the repository; if it is an extension the database really uses, ${SCRATCH_HINT}`,
            cause: error,
          });
        }
        throw error;
      }
      const counts = await runToolText(asRole('psql', ['-X', '-A', '-t', '-F', ' ', '-v', 'ON_ERROR_STOP=1', '--dbname', scratch]), ctx, CONTENT_SQL);
      const [tables, rows, objects] = counts.trim().split(' ').map(Number);
      const large = objects ? `, ${objects} large object(s)` : '';
      const loaded = entries === 0 ? EMPTY_ARCHIVE : `${entries} archive entries`;
      return `${loaded} loaded into scratch database ${scratch}: ${tables} table(s), ${rows} row(s)${large}`;
    },
    async () => {
      // WITH (FORCE) ends a session still connected to it (PostgreSQL 13 and later); older servers without.
      const cleanup = cleanupContext(ctx);
      await admin(`DROP DATABASE IF EXISTS "${scratch}" WITH (FORCE);\n`, cleanup).catch(() => admin(`DROP DATABASE IF EXISTS "${scratch}";\n`, cleanup));
      await admin(`DROP ROLE IF EXISTS "${scratch}";\n`, cleanup);
    },
    `grant the user CREATEDB and CREATEROLE (ALTER ROLE ${config.user ? `"${config.user}"` : 'CURRENT_USER'} CREATEDB CREATEROLE)`,
  );
}
