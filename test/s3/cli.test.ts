// S3 end to end through the real CLI: back up to S3 (tar upload and restic s3:), then restore on a
// "fresh host" (a new root with only lifeboat.yaml, the module.yaml and the credentials, an empty state
// dir, the data gone); the faults (500s, silence, a killed server) with a real service around the
// backup; and the `lifeboat s3` helpers. Secrets must show up nowhere.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { BIN, lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { uploadsOnDisk } from './uploads-on-disk.js';
import { aws, objectKeys, S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, startFaultProxy, startS3, type FaultProxy, type S3Server } from '../helpers/s3.js';
import { createFakeService, type FakeService } from '../helpers/service.js';
import { describeTree } from '../helpers/fs-state.js';

const MiB = 1024 * 1024;
let server: S3Server;
let proxy: FaultProxy;
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  server = await startS3();
  proxy = await startFaultProxy(server);
});
afterAll(async () => {
  await proxy?.close();
  await server?.stop();
});
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

// The credentials live in the root's environment file; lifeboat.yaml refers to them.
const ENV_FILE = `AWS_ACCESS_KEY_ID=${S3_ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY=${S3_SECRET_KEY}\n`;
const REPO_ENV = { AWS_ACCESS_KEY_ID: '${AWS_ACCESS_KEY_ID}', AWS_SECRET_ACCESS_KEY: '${AWS_SECRET_ACCESS_KEY}' };

type RepoKind = 'tar' | 'restic';

// A repository on the test server: tar with upload only, or restic with an s3: url.
function repository(kind: RepoKind, prefix: string, extra: Record<string, unknown> = {}, endpoint = server.endpoint): Record<string, unknown> {
  if (kind === 'restic') return { provider: 'restic', url: `s3:${endpoint}/${S3_BUCKET}/${prefix}`, cacert: server.caFile, env: { ...REPO_ENV, RESTIC_PASSWORD: 'correct horse battery staple' }, ...extra };
  return { provider: 'tar', upload: `s3://${S3_BUCKET}/${prefix}`, encryption: 'none', endpoint, cacert: server.caFile, compression: 'none', partSize: 5 * MiB, retries: 1, retryDelay: 0.05, timeout: 2, env: REPO_ENV, ...extra };
}

// A root on `host` with one module `blog` whose data lives in `data` (outside the root).
function makeHost(host: string, repo: Record<string, unknown>, data: string, service?: FakeService): TestRoot {
  const t = makeRoot({ host, repositories: { offsite: repo } });
  t.write('environment', ENV_FILE);
  t.module('blog', { folders: [data], ...(service ? { service: { ...service.config, stopDuringBackup: true } } : {}), timeouts: { part: 120, killAfter: 1 } });
  cleanups.push(() => t.cleanup());
  return t;
}

// Fills a data folder: small files and one incompressible file of `big` bytes.
function makeData(dir: string, big = 64 * 1024): void {
  mkdirSync(path.join(dir, 'sub'), { recursive: true });
  writeFileSync(path.join(dir, 'notes.txt'), 'remember the milk\n');
  writeFileSync(path.join(dir, 'sub', 'blob.bin'), randomBytes(big));
}

// A temp folder for data, removed after the test.
function dataDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-s3-data-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'blog');
}

// No secret in anything a run printed.
function expectNoSecrets(...outputs: string[]): void {
  for (const output of outputs) {
    expect(output).not.toContain(S3_SECRET_KEY);
    expect(output).not.toContain(S3_ACCESS_KEY);
  }
}

