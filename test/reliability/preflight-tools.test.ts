// A repository tool that is not installed is found by the preflight, before the service is stopped:
// exit 2 naming lifeboat.yaml, the repository, the tool and its Debian package; the service runs on (the
// same process), no repository is written, no snapshot is listed.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { createFakeService, type FakeService } from '../helpers/service.js';
import { pathWithout } from '../helpers/databases.js';

let t: TestRoot | undefined;
let service: FakeService | undefined;
let pathDir: string | undefined;
afterEach(() => {
  service?.cleanup();
  t?.cleanup();
  if (pathDir) rmSync(pathDir, { recursive: true, force: true });
  t = service = pathDir = undefined;
});

// Module m (one folder, a running service stopped during backups) backed up into repository `local`.
async function arrange(repository: string): Promise<TestRoot> {
  const root = makeRoot();
  t = root;
  writeFileSync(path.join(root.dir, 'pass'), 'secret\n', { mode: 0o600 });
  root.write('lifeboat.yaml', `repositories:\n  local: { ${repository}, url: ${path.join(root.dir, 'repo')}, passwordFile: ${path.join(root.dir, 'pass')} }\n`);
  const data = path.join(root.dir, 'data');
  mkdirSync(data);
  writeFileSync(path.join(data, 'f.txt'), 'x\n');
  service = await createFakeService();
  root.module('m', { folders: [data], service: { ...service.config, stopDuringBackup: true } });
  return root;
}

describe('a repository tool that is not installed', () => {
  for (const { tool, repository, pkg } of [
    { tool: 'restic', repository: 'provider: restic', pkg: 'restic' },
    { tool: 'borg', repository: 'provider: borg', pkg: 'borgbackup' },
  ]) {
    it(`${tool}: refused before the service is stopped, exit 2, naming the Debian package ${pkg}`, async () => {
      const t = await arrange(repository);
      const pid = service!.pid();
      pathDir = pathWithout([tool]);
      const run = await lifeboat(t, ['backup', 'm'], { env: { PATH: pathDir } });
      expect(run.exitCode, run.stderr).toBe(2);
      expect(run.stderr.split('\n')).toContain(`lifeboat: lifeboat.yaml: /repositories/local: ${tool} is not installed (not found on PATH), and the ${tool} repository needs it; install it (Debian: apt-get install ${pkg})`);
      expect(run.stderr).not.toContain('stopping');
      // the service was never stopped: the same process runs on
      expect(service!.isRunning()).toBe(true);
      expect(service!.pid()).toBe(pid);
      expect(existsSync(path.join(t.dir, 'repo'))).toBe(false);
      expect(existsSync(path.join(t.stateDir, 'modules', 'm', 'service-stopped.json'))).toBe(false);
      // with the tool back, the repository lists no snapshot
      const list = await lifeboat(t, ['snapshots', 'm', '--json']);
      expect(list.exitCode, list.stderr).toBe(0);
      expect(JSON.parse(list.stdout)).toEqual([]);
    });

    it(`${tool}: an in-place restore is refused before it lists snapshots or stops the service, exit 2`, async () => {
      const t = await arrange(repository);
      expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
      // restic answers `latest` of a local repository from Lifeboat's own cache: the tool is asked for first
      writeFileSync(path.join(t.dir, 'data', 'f.txt'), 'changed\n');
      const pid = service!.pid();
      pathDir = pathWithout([tool]);
      const run = await lifeboat(t, ['restore', 'm'], { env: { PATH: pathDir } });
      expect(run.exitCode, run.stderr).toBe(2);
      expect(run.stderr.split('\n')).toContain(`lifeboat: lifeboat.yaml: /repositories/local: ${tool} is not installed (not found on PATH), and the ${tool} repository needs it; install it (Debian: apt-get install ${pkg})`);
      expect(run.stderr).not.toContain('stopping');
      expect(service!.pid()).toBe(pid);
      expect(readFileSync(path.join(t.dir, 'data', 'f.txt'), 'utf8')).toBe('changed\n');
    });
  }
});

describe('zstd missing with two tar repositories', () => {
  // tar repositories: fast (gzip) and small (zstd, the default) used by module m, spare (zstd) used by none.
  function arrangeTar(): TestRoot {
    const root = makeRoot();
    t = root;
    const url = (name: string) => path.join(root.dir, name);
    root.write('lifeboat.yaml', `repositories:\n  small: { provider: tar, url: ${url('small')} }\n  fast: { provider: tar, url: ${url('fast')}, compression: gzip }\n  spare: { provider: tar, url: ${url('spare')}, compression: zstd }\n`);
    const data = path.join(root.dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'f.txt'), 'x\n');
    root.module('m', { folders: [data], repositories: ['fast', 'small'] });
    return root;
  }

  it('check names the repository that needs it (small), not another one', async () => {
    const t = arrangeTar();
    pathDir = pathWithout(['zstd']);
    const run = await lifeboat(t, ['check'], { env: { PATH: pathDir } });
    expect(run.exitCode, run.stdout).toBe(1);
    const table = run.stdout.split('\n').map((line) => line.split(/ {2,}/).join('|'));
    expect(table).toContain('FAIL|zstd|not found on PATH, needed by repository small; install it (Debian: apt-get install zstd)');
    expect(table.filter((row) => row.startsWith('FAIL|zstd|'))).toHaveLength(1);
  });

  it('check names every repository that needs it', async () => {
    const t = arrangeTar();
    const data = path.join(t.dir, 'data');
    t.module('n', { folders: [data], repositories: ['spare'] });
    pathDir = pathWithout(['zstd']);
    const run = await lifeboat(t, ['check'], { env: { PATH: pathDir } });
    expect(run.exitCode, run.stdout).toBe(1);
    const table = run.stdout.split('\n').map((line) => line.split(/ {2,}/).join('|'));
    expect(table).toContain('FAIL|zstd|not found on PATH, needed by repository small, repository spare; install it (Debian: apt-get install zstd)');
  });

  it('backup refuses before anything runs, naming small', async () => {
    const t = arrangeTar();
    pathDir = pathWithout(['zstd']);
    const run = await lifeboat(t, ['backup', 'm'], { env: { PATH: pathDir } });
    expect(run.exitCode, run.stderr).toBe(2);
    expect(run.stderr.split('\n')).toContain('lifeboat: lifeboat.yaml: /repositories/small: zstd is not installed (not found on PATH), and the tar repository needs it; install it (Debian: apt-get install zstd)');
    expect(run.stderr).not.toContain('/repositories/spare');
    expect(existsSync(path.join(t.dir, 'small'))).toBe(false);
    expect(existsSync(path.join(t.dir, 'fast'))).toBe(false);
  });
});
