// The fixture of the database lifecycle tests: a root with one repository (restic, borg or tar) and a
// module `shop` that declares PostgreSQL, MariaDB, Redis and SQLite databases (all created, unique names)
// and has a real process as its service.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeRoot, type TestRoot } from '../helpers/root.js';
import { createFakeService, type FakeService } from '../helpers/service.js';
import {
  createMariadb,
  createPostgres,
  createRedisKeys,
  deleteRedisKeys,
  describeMariadb,
  describePostgres,
  describeRedis,
  dropMariadb,
  dropPostgres,
  MY,
  PG,
  REDIS_URL,
  uniqueName,
} from '../helpers/databases.js';

export const PASSWORD = 'restic-test-password';

export type ProviderCase = { name: string; streamed: boolean; repo: (dir: string) => Record<string, unknown> };
export const PROVIDERS: ProviderCase[] = [
  { name: 'restic', streamed: true, repo: (dir) => ({ provider: 'restic', url: path.join(dir, 'repo'), passwordFile: path.join(dir, 'pass') }) },
  { name: 'borg', streamed: true, repo: (dir) => ({ provider: 'borg', url: path.join(dir, 'repo'), passwordFile: path.join(dir, 'pass') }) },
  { name: 'tar', streamed: false, repo: (dir) => ({ provider: 'tar', url: path.join(dir, 'repo'), compression: 'zstd' }) },
];

export interface Fixture {
  t: TestRoot;
  service: FakeService;
  name: string;
  sqlite: string;
  data: string;
  config: { databases: Array<Record<string, Record<string, unknown>>> } & Record<string, unknown>;
  cleanup(): void;
}

// A root with one repository and module `shop` declaring all four engines; the databases exist.
export async function setup(provider: ProviderCase, extra: Record<string, unknown> = {}): Promise<Fixture> {
  const t = makeRoot({ repositories: { local: { provider: 'tar', url: '/nonexistent' } } });
  t.write('lifeboat.yaml', `repositories:\n  local: ${JSON.stringify(provider.repo(t.dir))}\n`);
  writeFileSync(path.join(t.dir, 'pass'), `${PASSWORD}\n`, { mode: 0o600 });
  const name = uniqueName();
  const data = path.join(t.dir, 'data');
  const sqlite = path.join(data, 'app.sqlite3');
  execFileSync('mkdir', ['-p', data]);
  execFileSync('sqlite3', [sqlite, `CREATE TABLE notes(body); INSERT INTO notes VALUES ('Grüße'), (x'00ff');`]);
  createPostgres(name);
  createMariadb(name);
  createRedisKeys(name);
  const service = await createFakeService();
  t.write('modules/shop/environment', 'SHOP_DB_PASSWORD=shop-secret-value\n');
  const config: Fixture['config'] = {
    folders: [data],
    service: { ...service.config, stopDuringBackup: true },
    databases: [
      { postgres: { database: name, ...PG } },
      { mysql: { database: name, ...MY } },
      { redis: { url: REDIS_URL, keys: [`${name}:*`] } },
      { sqlite: { path: sqlite } },
    ],
    timeouts: { part: 60, killAfter: 2 },
    ...extra,
  };
  t.module('shop', config);
  return {
    config,
    t,
    service,
    name,
    sqlite,
    data,
    cleanup() {
      service.cleanup();
      dropPostgres(name);
      dropMariadb(name);
      deleteRedisKeys(name);
      t.cleanup();
    },
  };
}

// Everything the module's databases hold, for exact comparison.
export function describeAll(f: Fixture): Record<string, string> {
  return {
    postgres: describePostgres(f.name),
    mysql: describeMariadb(f.name),
    redis: describeRedis(f.name),
    sqlite: execFileSync('sqlite3', [f.sqlite, 'SELECT quote(body) FROM notes ORDER BY rowid;'], { encoding: 'utf8' }),
  };
}

// Drops, deletes and empties: the disaster a restore must undo.
export function destroyAll(f: Fixture): void {
  dropPostgres(f.name);
  dropMariadb(f.name);
  deleteRedisKeys(f.name);
  execFileSync('sqlite3', [f.sqlite, 'DELETE FROM notes;']);
}

export function journal(t: TestRoot): string[] {
  return readFileSync(path.join(t.stateDir, 'journal.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { type: string; result?: string; action: string })
    .map((record) => `${record.action}:${record.type}:${record.result ?? ''}`);
}

// Every snapshot in the module's restic repository, streamed dump snapshots included.
export function resticSnapshots(t: TestRoot): Array<{ tags?: string[] }> {
  const out = execFileSync('restic', ['-r', path.join(t.dir, 'repo', 'shop'), 'snapshots', '--json'], { env: { ...process.env, RESTIC_PASSWORD_FILE: path.join(t.dir, 'pass') }, encoding: 'utf8' });
  return JSON.parse(out) as Array<{ tags?: string[] }>;
}
