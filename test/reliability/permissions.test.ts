// Permissions: every file Lifeboat executes or reads secrets or commands from (parts, the NethServer bin/
// scripts, plugins, environment files, lifeboat.yaml and module.yaml) is refused when group or others can write it, or when another non-root
// user owns it: exit 2, the path named, nothing run, no service stopped. And everything Lifeboat writes
// (the state dir, a tar repository, the files of `init`) is 0700/0600.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, existsSync, lchownSync, statSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { createFakeService, type FakeService } from '../helpers/service.js';
import { modesUnder } from '../helpers/faults.js';

const NOBODY = 65534;
let t: TestRoot;
let service: FakeService;

beforeEach(async () => {
  t = makeRoot();
  service = await createFakeService();
  const data = path.join(t.dir, 'data');
  mkdirSync(data);
  writeFileSync(path.join(data, 'file.txt'), 'data\n');
  t.module('m', { folders: [data], service: { ...service.config, stopDuringBackup: true } });
  // proof that nothing ran: every phase of both actions has a part that leaves a mark
  for (const phase of ['pre-backup', 'pre-restore']) t.part(phase, '01mark', `#!/bin/sh\ntouch "${t.dir}/ran-$LIFEBOAT_PHASE"\n`, 'm');
});
afterEach(() => {
  service.cleanup();
  t.cleanup();
});

type Arrange = (t: TestRoot) => string;
const unsafeModes: Array<[string, number, string]> = [
  ['writable by group', 0o775, 'writable by group (mode 0775)'],
  ['writable by others', 0o757, 'writable by others (mode 0757)'],
];

// Files of each kind, made unsafe by mode; each returns the path Lifeboat must name.
const FILES: Array<[string, Arrange, string[]]> = [
  ['a root part', (t) => t.part('pre-backup', '40root', '#!/bin/sh\n'), ['backup', 'm']],
  ['a module part', (t) => t.part('pre-backup', '40mine', '#!/bin/sh\n', 'm'), ['backup', 'm']],
  ['a module part of restore (actions/restore-module)', (t) => t.write('modules/m/actions/restore-module/20load', '#!/bin/sh\n', 0o755), ['restore', 'm']],
  ['bin/module-dump-state', (t) => t.write('modules/m/bin/module-dump-state', '#!/bin/sh\n', 0o755), ['backup', 'm']],
  ['bin/module-cleanup-state', (t) => t.write('modules/m/bin/module-cleanup-state', '#!/bin/sh\n', 0o755), ['backup', 'm']],
  ['a plugin folder', (t) => path.join(t.root, 'plugins', 'copy'), ['backup', 'm']],
  ['a plugin script', (t) => path.join(t.root, 'plugins', 'copy', 'create'), ['backup', 'm']],
  ['a JavaScript plugin', (t) => {
    t.write('lifeboat.yaml', `repositories:\n  local: { provider: jsplug, url: ${t.dir}/repo }\n`);
    mkdirSync(path.join(t.root, 'plugins', 'jsplug'), { recursive: true, mode: 0o755 });
    return t.write('plugins/jsplug/index.js', 'export function createProvider() { throw new Error("must not load"); }\n', 0o644);
  }, ['backup', 'm']],
  ['the root environment file', (t) => t.write('environment', 'A=1\n'), ['backup', 'm']],
  ['the module environment file', (t) => t.write('modules/m/environment', 'A=1\n'), ['backup', 'm']],
  // They name commands Lifeboat runs as root (a service's stop/start, passwordCommand).
  ['lifeboat.yaml', (t) => path.join(t.root, 'lifeboat.yaml'), ['backup', 'm']],
  ['module.yaml', (t) => path.join(t.root, 'modules', 'm', 'module.yaml'), ['restore', 'm']],
];

