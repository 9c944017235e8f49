// Encrypted tar archives (age) through the real CLI on a local repository: what lands on disk is
// ciphertext and names no file, the age CLI decrypts it (tar and zstd list it), an archive made by hand
// with tar | zstd | age restores through Lifeboat, wrong keys and damaged or truncated archives fail
// naming the archive and the key source, and bad settings exit 2 naming the file, the key and the fix.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { describeTree } from '../helpers/fs-state.js';
import { BIN, lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { requireTool } from '../ops/tools.js';

const PASSPHRASE = 'correct horse battery staple 7';
const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

// A root with module `blog` (data outside the root) and a tar repository `vault` with these settings.
function setup(repository: Record<string, unknown>): { t: TestRoot; data: string; repo: string } {
  const t = makeRoot({ repositories: {} });
  cleanups.push(() => t.cleanup());
  const data = path.join(t.dir, 'data', 'blog');
  const repo = path.join(t.dir, 'repo');
  mkdirSync(path.join(data, 'secret-folder'), { recursive: true });
  writeFileSync(path.join(data, 'customer-list.csv'), 'alice,bob\n');
  writeFileSync(path.join(data, 'secret-folder', 'payroll.bin'), randomBytes(300_000));
  t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, ...repository } } }));
  t.module('blog', { folders: [data] });
  return { t, data, repo };
}

