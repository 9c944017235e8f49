// The hook-directory runtime end to end through the real CLI: layers, order, masks, environment, stdin,
// the env-file hand-off, exit 75, failures, timeouts and signals.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';

let t: TestRoot;
afterEach(() => t?.cleanup());

// A module "web" with one data folder, backed up by the copy test provider.
function webModule(extra: Record<string, unknown> = {}): string {
  const data = path.join(t.dir, 'data');
  mkdirSync(data, { recursive: true });
  writeFileSync(path.join(data, 'file.txt'), 'hello\n');
  t.module('web', { folders: [data], ...extra });
  return data;
}

// A part that appends its name to a trace file.
const trace = (name: string) => `#!/bin/sh\necho ${name} >> "${t.dir}/trace"\n`;
const readTrace = () => (existsSync(path.join(t.dir, 'trace')) ? readFileSync(path.join(t.dir, 'trace'), 'utf8').trim().split('\n') : []);

describe('layers, order and masking', () => {
  it('plan shows byte order, replacement by name, masks and skipped files', async () => {
    t = makeRoot();
    webModule();
    t.part('pre-backup', '25x', trace('root-25x'));
    t.part('pre-backup', '2b', trace('root-2b'));
    t.part('pre-backup', '2b', trace('module-2b'), 'web');
    t.part('pre-backup', '10.sh', trace('ignored'), 'web');
    t.write('modules/web/hooks.d/pre-backup/20dump_databases', '');
    symlinkSync('/dev/null', path.join(t.root, 'modules/web/hooks.d/pre-backup/30module_dump_state'));
    t.write('hooks.d/pre-backup/40noexec', '#!/bin/sh\nexit 0\n', 0o644);
    const result = await lifeboat(t, ['plan', 'web', 'backup', '--json']);
    expect(result.exitCode).toBe(0);
    const plan = JSON.parse(result.stdout);
    const pre = plan.actions.backup[0];
    expect(pre.phase).toBe('pre-backup');
    expect(pre.parts.map((p: { name: string; layer: string; status: string }) => `${p.name}:${p.layer}:${p.status}`)).toEqual([
            '20dump_databases:module:masked',
      '25x:root:run',
      '2b:module:run',
      '30module_dump_state:module:masked',
      '40noexec:root:skipped',
      '40stop_service:builtin:run',
    ]);
    expect(pre.parts[2].replaces).toEqual([{ layer: 'root', path: path.join(t.root, 'hooks.d/pre-backup/2b') }]);
    expect(pre.parts[0].replaces[0].layer).toBe('builtin');

    const run = await lifeboat(t, ['backup', 'web']);
    expect(run.exitCode).toBe(0);
    expect(readTrace()).toEqual(['root-25x', 'module-2b']);
    expect(run.stderr).toContain('40noexec: skipped: not executable');
  });

  it("a module's own part that is not executable is an error (exit 2, nothing runs), not a warning", async () => {
    t = makeRoot();
    webModule();
    t.part('pre-backup', '10first', trace('first'), 'web');
    const file = t.write('modules/web/hooks.d/pre-backup/40noexec', '#!/bin/sh\nexit 0\n', 0o644);
    const run = await lifeboat(t, ['backup', 'web']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toBe(`lifeboat: ${file}: refused: not executable; a module's own part must be: chmod +x ${file} (or empty it to mask a part)`);
    expect(readTrace()).toEqual([]);
  });

  it('text plan lines up in columns', async () => {
    t = makeRoot();
    webModule();
    const result = await lifeboat(t, ['plan', 'web', 'restore']);
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.split('\n').filter((l) => l.startsWith('  '));
    const column = lines[0].indexOf('PART');
    expect(column).toBeGreaterThan(0);
    for (const line of lines.slice(1)) expect(line.slice(column - 2, column)).toBe('  ');
    expect(result.stdout).toContain('05safety_snapshot');
  });

  it('actions/restore-module is the NethServer alias of the module restore phase', async () => {
    t = makeRoot();
    webModule();
    t.write('modules/web/actions/restore-module/20loadkey', '#!/bin/sh\n', 0o755);
    const plan = JSON.parse((await lifeboat(t, ['plan', 'web', 'restore', '--json'])).stdout);
    const restore = plan.actions.restore.find((p: { phase: string }) => p.phase === 'restore');
    expect(restore.parts.map((p: { name: string }) => p.name)).toEqual(['10restore_module', '20loadkey', '30restore_databases']);
  });
});

describe('what a part sees', () => {
  it('gets the environment, its own stdin, cwd, umask 022 and the env-file hand-off', async () => {
    t = makeRoot();
    t.write('environment', 'ROOT_ONLY=r1\nSHARED=root\n');
    t.write('modules/web/environment', 'SHARED=module\n');
    const data = webModule();
    const out = t.dir;
    t.part('pre-backup', '40first', `#!/bin/sh\ncat > "${out}/stdin-1"\necho HANDED=over >> "$LIFEBOAT_ENV_FILE"\n`, 'web');
    t.part('pre-backup', '41second', `#!/bin/sh\ncat > "${out}/stdin-2"\nenv > "${out}/env"\npwd > "${out}/cwd"\numask > "${out}/umask"\n`, 'web');
    const result = await lifeboat(t, ['backup', 'web'], { env: { CALLER_VAR: 'c1' } });
    expect(result.exitCode, result.stderr).toBe(0);
    const env = Object.fromEntries(readFileSync(path.join(out, 'env'), 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const stateDir = path.join(t.stateDir, 'modules', 'web', 'state');
    expect(env).toMatchObject({
      CALLER_VAR: 'c1',
      ROOT_ONLY: 'r1',
      SHARED: 'module',
      HANDED: 'over',
      LIFEBOAT_MODULE: 'web',
      MODULE_ID: 'web',
      LIFEBOAT_ACTION: 'backup',
      LIFEBOAT_PHASE: 'pre-backup',
      LIFEBOAT_MODULE_DIR: path.join(t.root, 'modules', 'web'),
      LIFEBOAT_STATE_DIR: stateDir,
      LIFEBOAT_REPOSITORY: 'local',
      LIFEBOAT_TARGET: '/',
      LIFEBOAT_DRY_RUN: '0',
      FOLDERS: data,
    });
    expect(env.LIFEBOAT_RUN_ID).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
    expect(readFileSync(path.join(out, 'cwd'), 'utf8').trim()).toBe(stateDir);
    expect(readFileSync(path.join(out, 'umask'), 'utf8').trim()).toBe('0022');
    for (const file of ['stdin-1', 'stdin-2']) {
      expect(JSON.parse(readFileSync(path.join(out, file), 'utf8'))).toEqual({
        module: 'web',
        action: 'backup',
        phase: 'pre-backup',
        snapshot: null,
        repository: null,
        target: '/',
        dryRun: false,
      });
    }
  });

  it('files a part or a script provider creates get 0644 (umask 022, as run-parts); umask: changes it', async () => {
    t = makeRoot();
    webModule();
    t.part('pre-backup', '40dump', '#!/bin/sh\necho rows > dump.sql\nmkdir -p dumps\n', 'web');
    const result = await lifeboat(t, ['backup', 'web']);
    expect(result.exitCode, result.stderr).toBe(0);
    const stateDir = path.join(t.stateDir, 'modules', 'web', 'state');
    expect(statSync(path.join(stateDir, 'dump.sql')).mode & 0o777).toBe(0o644);
    expect(statSync(path.join(stateDir, 'dumps')).mode & 0o777).toBe(0o755);
    // the state dir itself is Lifeboat's: 0711 (others may pass through to a dump a part made readable, not list it)
    expect(statSync(stateDir).mode & 0o777).toBe(0o711);
    // the copy provider's `create` made its snapshot folder under the module's umask too
    const snapshots = readdirSync(path.join(t.dir, 'repo', 'web'));
    expect(statSync(path.join(t.dir, 'repo', 'web', snapshots[0])).mode & 0o777).toBe(0o755);

    t.module('web', { folders: [path.join(t.dir, 'data')], umask: '027' });
    (await import('node:fs')).rmSync(path.join(stateDir, 'dump.sql'));
    expect((await lifeboat(t, ['backup', 'web'])).exitCode).toBe(0);
    expect(statSync(path.join(stateDir, 'dump.sql')).mode & 0o777).toBe(0o640);
  });

  it('backup warns once about a misspelled phase folder (hooks.d/finaly/), whose parts never run', async () => {
    t = makeRoot();
    webModule();
    t.part('finaly', '50cleanup', trace('finaly'), 'web');
    const folder = path.join(t.root, 'modules', 'web', 'hooks.d', 'finaly');
    const result = await lifeboat(t, ['backup', 'web']);
    expect(result.exitCode, result.stderr).toBe(0);
    const warning = `${folder}/ is not a phase, so nothing in it ever runs; did you mean finally? (mv ${folder} ${path.join(t.root, 'modules', 'web', 'hooks.d', 'finally')})`;
    expect(result.stderr).toContain(warning);
    expect(result.stderr.split(warning).length).toBe(2);
    expect(readTrace()).toEqual([]);
  });

  it('a bad umask: is a configuration error naming the file and key', async () => {
    t = makeRoot();
    t.module('web', { folders: [t.dir], umask: '99' });
    const result = await lifeboat(t, ['backup', 'web']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('modules/web/module.yaml: /umask must match ^0?[01][0-7]{2}$, got "99" (an octal umask in quotes such as "022" or "027"; its first digit 0 or 1, as one that takes the owner\'s read or write away leaves parts unable to read or write their own files)');
    // one that takes the owner's read or write away: parts could not read their own files
    for (const umask of ['0777', '600', '0200']) {
      t.module('web', { folders: [t.dir], umask });
      const refused = await lifeboat(t, ['backup', 'web']);
      expect(refused.exitCode, umask).toBe(2);
      expect(refused.stderr).toContain(`modules/web/module.yaml: /umask must match ^0?[01][0-7]{2}$, got "${umask}" (an octal umask in quotes such as "022" or "027"; its first digit 0 or 1`);
    }
  });

  it('prefixes every output line with module and part, and masks secrets', async () => {
    t = makeRoot();
    t.write('modules/web/environment', 'API_TOKEN=s3cr3t-token-value\n');
    webModule();
    t.part('pre-backup', '40talk', '#!/bin/sh\necho "token is $API_TOKEN"\necho "to stderr" >&2\n', 'web');
    const result = await lifeboat(t, ['backup', 'web']);
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain('[web/40talk] token is ***');
    expect(result.stderr).toContain('[web/40talk] to stderr');
    expect(result.stderr).not.toContain('s3cr3t-token-value');
  });
});

describe('outcomes', () => {
  it('exit 75 skips the rest of the action without failing; finally still runs', async () => {
    t = makeRoot();
    webModule();
    t.part('pre-backup', '40skip', '#!/bin/sh\nexit 75\n', 'web');
    t.part('pre-backup', '41never', trace('never'), 'web');
    t.part('post-backup', '80never', trace('never-post'), 'web');
    t.part('finally', '80after', trace('post'), 'web');
    const result = await lifeboat(t, ['backup', 'web', '--json']);
    expect(result.exitCode).toBe(0);
    expect(readTrace()).toEqual(['post']);
    const json = JSON.parse(result.stdout);
    expect(json.modules[0]).toMatchObject({ module: 'web', ok: true, skipped: true, snapshots: [] });
  });

  it('a failing part stops the fail-fast phases; finally and on-failure run with the details', async () => {
    t = makeRoot();
    webModule();
    t.part('pre-backup', '40fail', '#!/bin/sh\necho broken >&2\nexit 3\n', 'web');
    t.part('post-backup', '80never', trace('never-post'), 'web');
    t.part('finally', '80after', trace('post'), 'web');
    t.part('on-success', '10ok', trace('success'), 'web');
    t.part('on-failure', '10report', `#!/bin/sh\necho "$LIFEBOAT_FAILED_PART|$LIFEBOAT_EXIT_CODE|$LIFEBOAT_ERROR" >> "${t.dir}/trace"\n`, 'web');
    const result = await lifeboat(t, ['backup', 'web', '--json']);
    expect(result.exitCode).toBe(1);
    expect(readTrace()).toEqual(['post', 'pre-backup/40fail|3|exited with status 3']);
    expect(JSON.parse(result.stdout)).toEqual({ ok: false, modules: [{ module: 'web', ok: false, snapshots: [], removed: [], pruned: [], error: 'exited with status 3', failedPart: 'pre-backup/40fail', code: 'PART_FAILED' }] });
    expect(existsSync(path.join(t.dir, 'repo', 'web')) ? readdirSync(path.join(t.dir, 'repo', 'web')) : []).toEqual([]);
  });

  it('a part without #! fails with a message that says so', async () => {
    t = makeRoot();
    webModule();
    t.part('pre-backup', '40nosb', 'echo hi\n', 'web');
    const result = await lifeboat(t, ['backup', 'web']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('Exec format error (ENOEXEC): it has no #! line');
  });

  it('refuses a part writable by others before running anything (exit 2)', async () => {
    t = makeRoot();
    webModule();
    t.part('pre-backup', '10first', trace('first'), 'web');
    const unsafe = t.part('post-backup', '40open', trace('open'), 'web');
    (await import('node:fs')).chmodSync(unsafe, 0o777);
    const result = await lifeboat(t, ['backup', 'web']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`${unsafe}: refused: writable by group (mode 0777)`);
    expect(readTrace()).toEqual([]);
  });
});

describe('timeouts and signals', () => {
  it('a timeout kills the whole process group, grandchildren too', async () => {
    t = makeRoot();
    webModule({ timeouts: { part: 1, killAfter: 1 } });
    t.part('pre-backup', '40hang', `#!/bin/sh\nsleep 300 &\necho $! > "${t.dir}/grandchild"\nsleep 300\n`, 'web');
    t.part('finally', '80after', trace('post'), 'web');
    const result = await lifeboat(t, ['backup', 'web']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('timed out after 1s (timeouts.part)');
    const pid = Number(readFileSync(path.join(t.dir, 'grandchild'), 'utf8'));
    expect(isAlive(pid)).toBe(false);
    expect(readTrace()).toEqual(['post']);
  });

  it('SIGTERM to lifeboat reaches the running part, and the always-phases still run', async () => {
    t = makeRoot();
    webModule();
    t.part('pre-backup', '40wait', `#!/bin/sh\ntrap 'echo got-term >> "${t.dir}/trace"; exit 1' TERM\ntouch "${t.dir}/started"\nwhile :; do sleep 0.1; done\n`, 'web');
    t.part('finally', '80after', trace('post'), 'web');
    t.part('on-failure', '10fail', trace('on-failure'), 'web');
    const child = lifeboat(t, ['backup', 'web']);
    await waitFor(() => existsSync(path.join(t.dir, 'started')));
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode, `${result.signal} ${result.stderr}`).toBe(1);
    expect(readTrace()).toEqual(['got-term', 'post', 'on-failure']);
    expect(result.stderr).toContain('received SIGTERM');
  });
});

// True when a process with this pid exists and is not a zombie waiting to be reaped.
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

// Polls a condition every 50 ms for up to 60 s (a loaded CI machine starts processes slowly).
async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 1200 && !condition(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!condition()) throw new Error('condition not met in time');
}