describe.each<RepoKind>(['tar', 'restic'])('%s on S3 through the CLI', (kind) => {
  it('restores on a fresh host from the repository alone; snapshots --host tells the hosts apart', async () => {
    const data = dataDir();
    makeData(data, 2 * MiB);
    const prefix = `fresh-${kind}-${randomBytes(4).toString('hex')}`;
    const old = makeHost('old-host', repository(kind, prefix), data);
    const first = await lifeboat(old, ['backup', 'blog', '--json', '-v']);
    expect(first.exitCode, first.stderr).toBe(0);
    expectNoSecrets(first.stdout, first.stderr);
    const original = describeTree(data);
    const drill = await lifeboat(old, ['verify', 'blog', '--json']);
    expect(drill.exitCode, drill.stderr).toBe(0);

    // the old machine is gone: a new root with the configuration and credentials only, no state, no data
    rmSync(data, { recursive: true });
    const fresh = makeHost('new-host', repository(kind, prefix), data);
    expect(readdirSync(fresh.root).sort()).toEqual(['environment', 'lifeboat.yaml', 'modules']);
    expect(existsSync(fresh.stateDir)).toBe(false);
    const listed = await lifeboat(fresh, ['snapshots', '--json']);
    expect(listed.exitCode, listed.stderr).toBe(0);
    const snapshots = JSON.parse(listed.stdout);
    expect(snapshots).toEqual([expect.objectContaining({ module: 'blog', repository: 'offsite', host: 'old-host' })]);
    expect(JSON.parse((await lifeboat(fresh, ['snapshots', '--host', 'old-host', '--json'])).stdout)).toHaveLength(1);
    expect(JSON.parse((await lifeboat(fresh, ['snapshots', '--host', 'new-host', '--json'])).stdout)).toEqual([]);

    const restored = await lifeboat(fresh, ['restore', 'blog', snapshots[0].id, '--json']);
    expect(restored.exitCode, restored.stderr).toBe(0);
    expectNoSecrets(restored.stdout, restored.stderr);
    expect(describeTree(data)).toEqual(original);

    // the new host's own backups are told apart by host
    expect((await lifeboat(fresh, ['backup', 'blog'])).exitCode).toBe(0);
    const byHost = JSON.parse((await lifeboat(fresh, ['snapshots', '--host', 'new-host', '--json'])).stdout);
    expect(byHost.length).toBeGreaterThanOrEqual(1);
    expect(byHost.every((s: { host: string }) => s.host === 'new-host')).toBe(true);
  });
});

