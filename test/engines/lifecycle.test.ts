// Databases through the whole lifecycle and the real CLI: a module with PostgreSQL, MariaDB, Redis and
// SQLite and a real process as its service is backed up (streamed into restic and borg, staged for tar),
// destroyed, restored in place and compared exactly; --target leaves the live databases alone unless
// --databases; restic retention keeps the dumps of kept runs; verify reads streamed dumps back.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { lifeboat } from '../helpers/root.js';
import { psql } from '../helpers/databases.js';
import { describeAll, destroyAll, PROVIDERS, resticSnapshots, setup, type Fixture } from './fixture.js';

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
