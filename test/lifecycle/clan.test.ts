// Clan-style provider and state hooks (test/fixtures/clan) round-trip: an asynchronous create that prints
// no name, a list without time or module shared by two modules, a restore that ignores LIFEBOAT_TARGET,
// and a pg_dump / runuser pg_restore pair that needs the dump readable by the postgres user.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, PROJECT, type TestRoot } from '../helpers/root.js';
import { describeTree as describeExact } from '../helpers/fs-state.js';

// tar keeps whole-second mtimes: compare them in seconds.
const describeTree = (dir: string) => describeExact(dir).map((line) => line.replace(/ (\d+)$/, (_m, ms: string) => ` ${Math.floor(Number(ms) / 1000)}`));

const FIXTURE = path.join(PROJECT, 'test', 'fixtures', 'clan');
const psql = (sql: string, db = 'postgres') => execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', db, '-Atc', sql], { encoding: 'utf8' }).trim();

let t: TestRoot;
let db: string;
let data: string;

beforeEach(() => {
  t = makeRoot();
  t.write('lifeboat.yaml', stringify({ repositories: { clan: { provider: 'clan', url: path.join(t.dir, 'backups') } } }));
  execFileSync('cp', ['-a', path.join(FIXTURE, 'provider'), path.join(t.root, 'plugins', 'clan')]);
  db = `lb_clan_${randomBytes(4).toString('hex')}`;
  psql(`CREATE DATABASE ${db}`);
  psql('CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, $$one$$), (2, $$two$$);', db);
  data = path.join(t.dir, 'app');
  mkdirSync(path.join(data, 'uploads'), { recursive: true });
  writeFileSync(path.join(data, 'uploads', 'a.txt'), 'first\n');
  writeFileSync(path.join(data, 'config.ini'), '[app]\nname=clan\n');
  // no modules/app/environment: FOLDERS must not name it
  t.module('app', { folders: [data] });
  t.write('modules/app/environment', `CLAN_DB=${db}\nCLAN_DUMP_DIR=${data}/dump\n`);
  rmSync(path.join(t.root, 'modules/app/environment'));
  t.write('environment', `CLAN_DB=${db}\nCLAN_DUMP_DIR=${data}/dump\n`);
  t.part('pre-backup', '50clan', execFileSync('cat', [path.join(FIXTURE, 'hooks', 'pre-backup')], { encoding: 'utf8' }), 'app');
  t.part('post-restore', '50clan', execFileSync('cat', [path.join(FIXTURE, 'hooks', 'post-restore')], { encoding: 'utf8' }), 'app');
});
afterEach(() => {
  try {
    psql(`DROP DATABASE IF EXISTS ${db}`);
  } catch {
    // already gone
  }
  t.cleanup();
});

describe('a Clan-style module', () => {
  it('round-trips in place: waits for the async create, restores exactly what the snapshot holds, pg_restore as postgres', async () => {
    const backup = await lifeboat(t, ['backup', 'app', '--json']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const snapshot = JSON.parse(backup.stdout).modules[0].snapshots[0];
    expect(snapshot.id).toMatch(/^\d{4}-\d\d-\d\dT/);
    const treeBefore = describeTree(data);

    // a second module in the same repository: each sees only its own, dated, `latest` the newest
    const other = path.join(t.dir, 'other');
    mkdirSync(other);
    writeFileSync(path.join(other, 'x'), 'x\n');
    t.module('other', { folders: [other] });
    expect((await lifeboat(t, ['backup', 'other'])).exitCode).toBe(0);
    const listed = JSON.parse((await lifeboat(t, ['snapshots', 'app', '--json'])).stdout);
    expect(listed.map((s: { id: string }) => s.id)).toEqual([snapshot.id]);
    expect(listed[0].module).toBe('app');
    expect(Date.parse(listed[0].time)).toBeGreaterThan(Date.parse('2020-01-01'));
    expect(JSON.parse((await lifeboat(t, ['snapshots', 'other', '--json'])).stdout)).toHaveLength(1);

    // damage
    psql('DELETE FROM notes WHERE id = 1; INSERT INTO notes VALUES (3, $$spam$$);', db);
    writeFileSync(path.join(data, 'uploads', 'a.txt'), 'changed\n');
    writeFileSync(path.join(data, 'uploads', 'stray.txt'), 'stray\n');

    const restore = await lifeboat(t, ['restore', 'app', snapshot.id, '--no-safety-snapshot']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(describeTree(data)).toEqual(treeBefore);
    expect(psql('SELECT id, body FROM notes ORDER BY id', db)).toBe('1|one\n2|two');
  });

  it('restore --target and verify never change the live files, although the script ignores LIFEBOAT_TARGET', async () => {
    expect((await lifeboat(t, ['backup', 'app'])).exitCode).toBe(0);
    writeFileSync(path.join(data, 'uploads', 'a.txt'), 'live and newer\n');
    const live = describeTree(data);
    // post-restore would drop the live database: a --target restore must not touch it either
    t.part('post-restore', '50clan', '#!/bin/sh\n[ "$LIFEBOAT_TARGET" = / ] || exit 0\necho "would drop" >&2\nexit 1\n', 'app');
    const aside = path.join(t.dir, 'aside');
    const restore = await lifeboat(t, ['restore', 'app', '--target', aside]);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(describeTree(data)).toEqual(live);
    expect(execFileSync('cat', [path.join(aside, data, 'uploads', 'a.txt')], { encoding: 'utf8' })).toBe('first\n');
    const verify = await lifeboat(t, ['verify', 'app']);
    expect(verify.exitCode, verify.stderr).toBe(0);
    expect(describeTree(data)).toEqual(live);
    expect(psql('SELECT count(*) FROM notes', db)).toBe('2');
  });

  it('a failed restore never runs postRestore (the database is not dropped)', async () => {
    expect((await lifeboat(t, ['backup', 'app'])).exitCode).toBe(0);
    for (const name of readdirSync(path.join(t.dir, 'backups'))) writeFileSync(path.join(t.dir, 'backups', name), 'not a tar archive');
    psql('INSERT INTO notes VALUES (3, $$three$$);', db);
    const restore = await lifeboat(t, ['restore', 'app', '--no-safety-snapshot']);
    expect(restore.exitCode).toBe(1);
    expect(psql('SELECT count(*) FROM notes', db)).toBe('3');
  });
});
