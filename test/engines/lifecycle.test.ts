// Databases through the whole lifecycle and the real CLI: a module with PostgreSQL, MariaDB, Redis and
// SQLite and a real process as its service is backed up (streamed into restic and borg, staged for tar),
// destroyed, restored in place and compared exactly; --target leaves the live databases alone unless
// --databases; a dump that fails (killed half-way, missing database, missing client, unreachable server)
// fails the module, starts the service again, records no success and leaves no snapshot.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
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
  freePort,
  MY,
  PG,
  pathWithout,
  psql,
  REDIS_URL,
  shimDir,
  uniqueName,
} from '../helpers/databases.js';

const PASSWORD = 'restic-test-password';

type ProviderCase = { name: string; streamed: boolean; repo: (dir: string) => Record<string, unknown> };
const PROVIDERS: ProviderCase[] = [
  { name: 'restic', streamed: true, repo: (dir) => ({ provider: 'restic', url: path.join(dir, 'repo'), passwordFile: path.join(dir, 'pass') }) },
  { name: 'borg', streamed: true, repo: (dir) => ({ provider: 'borg', url: path.join(dir, 'repo'), passwordFile: path.join(dir, 'pass') }) },
  { name: 'tar', streamed: false, repo: (dir) => ({ provider: 'tar', url: path.join(dir, 'repo'), compression: 'zstd' }) },
];

interface Fixture {
  t: TestRoot;
  service: FakeService;
  name: string;
  sqlite: string;
  data: string;
  config: { databases: Array<Record<string, Record<string, unknown>>> } & Record<string, unknown>;
  cleanup(): void;
}

