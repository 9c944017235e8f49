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

// A new age key pair from age-keygen: the identity file, its key line and its public key.
function keygen(dir: string): { identityFile: string; key: string; recipient: string } {
  const identityFile = path.join(dir, 'age.key');
  execFileSync(requireTool('age-keygen'), ['-o', identityFile], { stdio: 'pipe' });
  const text = readFileSync(identityFile, 'utf8');
  return { identityFile, key: /AGE-SECRET-KEY-1[0-9A-Z]+/.exec(text)![0], recipient: /public key: (age1[0-9a-z]+)/.exec(text)![1] };
}

describe('secrets stay out of restore output (review findings 2 and 4)', () => {
  it('a damaged identityFile: exit 2 naming identityFile and the line, the key never printed (stderr, --json), nothing restored', async () => {
    const { t, repo, config } = setup(() => ({}));
    const { identityFile, key, recipient } = keygen(t.dir);
    config({ recipients: [recipient], identityFile });
    expect((await lifeboat(t, ['-q', 'backup', 'blog'])).exitCode).toBe(0);
    const text = readFileSync(identityFile, 'utf8');
    const line = text.split('\n').findIndex((l) => l.startsWith('AGE-SECRET-KEY-1')) + 1;
    const changed = key.slice(0, 30) + (key[30] === 'Q' ? 'P' : 'Q') + key.slice(31);
    const target = path.join(t.dir, 'aside');
    for (const [what, damaged] of [['one character changed', changed], ['cut short', key.slice(0, 40)]] as const) {
      writeFileSync(identityFile, text.replace(key, damaged), { mode: 0o600 });
      const expected = `${path.join(t.root, 'lifeboat.yaml')}: /repositories/vault: identityFile ${identityFile}: the age identity on line ${line} is damaged (its checksum or length is wrong)`;
      for (const json of [false, true]) {
        const restored = await lifeboat(t, ['restore', 'blog', '--target', target, ...(json ? ['--json'] : [])]);
        expect(restored.exitCode, `${what}: ${restored.stderr}`).toBe(2);
        expect(restored.stderr).toContain(expected);
        expect(restored.stderr).toContain('copy the key file age-keygen wrote there again, whole and unchanged, or fix identityFile');
        for (const output of [restored.stderr, restored.stdout]) expect(output).not.toContain(damaged.slice(16, 40));
        if (json) expect(JSON.parse(restored.stdout)).toMatchObject({ ok: false, error: expected, exitCode: 2 });
        expect(existsSync(target)).toBe(false);
      }
    }
    expect(snapshots(repo)).toHaveLength(1);
  });

  it('a wrong passphrase from passwordCommand: the command is not printed (stderr, --json)', async () => {
    const { t, repo, config } = setup((root) => ({ passwordFile: passFile(root) }));
    expect((await lifeboat(t, ['-q', 'backup', 'blog'])).exitCode).toBe(0);
    config({ passwordCommand: 'echo WrongSecretPW' });
    const [only] = snapshots(repo);
    const expected = `${only.archive}: cannot be decrypted with the passphrase from passwordCommand: wrong key`;
    for (const json of [false, true]) {
      const restored = await lifeboat(t, ['restore', 'blog', '--target', path.join(t.dir, 'aside'), ...(json ? ['--json'] : [])]);
      expect(restored.exitCode, restored.stderr).toBe(1);
      expect(json ? (JSON.parse(restored.stdout) as { error: string }).error : restored.stderr).toContain(expected);
      for (const output of [restored.stderr, restored.stdout]) expect(output).not.toContain('WrongSecretPW');
    }
  });
});

describe('a damaged archive header is damage, not a wrong key (review finding 3)', () => {
  for (const offset of [36, 60, 75]) {
    it(`a changed base64 character at offset ${offset} of the age header: restore and verify name the archive as damaged`, async () => {
      const { t, data, repo } = setup((root) => ({ passwordFile: passFile(root) }));
      expect((await lifeboat(t, ['-q', 'backup', 'blog'])).exitCode).toBe(0);
      const [only] = snapshots(repo);
      const bytes = readFileSync(only.archive);
      expect(bytes.subarray(0, 40).toString('latin1')).toMatch(/^age-encryption\.org\/v1\n-> scrypt /);
      bytes[offset] = bytes[offset] === 0x41 ? 0x42 : 0x41;
      writeFileSync(only.archive, bytes);
      const target = path.join(t.dir, 'aside');
      const restored = await lifeboat(t, ['restore', 'blog', '--target', target]);
      expect(restored.exitCode, restored.stderr).toBe(1);
      expect(restored.stderr).toContain(notRecorded(only.archive, only.manifest));
      expect(restored.stderr).not.toContain('wrong key');
      expect(existsSync(target)).toBe(false);
      const drill = await lifeboat(t, ['verify', 'blog']);
      expect(drill.exitCode).toBe(1);
      expect(drill.stderr).toContain(notRecorded(only.archive, only.manifest).replace('; nothing was restored', ''));
      expect(drill.stderr).not.toContain('wrong key');
      expect(readFileSync(path.join(data, 'f'), 'utf8')).toBe('same\n');
    });
  }

  it("a damaged file list header is damage too (check, restore), not a wrong key", async () => {
    const { t, repo } = setup((root) => ({ passwordFile: passFile(root) }));
    expect((await lifeboat(t, ['-q', 'backup', 'blog'])).exitCode).toBe(0);
    const [only] = snapshots(repo);
    const list = path.join(repo, 'blog', String((only.manifest.list as { name: string }).name));
    const bytes = readFileSync(list);
    bytes[60] = bytes[60] === 0x41 ? 0x42 : 0x41;
    writeFileSync(list, bytes);
    const digest = sha256(list);
    const expected = `${list}: the file list is not the one its manifest records (sha256 ${digest.slice(0, 12)}…, the manifest says ${String((only.manifest.list as { sha256: string }).sha256).slice(0, 12)}…): damaged or edited`;
    const check = await lifeboat(t, ['check']);
    expect(check.exitCode).toBe(1);
    expect(check.stdout + check.stderr).toContain(expected);
    expect(check.stdout + check.stderr).not.toContain('wrong key');
    const restored = await lifeboat(t, ['restore', 'blog', '--target', path.join(t.dir, 'aside')]);
    expect(restored.exitCode).toBe(1);
    expect(restored.stderr).toContain(expected);
    expect(restored.stderr).not.toContain('wrong key');
  });
});