// A passphrase file under the test folder.
function passFile(t: TestRoot, text = `${PASSPHRASE}\n`): string {
  const file = path.join(t.dir, 'tar.pass');
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

// A new age key pair from age-keygen: the identity file and its public key.
function keygen(dir: string, name = 'age.key'): { identityFile: string; recipient: string } {
  const identityFile = path.join(dir, name);
  execFileSync(requireTool('age-keygen'), ['-o', identityFile], { stdio: 'pipe' });
  const recipient = /public key: (age1[0-9a-z]+)/.exec(readFileSync(identityFile, 'utf8'))![1];
  return { identityFile, recipient };
}

// The module's files in the repository folder.
function stored(repo: string): string[] {
  return readdirSync(path.join(repo, 'blog')).sort();
}

function archiveOf(repo: string): string {
  return path.join(repo, 'blog', stored(repo).find((name) => /\.tar(\.zst|\.gz)?\.age$/.test(name))!);
}

// The names a decrypted .tar.zst lists.
function listTar(zst: Buffer): string[] {
  return execFileSync('tar', ['-tf', '-', '--zstd'], { input: zst, encoding: 'utf8' }).trim().split('\n');
}

// The manifest of an archive made by hand (its sealed part still to add).
function handManifest(id: string, archive: string, data: string, mode: 'passphrase' | 'recipients'): Record<string, unknown> {
  const bytes = readFileSync(archive);
  return { format: 'lifeboat-tar/1', id, archive: path.basename(archive), module: 'blog', host: 'h', tags: ['module:blog'], time: '2026-01-01T00:00:00.000Z', paths: [data], exclude: [], compression: 'zstd', archiveSize: bytes.length, archiveSha256: createHash('sha256').update(bytes).digest('hex'), files: [], encryption: { format: 'age', mode } };
}

// The JSON a manifest's sealed part holds: the file list (empty: not checked), the excludes and the
// fields that bind it to its snapshot (README "Encrypted archives").
function sealedJson(manifest: Record<string, unknown>): string {
  const snapshot = Object.fromEntries(['id', 'module', 'host', 'time', 'paths', 'archive', 'archiveSha256'].map((field) => [field, manifest[field]]));
  return JSON.stringify({ files: [], exclude: [], snapshot });
}

describe('tar with age encryption (local repository)', () => {
  it('passphrase: ciphertext and a sealed file list on disk; the age CLI (on a pty) decrypts it; restore and verify work', async () => {
    requireTool('script');
    const { t, data, repo } = setup({});
    const file = passFile(t);
    t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, passwordFile: file } } }));
    const backup = await lifeboat(t, ['backup', 'blog']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const names = stored(repo);
    expect(names).toHaveLength(3);
    expect(names[0]).toMatch(/\.files\.ndjson\.gz\.age$/);
    expect(names[1]).toMatch(/\.manifest\.json$/);
    expect(names[2]).toMatch(/\.tar\.zst\.age$/);
    const archive = readFileSync(archiveOf(repo));
    const list = readFileSync(path.join(repo, 'blog', names[0]));
    for (const sealed of [archive, list]) expect(sealed.subarray(0, 40).toString('latin1')).toMatch(/^age-encryption\.org\/v1\n-> scrypt /);
    const manifestText = readFileSync(path.join(repo, 'blog', names[1]), 'utf8');
    for (const secret of ['customer-list', 'payroll', 'secret-folder']) {
      expect(manifestText).not.toContain(secret);
      expect(archive.includes(Buffer.from(secret))).toBe(false);
      expect(list.includes(Buffer.from(secret))).toBe(false);
    }
    expect(JSON.parse(manifestText)).toMatchObject({ format: 'lifeboat-tar/2', exclude: [], encryption: { format: 'age', mode: 'passphrase' }, list: { name: names[0], size: list.length } });
    expect(JSON.parse(manifestText)).not.toHaveProperty('files');

    // age -d asks for the passphrase on a terminal: `script` gives it a pty and types it
    const out = path.join(t.dir, 'out.tar.zst');
    const typed = execFileSync('script', ['-qec', `age -d -o ${out} ${archiveOf(repo)}`, '/dev/null'], { input: `${PASSPHRASE}\n`, encoding: 'utf8', timeout: 120_000 });
    expect(typed).toContain('Enter passphrase');
    expect(listTar(readFileSync(out))).toEqual(expect.arrayContaining([`${data.slice(1)}/customer-list.csv`, `${data.slice(1)}/secret-folder/payroll.bin`]));

    const before = describeTree(data);
    rmSync(data, { recursive: true });
    const restored = await lifeboat(t, ['restore', 'blog']);
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(describeTree(data)).toEqual(before);
    const drill = await lifeboat(t, ['verify', 'blog']);
    expect(drill.exitCode, drill.stderr).toBe(0);
  });

  it('a wrong passphrase fails restore and verify once, naming the archive, the key source and the fix', async () => {
    const { t, repo } = setup({});
    const file = passFile(t);
    t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, passwordFile: file } } }));
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    passFile(t, 'not the one\n');
    const restored = await lifeboat(t, ['restore', 'blog', '--target', path.join(t.dir, 'aside')]);
    expect(restored.exitCode).toBe(1);
    const expected = `${archiveOf(repo)}: cannot be decrypted with the passphrase in passwordFile ${file}: wrong key`;
    const fix = 'set passwordFile (or passwordCommand) to the passphrase the archive was made with';
    expect(restored.stderr).toContain(`${expected}\nlifeboat: hint: ${fix}`);
    // the fix is said once (as the hint), not also in the message
    expect(restored.stderr.split(fix)).toHaveLength(2);
    expect(restored.stderr).not.toMatch(/invalid tag|no identity matched/);
    const drill = await lifeboat(t, ['verify', 'blog']);
    expect(drill.exitCode).toBe(1);
    expect(drill.stderr).toContain(expected);
  });

  it('recipients: age -d -i decrypts; restore needs identityFile (exit 2 with the fix), then works', async () => {
    const { t, data, repo } = setup({});
    const { identityFile, recipient } = keygen(t.dir);
    const config = (extra: Record<string, unknown>) => t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, recipients: [recipient], ...extra } } }));
    config({});
    const backup = await lifeboat(t, ['backup', 'blog']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const archive = archiveOf(repo);
    expect(readFileSync(archive).subarray(0, 40).toString('latin1')).toMatch(/^age-encryption\.org\/v1\n-> X25519 /);
    const plain = execFileSync(requireTool('age'), ['-d', '-i', identityFile, archiveOf(repo)]);
    expect(listTar(plain)).toContain(`${data.slice(1)}/customer-list.csv`);

    const before = describeTree(data);
    const noKey = await lifeboat(t, ['restore', 'blog', '--target', path.join(t.dir, 'aside')]);
    expect(noKey.exitCode).toBe(2);
    expect(noKey.stderr).toContain(`${path.join(t.root, 'lifeboat.yaml')}: /repositories/vault: decrypting ${archiveOf(repo)} needs the private key, and identityFile is not set`);
    expect(noKey.stderr).toContain('add identityFile: /etc/lifeboat/age.key');
    t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo } } }));
    const noKeys = await lifeboat(t, ['restore', 'blog', '--target', path.join(t.dir, 'aside')]);
    expect(noKeys.exitCode).toBe(2);
    expect(noKeys.stderr).toContain(`${archive} is encrypted (age, recipients) but its repository has no key`);
    expect(readdirSync(t.dir)).not.toContain('aside');

    config({ identityFile });
    rmSync(data, { recursive: true });
    const restored = await lifeboat(t, ['restore', 'blog']);
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(describeTree(data)).toEqual(before);

    // another key pair's identity is the wrong key
    const other = keygen(t.dir, 'other.key');
    config({ identityFile: other.identityFile });
    const wrong = await lifeboat(t, ['restore', 'blog', '--target', path.join(t.dir, 'aside2')]);
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toContain(`${archive}: cannot be decrypted with the identity in identityFile ${other.identityFile}: wrong key`);
    const fix = 'set identityFile to the key file whose public key was a recipient when the archive was made';
    expect(wrong.stderr).toContain(`hint: ${fix}`);
    // verify's drill (the provider's check) keeps that fix too: in --json, the log and the journal.
    const drill = await lifeboat(t, ['verify', 'blog', '--json']);
    expect(drill.exitCode).toBe(1);
    const module = (JSON.parse(drill.stdout) as { modules: Array<Record<string, unknown>> }).modules[0]!;
    expect(module).toMatchObject({ failedPart: 'verify/10restore_scratch', hint: fix, code: 'PART_FAILED' });
    expect(drill.stderr).toContain(`error: hint: ${fix}`);
    const end = readFileSync(path.join(t.stateDir, 'journal.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>).filter((record) => record.type === 'end').at(-1);
    expect(end).toMatchObject({ action: 'verify', result: 'failure', hint: fix });
  });

  it('an archive made by hand with tar | zstd | age -r restores through Lifeboat', async () => {
    const { t, data, repo } = setup({});
    const { identityFile, recipient } = keygen(t.dir);
    t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, recipients: [recipient], identityFile } } }));
    const id = 'c0ffee00-blog-20260101T000000.000Z';
    mkdirSync(path.join(repo, 'blog'), { recursive: true });
    const archive = path.join(repo, 'blog', `${id}.tar.zst.age`);
    execFileSync('sh', ['-c', `tar --format=posix -C / -cf - "${data.slice(1)}" | zstd -q -c | age -r ${recipient} > "${archive}"`]);
    const manifest = handManifest(id, archive, data, 'recipients');
    // without a sealed part that binds it to its archive, the manifest is refused
    writeFileSync(path.join(repo, 'blog', `${id}.manifest.json`), JSON.stringify(manifest));
    const unsealed = await lifeboat(t, ['restore', 'blog', id, '--target', path.join(t.dir, 'aside')]);
    expect(unsealed.exitCode).toBe(1);
    expect(unsealed.stderr).toContain(`${archive}: refused: the manifest has no sealed part, so nothing binds it to its archive (planted, swapped or made by hand)`);
    const sealed = execFileSync('sh', ['-c', `gzip -c | age -r ${recipient} | base64 -w0`], { input: sealedJson(manifest) });
    writeFileSync(path.join(repo, 'blog', `${id}.manifest.json`), JSON.stringify({ ...manifest, sealed: sealed.toString('latin1') }));
    const before = describeTree(data);
    rmSync(data, { recursive: true });
    const restored = await lifeboat(t, ['restore', 'blog', id]);
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(describeTree(data)).toEqual(before);
  });

  it('an archive made by hand with tar | zstd | age -p (the passphrase typed on a pty) restores through Lifeboat', async () => {
    requireTool('script');
    const { t, data, repo } = setup({});
    t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, passwordFile: passFile(t) } } }));
    const id = 'feed0000-blog-20260101T000000.000Z';
    mkdirSync(path.join(repo, 'blog'), { recursive: true });
    const archive = path.join(repo, 'blog', `${id}.tar.zst.age`);
    // age -p reads the passphrase and its confirmation from the terminal, the data from the pipe
    execFileSync('script', ['-qec', `tar --format=posix -C / -cf - "${data.slice(1)}" | zstd -q -c | age -p -o "${archive}"`, '/dev/null'], { input: `${PASSPHRASE}\n${PASSPHRASE}\n`, timeout: 120_000 });
    expect(readFileSync(archive).subarray(0, 31).toString('latin1')).toBe('age-encryption.org/v1\n-> scrypt');
    const manifest = handManifest(id, archive, data, 'passphrase');
    writeFileSync(path.join(t.dir, 'sealed.json'), sealedJson(manifest));
    execFileSync('script', ['-qec', `gzip -c < "${path.join(t.dir, 'sealed.json')}" | age -p -o "${path.join(t.dir, 'sealed.age')}"`, '/dev/null'], { input: `${PASSPHRASE}\n${PASSPHRASE}\n`, timeout: 120_000 });
    const sealed = readFileSync(path.join(t.dir, 'sealed.age')).toString('base64');
    writeFileSync(path.join(repo, 'blog', `${id}.manifest.json`), JSON.stringify({ ...manifest, sealed }));
    const before = describeTree(data);
    rmSync(data, { recursive: true });
    const restored = await lifeboat(t, ['restore', 'blog', id]);
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(describeTree(data)).toEqual(before);
  });

  it.each([
    ['a flipped byte', (file: string) => {
      const bytes = readFileSync(file);
      bytes[bytes.length - 1000] ^= 0x01;
      writeFileSync(file, bytes);
    }],
    ['a truncated archive (cut at a 64 KiB chunk boundary)', (file: string) => {
      const header = readFileSync(file).indexOf('\n', readFileSync(file).indexOf('--- ')) + 1 + 16;
      truncateSync(file, header + 65536 + 16);
    }],
  ])('%s fails restore and verify naming the archive; nothing is restored', async (_name, damage) => {
    const { t, data, repo } = setup({});
    writeFileSync(path.join(data, 'big.bin'), randomBytes(400_000));
    const { identityFile, recipient } = keygen(t.dir);
    t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, recipients: [recipient], identityFile, compression: 'none' } } }));
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    damage(archiveOf(repo));
    const aside = path.join(t.dir, 'aside');
    const restored = await lifeboat(t, ['restore', 'blog', '--target', aside]);
    expect(restored.exitCode).toBe(1);
    expect(restored.stderr).toContain(`${archiveOf(repo)}: damaged or tampered with: age decryption failed`);
    expect(readdirSync(t.dir)).not.toContain('aside');
    const drill = await lifeboat(t, ['verify', 'blog']);
    expect(drill.exitCode).toBe(1);
    expect(drill.stderr).toContain(`${archiveOf(repo)}: damaged or tampered with`);
  });

  it('passwordCommand gives the passphrase; without upload and without keys archives stay plaintext', async () => {
    const { t, repo } = setup({ passwordCommand: `printf '%s\\n' '${PASSPHRASE}'` });
    const backup = await lifeboat(t, ['backup', 'blog']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    expect(stored(repo)[2]).toMatch(/\.tar\.zst\.age$/);
    expect((await lifeboat(t, ['verify', 'blog'])).exitCode).toBe(0);

    const plain = setup({});
    expect((await lifeboat(plain.t, ['backup', 'blog'])).exitCode).toBe(0);
    expect(stored(plain.repo)[2]).toMatch(/\.tar\.zst$/);
  });
});

