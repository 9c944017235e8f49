// Encrypted tar archives uploaded to a real S3 server (s3rver over HTTPS, a CA made with openssl):
// round trips with a passphrase and with recipients, restored on a fresh host from the bucket alone;
// what the bucket holds names no file; a byte flipped in the uploaded archive fails restore and verify
// naming the archive.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeTree } from '../helpers/fs-state.js';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { aws, objectKeys, S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, startS3, type S3Server } from '../helpers/s3.js';
import { requireTool } from '../ops/tools.js';

let server: S3Server;
const cleanups: Array<() => void> = [];
beforeAll(async () => {
  server = await startS3();
});
afterAll(async () => {
  await server?.stop();
});
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

const ENV_FILE = `AWS_ACCESS_KEY_ID=${S3_ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY=${S3_SECRET_KEY}\n`;
const REPO_ENV = { AWS_ACCESS_KEY_ID: '${AWS_ACCESS_KEY_ID}', AWS_SECRET_ACCESS_KEY: '${AWS_SECRET_ACCESS_KEY}' };

// A folder for keys and data, removed after the test.
function scratch(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-age-s3-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// A host whose module `blog` backs up `data` into a tar repository on S3 only, with `keys`.
function makeHost(host: string, prefix: string, data: string, keys: Record<string, unknown>): TestRoot {
  const t = makeRoot({ host, repositories: { offsite: { provider: 'tar', upload: `s3://${S3_BUCKET}/${prefix}`, endpoint: server.endpoint, cacert: server.caFile, partSize: 5 * 1024 * 1024, retries: 1, retryDelay: 0.05, env: REPO_ENV, ...keys } } });
  t.write('environment', ENV_FILE);
  t.module('blog', { folders: [data] });
  cleanups.push(() => t.cleanup());
  return t;
}

// Data with telling names: one small file and one of 6 MiB (two multipart parts after zstd: random).
function makeData(dir: string): void {
  mkdirSync(path.join(dir, 'hr'), { recursive: true });
  writeFileSync(path.join(dir, 'salaries-2026.csv'), 'alice,100\n');
  writeFileSync(path.join(dir, 'hr', 'passport-scans.bin'), randomBytes(6 * 1024 * 1024));
}

// The s3rver file that holds an object's bytes.
function objectFile(key: string): string {
  const file = path.join(server.dataDir, S3_BUCKET, `${key}._S3rver_object`);
  statSync(file);
  return file;
}

type KeyKind = 'passphrase' | 'recipients';

// Keys for a repository: a passphrase file, or an age-keygen identity and its public key.
function makeKeys(kind: KeyKind, dir: string): Record<string, unknown> {
  if (kind === 'passphrase') {
    const file = path.join(dir, 'tar.pass');
    writeFileSync(file, 'a long random passphrase for the test\n', { mode: 0o600 });
    return { passwordFile: file };
  }
  const identityFile = path.join(dir, 'age.key');
  execFileSync(requireTool('age-keygen'), ['-o', identityFile], { stdio: 'pipe' });
  const recipient = /public key: (age1[0-9a-z]+)/.exec(readFileSync(identityFile, 'utf8'))![1];
  return { recipients: [recipient], identityFile };
}

describe.each<KeyKind>(['passphrase', 'recipients'])('encrypted tar on S3 (%s)', (kind) => {
  it('round trip: the bucket holds ciphertext naming no file; a fresh host restores from it; verify passes', async () => {
    const dir = scratch();
    const data = path.join(dir, 'data', 'blog');
    makeData(data);
    const keys = makeKeys(kind, dir);
    const prefix = `age-${kind}-${randomBytes(4).toString('hex')}`;
    const old = makeHost('old-host', prefix, data, keys);
    const backup = await lifeboat(old, ['backup', 'blog']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const keysInBucket = await objectKeys(server, `${prefix}/`);
    expect(keysInBucket).toHaveLength(3);
    const archiveKey = keysInBucket.find((key) => key.endsWith('.tar.zst.age'))!;
    const manifestKey = keysInBucket.find((key) => key.endsWith('.manifest.json'))!;
    const list = readFileSync(objectFile(keysInBucket.find((key) => key.endsWith('.files.ndjson.gz.age'))!));
    expect(archiveKey).toBeDefined();
    const manifestText = await aws(server, ['s3', 'cp', `s3://${S3_BUCKET}/${manifestKey}`, '-']);
    const archive = readFileSync(objectFile(archiveKey));
    expect(archive.subarray(0, 31).toString('latin1')).toBe(`age-encryption.org/v1\n-> ${kind === 'passphrase' ? 'scrypt' : 'X25519'}`);
    expect(list.subarray(0, 31).toString('latin1')).toBe(archive.subarray(0, 31).toString('latin1'));
    for (const name of ['salaries-2026', 'passport-scans']) {
      expect(manifestText).not.toContain(name);
      expect(list.includes(Buffer.from(name))).toBe(false);
      expect(archive.includes(Buffer.from(name))).toBe(false);
    }
    const drill = await lifeboat(old, ['verify', 'blog']);
    expect(drill.exitCode, drill.stderr).toBe(0);

    const original = describeTree(data);
    rmSync(data, { recursive: true });
    const fresh = makeHost('new-host', prefix, data, keys);
    const listed = JSON.parse((await lifeboat(fresh, ['snapshots', '--json'])).stdout);
    expect(listed).toEqual([expect.objectContaining({ module: 'blog', host: 'old-host' })]);
    const restored = await lifeboat(fresh, ['restore', 'blog', listed[0].id]);
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(describeTree(data)).toEqual(original);
  });
});

describe('a tampered upload', () => {
  it('a byte flipped in the uploaded archive fails restore and verify, naming the archive', async () => {
    const dir = scratch();
    const data = path.join(dir, 'data', 'blog');
    makeData(data);
    const prefix = `age-tamper-${randomBytes(4).toString('hex')}`;
    const t = makeHost('h', prefix, data, makeKeys('recipients', dir));
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    const archiveKey = (await objectKeys(server, `${prefix}/`)).find((key) => key.endsWith('.tar.zst.age'))!;
    const file = objectFile(archiveKey);
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0x40;
    writeFileSync(file, bytes);
    const where = `s3://${S3_BUCKET}/${archiveKey} at ${server.endpoint}`;
    const aside = path.join(dir, 'aside');
    const restored = await lifeboat(t, ['restore', 'blog', '--target', aside]);
    expect(restored.exitCode).toBe(1);
    expect(restored.stderr).toContain(`${where}: damaged or tampered with: age decryption failed`);
    expect(readdirSync(dir)).not.toContain('aside');
    const drill = await lifeboat(t, ['verify', 'blog']);
    expect(drill.exitCode).toBe(1);
    expect(drill.stderr).toContain(`${where}: damaged or tampered with`);
  });
});
