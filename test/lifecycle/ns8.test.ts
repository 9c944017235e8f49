// A NethServer 8-style module (test/fixtures/ns8/module) round-trips with restic: a real podman volume
// named by `volumes/data`, module-dump-state that needs the running service, restore steps that read the
// request's `environment` and `path` and write the environment for the next step.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, PROJECT, type TestRoot } from '../helpers/root.js';
import { createFakeService, type FakeService } from '../helpers/service.js';
import { describeTree } from '../helpers/fs-state.js';

const FIXTURE = path.join(PROJECT, 'test', 'fixtures', 'ns8', 'module');

let t: TestRoot;
let service: FakeService;
let module: string;
const volumes: string[] = [];

const podman = (...args: string[]) => execFileSync('podman', args, { encoding: 'utf8' }).trim();
const rows = (db: string) => execFileSync('sqlite3', [db, 'SELECT id, title FROM pages ORDER BY id'], { encoding: 'utf8' });

beforeEach(async () => {
  t = makeRoot();
  const pass = path.join(t.dir, 'restic.pass');
  writeFileSync(pass, 'ns8-password\n', { mode: 0o600 });
  t.write('lifeboat.yaml', stringify({ repositories: { local: { provider: 'restic', url: path.join(t.dir, 'restic'), passwordFile: pass } } }));
  module = `wiki${randomBytes(3).toString('hex')}`;
  execFileSync('cp', ['-a', FIXTURE, path.join(t.root, 'modules', module)]);
  service = await createFakeService();
});
afterEach(() => {
  service.cleanup();
  for (const name of volumes.splice(0)) execFileSync('podman', ['volume', 'rm', '-f', name], { stdio: 'ignore' });
  t.cleanup();
});

// The wiki: a database in a folder (backed up only through its dump), pages in the podman volume, an
// environment in the module dir and one in the state dir (as NS8's agent writes it).
function setupWiki(): { db: string; volume: string; stateEnv: string } {
  const name = `${module}-data`;
  podman('volume', 'create', name);
  volumes.push(name);
  const volume = podman('volume', 'inspect', name, '--format', '{{.Mountpoint}}');
  mkdirSync(path.join(volume, 'pages'), { recursive: true });
  writeFileSync(path.join(volume, 'pages', 'start.txt'), '====== Welcome ======\n');
  writeFileSync(path.join(volume, 'pages', 'big.bin'), randomBytes(256 * 1024));
  const data = path.join(t.dir, 'data');
  mkdirSync(data);
  const db = path.join(data, 'wiki.db');
  execFileSync('sqlite3', [db, "CREATE TABLE pages (id INTEGER PRIMARY KEY, title TEXT); INSERT INTO pages VALUES (1, 'start'), (2, 'about');"]);
  t.module(module, { folders: [data], exclude: ['*.db'], service: { ...service.config, stopDuringBackup: true } });
  t.write('environment', `WIKI_DB=${db}\nWIKI_PIDFILE=${service.pidFile}\nOUT_DIR=${t.dir}\n`);
  t.write(`modules/${module}/environment`, 'WIKI_TITLE=Lifeboat Wiki\n');
  const stateDir = path.join(t.stateDir, 'modules', module, 'state');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const stateEnv = path.join(stateDir, 'environment');
  writeFileSync(stateEnv, 'TCP_PORT=20001\nIMAGE_TAG=1.4.2\nMODULE_UUID=uuid-at-backup\n', { mode: 0o600 });
  return { db, volume, stateEnv };
}