describe('tar encryption settings: exit 2 naming the file, the key and the fix', () => {
  const cases: Array<[string, (t: TestRoot) => Record<string, unknown>, string]> = [
    ['recipients and a passphrase both', (t) => ({ recipients: [keygen(t.dir).recipient], passwordFile: passFile(t) }), '/repositories/vault has both a passphrase (passwordFile/passwordCommand) and age keys (recipients/identityFile); an age archive uses one or the other: remove one'],
    ['a recipient that is not age1...', () => ({ recipients: ['age1notakey'] }), '/repositories/vault/recipients/0 must match'],
    ['upload without encryption', () => ({ upload: 's3://bucket/p', endpoint: 'https://127.0.0.1:9' }), '/repositories/vault uploads archives to S3 unencrypted; add passwordFile: /etc/lifeboat/tar.pass (or passwordCommand:, or recipients: [age1...]), or say encryption: none to upload plaintext on purpose'],
    ['encryption: age without a key', () => ({ encryption: 'age' }), '/repositories/vault/encryption is age but no key is set; add passwordFile'],
    ['encryption: none with a key', (t) => ({ encryption: 'none', passwordFile: passFile(t) }), '/repositories/vault/encryption is none but keys are set'],
  ];
  it.each(cases)('%s', async (_name, settings, message) => {
    const { t, repo } = setup({});
    t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, ...settings(t) } } }));
    const result = await lifeboat(t, ['backup', 'blog']);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain(`lifeboat.yaml: ${message}`);
    expect(readdirSync(t.dir)).not.toContain('repo');
  });

  it('check warns about a repository that uploads plaintext on purpose (encryption: none)', async () => {
    const { t, repo } = setup({});
    t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, upload: 's3://bucket/p', encryption: 'none', endpoint: 'https://127.0.0.1:9', retries: 0, timeout: 1 } } }));
    const result = await lifeboat(t, ['check', '--json'], { env: { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' } });
    const findings = JSON.parse(result.stdout).findings as Array<{ level: string; subject: string; message: string }>;
    expect(findings.filter((f) => f.subject === 'repository vault')).toEqual([{ level: 'warn', subject: 'repository vault', message: expect.stringContaining('uploads unencrypted archives to s3://bucket/p (encryption: none)') }]);
  });
});

