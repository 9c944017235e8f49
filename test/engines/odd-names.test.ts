// Database names that look like connection strings or options are names, nothing else: pg_dump,
// pg_restore and psql read a --dbname holding "=" as a connection string (a database named
// `dbname=other host=elsewhere` would be another database or another server), and mariadb-dump reads a
// name that starts with "--" as an option. A module backs up and restores such a database through the
// CLI; what is dumped is that database's own table.
import { afterEach, describe, expect, it } from 'vitest';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { mariadb, MY, PG, psql, uniqueName } from '../helpers/databases.js';

const roots: TestRoot[] = [];
const drops: Array<() => void> = [];
afterEach(() => {
  for (const drop of drops.splice(0)) drop();
  for (const t of roots.splice(0)) t.cleanup();
});

// psql on a database whose name holds "=": as a quoted connection string, never expanded.
const psqlOn = (name: string, sql: string) => psql(`dbname='${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`, sql);
const quotePg = (name: string) => `"${name.replace(/"/g, '""')}"`;

function moduleWith(database: Record<string, unknown>): TestRoot {
  const t = makeRoot();
  roots.push(t);
  t.dataModule('m', { databases: [database] });
  return t;
}

describe('database names that look like connection strings or options', () => {
  it('PostgreSQL "dbname=<other> ..." is dumped and restored as itself, not as <other>', async () => {
    const other = uniqueName();
    const odd = `dbname=${other} host=127.0.0.9 port=5499`;
    for (const name of [other, odd]) {
      psql('postgres', `CREATE DATABASE ${quotePg(name)};`);
      drops.push(() => psql('postgres', `DROP DATABASE IF EXISTS ${quotePg(name)};`));
    }
    psqlOn(odd, 'CREATE TABLE victim (x int); INSERT INTO victim VALUES (7);');
    const t = moduleWith({ postgres: { host: PG.host, port: PG.port, user: PG.user, database: odd } });
    const backup = await lifeboat(t, ['backup', 'm']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    psqlOn(odd, 'DELETE FROM victim;');
    const restore = await lifeboat(t, ['restore', 'm', '--no-safety-snapshot']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(psqlOn(odd, 'SELECT x FROM victim;').trim()).toBe('7');
    // the other database was never touched
    expect(psql(other, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public';").trim()).toBe('0');
  });

  it('MariaDB "--host=..." is dumped and restored as a database name, not read as an option', async () => {
    const name = `--host=127.0.0.9_${uniqueName().slice(-10)}`;
    mariadb(`CREATE DATABASE \`${name}\`; CREATE TABLE \`${name}\`.victim (x int); INSERT INTO \`${name}\`.victim VALUES (7);`);
    drops.push(() => mariadb(`DROP DATABASE IF EXISTS \`${name}\`;`));
    const t = moduleWith({ mysql: { host: MY.host, port: MY.port, user: MY.user, database: name } });
    const backup = await lifeboat(t, ['backup', 'm']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    mariadb(`DELETE FROM \`${name}\`.victim;`);
    const restore = await lifeboat(t, ['restore', 'm', '--no-safety-snapshot']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(mariadb(`SELECT x FROM \`${name}\`.victim;`).trim()).toBe('7');
  });
});

