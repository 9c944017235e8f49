// The part environment is read afresh before every part, NethServer's `environment` in the module's
// state dir is a module environment file, and boolean keys take "true"/"false"/"1"/"0" from ${VAR}.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { createFakeService, type FakeService } from '../helpers/service.js';

let t: TestRoot;
let service: FakeService | undefined;
afterEach(() => {
  service?.cleanup();
  service = undefined;
  t?.cleanup();
});

function webModule(extra: Record<string, unknown> = {}): string {
  const data = path.join(t.dir, 'data');
  mkdirSync(data, { recursive: true });
  writeFileSync(path.join(data, 'file.txt'), 'hello\n');
  t.module('web', { folders: [data], ...extra });
  return data;
}

const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : []);

describe('the environment, read before every part', () => {
  it('a part that writes environment in the state dir (agent.set_env) or the module dir is seen by the next part', async () => {
    t = makeRoot();
    webModule();
    t.write('modules/web/environment', 'APP_MODE=old\n');
    const out = path.join(t.dir, 'seen');
    // NethServer's agent.set_env writes the state dir's environment; a module may rewrite its own file.
    t.part('pre-backup', '10set_env', `#!/bin/sh\nprintf 'TCP_PORT=20001\\nADMIN_TOKEN=tok-9f8e7d6c5b\\n' > environment\nprintf 'APP_MODE=new\\n' > "$LIFEBOAT_MODULE_DIR/environment"\n`, 'web');
    t.part('pre-backup', '11read', `#!/bin/sh\necho "$TCP_PORT $APP_MODE" >> "${out}"\necho "token $ADMIN_TOKEN"\n`, 'web');
    const result = await lifeboat(t, ['backup', 'web']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(lines(out)).toEqual(['20001 new']);
    expect(result.stderr).toContain('[web/11read] token ***');
    expect(result.stderr).not.toContain('tok-9f8e7d6c5b');

    // The next run reads the state dir's environment from the start, as a module environment file.
    t.part('pre-backup', '10set_env', '#!/bin/sh\n', 'web');
    const again = await lifeboat(t, ['backup', 'web']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(lines(out)).toEqual(['20001 new', '20001 new']);
    expect(again.stderr).not.toContain('tok-9f8e7d6c5b');
  });

  it('a part that leaves a broken environment file fails the next part, naming the file and line', async () => {
    t = makeRoot();
    webModule();
    t.part('pre-backup', '10break', '#!/bin/sh\necho "not an assignment" > environment\n', 'web');
    t.part('pre-backup', '11next', `#!/bin/sh\necho ran >> "${t.dir}/trace"\n`, 'web');
    t.part('finally', '50cleanup', `#!/bin/sh\necho cleanup >> "${t.dir}/trace"\n`, 'web');
    const result = await lifeboat(t, ['backup', 'web']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('environment:1: expected KEY=VALUE, got "not an assignment"');
    expect(lines(path.join(t.dir, 'trace'))).toEqual(['cleanup']);
  });
});

describe("a broken environment in the state dir", () => {
  it('does not block the restore that brings a good one back (a warning); other commands refuse it', async () => {
    t = makeRoot();
    webModule();
    const stateEnv = path.join(t.stateDir, 'modules', 'web', 'state', 'environment');
    mkdirSync(path.dirname(stateEnv), { recursive: true, mode: 0o700 });
    writeFileSync(stateEnv, 'TCP_PORT=20001\n', { mode: 0o600 });
    t.part('restore', '20port', `#!/bin/sh\necho "port $TCP_PORT" >> "${t.dir}/ports"\n`, 'web');
    expect((await lifeboat(t, ['backup', 'web'])).exitCode).toBe(0);
    writeFileSync(stateEnv, 'TCP_PORT=20001\nnot an assignment\n', { mode: 0o600 });

    const backup = await lifeboat(t, ['backup', 'web']);
    expect(backup.exitCode).toBe(2);
    expect(backup.stderr).toContain(`${stateEnv}:2: expected KEY=VALUE, got "not an assignment"`);

    const restore = await lifeboat(t, ['restore', 'web', '--no-safety-snapshot']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(restore.stderr).toContain(`${stateEnv}:2: expected KEY=VALUE, got "not an assignment"; left out`);
    expect(readFileSync(stateEnv, 'utf8')).toBe('TCP_PORT=20001\n');
    // the part after 10restore_module reads the restored environment
    expect(lines(path.join(t.dir, 'ports'))).toEqual(['port 20001']);
    expect((await lifeboat(t, ['backup', 'web'])).exitCode).toBe(0);
  });
});

describe('masking environment values in logs', () => {
  it('masks values of secret-looking keys and token-like values, not true, 1, admin or postgres', async () => {
    t = makeRoot();
    webModule();
    t.write('environment', 'DB_USER=postgres\nADMIN_USER=admin\nAPP_ENABLED=true\nWORKERS=1\nAPP_TITLE=Lifeboat Wiki\n');
    t.write('modules/web/environment', 'DB_PASSWORD=pw-4711\nINSTANCE_ID=f3Kq9x2LmP8z\nUPSTREAM=postgres://app:hunter2@db/app\nLONG_ID=abcdefghijklmnopqrstuvwxyz\nDATA_DIR=/srv/data-2026-11\n');
    // a part that writes the state dir's environment: its values follow the same rule
    t.part('pre-backup', '10set_env', '#!/bin/sh\nprintf "LEVEL=info\\nSESSION_SECRET=zz-session-9\\n" > environment\n', 'web');
    t.part('pre-backup', '11say', '#!/bin/sh\necho "user=$DB_USER admin=$ADMIN_USER enabled=$APP_ENABLED workers=$WORKERS title=$APP_TITLE level=$LEVEL"\necho "password=$DB_PASSWORD id=$INSTANCE_ID upstream=$UPSTREAM long=$LONG_ID dir=$DATA_DIR session=$SESSION_SECRET"\n', 'web');
    const result = await lifeboat(t, ['backup', 'web']);
    expect(result.exitCode, result.stderr).toBe(0);
    const said = result.stderr.split('\n').filter((line) => line.includes('[web/11say]')).map((line) => line.slice(line.indexOf('[web/11say]')));
    expect(said).toEqual([
      '[web/11say] user=postgres admin=admin enabled=true workers=1 title=Lifeboat Wiki level=info',
      '[web/11say] password=*** id=*** upstream=*** long=*** dir=/srv/data-2026-11 session=***',
    ]);
  });
});

describe('boolean keys from ${VAR}', () => {
  it('stopDuringBackup: ${SHOULD_STOP_SERVICE:-true} stops the service; "false" and "0" do not', async () => {
    t = makeRoot();
    service = await createFakeService();
    const seen = path.join(t.dir, 'seen');
    webModule({ service: { ...service.config, stopDuringBackup: '${SHOULD_STOP_SERVICE:-true}' } });
    t.part('backup', '10seen', `#!/bin/sh\n${service.isActive} && echo running >> "${seen}" || echo stopped >> "${seen}"\n`, 'web');
    for (const value of [undefined, 'false', '1', '0']) {
      const env: Record<string, string> = value === undefined ? {} : { SHOULD_STOP_SERVICE: value };
      const result = await lifeboat(t, ['backup', 'web'], { env });
      expect(result.exitCode, result.stderr).toBe(0);
      expect(service.isRunning()).toBe(true);
    }
    expect(lines(seen)).toEqual(['stopped', 'running', 'stopped', 'running']);
  });

  it('any other string is a configuration error naming the key', async () => {
    t = makeRoot();
    webModule({ enabled: '${ENABLED:-yes please}' });
    const result = await lifeboat(t, ['backup', 'web']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('modules/web/module.yaml: /enabled must be a boolean, got "yes please"');
  });
});