describe('faults during an upload to S3 (tar)', () => {
  let service: FakeService;
  afterEach(() => service?.cleanup());

  // A host with a running service whose backup goes to S3 through `endpoint`, and 12 MiB to upload.
  async function faultHost(endpoint: string, extra: Record<string, unknown> = {}) {
    service = await createFakeService();
    const data = dataDir();
    makeData(data, 12 * MiB);
    const prefix = `fault-${randomBytes(4).toString('hex')}`;
    const t = makeHost('h', repository('tar', prefix, extra, endpoint), data, service);
    return { t, prefix: `${prefix}/`, data };
  }

  // After a failed run: exit 1, the service runs, nothing is listed or stored, no upload is pending.
  async function expectCleanFailure(t: TestRoot, prefix: string, result: { exitCode?: number; stdout: string; stderr: string }, message: RegExp) {
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toMatch(message);
    expectNoSecrets(result.stdout, result.stderr);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, modules: [{ module: 'blog', ok: false }] });
    expect(service.isRunning()).toBe(true);
    expect(JSON.parse((await lifeboat(t, ['snapshots', '--json'])).stdout)).toEqual([]);
    expect(await objectKeys(server, prefix)).toEqual([]);
  }

  it('HTTP 500 for part uploads: fails after retries, cleanly; the next run succeeds', async () => {
    const { t, prefix } = await faultHost(proxy.endpoint);
    proxy.partsSeen = 0;
    proxy.passParts = 1;
    proxy.mode = 'fail-parts';
    let result;
    try {
      result = await lifeboat(t, ['backup', 'blog', '--json']);
    } finally {
      proxy.mode = 'pass';
    }
    await expectCleanFailure(t, prefix, result, /HTTP 500.*after 2 attempts/);
    expect(uploadsOnDisk(server, prefix)).toEqual([]);
    const again = await lifeboat(t, ['backup', 'blog', '--json']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse((await lifeboat(t, ['snapshots', '--json'])).stdout)).toHaveLength(1);
  });

  it('a server that stops answering: fails after the timeout and retries, cleanly', async () => {
    const { t, prefix } = await faultHost(proxy.endpoint, { timeout: 1 });
    proxy.partsSeen = 0;
    proxy.passParts = 0;
    proxy.mode = 'stall-parts';
    let result;
    try {
      result = await lifeboat(t, ['backup', 'blog', '--json']);
    } finally {
      proxy.mode = 'pass';
    }
    await expectCleanFailure(t, prefix, result, /no answer within 1 s/);
    expect(uploadsOnDisk(server, prefix)).toEqual([]);
  });

  it('the server killed mid-upload: fails cleanly; the next run aborts the orphaned upload and succeeds', async () => {
    // one part at a time, so the kill lands between the first part and the completion
    const { t, prefix } = await faultHost(server.endpoint, { queueSize: 1 });
    const running = lifeboat(t, ['backup', 'blog', '--json']);
    const deadline = Date.now() + 60_000;
    while (!partStored(server, prefix)) {
      if (Date.now() > deadline) throw new Error('no part reached the server');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    server.kill();
    const result = await running;
    await server.restart();
    await expectCleanFailure(t, prefix, result, /cannot reach the service|ECONNRESET|socket hang up/);
    // the dead server could not be told to abort: the upload is pending, and journalled
    expect(uploadsOnDisk(server, prefix)).toHaveLength(1);
    expect(readdirSync(path.join(t.stateDir, 's3-uploads'))).toHaveLength(1);
    const again = await lifeboat(t, ['backup', 'blog', '--json']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/aborted the multipart upload/);
    expect(uploadsOnDisk(server, prefix)).toEqual([]);
    expect(readdirSync(path.join(t.stateDir, 's3-uploads'))).toEqual([]);
    expect(JSON.parse((await lifeboat(t, ['snapshots', '--json'])).stdout)).toHaveLength(1);
  });
});