// Runs the command and checks: exit 2, the path and reason named, no part ran, the service untouched.
async function expectRefused(args: string[], file: string, reason: string): Promise<void> {
  if (args[0] === 'restore') mkdirSync(path.join(t.dir, 'repo', 'm', '20240101T000000', t.dir, 'data'), { recursive: true });
  const pid = service.pid();
  const result = await lifeboat(t, args);
  expect(result.exitCode, result.stderr).toBe(2);
  const display = file.startsWith(t.root) ? [file, path.relative(t.root, file)] : [file];
  expect(display.some((shown) => result.stderr.includes(shown)), `${result.stderr} names ${file}`).toBe(true);
  expect(result.stderr).toContain(reason);
  expect(existsSync(path.join(t.dir, 'ran-pre-backup')) || existsSync(path.join(t.dir, 'ran-pre-restore'))).toBe(false);
  expect(service.pid()).toBe(pid);
  expect(service.isRunning()).toBe(true);
  expect(existsSync(path.join(t.stateDir, 'journal.jsonl'))).toBe(false);
}

describe('unsafe files are refused before anything runs', () => {
  for (const [what, arrange, args] of FILES) {
    for (const [how, mode, reason] of unsafeModes) {
      it(`${what}, ${how}`, async () => {
        const file = arrange(t);
        chmodSync(file, mode);
        await expectRefused(args, file, reason);
      });
    }
    it(`${what}, owned by another user`, async () => {
      const file = arrange(t);
      chownSync(file, NOBODY, NOBODY);
      await expectRefused(args, file, `owned by another user (uid ${NOBODY})`);
    });
  }

  it("a part that is another user's symlink to a root-owned program", async () => {
    const link = path.join(t.root, 'modules', 'm', 'hooks.d', 'pre-backup', '40link');
    mkdirSync(path.dirname(link), { recursive: true });
    symlinkSync('/bin/true', link);
    lchownSync(link, NOBODY, NOBODY);
    await expectRefused(['backup', 'm'], link, `owned by another user (uid ${NOBODY})`);
  });

  it('check lists every unsafe file and fails', async () => {
    const part = t.part('pre-backup', '40mine', '#!/bin/sh\n', 'm');
    chmodSync(part, 0o777);
    const env = t.write('modules/m/environment', 'A=1\n');
    chownSync(env, NOBODY, NOBODY);
    const result = await lifeboat(t, ['check']);
    expect(result.exitCode).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`).toContain(env.replace(`${t.root}/`, ''));
  });
});

// The refusal comes before any repository tool: with restic and borg repositories too, a file made
// writable by others is refused (exit 2, named), the tool never runs (a shim on PATH would leave a mark)
// and no repository is created.
describe.each(['restic', 'borg'])('unsafe files are refused before %s runs', (tool) => {
  const cases = FILES.filter(([what]) => ['a module part', 'bin/module-dump-state', 'the module environment file', 'lifeboat.yaml', 'module.yaml'].includes(what));
  for (const [what, arrange] of cases) {
    it(`${what}, writable by others`, async () => {
      const pass = path.join(t.dir, 'pass');
      writeFileSync(pass, 'permissions-password\n', { mode: 0o600 });
      t.write('lifeboat.yaml', `repositories:\n  local: { provider: ${tool}, url: ${t.dir}/repo, passwordFile: ${pass} }\n`);
      const shims = path.join(t.dir, 'shims');
      mkdirSync(shims);
      writeFileSync(path.join(shims, tool), `#!/bin/sh\ntouch "${t.dir}/tool-ran"\nexit 99\n`, { mode: 0o755 });
      const file = arrange(t);
      chmodSync(file, 0o757);
      const pid = service.pid();
      const result = await lifeboat(t, ['backup', 'm'], { env: { PATH: `${shims}:${process.env.PATH}` } });
      expect(result.exitCode, result.stderr).toBe(2);
      expect([file, path.relative(t.root, file)].some((shown) => result.stderr.includes(shown)), `${result.stderr} names ${file}`).toBe(true);
      expect(result.stderr).toContain('writable by others (mode 0757)');
      expect(existsSync(path.join(t.dir, 'tool-ran'))).toBe(false);
      expect(existsSync(path.join(t.dir, 'repo'))).toBe(false);
      expect(existsSync(path.join(t.dir, 'ran-pre-backup'))).toBe(false);
      expect(service.pid()).toBe(pid);
    });
  }
});

