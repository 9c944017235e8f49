// The main job end to end through the real CLI, for a real provider and a real process as the service:
// back up, damage, restore in place, undo with the safety snapshot; NethServer layout; failure points.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { lifeboat, makeRoot, COPY_PROVIDER, type TestRoot } from '../helpers/root.js';
import { createFakeService, type FakeService } from '../helpers/service.js';
import { describeTree } from '../helpers/fs-state.js';
import { execaSync } from 'execa';

const PASSWORD = 'correct horse battery staple';

// Repository settings per provider under test; copy is the script provider from test/fixtures.
const PROVIDERS: Record<string, (dir: string) => Record<string, unknown>> = {
  restic: (dir) => ({ provider: 'restic', url: path.join(dir, 'repo'), passwordFile: path.join(dir, 'restic.pass') }),
  copy: (dir) => ({ provider: 'copy', url: path.join(dir, 'repo') }),
};

describe.each(Object.keys(PROVIDERS))('lifecycle with %s', (provider) => {
  let t: TestRoot;
  let service: FakeService;
  let data: string;

  beforeEach(async () => {
    t = makeRoot({ repositories: { local: PROVIDERS[provider]('') } });
    t.write('lifeboat.yaml', `repositories:\n  local: ${JSON.stringify(PROVIDERS[provider](t.dir))}\n`);
    writeFileSync(path.join(t.dir, 'restic.pass'), `${PASSWORD}\n`, { mode: 0o600 });
    mkdirSync(path.join(t.root, 'plugins'), { recursive: true });
    execaSync('cp', ['-a', COPY_PROVIDER, path.join(t.root, 'plugins', 'copy')]);
    service = await createFakeService();
    data = path.join(t.dir, 'data');
    makeTree(data);
    t.write('modules/blog/environment', 'BLOG_SECRET=swordfish-42\n');
    t.module('blog', blogModule(data, service));
  });
  afterEach(() => {
    service.cleanup();
    t.cleanup();
  });

  it('backs up, restores in place exactly, starts the service again, and the safety snapshot undoes it', async () => {
    t.part('pre-backup', '45check', `#!/bin/sh\n${service.isActive} && echo running >> "${t.dir}/seen" || echo stopped >> "${t.dir}/seen"\n`, 'blog');
    const backup = await lifeboat(t, ['backup', 'blog', '--json']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const result = JSON.parse(backup.stdout);
    expect(result.ok).toBe(true);
    expect(result.modules[0].snapshots).toHaveLength(1);
    expect(readFileSync(path.join(t.dir, 'seen'), 'utf8')).toBe('stopped\n');
    expect(service.isRunning()).toBe(true);
    const original = describeTree(data);

    // damage: change, delete, add
    writeFileSync(path.join(data, 'notes.txt'), 'changed\n');
    rmSync(path.join(data, 'sub'), { recursive: true });
    writeFileSync(path.join(data, 'stray.txt'), 'not in the snapshot\n');
    const damaged = describeTree(data);

    const restore = await lifeboat(t, ['restore', 'blog', '--json']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(describeTree(data)).toEqual(original);
    expect(service.isRunning()).toBe(true);
    const restored = JSON.parse(restore.stdout).modules[0];
    expect(restored.safetySnapshots).toHaveLength(1);

    // the safety snapshot brings back the state from before the restore
    const undo = await lifeboat(t, ['restore', 'blog', restored.safetySnapshots[0].id, '--no-safety-snapshot']);
    expect(undo.exitCode, undo.stderr).toBe(0);
    expect(describeTree(data)).toEqual(damaged);

    const list = JSON.parse((await lifeboat(t, ['snapshots', 'blog', '--json'])).stdout);
    expect(list).toHaveLength(2);
    expect(list[0]).toMatchObject({ module: 'blog', repository: 'local' });
    expect(Date.parse(list[0].time) <= Date.parse(list[1].time)).toBe(true);
  });

  it('a 100 MB file round-trips byte for byte after it was overwritten', async () => {
    const big = path.join(data, 'big.bin');
    writeFileSync(big, randomBytes(100 * 1024 * 1024));
    const before = describeTree(data);
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    writeFileSync(big, randomBytes(1024));
    const restore = await lifeboat(t, ['restore', 'blog', '--no-safety-snapshot']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(describeTree(data)).toEqual(before);
  });

  it('restores with --target under DIR without stopping the service or touching the live folder', async () => {
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    writeFileSync(path.join(data, 'notes.txt'), 'live change\n');
    const live = describeTree(data);
    const pidBefore = service.pid();
    const target = path.join(t.dir, 'copy');
    const result = await lifeboat(t, ['restore', 'blog', 'latest', '--target', target]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(readFileSync(path.join(target, data, 'notes.txt'), 'utf8')).toBe('first version\n');
    expect(describeTree(data)).toEqual(live);
    expect(service.pid()).toBe(pidBefore);
    expect(service.isRunning()).toBe(true);
  });

  it('a NethServer module round-trips: dump-state, cleanup-state, actions/restore-module', async () => {
    const bin = (name: string, body: string) => t.write(`modules/blog/bin/${name}`, `#!/bin/sh\nset -e\n${body}\n`, 0o755);
    bin('module-dump-state', 'echo "key-$BLOG_SECRET" > "$LIFEBOAT_STATE_DIR/dump.txt"');
    bin('module-cleanup-state', `cp "$LIFEBOAT_STATE_DIR/dump.txt" "${t.dir}/dump-seen"; rm -f "$LIFEBOAT_STATE_DIR/dump.txt"`);
    t.write('modules/blog/actions/restore-module/20loadkey', `#!/bin/sh\ncat "$LIFEBOAT_STATE_DIR/dump.txt" > "${t.dir}/loaded"\n`, 0o755);
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    expect(readFileSync(path.join(t.dir, 'dump-seen'), 'utf8')).toBe('key-swordfish-42\n');
    expect(existsSync(path.join(t.stateDir, 'modules/blog/state/dump.txt'))).toBe(false);
    const restore = await lifeboat(t, ['restore', 'blog']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(readFileSync(path.join(t.dir, 'loaded'), 'utf8')).toBe('key-swordfish-42\n');
    expect(restore.stderr).not.toContain('swordfish-42');
  });

  describe('every failure point leaves the service running, a failure journaled, no snapshot, exit 1', () => {
    const cases: Array<[string, (t: TestRoot) => void, ((child: ReturnType<typeof lifeboat>, t: TestRoot) => Promise<void>)?]> = [
      ['a part fails', (t) => t.part('backup', '40fail', '#!/bin/sh\nexit 9\n', 'blog')],
      ['a part times out', (t) => {
        t.module('blog', { ...blogModule(path.join(t.dir, 'data'), service), timeouts: { part: 3, killAfter: 1 } });
        t.part('backup', '40hang', '#!/bin/sh\nsleep 60\n', 'blog');
      }],
      ['SIGTERM', (t) => t.part('backup', '40wait', `#!/bin/sh\ntouch "${t.dir}/started"\nsleep 60\n`, 'blog'), (c, t) => signalWhenStarted(c, t, 'SIGTERM')],
      ['SIGINT', (t) => t.part('backup', '40wait', `#!/bin/sh\ntouch "${t.dir}/started"\nsleep 60\n`, 'blog'), (c, t) => signalWhenStarted(c, t, 'SIGINT')],
      ['the repository is unusable', (t) => {
        const repo = path.join(t.dir, 'repo');
        mkdirSync(path.dirname(repo), { recursive: true });
        writeFileSync(repo, 'a file where the repository should be');
      }],
    ];
    it.each(cases)('%s', async (_name, arrange, act) => {
      arrange(t);
      const child = lifeboat(t, ['backup', 'blog', '--json']);
      if (act) await act(child, t);
      const result = await child;
      expect(result.exitCode, result.stderr).toBe(1);
      expect(service.isRunning()).toBe(true);
      expect(JSON.parse(result.stdout).modules[0]).toMatchObject({ ok: false, snapshots: [] });
      const journal = readFileSync(path.join(t.stateDir, 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(journal.map((r) => `${r.type}:${r.result ?? ''}`)).toEqual(['start:', 'end:failure']);
      rmSync(path.join(t.dir, 'repo'), { force: true });
      const list = await lifeboat(t, ['snapshots', 'blog', '--json']);
      expect(JSON.parse(list.stdout)).toEqual([]);
    });
  });
});

// The module under test; the part timeout is generous (restic on a loaded machine) except where a test lowers it.
function blogModule(data: string, service: FakeService): Record<string, unknown> {
  return { folders: [data], service: { ...service.config, stopDuringBackup: true }, timeouts: { part: 300, killAfter: 1 } };
}

// Sends a signal to lifeboat once the part has started.
async function signalWhenStarted(child: ReturnType<typeof lifeboat>, t: TestRoot, signal: NodeJS.Signals): Promise<void> {
  for (let i = 0; i < 1200 && !existsSync(path.join(t.dir, 'started')); i++) await new Promise((r) => setTimeout(r, 50));
  child.kill(signal);
}

// A tree with modes, a symlink, a hard link, an empty directory, unicode names, set mtimes and random data.
function makeTree(root: string): void {
  mkdirSync(path.join(root, 'sub', 'empty'), { recursive: true });
  writeFileSync(path.join(root, 'notes.txt'), 'first version\n');
  writeFileSync(path.join(root, 'sub', 'random.bin'), randomBytes(3 * 1024 * 1024));
  writeFileSync(path.join(root, 'sub', 'Grüße 日本.txt'), 'unicode\n');
  writeFileSync(path.join(root, 'script.sh'), '#!/bin/sh\n');
  chmodSync(path.join(root, 'script.sh'), 0o750);
  chmodSync(path.join(root, 'notes.txt'), 0o640);
  linkSync(path.join(root, 'notes.txt'), path.join(root, 'notes-hardlink.txt'));
  symlinkSync('sub/random.bin', path.join(root, 'link-to-random'));
  const when = new Date('2024-02-03T04:05:06Z');
  for (const file of ['notes.txt', 'script.sh', 'sub/random.bin', 'sub/Grüße 日本.txt']) utimesSync(path.join(root, file), when, when);
}