// The module's manifests (parsed), oldest first, with their file names.
function manifests(repo: string): Array<{ file: string; manifest: Record<string, unknown> }> {
  return stored(repo)
    .filter((name) => name.endsWith('.manifest.json'))
    .map((name) => ({ file: path.join(repo, 'blog', name), manifest: JSON.parse(readFileSync(path.join(repo, 'blog', name), 'utf8')) as Record<string, unknown> }))
    .sort((a, b) => String(a.manifest.time).localeCompare(String(b.manifest.time)));
}

describe('tar with age encryption: what someone with write access but no key can do', () => {
  it("swapping archive B over A (with B's file list, size and sha256) fails restore and verify naming A's archive", async () => {
    const { t, data, repo } = setup({});
    t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, passwordFile: passFile(t) } } }));
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    writeFileSync(path.join(data, 'customer-list.csv'), 'mallory\n');
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    // A is the newest, so verify (which drills the latest) opens it too
    const [b, a] = manifests(repo);
    const archiveA = path.join(repo, 'blog', String(a.manifest.archive));
    writeFileSync(archiveA, readFileSync(path.join(repo, 'blog', String(b.manifest.archive))));
    const [listA, listB] = [a, b].map(({ manifest }) => manifest.list as { name: string });
    writeFileSync(path.join(repo, 'blog', listA.name), readFileSync(path.join(repo, 'blog', listB.name)));
    for (const field of ['archiveSize', 'archiveSha256']) a.manifest[field] = b.manifest[field];
    a.manifest.list = { ...listB, name: listA.name };
    writeFileSync(a.file, JSON.stringify(a.manifest));
    const expected = `${archiveA}: the manifest does not match its file list (id, time, archive): tampered with or swapped; nothing from it was used`;
    const restored = await lifeboat(t, ['restore', 'blog', String(a.manifest.id), '--target', path.join(t.dir, 'aside')]);
    expect(restored.exitCode).toBe(1);
    expect(restored.stderr).toContain(expected);
    expect(readdirSync(t.dir)).not.toContain('aside');
    const drill = await lifeboat(t, ['verify', 'blog']);
    expect(drill.exitCode).toBe(1);
    expect(drill.stderr).toContain(expected);
  });

  it('a plaintext snapshot planted in a repository with a key is refused by restore latest and verify, and snapshots warns', async () => {
    const { t, data, repo } = setup({});
    const keyed = JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, passwordFile: passFile(t) } } });
    t.write('lifeboat.yaml', keyed);
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    // the forger writes a newer, plaintext snapshot (here: Lifeboat without the key)
    writeFileSync(path.join(data, 'customer-list.csv'), 'mallory\n');
    t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo } } }));
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    t.write('lifeboat.yaml', keyed);
    const planted = manifests(repo)[1];
    const expected = `${path.join(repo, 'blog', String(planted.manifest.archive))}: refused: the snapshot is not encrypted, but repository vault has a key, so Lifeboat did not write it there (planted, or made before the key was added)`;
    const restored = await lifeboat(t, ['restore', 'blog', 'latest']);
    expect(restored.exitCode).toBe(1);
    expect(restored.stderr).toContain(expected);
    expect(readFileSync(path.join(data, 'customer-list.csv'), 'utf8')).toBe('mallory\n');
    const drill = await lifeboat(t, ['verify', 'blog']);
    expect(drill.exitCode).toBe(1);
    expect(drill.stderr).toContain(expected);
    const listed = await lifeboat(t, ['snapshots', 'blog']);
    expect(listed.stderr).toContain(`${expected}; restore and verify refuse it`);
  });

  it('a manifest whose time was edited (to make an old snapshot "latest") is refused: the id carries the time', async () => {
    const { t, repo } = setup({});
    t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, passwordFile: passFile(t) } } }));
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    const [old] = manifests(repo);
    const time = String(old.manifest.time);
    writeFileSync(old.file, JSON.stringify({ ...old.manifest, time: '2099-01-01T00:00:00.000Z' }));
    const restored = await lifeboat(t, ['restore', 'blog', String(old.manifest.id), '--target', path.join(t.dir, 'aside')]);
    expect(restored.exitCode).not.toBe(0);
    expect(restored.stderr).toContain(`${old.file}: refused: \`time\` is "2099-01-01T00:00:00.000Z", expected "${time}"`);
    expect(readdirSync(t.dir)).not.toContain('aside');
  });
});

