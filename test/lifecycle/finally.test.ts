// The finally phase: pre-*, the action's phase and post-* run only while nothing failed; finally always
// runs (cleanup, the service start); dumps run while the service still runs; old post-* built-in names.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { BIN, lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { createFakeService, type FakeService } from '../helpers/service.js';

let t: TestRoot;
let service: FakeService | undefined;
afterEach(() => {
  service?.cleanup();
  service = undefined;
  t?.cleanup();
});

const trace = (name: string) => `#!/bin/sh\necho ${name} >> "${t.dir}/trace"\n`;
const readTrace = () => (existsSync(path.join(t.dir, 'trace')) ? readFileSync(path.join(t.dir, 'trace'), 'utf8').trim().split('\n') : []);

// A module "web" with one data folder and a real process as its service, stopped during backups.
async function webModule(extra: Record<string, unknown> = {}): Promise<string> {
  const data = path.join(t.dir, 'data');
  mkdirSync(data, { recursive: true });
  writeFileSync(path.join(data, 'file.txt'), 'hello\n');
  service = await createFakeService();
  t.module('web', { folders: [data], service: { ...service.config, stopDuringBackup: true }, ...extra });
  return data;
}

describe('finally', () => {
  it('a failed backup skips post-backup but runs finally, starts the service, then on-failure', async () => {
    t = makeRoot();
    await webModule();
    t.part('pre-backup', '45fail', '#!/bin/sh\nexit 4\n', 'web');
    t.part('post-backup', '60after', trace('post-backup'), 'web');
    t.part('finally', '50cleanup', trace('finally'), 'web');
    t.part('on-failure', '10report', trace('on-failure'), 'web');
    const result = await lifeboat(t, ['backup', 'web']);
    expect(result.exitCode).toBe(1);
    expect(readTrace()).toEqual(['finally', 'on-failure']);
    expect(service!.isRunning()).toBe(true);
    expect(result.stderr).toContain('starting');
  });

  it('a reader that goes away (`backup | head -1`) does not kill the run: the service is started again, the run ends', async () => {
    t = makeRoot();
    await webModule();
    // Output while the service is stopped, long after head has exited: every write meets a closed pipe.
    t.part('backup', '60chatty', '#!/bin/sh\nsleep 1\nfor i in $(seq 1 200); do echo "line $i"; done\n', 'web');
    const shell = await execa('bash', ['-c', 'node "$0" --root "$1" --state-dir "$2" backup web 2>&1 | head -1; echo "lifeboat=${PIPESTATUS[0]}"', BIN, t.root, t.stateDir], { reject: false });
    expect(shell.stdout.trim().split('\n').at(-1)).toBe('lifeboat=0');
    expect(service!.isRunning()).toBe(true);
    const records = readFileSync(path.join(t.stateDir, 'journal.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(records.filter((r) => r.module === 'web').map((r) => [r.type, r.result ?? null])).toContainEqual(['end', 'success']);
  });

  it('a successful backup runs post-backup, then finally, then on-success', async () => {
    t = makeRoot();
    await webModule();
    t.part('post-backup', '60after', trace('post-backup'), 'web');
    t.part('finally', '50cleanup', `#!/bin/sh\necho "finally $LIFEBOAT_PHASE" >> "${t.dir}/trace"\n`, 'web');
    t.part('on-success', '10ok', trace('on-success'), 'web');
    const result = await lifeboat(t, ['backup', 'web']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(readTrace()).toEqual(['post-backup', 'finally finally', 'on-success']);
    expect(service!.isRunning()).toBe(true);
  });

  it('post-restore never runs after a failed restore (a Clan-style postRestore that drops the database)', async () => {
    t = makeRoot();
    const data = await webModule();
    expect((await lifeboat(t, ['backup', 'web'])).exitCode).toBe(0);
    t.part('restore', '20load', '#!/bin/sh\necho "pg_restore: error: could not read dump" >&2\nexit 1\n', 'web');
    t.part('post-restore', '10drop_and_restore', `#!/bin/sh\nrm -f "${data}/file.txt"\necho dropped >> "${t.dir}/trace"\n`, 'web');
    t.part('finally', '50after', trace('finally'), 'web');
    const result = await lifeboat(t, ['restore', 'web', '--no-safety-snapshot']);
    expect(result.exitCode).toBe(1);
    expect(readTrace()).toEqual(['finally']);
    expect(readFileSync(path.join(data, 'file.txt'), 'utf8')).toBe('hello\n');
    expect(service!.isRunning()).toBe(true);
  });

  it('verify has a finally phase that runs after a failed drill', async () => {
    t = makeRoot();
    await webModule();
    expect((await lifeboat(t, ['backup', 'web'])).exitCode).toBe(0);
    t.part('verify', '40fail', '#!/bin/sh\nexit 1\n', 'web');
    t.part('finally', '50after', trace('finally'), 'web');
    const result = await lifeboat(t, ['verify', 'web']);
    expect(result.exitCode).toBe(1);
    expect(readTrace()).toEqual(['finally']);
  });

  it('dumps run while the service runs; it is stopped right before the snapshot and started in finally', async () => {
    t = makeRoot();
    await webModule();
    // NethServer's module-dump-state dumps through the running container: it fails when the service is down.
    t.write('modules/web/bin/module-dump-state', `#!/bin/sh\nif ${service!.isActive}; then echo dump > dump.sql; else echo "service is down" >&2; exit 1; fi\n`, 0o755);
    t.part('backup', '10seen', `#!/bin/sh\n${service!.isActive} && echo running >> "${t.dir}/trace" || echo stopped >> "${t.dir}/trace"\n`, 'web');
    const result = await lifeboat(t, ['backup', 'web']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(readTrace()).toEqual(['stopped']);
    expect(service!.isRunning()).toBe(true);
    const plan = JSON.parse((await lifeboat(t, ['plan', 'web', 'backup', '--json'])).stdout);
    const names = plan.actions.backup.map((p: { phase: string; parts: Array<{ name: string }> }) => `${p.phase}:${p.parts.map((x) => x.name).join(',')}`);
    expect(names).toEqual([
      'pre-backup:20dump_databases,30module_dump_state,40stop_service',
      'backup:10seen,50snapshot',
      'post-backup:60retention',
      'finally:70module_cleanup_state,80remove_dumps,90start_service,95finish_uploads',
      'on-success:',
      'on-failure:',
    ]);
    const restorePlan = JSON.parse((await lifeboat(t, ['plan', 'web', 'restore', '--json'])).stdout);
    const fin = restorePlan.actions.restore.find((p: { phase: string }) => p.phase === 'finally');
    expect(fin.parts.map((x: { name: string }) => x.name)).toEqual(['90start_service']);
  });

  it('a mask or replacement left in the old post-backup folder still applies to the built-in in finally', async () => {
    t = makeRoot();
    await webModule();
    mkdirSync(path.join(t.root, 'modules/web/hooks.d/post-backup'), { recursive: true });
    symlinkSync('/dev/null', path.join(t.root, 'modules/web/hooks.d/post-backup/90start_service'));
    t.part('post-backup', '70module_cleanup_state', trace('my-cleanup'), 'web');
    t.part('pre-backup', '45fail', '#!/bin/sh\nexit 4\n', 'web');
    const result = await lifeboat(t, ['backup', 'web']);
    expect(result.exitCode).toBe(1);
    // the replacement ran although the backup failed (it was an always-run part before), the mask held
    expect(readTrace()).toEqual(['my-cleanup']);
    expect(service!.isRunning()).toBe(false);
    expect(result.stderr).toContain('post-backup/70module_cleanup_state now belongs to finally/');
  });
});
