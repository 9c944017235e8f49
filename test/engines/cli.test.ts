// The helpers for parts through the real CLI: `lifeboat dump/load ENGINE`, `lifeboat dump/load MODULE`,
// and the NethServer-compatible `redis-dump KEY` / `redis-restore KEY` (raw DUMP payloads).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { BIN, lifeboat, makeRoot } from '../helpers/root.js';
import { tmpDir } from '../helpers/tmp.js';
import { createPostgres, createRedisKeys, deleteRedisKeys, describePostgres, describeRedis, dropPostgres, PG, redisCli, uniqueName } from '../helpers/databases.js';

const pgArgs = ['--host', PG.host, '--port', String(PG.port), '--user', PG.user];

describe('lifeboat dump / load', () => {
  const name = uniqueName();
  beforeAll(() => createPostgres(name));
  afterAll(() => dropPostgres(name));

  it('dump postgres > FILE, load postgres < FILE round-trips a dropped database', async () => {
    const dir = await tmpDir();
    const file = path.join(dir, 'app.pgdump');
    const before = describePostgres(name);
    const dump = await execa('sh', ['-c', `node "${BIN}" dump postgres --database ${name} ${pgArgs.join(' ')} > "${file}"`], { reject: false });
    expect(dump.exitCode, dump.stderr).toBe(0);
    expect(readFileSync(file).subarray(0, 5).toString()).toBe('PGDMP');
    dropPostgres(name);
    const load = await execa('sh', ['-c', `node "${BIN}" load postgres --database ${name} ${pgArgs.join(' ')} < "${file}"`], { reject: false });
    expect(load.exitCode, load.stderr).toBe(0);
    expect(describePostgres(name)).toBe(before);
  });

  it('dump MODULE writes the declared dumps into the state dir (0600); load MODULE reads them back', async () => {
    const t = makeRoot();
    try {
      t.module('shop', { folders: [], databases: [{ postgres: { database: name, ...PG } }] });
      const before = describePostgres(name);
      const dump = await lifeboat(t, ['dump', 'shop']);
      expect(dump.exitCode, dump.stderr).toBe(0);
      const dir = path.join(t.stateDir, 'modules/shop/state/databases');
      expect(readdirSync(dir)).toEqual([`postgres-${name}.pgdump`]);
      expect(statSync(path.join(dir, `postgres-${name}.pgdump`)).mode & 0o777).toBe(0o600);
      dropPostgres(name);
      const load = await lifeboat(t, ['load', 'shop']);
      expect(load.exitCode, load.stderr).toBe(0);
      expect(describePostgres(name)).toBe(before);
    } finally {
      t.cleanup();
    }
  });

  it('bad usage exits 2 with a message', async () => {
    const t = makeRoot();
    try {
      const missing = await lifeboat(t, ['dump', 'postgres']);
      expect(missing.exitCode).toBe(2);
      expect(missing.stderr).toContain('--database is required');
      const unknown = await lifeboat(t, ['dump', 'nosuchmodule']);
      expect(unknown.exitCode).toBe(2);
    } finally {
      t.cleanup();
    }
  });
});

describe('lifeboat redis-dump / redis-restore', () => {
  const prefix = uniqueName();
  beforeAll(() => createRedisKeys(prefix));
  afterAll(() => deleteRedisKeys(prefix));

  it('writes the raw DUMP payload of a key and restores it from stdin, binary-safe', async () => {
    const before = describeRedis(prefix);
    for (const key of ['binary', 'hash', 'list']) {
      const dump = await execa('node', [BIN, 'redis-dump', `${prefix}:${key}`], { encoding: 'buffer', reject: false, env: { REDIS_URL: 'redis://127.0.0.1:6379/0' } });
      expect(dump.exitCode, String(dump.stderr)).toBe(0);
      expect((dump.stdout as unknown as Buffer).length).toBeGreaterThan(10);
      redisCli(['DEL', `${prefix}:${key}`]);
      const restore = await execa('node', [BIN, 'redis-restore', `${prefix}:${key}`, '--url', 'redis://127.0.0.1:6379/0'], { input: dump.stdout as unknown as Buffer, reject: false });
      expect(restore.exitCode, restore.stderr).toBe(0);
    }
    expect(describeRedis(prefix)).toBe(before);
    const missing = await execa('node', [BIN, 'redis-dump', `${prefix}:nope`], { reject: false });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain(`key "${prefix}:nope" does not exist`);
  });
});