describe('check on an encrypted tar repository', () => {
  // The findings about repository vault.
  async function findings(t: TestRoot): Promise<Array<{ level: string; subject: string; message: string }>> {
    const result = await lifeboat(t, ['check', '--json']);
    return (JSON.parse(result.stdout).findings as Array<{ level: string; subject: string; message: string }>).filter((f) => f.subject.startsWith('repository vault'));
  }

  it("opens the newest snapshot's sealed part: a wrong passphrase fails with restore's message; a missing identity on a recipients-only host warns", async () => {
    const { t, repo } = setup({});
    const file = passFile(t);
    t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, passwordFile: file } } }));
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    expect(await findings(t)).toEqual([{ level: 'ok', subject: 'repository vault (module blog)', message: expect.stringContaining('opens: 1 snapshot(s)') }]);
    passFile(t, 'not the one\n');
    const [newest] = manifests(repo);
    expect(await findings(t)).toEqual([{
      level: 'fail',
      subject: 'repository vault (module blog)',
      message: expect.stringContaining(`snapshot ${String(newest.manifest.id)} does not open: ${archiveOf(repo)}: cannot be decrypted with the passphrase in passwordFile ${file}: wrong key; set passwordFile (or passwordCommand) to the passphrase the archive was made with`),
    }]);

    const other = setup({});
    const { recipient } = keygen(other.t.dir);
    other.t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: other.repo, recipients: [recipient] } } }));
    expect((await lifeboat(other.t, ['backup', 'blog'])).exitCode).toBe(0);
    expect(await findings(other.t)).toEqual([{ level: 'warn', subject: 'repository vault (module blog)', message: expect.stringContaining('needs the private key, and identityFile is not set') }]);
  });

  it('names key files others can write (fail) or read (warn), with chmod 600', async () => {
    const { t, repo } = setup({});
    const file = passFile(t);
    chmodSync(file, 0o666);
    t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, passwordFile: file } } }));
    expect(await findings(t)).toContainEqual({ level: 'fail', subject: 'repository vault', message: `passwordFile ${file} is writable by its group and others (mode 0666): they can change the key; chmod 600 ${file}` });
    const { identityFile, recipient } = keygen(t.dir);
    chmodSync(identityFile, 0o644);
    t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, recipients: [recipient], identityFile } } }));
    expect(await findings(t)).toContainEqual({ level: 'warn', subject: 'repository vault', message: `identityFile ${identityFile} is readable by its group and others (mode 0644): they can read every backup; chmod 600 ${identityFile}` });
    chmodSync(identityFile, 0o600);
    expect((await findings(t)).filter((f) => f.subject === 'repository vault')).toEqual([]);
  });
});

