// Findings of the fresh-eyes review of encrypted tar archives (issue 14), each through the real CLI:
// restore checks the archive against its manifest (size, SHA-256, every file-list entry and nothing
// else) before anything changes; secrets never reach restore's output; damage is not called a wrong
// key; a missing passphrase stops the run before anything runs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeTree } from '../helpers/fs-state.js';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { requireTool } from '../ops/tools.js';

const PASSPHRASE = 'correct horse battery staple 7';
const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

// A root with module `blog` (one folder) and a tar repository `vault` at repo with these settings.
function setup(repository: (t: TestRoot) => Record<string, unknown>): { t: TestRoot; data: string; repo: string; config: (settings: Record<string, unknown>) => void } {
  const t = makeRoot({ repositories: {} });
  cleanups.push(() => t.cleanup());
  const data = path.join(t.dir, 'data', 'blog');
  const repo = path.join(t.dir, 'repo');
  mkdirSync(data, { recursive: true });
  writeFileSync(path.join(data, 'f'), 'same\n');
  const config = (settings: Record<string, unknown>) => t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, ...settings } } }));
  config(repository(t));
  t.module('blog', { folders: [data] });
  return { t, data, repo, config };
}

function passFile(t: TestRoot, text = `${PASSPHRASE}\n`): string {
  const file = path.join(t.dir, 'tar.pass');
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

// The module's snapshots in the repository, oldest first: manifest, archive and the manifest's record.
function snapshots(repo: string): Array<{ manifest: Record<string, unknown>; archive: string }> {
  const dir = path.join(repo, 'blog');
  return readdirSync(dir)
    .filter((name) => name.endsWith('.manifest.json'))
    .map((name) => JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as Record<string, unknown>)
    .sort((a, b) => String(a.time).localeCompare(String(b.time)))
    .map((manifest) => ({ manifest, archive: path.join(dir, String(manifest.archive)) }));
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

// The message restore gives for an archive that is not the one its manifest records.
function notRecorded(archive: string, manifest: Record<string, unknown>): string {
  const bytes = readFileSync(archive);
  const digest = createHash('sha256').update(bytes).digest('hex');
  return `${archive}: not the archive its manifest records (${bytes.length} bytes, sha256 ${digest.slice(0, 12)}…; the manifest records ${String(manifest.archiveSize)} bytes, sha256 ${String(manifest.archiveSha256).slice(0, 12)}…): damaged, cut short or swapped; nothing was restored`;
}

// Two backups of blog: the first with f, the second with f and zz-extra.
async function twoBackups(t: TestRoot, data: string): Promise<void> {
  expect((await lifeboat(t, ['-q', 'backup', 'blog'])).exitCode).toBe(0);
  writeFileSync(path.join(data, 'zz-extra'), 'EXTRA\n');
  expect((await lifeboat(t, ['-q', 'backup', 'blog'])).exitCode).toBe(0);
}

describe('restore checks the archive against its manifest (review finding 1)', () => {
  for (const mode of ['passphrase', 'plaintext'] as const) {
    it(`${mode}: an older snapshot's archive under the newest one's name fails --target and in-place restore; nothing changes`, async () => {
      const { t, data, repo } = setup((root) => (mode === 'passphrase' ? { passwordFile: passFile(root) } : {}));
      await twoBackups(t, data);
      const [older, newer] = snapshots(repo);
      copyFileSync(older.archive, newer.archive);
      const expected = notRecorded(newer.archive, newer.manifest);

      const target = path.join(t.dir, 'aside');
      const aside = await lifeboat(t, ['restore', 'blog', 'latest', '--target', target]);
      expect(aside.exitCode, aside.stderr).toBe(1);
      expect(aside.stderr).toContain(expected);
      expect(existsSync(target)).toBe(false);

      const before = describeTree(data);
      const inPlace = await lifeboat(t, ['restore', 'blog', 'latest']);
      expect(inPlace.exitCode, inPlace.stderr).toBe(1);
      expect(inPlace.stderr).toContain(expected);
      expect(describeTree(data)).toEqual(before);
      expect(readdirSync(path.dirname(data))).toEqual(['blog']);
    });
  }

  it("the newest archive under an older snapshot's name (an entry its list lacks) fails; an existing --target keeps what it held", async () => {
    const { t, data, repo } = setup((root) => ({ passwordFile: passFile(root) }));
    await twoBackups(t, data);
    const [older, newer] = snapshots(repo);
    copyFileSync(newer.archive, older.archive);
    const target = path.join(t.dir, 'aside');
    mkdirSync(target);
    writeFileSync(path.join(target, 'kept'), 'mine\n');
    const restored = await lifeboat(t, ['restore', 'blog', String(older.manifest.id), '--target', target]);
    expect(restored.exitCode, restored.stderr).toBe(1);
    expect(restored.stderr).toContain(notRecorded(older.archive, older.manifest));
    expect(readdirSync(target)).toEqual(['kept']);
  });

  it("another module's archive under this module's snapshot name fails (it would restore nothing)", async () => {
    const { t, data, repo } = setup(() => ({}));
    const other = path.join(t.dir, 'data', 'other');
    mkdirSync(other, { recursive: true });
    writeFileSync(path.join(other, 'o'), 'other\n');
    t.module('other', { folders: [other] });
    expect((await lifeboat(t, ['-q', 'backup', 'blog'])).exitCode).toBe(0);
    expect((await lifeboat(t, ['-q', 'backup', 'other'])).exitCode).toBe(0);
    const [mine] = snapshots(repo);
    const theirs = readdirSync(path.join(repo, 'other')).find((name) => name.endsWith('.tar.zst'))!;
    copyFileSync(path.join(repo, 'other', theirs), mine.archive);
    const target = path.join(t.dir, 'aside');
    const restored = await lifeboat(t, ['restore', 'blog', 'latest', '--target', target]);
    expect(restored.exitCode, restored.stderr).toBe(1);
    expect(restored.stderr).toContain(notRecorded(mine.archive, mine.manifest));
    expect(existsSync(target)).toBe(false);
    expect(readFileSync(path.join(data, 'f'), 'utf8')).toBe('same\n');
  });

  it('a cut archive fails even when every file in it is whole', async () => {
    const { t, repo } = setup(() => ({ compression: 'none' }));
    expect((await lifeboat(t, ['-q', 'backup', 'blog'])).exitCode).toBe(0);
    const [only] = snapshots(repo);
    // the end-of-archive padding only: every entry is still complete
    truncateSync(only.archive, Number(only.manifest.archiveSize) - 512);
    const target = path.join(t.dir, 'aside');
    const restored = await lifeboat(t, ['restore', 'blog', 'latest', '--target', target]);
    expect(restored.exitCode, restored.stderr).toBe(1);
    expect(restored.stderr).toContain(notRecorded(only.archive, only.manifest));
    expect(existsSync(target)).toBe(false);
    expect(sha256(only.archive)).not.toBe(only.manifest.archiveSha256);
  });
});

