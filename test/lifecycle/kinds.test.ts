// Snapshot kinds through the real CLI, for restic, borg and tar: `latest` is the newest backup (never the
// safety snapshot an in-place restore took), `snapshots` shows the kind, and retention counts backups only.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, linkSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { execaSync } from 'execa';
import { COPY_PROVIDER, lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { describeTree } from '../helpers/fs-state.js';

const PASSWORD = 'correct horse battery staple';

const PROVIDERS: Record<string, (dir: string) => Record<string, unknown>> = {
  restic: (dir) => ({ provider: 'restic', url: path.join(dir, 'repo'), passwordFile: path.join(dir, 'pass') }),
  borg: (dir) => ({ provider: 'borg', url: path.join(dir, 'repo'), passwordFile: path.join(dir, 'pass') }),
  tar: (dir) => ({ provider: 'tar', url: path.join(dir, 'repo') }),
  // The script provider of test/fixtures (no forget): its list prints names only, so the kind comes from
  // Lifeboat's record of what create made.
  copy: (dir) => ({ provider: 'copy', url: path.join(dir, 'repo') }),
};
const FORGETS = new Set(['restic', 'borg', 'tar']);

interface Listed {
  id: string;
  time: string;
  module: string;
  repository: string;
  host: string | null;
  kind: 'backup' | 'safety';
}

describe.each(Object.keys(PROVIDERS))('snapshot kinds with %s', (provider) => {
  let t: TestRoot;
  let data: string;

  beforeEach(() => {
    t = makeRoot({ repositories: {} });
    t.write('lifeboat.yaml', `repositories:\n  local: ${JSON.stringify(PROVIDERS[provider](t.dir))}\n`);
    if (provider === 'copy') {
      mkdirSync(path.join(t.root, 'plugins'), { recursive: true });
      execaSync('cp', ['-a', COPY_PROVIDER, path.join(t.root, 'plugins', 'copy')]);
    }
    writeFileSync(path.join(t.dir, 'pass'), `${PASSWORD}\n`, { mode: 0o600 });
    data = path.join(t.dir, 'data');
    makeTree(data);
    // (Without an environment file a borg restore --target fails today: its include never matches.)
    t.write('modules/blog/environment', 'BLOG_MODE=kinds-fixture-value\n');
  });
  afterEach(() => t.cleanup());

  // Runs lifeboat and expects exit 0.
  async function ok(args: string[]) {
    const result = await lifeboat(t, args);
    expect(result.exitCode, `lifeboat ${args.join(' ')}: ${result.stderr}`).toBe(0);
    return result;
  }
  const listed = async (): Promise<Listed[]> => JSON.parse((await ok(['snapshots', 'blog', '--json'])).stdout) as Listed[];
  // Changes, removes and adds files: what an in-place restore must undo.
  const damage = (round: number) => {
    writeFileSync(path.join(data, 'notes.txt'), `damaged ${round}\n`);
    rmSync(path.join(data, 'sub', 'random.bin'), { force: true });
    writeFileSync(path.join(data, `stray-${round}.txt`), 'not in the backup\n');
  };

  it('restore latest after two in-place restores brings back the backup, not the damage', async () => {
    t.module('blog', { folders: [data], timeouts: { part: 600 } });
    await ok(['backup', 'blog']);
    const original = describeTree(data);
    const [backup] = await listed();
    expect(backup.kind).toBe('backup');

    damage(1);
    const first = await ok(['restore', 'blog', '--json']);
    expect(describeTree(data)).toEqual(original);
    expect(JSON.parse(first.stdout).modules[0].restored).toMatchObject({ repository: 'local', id: backup.id, time: backup.time, kind: 'backup' });

    damage(2);
    const second = await ok(['restore', 'blog']);
    expect(second.stderr).toContain(`restoring blog from snapshot ${backup.id} (backup, ${backup.time}, the latest backup) of local in place`);
    expect(describeTree(data)).toEqual(original);

    const target = path.join(t.dir, 'aside');
    await ok(['restore', 'blog', 'latest', '--target', target]);
    expect(describeTree(path.join(target, data))).toEqual(original);

    const all = await listed();
    expect(all.map((s) => s.kind).sort()).toEqual(['backup', 'safety', 'safety']);
    for (const entry of all) expect(Object.keys(entry).sort()).toEqual(['host', 'id', 'kind', 'module', 'repository', 'time']);
    const table = (await ok(['snapshots', 'blog'])).stdout.split('\n');
    expect(table[0]).toMatch(/^ID\s+TIME \(UTC\)\s+KIND\s+MODULE\s+REPOSITORY\s+HOST\s+TAGS/);
    expect(table.filter((line) => /\ssafety\s+blog\s+local(\s|$)/.test(line))).toHaveLength(2);
    expect(table.filter((line) => /\sbackup\s+blog\s+local(\s|$)/.test(line))).toHaveLength(1);

    // An explicit id of a safety snapshot still restores it: the state of the second damage.
    damage(3);
    const safety = all.filter((s) => s.kind === 'safety').at(-1)!;
    const undo = await ok(['restore', 'blog', safety.id, '--no-safety-snapshot', '--json']);
    expect(JSON.parse(undo.stdout).modules[0].restored).toMatchObject({ id: safety.id, kind: 'safety' });
    expect(describeTree(data).some((line) => line.startsWith('stray-2.txt file'))).toBe(true);
    expect(describeTree(data).some((line) => line.startsWith('stray-3.txt'))).toBe(false);
  });

  it.runIf(FORGETS.has(provider))('forget with keepLast 2 after two in-place restores keeps both backups', async () => {
    t.module('blog', { folders: [data], retention: { keepLast: 2 }, timeouts: { part: 600 } });
    await ok(['backup', 'blog']);
    writeFileSync(path.join(data, 'notes.txt'), 'second version\n');
    await ok(['backup', 'blog']);
    const second = describeTree(data);
    damage(1);
    await ok(['restore', 'blog']);
    damage(2);
    await ok(['restore', 'blog']);
    const before = await listed();
    expect(before.map((s) => s.kind)).toEqual(['backup', 'backup', 'safety', 'safety']);

    const forget = await ok(['forget', 'blog', '--json']);
    expect(JSON.parse(forget.stdout).modules[0]).toMatchObject({ repository: 'local', removed: [] });
    expect(forget.stderr).toContain('blog in local: removed 0 (0 backups, 0 safety snapshots), kept 4 (2 backups, 2 safety snapshots)');
    expect((await listed()).map((s) => s.id)).toEqual(before.map((s) => s.id));
    expect(describeTree(data)).toEqual(second);

    // A third backup (its own retention left out) pushes the oldest backup out, and only it.
    await ok(['backup', 'blog', '--no-retention']);
    const third = await ok(['forget', 'blog', '--json']);
    const report = JSON.parse(third.stdout).modules[0];
    expect(report.removed).toEqual([before[0].id]);
    expect(report.removedSnapshots).toEqual([{ id: before[0].id, time: before[0].time, kind: 'backup' }]);
    const after = await listed();
    expect(after.map((s) => s.kind)).toEqual(['backup', 'safety', 'safety', 'backup']);
    expect(after.slice(0, 3).map((s) => s.id)).toEqual(before.slice(1).map((s) => s.id));
  });

  it.runIf(FORGETS.has(provider))('backup applies keepLast 2 after each backup, counting backups only, and says what it removed', async () => {
    t.module('blog', { folders: [data], retention: { keepLast: 2 }, timeouts: { part: 600 } });
    await ok(['backup', 'blog']);
    await ok(['backup', 'blog']);
    damage(1);
    await ok(['restore', 'blog']);
    const before = await listed();
    expect(before.map((s) => s.kind)).toEqual(['backup', 'backup', 'safety']);

    const third = JSON.parse((await ok(['backup', 'blog', '--json'])).stdout).modules[0];
    expect(third.removed).toEqual([{ repository: 'local', id: before[0].id, time: before[0].time, kind: 'backup' }]);
    const after = await listed();
    expect(after.map((s) => s.id)).toEqual([before[1].id, before[2].id, third.snapshots[0].id]);
    const ends = readFileSync(path.join(t.stateDir, 'journal.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line)).filter((r) => r.type === 'end' && r.action === 'backup');
    expect(ends.at(-1)).toMatchObject({ result: 'success', removed: [{ repository: 'local', id: before[0].id }] });
    expect(ends[0].removed).toBeUndefined();

    // --no-retention keeps everything; the text summary names what a backup's retention removed.
    const kept = JSON.parse((await ok(['backup', 'blog', '--no-retention', '--json'])).stdout).modules[0];
    expect(kept.removed).toEqual([]);
    expect((await listed()).map((s) => s.kind)).toEqual(['backup', 'safety', 'backup', 'backup']);
    const text = await ok(['backup', 'blog']);
    expect(text.stdout).toMatch(/^backup blog: ok local:\S+; retention removed local:\S+ local:\S+$/m);
    expect((await listed()).map((s) => s.kind)).toEqual(['safety', 'backup', 'backup']);
  });

  it('a module without retention keeps every snapshot after its backups', async () => {
    t.module('blog', { folders: [data], timeouts: { part: 600 } });
    for (let i = 0; i < 3; i++) {
      const result = JSON.parse((await ok(['backup', 'blog', '--json'])).stdout).modules[0];
      expect(result.removed).toEqual([]);
    }
    expect(await listed()).toHaveLength(3);
  });
});

// A tree with modes, a symlink, a hard link, an empty directory, unicode names and random data.
function makeTree(root: string): void {
  mkdirSync(path.join(root, 'sub', 'empty'), { recursive: true });
  writeFileSync(path.join(root, 'notes.txt'), 'first version\n');
  writeFileSync(path.join(root, 'sub', 'random.bin'), randomBytes(256 * 1024));
  writeFileSync(path.join(root, 'sub', 'Grüße 日本.txt'), 'unicode\n');
  chmodSync(path.join(root, 'notes.txt'), 0o640);
  linkSync(path.join(root, 'notes.txt'), path.join(root, 'notes-hardlink.txt'));
  symlinkSync('sub/random.bin', path.join(root, 'link-to-random'));
}