describe('lifeboat s3 ls|put|get', () => {
  // 17 MiB: above the 16 MiB bound on S3 answers' bodies (a HEAD announces the object's size, sends none).
  it('puts, lists and gets objects under a repository prefix, checked by the awscli, with no secret shown', async () => {
    const dir = dataDir();
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'dump.bin');
    writeFileSync(file, randomBytes(17 * MiB));
    const prefix = `helpers-${randomBytes(4).toString('hex')}`;
    const t = makeHost('h', repository('tar', prefix), dir);
    const put = await lifeboat(t, ['s3', 'put', file, 'parts/dump.bin', '--repo', 'offsite', '--json', '-v']);
    expect(put.exitCode, put.stderr).toBe(0);
    expect(JSON.parse(put.stdout)).toMatchObject({ key: `${prefix}/parts/dump.bin`, size: 17 * MiB, parts: 4 });
    expectNoSecrets(put.stdout, put.stderr);
    const head = JSON.parse(await aws(server, ['s3api', 'head-object', '--bucket', S3_BUCKET, '--key', `${prefix}/parts/dump.bin`]));
    expect(head.ContentLength).toBe(17 * MiB);

    const ls = await lifeboat(t, ['s3', 'ls', '--repo', 'offsite']);
    expect(ls.stdout).toMatch(new RegExp(`DIR\\s+${prefix}/parts/`));
    const json = JSON.parse((await lifeboat(t, ['s3', 'ls', 'parts/', '--repo', 'offsite', '--json'])).stdout);
    expect(json).toEqual([expect.objectContaining({ key: `${prefix}/parts/dump.bin`, size: 17 * MiB })]);

    const copy = path.join(dir, 'copy.bin');
    const get = await lifeboat(t, ['s3', 'get', 'parts/dump.bin', copy, '--repo', 'offsite']);
    expect(get.exitCode, get.stderr).toBe(0);
    expect(readFileSync(copy).equals(readFileSync(file))).toBe(true);
    const fromStdin = await lifeboat(t, ['s3', 'put', '-', 'parts/stdin.txt', '--repo', 'offsite'], { input: 'from a pipe\n' });
    expect(fromStdin.exitCode, fromStdin.stderr).toBe(0);
    const toStdout = await lifeboat(t, ['s3', 'get', `s3://${S3_BUCKET}/${prefix}/parts/stdin.txt`, '-', '--repo', 'offsite']);
    expect(toStdout.stdout).toBe('from a pipe');

    const missing = await lifeboat(t, ['s3', 'get', 'parts/nope', copy, '--repo', 'offsite']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/does not exist/);
    const bad = await lifeboat(t, ['s3', 'frobnicate']);
    expect(bad.exitCode).toBe(2);
  });

  it('s3 put stopped by SIGTERM mid-upload aborts its multipart upload: nothing is left in the bucket', async () => {
    const prefix = `put-term-${randomBytes(4).toString('hex')}`;
    const t = makeHost('h', repository('tar', prefix), dataDir());
    // 6 MiB from a pipe that then stays open: the first 5 MiB part is stored, the upload waits for the rest
    const running = execa('node', [BIN, '--root', t.root, '--state-dir', t.stateDir, 's3', 'put', '-', 'parts/stream.bin', '--repo', 'offsite'], { reject: false, stdin: 'pipe' });
    running.stdin!.write(randomBytes(6 * MiB));
    const deadline = Date.now() + 60_000;
    while (!partStored(server, prefix)) {
      if (Date.now() > deadline) throw new Error('no part reached the server');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    running.kill('SIGTERM');
    const result = await running;
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^lifeboat: upload to s3://${S3_BUCKET}/${prefix}/parts/stream\\.bin at https://127\\.0\\.0\\.1:\\d+: stopped$`));
    expect(uploadsOnDisk(server, prefix)).toEqual([]);
    expect(await objectKeys(server, prefix)).toEqual([]);
  });

  it('works from the AWS_* variables alone, without a root', async () => {
    const dir = dataDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'a.txt'), 'hello\n');
    const env = { ...server.env, AWS_ENDPOINT_URL: server.endpoint };
    const nowhere = { root: path.join(dir, 'no-root'), stateDir: path.join(dir, 'no-state') };
    const put = await lifeboat(nowhere, ['s3', 'put', path.join(dir, 'a.txt'), `s3://${S3_BUCKET}/env-only/a.txt`], { env });
    expect(put.exitCode, put.stderr).toBe(0);
    const ls = await lifeboat(nowhere, ['s3', 'ls', `s3://${S3_BUCKET}/env-only`, '--json'], { env });
    expect(JSON.parse(ls.stdout)).toEqual([expect.objectContaining({ key: 'env-only/a.txt', size: 6 })]);
    const noCredentials = await lifeboat(nowhere, ['s3', 'ls', `s3://${S3_BUCKET}/env-only`], { env: { AWS_ENDPOINT_URL: server.endpoint } });
    expect(noCredentials.exitCode).toBe(2);
    expect(noCredentials.stderr).toMatch(/no S3 credentials/);
  });
});

// True once s3rver holds a complete first part of an upload under the prefix (its files on disk).
function partStored(s3: S3Server, prefix: string): boolean {
  const dir = path.join(s3.dataDir, S3_BUCKET, '._S3rver_uploads');
  try {
    return readdirSync(dir).some((id) => existsSync(path.join(dir, id, '1.md5')) && readFileSync(path.join(dir, id, 'key'), 'utf8').startsWith(prefix));
  } catch {
    return false;
  }
}