describe('everything Lifeboat writes is 0700/0600', () => {
  // No group or other bits on any directory or file (symlinks have no modes of their own).
  const loose = (dir: string) => modesUnder(dir).filter((entry) => entry.type !== 'symlink' && (entry.mode & 0o077) !== 0).map((entry) => `${entry.path} ${entry.mode.toString(8)}`);

  it('the state dir after backups (copy, restic, borg, tar), restores, parts writing dumps and hand-off lines', { timeout: 600_000 }, async () => {
    const pass = path.join(t.dir, 'restic.pass');
    writeFileSync(pass, 'modes-password\n', { mode: 0o600 });
    t.write('lifeboat.yaml', `repositories:\n  local: { provider: copy, url: ${t.dir}/repo }\n  restic: { provider: restic, url: ${t.dir}/restic, passwordFile: ${pass} }\n  borg: { provider: borg, url: ${t.dir}/borg, passwordFile: ${pass} }\n  tar: { provider: tar, url: ${t.dir}/tar, compression: gzip }\n`);
    t.write('modules/m/bin/module-dump-state', '#!/bin/sh\necho dump > "$LIFEBOAT_STATE_DIR/dump.sql"\nmkdir -p "$LIFEBOAT_STATE_DIR/sub"\necho x > "$LIFEBOAT_STATE_DIR/sub/x"\n', 0o755);
    t.part('pre-backup', '50handoff', '#!/bin/sh\necho "FROM_PART=1" >> "$LIFEBOAT_ENV_FILE"\n', 'm');
    for (const args of [['backup', 'm'], ['restore', 'm', '--repo', 'restic'], ['restore', 'm', '--repo', 'borg', '--no-safety-snapshot'], ['restore', 'm', '--repo', 'tar', '--target', path.join(t.dir, 'aside')], ['snapshots'], ['forget', 'm']]) {
      const result = await lifeboat(t, args);
      expect(result.exitCode, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    }
    expect(existsSync(path.join(t.stateDir, 'journal.jsonl'))).toBe(true);
    // What parts create follows their umask (022, as run-parts) inside the module's state dir, which others
    // may pass through (0711, as the folders above it up to the state dir) but not list: a dump a part
    // wrote can be read by `runuser -u postgres -- pg_restore`.
    const moduleState = path.join(t.stateDir, 'modules', 'm', 'state');
    const byParts = ['dump.sql', 'sub', 'sub/x'].map((name) => path.join(moduleState, name));
    const passable = [t.stateDir, path.join(t.stateDir, 'modules'), path.join(t.stateDir, 'modules', 'm'), moduleState];
    expect(passable.map((dir) => statSync(dir).mode & 0o777)).toEqual([0o711, 0o711, 0o711, 0o711]);
    expect(statSync(byParts[0]).mode & 0o777).toBe(0o644);
    expect(loose(t.stateDir).filter((line) => !byParts.includes(line.slice(0, line.lastIndexOf(' '))) && !passable.map((dir) => `${dir} 711`).includes(line))).toEqual([]);
    expect(loose(path.join(t.dir, 'tar'))).toEqual([]);
    expect(loose(path.join(t.dir, 'borg'))).toEqual([]);
    expect(loose(path.join(t.dir, 'aside')).filter((line) => line.startsWith(`${path.join(t.dir, 'aside')} `))).toEqual([]);
  });

  it('the files of lifeboat init', async () => {
    const root = path.join(t.dir, 'fresh-root');
    const stateDir = path.join(t.dir, 'fresh-state');
    const result = await lifeboat({ root, stateDir }, ['init']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(loose(root)).toEqual([]);
    expect(loose(stateDir)).toEqual([]);
  });
});