describe('a NethServer 8 module', () => {
  it('round-trips: volume, dump through the running service, restore steps reading the request', async () => {
    const { db, volume, stateEnv } = setupWiki();
    const backup = await lifeboat(t, ['backup', module, '--json']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    expect(service.isRunning()).toBe(true);
    const pagesBefore = describeTree(volume);
    const rowsBefore = rows(db);
    const stateDir = path.dirname(stateEnv);
    // module-cleanup-state ran after the snapshot
    expect(existsSync(path.join(stateDir, 'wiki-dump.sql'))).toBe(false);

    // damage: the volume is removed, rows change, the environment changes
    podman('volume', 'rm', '-f', `${module}-data`);
    execFileSync('sqlite3', [db, "DELETE FROM pages WHERE id = 1; INSERT INTO pages VALUES (3, 'spam');"]);
    // (MODULE_UUID: a core value of the instance being restored into, which 06copyenv does not copy)
    writeFileSync(stateEnv, 'TCP_PORT=99999\nMODULE_UUID=uuid-of-this-instance\n', { mode: 0o600 });

    const restore = await lifeboat(t, ['restore', module, '--json']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(service.isRunning()).toBe(true);
    // the volume was created again and filled
    const mountPoint = podman('volume', 'inspect', `${module}-data`, '--format', '{{.Mountpoint}}');
    expect(mountPoint).toBe(volume);
    expect(describeTree(volume)).toEqual(pagesBefore);
    expect(rows(db)).toBe(rowsBefore);
    // what 06copyenv wrote survives the restore of the state dir (NS8's restore leaves state/environment alone)
    expect(readFileSync(stateEnv, 'utf8')).toBe('TCP_PORT=20001\nMODULE_UUID=uuid-of-this-instance\nIMAGE_TAG=1.4.2\n');
    expect(restore.stderr).toContain(`${stateEnv}: kept as a restore step wrote it before 10restore_module`);

    // 06copyenv ran before 10restore_module and still got the environment stored in the snapshot
    const request = JSON.parse(readFileSync(path.join(t.dir, 'request-06copyenv.json'), 'utf8'));
    const snapshotId = JSON.parse(restore.stdout).modules[0].snapshots?.[0]?.id ?? request.snapshot;
    expect(request).toMatchObject({
      module,
      action: 'restore',
      phase: 'restore',
      repository: 'local',
      target: '/',
      path: `${path.join(t.dir, 'restic')}/${module}`,
      environment: { WIKI_TITLE: 'Lifeboat Wiki', TCP_PORT: '20001', IMAGE_TAG: '1.4.2', MODULE_UUID: 'uuid-at-backup' },
    });
    expect(request.snapshot).toMatch(/^[0-9a-f]{64}$/);
    expect(snapshotId).toBeTruthy();
    // 20loadkey saw request.path, and TCP_PORT as the environment stood after the steps before it
    expect(readFileSync(path.join(t.dir, 'loadkey'), 'utf8')).toBe(`${path.join(t.dir, 'restic')}/${module} 20001\n`);
    // the environment values never reach the log
    expect(restore.stderr).not.toContain('Lifeboat Wiki');
  });

  it('keeps what 06copyenv wrote also when its rewrite left the same bytes (any write decides, as in NS8)', async () => {
    const { stateEnv } = setupWiki();
    expect((await lifeboat(t, ['backup', module])).exitCode).toBe(0);
    // a key added since the backup; 06copyenv rewrites the file with the same bytes (its keys are unchanged)
    const live = 'TCP_PORT=20001\nIMAGE_TAG=1.4.2\nMODULE_UUID=uuid-at-backup\nNEW_KEY_AFTER_UPDATE=1\n';
    writeFileSync(stateEnv, live, { mode: 0o600 });
    const restore = await lifeboat(t, ['restore', module, '--no-safety-snapshot']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(readFileSync(stateEnv, 'utf8')).toBe(live);
    expect(restore.stderr).toContain(`${stateEnv}: kept as a restore step wrote it before 10restore_module`);
  });

  it('a step failing after 06copyenv: the message says Lifeboat replaced nothing and names the steps that ran', async () => {
    const { stateEnv } = setupWiki();
    expect((await lifeboat(t, ['backup', module])).exitCode).toBe(0);
    writeFileSync(stateEnv, 'TCP_PORT=99999\n', { mode: 0o600 });
    t.write(`modules/${module}/actions/restore-module/07fail`, '#!/bin/sh\nexit 1\n', 0o755);
    const restore = await lifeboat(t, ['restore', module, '--no-safety-snapshot']);
    expect(restore.exitCode).toBe(1);
    expect(restore.stderr).toContain(
      `error: the restore of module ${module} failed before it replaced anything: the live files were not changed by Lifeboat, ` +
        "but the module's own steps that ran first may have changed what they write (restore/06copyenv, restore/07fail)",
    );
    // 06copyenv did write the environment (what the message warns about)
    expect(readFileSync(stateEnv, 'utf8')).toBe('TCP_PORT=20001\nIMAGE_TAG=1.4.2\n');
  });

  it('the safety snapshot holds a fresh module-dump-state: the printed undo command brings back the rows and pages of right before the restore', async () => {
    const { db, volume } = setupWiki();
    expect((await lifeboat(t, ['backup', module])).exitCode).toBe(0);
    // changed after the backup: the state right before the restore
    execFileSync('sqlite3', [db, "UPDATE pages SET title = 'after backup' WHERE id = 2; INSERT INTO pages VALUES (4, 'new since the backup');"]);
    writeFileSync(path.join(volume, 'pages', 'new.txt'), 'written after the backup\n');
    const rowsBefore = rows(db);
    const pagesBefore = describeTree(volume);

    const restore = await lifeboat(t, ['restore', module]);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(rows(db)).toBe('1|start\n2|about\n');
    const undo = restore.stderr.match(/to undo this restore: lifeboat (restore \S+ \S+ --repo \S+)/);
    expect(undo, restore.stderr).not.toBeNull();
    // module-dump-state ran for it while the service ran
    expect(restore.stderr).toContain('what pre-backup/20dump_databases, pre-backup/30module_dump_state dumped just now');

    const back = await lifeboat(t, undo![1].split(' '));
    expect(back.exitCode, back.stderr).toBe(0);
    expect(rows(db)).toBe(rowsBefore);
    expect(describeTree(volume)).toEqual(pagesBefore);
    expect(service.isRunning()).toBe(true);
  });

  it('a safety snapshot whose module-dump-state fails stops the restore before anything changed, naming --no-safety-snapshot', async () => {
    const { db, volume } = setupWiki();
    expect((await lifeboat(t, ['backup', module])).exitCode).toBe(0);
    execFileSync('sqlite3', [db, "INSERT INTO pages VALUES (4, 'new since the backup');"]);
    writeFileSync(path.join(volume, 'pages', 'new.txt'), 'written after the backup\n');
    const rowsBefore = rows(db);
    const pagesBefore = describeTree(volume);
    // the dump needs the running service: it is down
    t.write('environment', `WIKI_DB=${db}\nWIKI_PIDFILE=${path.join(t.dir, 'no-such.pid')}\nOUT_DIR=${t.dir}\n`);
    const restore = await lifeboat(t, ['restore', module]);
    expect(restore.exitCode).toBe(1);
    expect(restore.stderr).toContain('the wiki is not running: cannot dump its database');
    expect(restore.stderr).toContain(
      'the safety snapshot could not dump the current state as a backup does (pre-backup/30module_dump_state failed: bin/module-dump-state exited with status 1); ' +
        'the restore stopped before it changed anything: the service still runs and the live files are as they were',
    );
    expect(restore.stderr).toMatch(new RegExp(`hint: .*lifeboat restore ${module} [0-9a-f]{64} --repo local --no-safety-snapshot`));
    expect(rows(db)).toBe(rowsBefore);
    expect(describeTree(volume)).toEqual(pagesBefore);
    expect(existsSync(path.join(t.dir, 'request-06copyenv.json'))).toBe(false);
    expect(service.isRunning()).toBe(true);
  });

  it('a backup fails naming a volumes/ line whose volume does not exist, and a missing include path', async () => {
    setupWiki();
    podman('volume', 'rm', '-f', `${module}-data`);
    const result = await lifeboat(t, ['backup', module]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`state-include.conf:2: volumes/data: no container volume data or ${module}-data (podman); create it (podman volume create ${module}-data) or remove the line`);
    writeFileSync(path.join(t.root, 'modules', module, 'etc', 'state-include.conf'), 'uploads\n');
    const again = await lifeboat(t, ['backup', module]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain('state-include.conf:1: uploads: ');
    expect(again.stderr).toContain(`/state/modules/${module}/state/uploads does not exist; create it or remove the line`);
    rmSync(path.join(t.root, 'modules', module, 'etc', 'state-include.conf'));
  });

  it('check reports volumes/ typos and missing volumes with file, line and fix', async () => {
    setupWiki();
    const file = path.join(t.root, 'modules', module, 'etc', 'state-include.conf');
    writeFileSync(file, '# typos\nvolume/data\nvolumes/\nvolumes/nosuch\nvolumes/data\n');
    const run = await lifeboat(t, ['check', '--json']);
    expect(run.exitCode, run.stdout).toBe(1);
    const found = (JSON.parse(run.stdout).findings as Array<{ level: string; subject: string; message: string }>).filter((f) => f.message.startsWith(file));
    expect(found.map((f) => `${f.level} ${f.subject} ${f.message}`)).toEqual([
      `fail module ${module} ${file}:2: volume/data: ${t.stateDir}/modules/${module}/state/volume/data does not exist; a container volume is written volumes/data; create it or remove the line`,
      `fail module ${module} ${file}:3: volumes/: names no volume: a volume line is volumes/NAME (letters, digits, _ . -, starting with a letter or digit); fix the name or remove the line`,
      `fail module ${module} ${file}:4: volumes/nosuch: no container volume nosuch or ${module}-nosuch (podman); create it (podman volume create ${module}-nosuch) or remove the line`,
    ]);
    // the same lines fail a backup, before anything is snapshotted
    const backup = await lifeboat(t, ['backup', module]);
    expect(backup.exitCode).toBe(1);
    expect(backup.stderr).toContain(`${file}:3: volumes/: names no volume`);
    expect(service.isRunning()).toBe(true);
  });

  it('module-dump-state fails when the service is down, and the backup says so', async () => {
    setupWiki();
    execFileSync('/bin/sh', ['-c', service.stop]);
    // the kill is delivered at once, the process ends a moment later: wait for it
    for (let tries = 0; service.isRunning() && tries < 250; tries++) await new Promise((resolve) => setTimeout(resolve, 20));
    const result = await lifeboat(t, ['backup', module]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('the wiki is not running: cannot dump its database');
  });
});