describe('a passphrase that cannot be had stops the backup before anything runs (review finding 9)', () => {
  const cases: Array<[string, (t: TestRoot) => Record<string, unknown>, (t: TestRoot) => string]> = [
    ['an empty passwordFile', (t) => ({ passwordFile: passFile(t, '\n') }), (t) => `the passphrase in passwordFile ${path.join(t.dir, 'tar.pass')} is empty`],
    ['a missing passwordFile', (t) => ({ passwordFile: path.join(t.dir, 'nowhere.pass') }), (t) => `passwordFile ${path.join(t.dir, 'nowhere.pass')} cannot be read (ENOENT)`],
    ['a failing passwordCommand', () => ({ passwordCommand: 'exit 3' }), () => 'passwordCommand failed: '],
  ];
  for (const [what, settings, message] of cases) {
    it(`${what}: exit 2 naming lifeboat.yaml and the key; no part ran, nothing written`, async () => {
      const { t, repo } = setup(settings);
      const marker = path.join(t.dir, 'pre-backup-ran');
      t.part('pre-backup', '10mark', `#!/bin/sh\ntouch ${marker}\n`, 'blog');
      const backup = await lifeboat(t, ['backup', 'blog']);
      expect(backup.exitCode, backup.stderr).toBe(2);
      expect(backup.stderr).toContain(`${path.join(t.root, 'lifeboat.yaml')}: /repositories/vault: ${message(t)}`);
      expect(existsSync(marker)).toBe(false);
      expect(existsSync(repo)).toBe(false);
    });
  }
});

describe("the README's archive made by hand (review finding 5)", () => {
  it('the recipe as the README writes it makes a snapshot that restores and verifies', async () => {
    requireTool('age');
    const { t, data, repo, config } = setup(() => ({}));
    writeFileSync(path.join(data, 'hello.txt'), 'hello\n');
    const { identityFile, recipient } = keygen(t.dir);
    config({ recipients: [recipient], identityFile });
    const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const block = /```sh\n(ID=c0ffee00-[^\n]*)\n([\s\S]*?)```/.exec(readme);
    expect(block, 'the recipe block in README "Encrypted archives"').not.toBeNull();
    const id = 'c0ffee00-blog-20260101T000000.000Z';
    mkdirSync(path.join(repo, 'blog'), { recursive: true });
    const first = `ID=${id} MOD=blog DIR=${path.join(repo, 'blog')} DATA=${data} R=${recipient}`;
    execFileSync('sh', ['-ec', `${first}\n${block![2]}`], { stdio: 'pipe' });
    const before = describeTree(data);
    rmSync(data, { recursive: true });
    const restored = await lifeboat(t, ['restore', 'blog', id]);
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(describeTree(data)).toEqual(before);
    const drill = await lifeboat(t, ['verify', 'blog']);
    expect(drill.exitCode, drill.stderr).toBe(0);
  });

  it('a manifest with a wrong field says which one', async () => {
    const { t, repo } = setup(() => ({}));
    expect((await lifeboat(t, ['-q', 'backup', 'blog'])).exitCode).toBe(0);
    const [only] = snapshots(repo);
    const file = path.join(repo, 'blog', `${String(only.manifest.id)}.manifest.json`);
    writeFileSync(file, JSON.stringify({ ...only.manifest, list: undefined }));
    const listed = await lifeboat(t, ['snapshots', 'blog']);
    expect(listed.stderr).toContain(`${file} is unreadable: not a lifeboat-tar/1 or lifeboat-tar/2 manifest: "list" (the file list record) is missing`);
  });
});

describe('minor messages (review finding 9)', () => {
  it("check of an unreachable `encryption: none` S3 repository does not send the operator to a password it has none of", async () => {
    const t = makeRoot({ repositories: {} });
    cleanups.push(() => t.cleanup());
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    t.write('lifeboat.yaml', JSON.stringify({ repositories: { offsite: { provider: 'tar', upload: 's3://bucket/tar', encryption: 'none', endpoint: 'http://127.0.0.1:9', retries: 0, env: { AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'secret-key-1234' } } } }));
    t.module('blog', { folders: [data] });
    const check = await lifeboat(t, ['check']);
    expect(check.exitCode).toBe(1);
    const line = check.stdout.split('\n').find((text) => text.includes('cannot be opened: '));
    expect(line, check.stdout).toMatch(/; check its url and that it is reachable$/);
    expect(line).not.toContain('password');
  });
});