describe('tar backup progress on a terminal', () => {
  // Runs `lifeboat backup blog` on a pty (script) with extra arguments and environment; returns what it drew.
  function onTerminal(t: TestRoot, args: string[], env: Record<string, string>): string {
    const command = ['node', BIN, '--root', t.root, '--state-dir', t.stateDir, ...args, 'backup', 'blog'].map((arg) => `'${arg}'`).join(' ');
    // a pty made by script has no size: stty gives it 200 columns, so no bar is cut short
    return execFileSync(requireTool('script'), ['-qec', `stty cols 200; ${command}`, '/dev/null'], { env: { ...process.env, TERM: 'xterm', ...env }, encoding: 'utf8', timeout: 300_000 });
  }

  it('shows a percentage, rate and ETA (the total from a walk); none with -q, TERM=dumb or LIFEBOAT_PROGRESS=0', async () => {
    const { t, data, repo } = setup({});
    writeFileSync(path.join(data, 'big.bin'), randomBytes(48 * 1024 * 1024));
    t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, passwordFile: passFile(t) } } }));
    const BAR = /blog: snapshot vault \[[#.]{20}\] +\d{1,3}% +[\d.]+ [KMG]?i?B \/ [\d.]+ [KMG]?i?B +[\d.]+ [KMG]?i?B\/s +ETA \d+:\d\d/;
    const drawn = onTerminal(t, [], {});
    expect(drawn).toMatch(BAR);
    expect(drawn).toMatch(/backup blog: ok/);
    for (const [args, env] of [[['-q'], {}], [[], { TERM: 'dumb' }], [[], { LIFEBOAT_PROGRESS: '0' }]] as Array<[string[], Record<string, string>]>) {
      const quiet = onTerminal(t, args, env);
      expect(quiet, `${args.join(' ')} ${JSON.stringify(env)}`).not.toMatch(/snapshot vault \[|ETA/);
    }
    expect(stored(repo).filter((name) => name.endsWith('.tar.zst.age'))).toHaveLength(4);
  });
});
