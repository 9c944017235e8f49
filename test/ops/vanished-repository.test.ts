// A local repository that vanished (an unmounted disk: the folder is there but empty) is not silently
// re-created when the journal recorded backups into it: backup fails naming the path and the fix, check
// exits 1 with the same finding, and `backup --new-repository` starts it anew on purpose.
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { requireTool } from './tools.js';

let t: TestRoot;
afterEach(() => t?.cleanup());

describe('a vanished repository', () => {
  for (const provider of ['restic', 'borg', 'tar']) {
    it(`${provider}: is not re-created after earlier backups; --new-repository accepts it`, async (ctx) => {
      if (provider !== 'tar') requireTool(provider, ctx);
      t = makeRoot();
      const pass = path.join(t.dir, 'pass');
      writeFileSync(pass, 'vanished-test-password\n', { mode: 0o600 });
      const url = path.join(t.dir, 'repo');
      t.write('lifeboat.yaml', stringify({ repositories: { disk: { provider, url, ...(provider === 'tar' ? {} : { passwordFile: pass }) } } }));
      const data = path.join(t.dir, 'data');
      mkdirSync(data);
      writeFileSync(path.join(data, 'a.txt'), 'a\n');
      t.module('m1', { folders: [data], retention: { keepLast: 3 } });
      const first = await lifeboat(t, ['backup', 'm1']);
      expect(first.exitCode, first.stderr).toBe(0);
      renameSync(url, `${url}.old`);
      mkdirSync(url);
      const message = `repository disk at ${url} has no snapshots of module m1, but the journal records 1 successful backup(s) into it`;
      const fix = `it has vanished (an unmounted disk, a moved folder); Lifeboat does not create a new empty one in its place. Mount or restore it, or start a new repository deliberately: lifeboat backup m1 --repo disk --new-repository`;
      const check = await lifeboat(t, ['check']);
      expect(check.exitCode, check.stdout + check.stderr).toBe(1);
      expect(check.stdout).toContain(message);
      expect(check.stdout).toContain(fix);
      const refused = await lifeboat(t, ['backup', 'm1']);
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain(message);
      expect(refused.stderr).toContain(fix);
      const accepted = await lifeboat(t, ['backup', 'm1', '--new-repository']);
      expect(accepted.exitCode, accepted.stderr).toBe(0);
      const listed = JSON.parse((await lifeboat(t, ['snapshots', 'm1', '--json'])).stdout) as unknown[];
      expect(listed).toHaveLength(1);
      expect((await lifeboat(t, ['check'])).exitCode).toBe(0);
    }, 180_000);
  }

  // The backup looks at a local restic repository's snapshots/ folder before it asks restic: a
  // repository that is there but holds no snapshot any more is still asked, and still refused.
  it('restic: a repository whose snapshots were all forgotten is refused too', async (ctx) => {
    const restic = requireTool('restic', ctx);
    t = makeRoot();
    const pass = path.join(t.dir, 'pass');
    writeFileSync(pass, 'vanished-test-password\n', { mode: 0o600 });
    const url = path.join(t.dir, 'repo');
    t.write('lifeboat.yaml', stringify({ repositories: { disk: { provider: 'restic', url, passwordFile: pass } } }));
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'a.txt'), 'a\n');
    t.module('m1', { folders: [data] });
    expect((await lifeboat(t, ['backup', 'm1'])).exitCode).toBe(0);
    const second = await lifeboat(t, ['backup', 'm1']);
    expect(second.exitCode, second.stderr).toBe(0);
    const ids = (JSON.parse((await lifeboat(t, ['snapshots', 'm1', '--json'])).stdout) as Array<{ id: string }>).map((s) => s.id);
    expect(ids).toHaveLength(2);
    execFileSync(restic, ['-r', path.join(url, 'm1'), '--password-file', pass, 'forget', ...ids], { stdio: 'pipe' });
    const refused = await lifeboat(t, ['backup', 'm1']);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(`repository disk at ${url} has no snapshots of module m1, but the journal records 2 successful backup(s) into it`);
  }, 180_000);
});
