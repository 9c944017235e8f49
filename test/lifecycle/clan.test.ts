// Clan-style provider and state hooks (test/fixtures/clan) round-trip: an asynchronous create that prints
// no name, a list without time or module shared by two modules, a restore that ignores LIFEBOAT_TARGET,
// and a pg_dump / runuser pg_restore pair that needs the dump readable by the postgres user.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

  it('the safety snapshot runs the preBackup pg_dump: the printed undo command brings back the rows and files of right before the restore', async () => {
    expect((await lifeboat(t, ['backup', 'app'])).exitCode).toBe(0);
    // changed after the backup: the state right before the restore
    psql('UPDATE notes SET body = $$two, edited$$ WHERE id = 2; INSERT INTO notes VALUES (4, $$four$$);', db);
    writeFileSync(path.join(data, 'uploads', 'b.txt'), 'written after the backup\n');
    const rowsBefore = psql('SELECT id, body FROM notes ORDER BY id', db);
    const treeBefore = describeTree(data).filter((line) => !line.startsWith('dump'));

    // a part can tell a safety snapshot's pre-backup from a backup's
    const seen = path.join(t.dir, 'seen');
    t.part('pre-backup', '40seen', `#!/bin/sh\necho "$LIFEBOAT_PHASE \${LIFEBOAT_SAFETY_SNAPSHOT:-no}" >> ${seen}\n`, 'app');
    const restore = await lifeboat(t, ['restore', 'app']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(readFileSync(seen, 'utf8')).toBe('pre-backup 1\n');
    expect(psql('SELECT id, body FROM notes ORDER BY id', db)).toBe('1|one\n2|two');
    const undo = restore.stderr.match(/to undo this restore: lifeboat (restore \S+ \S+ --repo \S+)/);
    expect(undo, restore.stderr).not.toBeNull();
    expect(restore.stderr).toContain('what pre-backup/20dump_databases, pre-backup/30module_dump_state, pre-backup/40seen, pre-backup/50clan dumped just now');

    const back = await lifeboat(t, undo![1].split(' '));
    expect(back.exitCode, back.stderr).toBe(0);
    expect(psql('SELECT id, body FROM notes ORDER BY id', db)).toBe(rowsBefore);
    expect(describeTree(data).filter((line) => !line.startsWith('dump'))).toEqual(treeBefore);
  });

  it('a failing preBackup dump stops the restore before anything changed (the database and files as they were)', async () => {
    expect((await lifeboat(t, ['backup', 'app'])).exitCode).toBe(0);
    psql('INSERT INTO notes VALUES (4, $$four$$);', db);
    writeFileSync(path.join(data, 'uploads', 'b.txt'), 'written after the backup\n');
    t.write('environment', `CLAN_DB=lb_clan_no_such_db\nCLAN_DUMP_DIR=${data}/dump\n`);
    // (the failing pg_dump itself leaves an empty dump/db.dump, as it would in a backup)
    const files = () => describeTree(data).filter((line) => !line.startsWith('dump'));
    const live = files();
    const restore = await lifeboat(t, ['restore', 'app']);
    expect(restore.exitCode).toBe(1);
    expect(restore.stderr).toContain('the safety snapshot could not dump the current state as a backup does (pre-backup/50clan failed: exited with status 1); the restore stopped before it changed anything');
    expect(restore.stderr).toContain('--no-safety-snapshot');
    expect(files()).toEqual(live);
    expect(psql('SELECT count(*) FROM notes', db)).toBe('3');
  });

  it('the state dir\'s environment a pre-backup part writes for the safety snapshot is not taken for a restore step\'s: the snapshot\'s copy comes back', async () => {
    const stateEnv = path.join(t.stateDir, 'modules', 'app', 'state', 'environment');
    t.part('pre-backup', '10set_env', '#!/bin/sh\necho "DUMPED_BY=$LIFEBOAT_ACTION-${LIFEBOAT_SAFETY_SNAPSHOT:-0}" > environment\n', 'app');
    expect((await lifeboat(t, ['backup', 'app'])).exitCode).toBe(0);
    expect(readFileSync(stateEnv, 'utf8')).toBe('DUMPED_BY=backup-0\n');
    const restore = await lifeboat(t, ['restore', 'app']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(readFileSync(stateEnv, 'utf8')).toBe('DUMPED_BY=backup-0\n');
    expect(restore.stderr).not.toContain('kept as a restore step wrote it');
  });

  it('verify shows the whole snapshot id; with -v a script\'s stderr is logged when it succeeds; a failing restore script is named with its exit', async () => {
    const create = path.join(t.root, 'plugins', 'clan', 'create');
    writeFileSync(create, readFileSync(create, 'utf8').replace('set -eu\n', 'set -eu\necho "clan-create: note on stderr" >&2\n'), { mode: 0o755 });
    const quiet = await lifeboat(t, ['backup', 'app', '--json']);
    expect(quiet.exitCode, quiet.stderr).toBe(0);
    expect(quiet.stderr).not.toContain('clan-create: note on stderr');
    const id = JSON.parse(quiet.stdout).modules[0].snapshots[0].id as string;
    const loud = await lifeboat(t, ['backup', 'app', '-v']);
    expect(loud.exitCode, loud.stderr).toBe(0);
    expect(loud.stderr).toContain(`${create}: clan-create: note on stderr`);

    const verify = await lifeboat(t, ['verify', 'app']);
    expect(verify.exitCode, verify.stderr).toBe(0);
    expect(verify.stderr).toMatch(/clan: restored snapshot \d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{9} \(/);

    const restoreScript = path.join(t.root, 'plugins', 'clan', 'restore');
    writeFileSync(restoreScript, '#!/bin/sh\necho "archive is corrupt" >&2\nexit 3\n', { mode: 0o755 });
    const restore = await lifeboat(t, ['restore', 'app', id, '--target', path.join(t.dir, 'aside')]);
    expect(restore.exitCode).toBe(1);
    expect(restore.stderr).toContain(`${restoreScript} exited with status 3 (run in a private mount namespace): archive is corrupt`);
    expect(restore.stderr).not.toContain('unshare -m failed');
  });

  it('two modules backing up at once each record their own snapshot (the create-and-adopt window is one at a time per repository)', async () => {
    // app's archive appears only after other's (or 10s): without the lock app would adopt other's snapshot
    const url = path.join(t.dir, 'backups');
    const create = [
      '#!/bin/sh',
      'set -eu',
      'mkdir -p "$LIFEBOAT_REPOSITORY_URL"',
      'touch "$LIFEBOAT_REPOSITORY_URL/.started-$LIFEBOAT_MODULE"',
      'name="$LIFEBOAT_MODULE-$(date -u +%s%N)"',
      'set -f; set --; IFS=:',
      'for folder in $FOLDERS; do set -- "$@" "${folder#/}"; done',
      'unset IFS',
      `setsid sh -c 'url=$1; name=$2; shift 2; i=0; case $name in app-*) while [ $i -lt 100 ] && ! ls "$url"/other-*.tar >/dev/null 2>&1; do sleep 0.1; i=$((i + 1)); done;; esac; tar -C / -cf "$url/.$name.tmp" "$@" && mv "$url/.$name.tmp" "$url/$name.tar"' \\`,
      '  clan-create "$LIFEBOAT_REPOSITORY_URL" "$name" "$@" </dev/null >/dev/null 2>&1 &',
      '',
    ];
    writeFileSync(path.join(t.root, 'plugins', 'clan', 'create'), create.join('\n'), { mode: 0o755 });
    const other = path.join(t.dir, 'other');
    mkdirSync(other);
    writeFileSync(path.join(other, 'x'), 'x\n');
    t.module('other', { folders: [other] });
    const first = lifeboat(t, ['backup', 'app']);
    for (const deadline = Date.now() + 120_000; !existsSync(path.join(url, '.started-app')); await new Promise((resolve) => setTimeout(resolve, 50))) {
      if (Date.now() > deadline) throw new Error('app\'s create never ran');
    }
    const second = lifeboat(t, ['backup', 'other']);
    const [a, b] = await Promise.all([first, second]);
    expect(a.exitCode, a.stderr).toBe(0);
    expect(b.exitCode, b.stderr).toBe(0);
    for (const module of ['app', 'other']) {
      const listed = JSON.parse((await lifeboat(t, ['snapshots', module, '--json'])).stdout);
      expect(listed.map((s: { id: string }) => s.id.replace(/-\d+$/, ''))).toEqual([module]);
    }
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

  it('verify and restore --target with a script that writes outside the target (whole-archive extract, absolute paths) leave every other file as it was and fail', async () => {
    const other = path.join(t.dir, 'other');
    mkdirSync(other);
    writeFileSync(path.join(other, 'x'), 'other module\n');
    const sibling = path.join(t.dir, 'sibling.txt');
    writeFileSync(sibling, 'sibling\n');
    expect((await lifeboat(t, ['backup', 'app'])).exitCode).toBe(0);
    writeFileSync(path.join(data, 'uploads', 'a.txt'), 'live and newer\n');
    const liveTrees = () => [describeTree(data), describeTree(other), describeTree(path.dirname(sibling)).filter((line) => line.startsWith('sibling.txt '))];
    const live = liveTrees();
    // a whole-archive extract into the live paths, then writes to another module's folder and a sibling file
    writeFileSync(
      path.join(t.root, 'plugins', 'clan', 'restore'),
      `#!/bin/sh\nset -eu\ntar -C / -xpf "$LIFEBOAT_REPOSITORY_URL/$NAME.tar"\necho spoiled > ${other}/x\necho spoiled > ${sibling}\n`,
      { mode: 0o755 },
    );
    const verify = await lifeboat(t, ['verify', 'app']);
    expect(verify.exitCode).not.toBe(0);
    expect(verify.stderr).toContain('tried to write outside the target');
    expect(liveTrees()).toEqual(live);
    const restore = await lifeboat(t, ['restore', 'app', '--target', path.join(t.dir, 'aside')]);
    expect(restore.exitCode).not.toBe(0);
    expect(restore.stderr).toContain('tried to write outside the target');
    expect(liveTrees()).toEqual(live);
    expect(execFileSync('cat', [sibling, path.join(other, 'x'), path.join(data, 'uploads', 'a.txt')], { encoding: 'utf8' })).toBe('sibling\nother module\nlive and newer\n');
  });
  it('an in-place restore whose script skips a path the snapshot holds (the state dir with the dump) fails before the swap, naming it', async () => {
    const stateDir = path.join(t.stateDir, 'modules', 'app', 'state');
    t.write('environment', `CLAN_DB=${db}\nCLAN_DUMP_DIR=${stateDir}/dump\n`);
    expect((await lifeboat(t, ['backup', 'app'])).exitCode).toBe(0);
    // exits 0 but leaves out the state dir
    writeFileSync(
      path.join(t.root, 'plugins', 'clan', 'restore'),
      '#!/bin/sh\nset -eu\nset -f\nset --\nIFS=:\nfor folder in $FOLDERS; do case $folder in */modules/app/state) ;; *) set -- "$@" "${folder#/}";; esac; done\nunset IFS\n[ $# -gt 0 ] || exit 0\ntar -C / -xpf "$LIFEBOAT_REPOSITORY_URL/$NAME.tar" "$@"\n',
      { mode: 0o755 },
    );
    psql('INSERT INTO notes VALUES (3, $$three$$);', db);
    writeFileSync(path.join(data, 'uploads', 'a.txt'), 'changed\n');
    const live = describeTree(data);
    const restore = await lifeboat(t, ['restore', 'app', '--no-safety-snapshot']);
    expect(restore.exitCode, restore.stderr).toBe(1);
    expect(restore.stderr, restore.stderr).toContain(`did not bring back ${stateDir}, which the snapshot holds; nothing was changed`);
    expect(describeTree(data)).toEqual(live);
    expect(psql('SELECT id, body FROM notes ORDER BY id', db)).toBe('1|one\n2|two\n3|three');
  });
  it('a failed restore never runs postRestore (the database is not dropped)', async () => {
    expect((await lifeboat(t, ['backup', 'app'])).exitCode).toBe(0);
    for (const name of readdirSync(path.join(t.dir, 'backups'))) writeFileSync(path.join(t.dir, 'backups', name), 'not a tar archive');
    psql('INSERT INTO notes VALUES (3, $$three$$);', db);
    const restore = await lifeboat(t, ['restore', 'app', '--no-safety-snapshot']);
    expect(restore.exitCode).toBe(1);
    expect(psql('SELECT count(*) FROM notes', db)).toBe('3');
  });
  it('a create that finishes after the wait is adopted by its module, dated by its start; a snapshot Lifeboat did not make is no module\'s', async () => {
    t.write('lifeboat.yaml', stringify({ repositories: { clan: { provider: 'clan', url: path.join(t.dir, 'backups'), options: { createWait: 0 } } } }));
    const other = path.join(t.dir, 'other');
    mkdirSync(other);
    writeFileSync(path.join(other, 'x'), 'x\n');
    t.module('other', { folders: [other] });
    const started = Date.now();
    const late = await lifeboat(t, ['backup', 'app']);
    expect(late.exitCode).toBe(1);
    expect(late.stderr).toContain('shows no new snapshot for module app (waited 0s); the backup did not happen');
    // the archive appears a moment later
    const backups = path.join(t.dir, 'backups');
    for (const deadline = Date.now() + 120_000; !readdirSync(backups).some((name) => name.endsWith('.tar')); await new Promise((resolve) => setTimeout(resolve, 100))) {
      if (Date.now() > deadline) throw new Error('the late archive never appeared');
    }
    const name = readdirSync(backups).find((n) => n.endsWith('.tar'))!.slice(0, -'.tar'.length);
    const listed = await lifeboat(t, ['snapshots', 'app', '--json']);
    expect(listed.exitCode, listed.stderr).toBe(0);
    const [snapshot, ...rest] = JSON.parse(listed.stdout);
    expect(rest).toEqual([]);
    expect(snapshot).toMatchObject({ id: name, module: 'app', kind: 'backup' });
    expect(Date.parse(snapshot.time)).toBeGreaterThanOrEqual(started - 1000);
    expect(Date.parse(snapshot.time)).toBeLessThanOrEqual(Date.now());
    expect(listed.stderr).toContain(`snapshot ${name} appeared after Lifeboat stopped waiting for its create (module app, started ${snapshot.time}; that backup was reported failed); recorded as a snapshot of module app from ${snapshot.time}`);
    // not another module's
    expect(JSON.parse((await lifeboat(t, ['snapshots', 'other', '--json'])).stdout)).toEqual([]);

    // an archive Lifeboat did not make, in a list without module or time: shown for no module, never as 1970
    copyFileSync(path.join(backups, `${name}.tar`), path.join(backups, 'foreign.tar'));
    for (const module of ['app', 'other']) {
      const result = await lifeboat(t, ['snapshots', module, '--json']);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout).map((s: { id: string }) => s.id)).toEqual(module === 'app' ? [name] : []);
      expect(result.stderr).toContain('repository "clan": 1 snapshot(s) name no module and Lifeboat did not record them (foreign): not shown for any module; if ');
      expect(result.stdout).not.toContain('1970');
    }
    // a script whose list keeps modules apart says so: its undated entries are then the module's, time unknown
    t.write('lifeboat.yaml', stringify({ repositories: { clan: { provider: 'clan', url: backups, options: { listPerModule: true } } } }));
    const table = await lifeboat(t, ['snapshots', 'app']);
    expect(table.exitCode, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^foreign\s+unknown\s+backup\s+app\s+clan/m);
    expect(table.stdout).not.toContain('1970');
    const all = JSON.parse((await lifeboat(t, ['snapshots', 'app', '--json'])).stdout);
    expect(all.map((s: { id: string; time: string }) => [s.id, s.time])).toEqual([['foreign', ''], [name, snapshot.time]]);
  });
  it('a dump a part writes into the state dir is read back by runuser -u postgres -- pg_restore; Lifeboat\'s own files stay private', async () => {
    // t.dir stands for /var/lib: others may pass through it
    chmodSync(t.dir, 0o711);
    const stateDir = path.join(t.stateDir, 'modules', 'app', 'state');
    t.write('environment', `CLAN_DB=${db}\nCLAN_DUMP_DIR=${stateDir}/dump\n`);
    // a part that writes the state dir's environment as NethServer's agent does, readable by all (umask 022)
    t.part('pre-backup', '10set_env', '#!/bin/sh\necho "APP_SECRET=zz-secret-value-1" > environment\n', 'app');
    const backup = await lifeboat(t, ['backup', 'app']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);
    expect([t.stateDir, path.join(t.stateDir, 'modules'), path.join(t.stateDir, 'modules', 'app'), stateDir].map(mode)).toEqual(['711', '711', '711', '711']);
    expect(mode(path.join(stateDir, 'dump'))).toBe('755');
    expect(mode(path.join(stateDir, 'dump', 'db.dump'))).toBe('644');
    expect(mode(path.join(t.stateDir, 'journal.jsonl'))).toBe('600');
    expect(mode(path.join(t.stateDir, 'runs'))).toBe('700');
    // the next run makes the environment, whose name everyone knows, private
    expect((await lifeboat(t, ['backup', 'app'])).exitCode).toBe(0);
    expect(mode(path.join(stateDir, 'environment'))).toBe('600');

    psql('DELETE FROM notes WHERE id = 1; INSERT INTO notes VALUES (3, $$spam$$);', db);
    // a state dir made 0700 by hand is opened again before any part runs
    chmodSync(stateDir, 0o700);
    const restore = await lifeboat(t, ['restore', 'app', '--no-safety-snapshot']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(psql('SELECT id, body FROM notes ORDER BY id', db)).toBe('1|one\n2|two');
    expect(mode(stateDir)).toBe('711');
  });
});