// A root with one repository and module `shop` declaring all four engines; the databases exist.
async function setup(provider: ProviderCase, extra: Record<string, unknown> = {}): Promise<Fixture> {
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
  const config = {
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
function describeAll(f: Fixture): Record<string, string> {
  return {
    postgres: describePostgres(f.name),
    mysql: describeMariadb(f.name),
    redis: describeRedis(f.name),
    sqlite: execFileSync('sqlite3', [f.sqlite, 'SELECT quote(body) FROM notes ORDER BY rowid;'], { encoding: 'utf8' }),
  };
}

// Drops, deletes and empties: the disaster a restore must undo.
function destroyAll(f: Fixture): void {
  dropPostgres(f.name);
  dropMariadb(f.name);
  deleteRedisKeys(f.name);
  execFileSync('sqlite3', [f.sqlite, 'DELETE FROM notes;']);
}

function journal(t: TestRoot): string[] {
  return readFileSync(path.join(t.stateDir, 'journal.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { type: string; result?: string; action: string })
    .map((record) => `${record.action}:${record.type}:${record.result ?? ''}`);
}

// Every snapshot in the module's restic repository, streamed dump snapshots included.
function resticSnapshots(t: TestRoot): Array<{ tags?: string[] }> {
  const out = execFileSync('restic', ['-r', path.join(t.dir, 'repo', 'shop'), 'snapshots', '--json'], { env: { ...process.env, RESTIC_PASSWORD_FILE: path.join(t.dir, 'pass') }, encoding: 'utf8' });
  return JSON.parse(out) as Array<{ tags?: string[] }>;
}

describe.each(PROVIDERS)('databases through $name', (provider) => {
  let f: Fixture;
  beforeEach(async () => {
    f = await setup(provider);
  });
  afterEach(() => f.cleanup());

  it(`backs up every engine (${provider.streamed ? 'streamed' : 'staged'}), restores exactly after the databases were destroyed`, async () => {
    const before = describeAll(f);
    const backup = await lifeboat(f.t, ['backup', 'shop', '--json']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    expect(backup.stderr).toMatch(provider.streamed ? /will stream into the snapshot as databases\/postgres-/ : /dumped PostgreSQL database .* to databases\/postgres-/);
    expect(existsSync(path.join(f.t.stateDir, 'modules/shop/state/databases'))).toBe(false);
    expect(f.service.isRunning()).toBe(true);
    const listed = JSON.parse((await lifeboat(f.t, ['snapshots', 'shop', '--json'])).stdout);
    expect(listed).toHaveLength(1);
    if (provider.name === 'restic') expect(resticSnapshots(f.t).filter((s) => s.tags?.includes('lifeboat-dump'))).toHaveLength(3);

    destroyAll(f);
    const restore = await lifeboat(f.t, ['restore', 'shop', '--no-safety-snapshot', '--json']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(describeAll(f)).toEqual(before);
    expect(f.service.isRunning()).toBe(true);
    expect(existsSync(path.join(f.t.stateDir, 'modules/shop/state/databases'))).toBe(false);
    expect(`${backup.stderr}${restore.stderr}`).not.toContain('shop-secret-value');
  });
});

describe('restic retention with streamed dumps', () => {
  let f: Fixture;
  beforeEach(async () => {
    f = await setup(PROVIDERS[0], { retention: { keepLast: 1 } });
  });
  afterEach(() => f.cleanup());

  it('forget keeps the dump snapshots of kept runs and removes those of forgotten ones', async () => {
    expect((await lifeboat(f.t, ['backup', 'shop'])).exitCode).toBe(0);
    psql(f.name, `INSERT INTO items VALUES (3, NULL, 'second run');`);
    expect((await lifeboat(f.t, ['backup', 'shop'])).exitCode).toBe(0);
    expect(resticSnapshots(f.t)).toHaveLength(8);
    const forget = await lifeboat(f.t, ['forget', 'shop']);
    expect(forget.exitCode, forget.stderr).toBe(0);
    const left = resticSnapshots(f.t);
    const main = left.filter((s) => s.tags?.includes('module:shop'));
    expect(main).toHaveLength(1);
    const run = main[0].tags!.find((tag) => tag.startsWith('run:'));
    expect(left.filter((s) => s.tags?.includes('lifeboat-dump')).map((s) => s.tags!.includes(run!))).toEqual([true, true, true]);
    const target = path.join(f.t.dir, 'copy');
    expect((await lifeboat(f.t, ['restore', 'shop', '--target', target])).exitCode).toBe(0);
    expect(readFileSync(path.join(target, f.t.stateDir, 'modules/shop/state/databases', `postgres-${f.name}.pgdump`)).includes('second run')).toBe(true);
  });

  it('verify reads every streamed dump back from the repository', async () => {
    expect((await lifeboat(f.t, ['backup', 'shop'])).exitCode).toBe(0);
    const verify = await lifeboat(f.t, ['verify', 'shop']);
    expect(verify.exitCode, verify.stderr).toBe(0);
    expect(verify.stderr).toMatch(/PostgreSQL database .*: \d+ archive entries, all readable/);
    expect(verify.stderr).toMatch(/MariaDB database .*: \d+ bytes, complete/);
    expect(verify.stderr).toMatch(/Redis .*: 5 key\(s\), complete/);
  });
});

describe('SIGTERM while a dump streams', () => {
  let f: Fixture;
  afterEach(() => f?.cleanup());

  it('stops the dump and restic, starts the service again, records a failure and leaves no snapshot', async () => {
    f = await setup(PROVIDERS[0]);
    const started = path.join(f.t.dir, 'dump-started');
    const shims = shimDir({ pg_dump: `/usr/bin/pg_dump "$@" | head -c 65536\ntouch "${started}"\nexec sleep 60` });
    const child = lifeboat(f.t, ['backup', 'shop', '--json'], { env: { PATH: `${shims}:${process.env.PATH}` } });
    for (let i = 0; i < 600 && !existsSync(started); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(existsSync(started)).toBe(true);
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode, result.stderr).toBe(1);
    expect(JSON.parse(result.stdout).modules[0]).toMatchObject({ ok: false, snapshots: [] });
    expect(f.service.isRunning()).toBe(true);
    expect(journal(f.t)).toEqual(['backup:start:', 'backup:end:failure']);
    expect(resticSnapshots(f.t)).toEqual([]);
  });
});

describe('restore --target', () => {
  let f: Fixture;
  beforeEach(async () => {
    f = await setup(PROVIDERS[2]);
  });
  afterEach(() => f.cleanup());

  it('puts the dumps under the target and leaves the live databases alone unless --databases', async () => {
    expect((await lifeboat(f.t, ['backup', 'shop'])).exitCode).toBe(0);
    const before = describeAll(f);
    psql(f.name, `INSERT INTO items VALUES (3, NULL, 'live change');`);
    const live = describeAll(f);
    const target = path.join(f.t.dir, 'copy');
    const aside = await lifeboat(f.t, ['restore', 'shop', 'latest', '--target', target]);
    expect(aside.exitCode, aside.stderr).toBe(0);
    expect(aside.stderr).toContain('restore with --databases to load them');
    const dumps = path.join(target, f.t.stateDir, 'modules/shop/state/databases');
    expect(existsSync(path.join(dumps, `postgres-${f.name}.pgdump`))).toBe(true);
    expect(existsSync(path.join(dumps, `mysql-${f.name}.sql`))).toBe(true);
    expect(describeAll(f)).toEqual(live);
    const pid = f.service.pid();
    const loaded = await lifeboat(f.t, ['restore', 'shop', 'latest', '--target', path.join(f.t.dir, 'copy2'), '--databases']);
    expect(loaded.exitCode, loaded.stderr).toBe(0);
    expect(describeAll(f)).toEqual(before);
    expect(f.service.pid()).toBe(pid);
  });
});

describe('a dump that fails fails the module, starts the service again and leaves no snapshot', () => {
  const killedHalfWay = (f: Fixture) => ({ PATH: `${shimDir({ pg_dump: '/usr/bin/pg_dump "$@" | head -c 65536\necho "pg_dump: simulated crash" >&2\nkill -KILL $$' })}:${process.env.PATH}` });
  const cases: Array<{ what: string; provider: ProviderCase; env?: (f: Fixture) => Record<string, string>; arrange?: (f: Fixture) => Promise<void> | void; message: (f: Fixture) => RegExp }> = [
    { what: 'pg_dump killed half-way, streamed into restic', provider: PROVIDERS[0], env: killedHalfWay, message: (f) => new RegExp(`PostgreSQL database "${f.name}" on 127.0.0.1:5432: pg_dump was killed by SIGKILL: pg_dump: simulated crash`) },
    { what: 'pg_dump killed half-way, streamed into borg', provider: PROVIDERS[1], env: killedHalfWay, message: (f) => new RegExp(`PostgreSQL database "${f.name}".*pg_dump was killed by SIGKILL: pg_dump: simulated crash`) },
    { what: 'pg_dump killed half-way, staged for tar', provider: PROVIDERS[2], env: killedHalfWay, message: (f) => new RegExp(`PostgreSQL database "${f.name}".*pg_dump was killed by SIGKILL: pg_dump: simulated crash`) },
    { what: 'pg_dump not installed', provider: PROVIDERS[0], env: () => ({ PATH: pathWithout(['pg_dump', 'pg_dumpall', 'pg_restore', 'psql']) }), message: (f) => new RegExp(`PostgreSQL database "${f.name}" on 127.0.0.1:5432: pg_dump is not installed`) },
    {
      what: 'an exclude pattern that matches a dump',
      provider: PROVIDERS[2],
      arrange: (f) => f.t.module('shop', { ...f.config, exclude: ['*.sql'] }),
      message: (f) => new RegExp(`exclude patterns \\(\\*\\.sql.*\\) match the database dump\\(s\\) .*mysql-${f.name}\\.sql`),
    },
    { what: 'a missing database', provider: PROVIDERS[2], arrange: (f) => dropMariadb(f.name), message: (f) => new RegExp(`MariaDB database "${f.name}" on 127.0.0.1:3306: mariadb-dump failed \\(exit 2\\): .*Unknown database`) },
    {
      what: 'an unreachable Redis server with a password (masked)',
      provider: PROVIDERS[0],
      arrange: async (f) => {
        const port = await freePort();
        Object.assign(f.config.databases[2].redis, { url: `redis://127.0.0.1:${port}/0`, passwordEnv: 'SHOP_DB_PASSWORD' });
        f.t.module('shop', f.config);
      },
      message: (f) => new RegExp(`Redis 127.0.0.1:\\d+ db 0 \\(keys ${f.name}:\\*\\): .*ECONNREFUSED`),
    },
  ];

  let f: Fixture;
  afterEach(() => f?.cleanup());

  it.each(cases)('$what', async ({ provider, env, arrange, message }) => {
    f = await setup(provider);
    await arrange?.(f);
    const result = await lifeboat(f.t, ['backup', 'shop', '--json'], { env: env?.(f) });
    expect(result.exitCode, result.stderr).toBe(1);
    const module = JSON.parse(result.stdout).modules[0];
    expect(module).toMatchObject({ ok: false, snapshots: [] });
    expect(module.error).toMatch(message(f));
    expect(result.stderr).not.toContain('shop-secret-value');
    expect(f.service.isRunning()).toBe(true);
    expect(journal(f.t)).toEqual(['backup:start:', 'backup:end:failure']);
    expect(existsSync(path.join(f.t.stateDir, 'modules/shop/state/databases'))).toBe(false);
    const list = await lifeboat(f.t, ['snapshots', 'shop', '--json']);
    expect(JSON.parse(list.stdout)).toEqual([]);
    if (provider.name === 'restic' && existsSync(path.join(f.t.dir, 'repo', 'shop', 'config'))) expect(resticSnapshots(f.t)).toEqual([]);
    if (provider.name === 'borg') {
      const archives = execFileSync('borg', ['list', '--consider-checkpoints', '--short', path.join(f.t.dir, 'repo', 'shop')], {
        env: { ...process.env, BORG_PASSPHRASE: PASSWORD, BORG_BASE_DIR: path.join(f.t.stateDir, 'borg') },
        encoding: 'utf8',
      });
      expect(archives.trim()).toBe('');
    }
  });
});

