// Faults through the real CLI: a dump that fails (killed half-way, missing database, missing client,
// unreachable server, excluded by a pattern) or a SIGTERM while a dump streams fails the module, starts
// the service again, records no success and leaves no snapshot (no dump snapshot, no borg checkpoint).
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { lifeboat } from '../helpers/root.js';
import { dropMariadb, freePort, pathWithout, shimDir } from '../helpers/databases.js';
import { journal, PASSWORD, PROVIDERS, resticSnapshots, setup, type Fixture, type ProviderCase } from './fixture.js';

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

// An empty restic repository for module shop, made with restic itself.
function initRestic(f: Fixture): void {
  execFileSync('restic', ['init', '-r', path.join(f.t.dir, 'repo', 'shop')], { env: { ...process.env, RESTIC_PASSWORD_FILE: path.join(f.t.dir, 'pass') }, stdio: 'ignore' });
}

describe('a dump that fails fails the module, starts the service again and leaves no snapshot', () => {
  const killedHalfWay = (f: Fixture) => ({ PATH: `${shimDir({ pg_dump: '/usr/bin/pg_dump "$@" | head -c 65536\necho "pg_dump: simulated crash" >&2\nkill -KILL $$' })}:${process.env.PATH}` });
  const cases: Array<{ what: string; provider: ProviderCase; env?: (f: Fixture) => Record<string, string>; arrange?: (f: Fixture) => Promise<void> | void; message: (f: Fixture) => RegExp }> = [
    { what: 'pg_dump killed half-way, copied into restic (LIFEBOAT_DUMP_DIRECT=0)', provider: PROVIDERS[0], env: (f) => ({ ...killedHalfWay(f), LIFEBOAT_DUMP_DIRECT: '0' }), message: (f) => new RegExp(`PostgreSQL database "${f.name}" on 127.0.0.1:5432: pg_dump was killed by SIGKILL: pg_dump: simulated crash`) },
    { what: 'pg_dump killed half-way, copied into borg (LIFEBOAT_DUMP_DIRECT=0)', provider: PROVIDERS[1], env: (f) => ({ ...killedHalfWay(f), LIFEBOAT_DUMP_DIRECT: '0' }), message: (f) => new RegExp(`PostgreSQL database "${f.name}".*pg_dump was killed by SIGKILL: pg_dump: simulated crash`) },
    { what: 'pg_dump killed half-way, handed restic\'s stdin directly (the default)', provider: PROVIDERS[0], env: killedHalfWay, message: (f) => new RegExp(`PostgreSQL database "${f.name}" on 127.0.0.1:5432: pg_dump was killed by SIGKILL: pg_dump: simulated crash`) },
    { what: 'pg_dump killed half-way, handed borg\'s pipe directly (the default)', provider: PROVIDERS[1], env: killedHalfWay, message: (f) => new RegExp(`PostgreSQL database "${f.name}".*pg_dump was killed by SIGKILL: pg_dump: simulated crash`) },
    { what: 'pg_dump killed half-way, staged for tar', provider: PROVIDERS[2], env: killedHalfWay, message: (f) => new RegExp(`PostgreSQL database "${f.name}".*pg_dump was killed by SIGKILL: pg_dump: simulated crash`) },
    { what: 'pg_dump not installed', provider: PROVIDERS[0], env: () => ({ PATH: pathWithout(['pg_dump', 'pg_dumpall', 'pg_restore', 'psql']) }), message: (f) => new RegExp(`PostgreSQL database "${f.name}" on 127.0.0.1:5432: pg_dump is not installed`) },
    // an exclude pattern that matches a dump is refused before the run (exit 2): test/reliability/preflight-excludes.test.ts
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
    // restic: the repository exists before the run (made here, so the check of its snapshots below always
    // runs, whether the fault comes before or after Lifeboat would have opened it)
    if (provider.name === 'restic') initRestic(f);
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
    expect(list.exitCode, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([]);
    if (provider.name === 'restic') expect(resticSnapshots(f.t)).toEqual([]);
    if (provider.name === 'borg') {
      const archives = execFileSync('borg', ['list', '--consider-checkpoints', '--short', path.join(f.t.dir, 'repo', 'shop')], {
        env: { ...process.env, BORG_PASSPHRASE: PASSWORD, BORG_BASE_DIR: path.join(f.t.stateDir, 'borg') },
        encoding: 'utf8',
      });
      expect(archives.trim()).toBe('');
    }
  });
});
