// The S3 storage layer against a real S3 server (s3rver over HTTPS): streaming multipart uploads checked
// with the awscli, resumable downloads, and the faults: 500s, silence, a killed server.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LifeboatError } from '../../src/errors.js';
import { Logger } from '../../src/log/logger.js';
import { S3Store } from '../../src/storage/s3.js';
import { PendingUploads } from '../../src/storage/s3-pending.js';
import { parseS3Url, resolveS3Settings, type S3Options } from '../../src/storage/s3-settings.js';
import { uploadsOnDisk, objectOnDisk } from './uploads-on-disk.js';
import { aws, objectKeys, S3_BUCKET, S3_SECRET_KEY, startFaultProxy, startS3, type FaultProxy, type S3Server } from '../helpers/s3.js';

const MiB = 1024 * 1024;
let server: S3Server;
let proxy: FaultProxy;

beforeAll(async () => {
  server = await startS3();
  proxy = await startFaultProxy(server);
});
afterAll(async () => {
  await proxy?.close();
  await server?.stop();
});

// A store on a fresh prefix, through the proxy unless direct; small parts, quick retries.
function openStore(prefix: string, options: S3Options & { direct?: boolean } = {}): S3Store {
  const settings = resolveS3Settings(`s3://${S3_BUCKET}/${prefix}`, { endpoint: options.direct ? server.endpoint : proxy.endpoint, cacert: server.caFile, partSize: 5 * MiB, queueSize: 2, retries: 2, retryDelay: 0.05, timeout: 5, ...options }, server.env, 'test');
  return new S3Store(settings);
}

// Lines logged at debug level, to check what the logs say (and that no secret is in them).
function recordingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = new Logger({ level: 'debug', sink: { write: (line) => lines.push(line) } });
  log.masker.add(S3_SECRET_KEY);
  return { log, lines };
}

// True once s3rver holds a complete first part of an upload under the prefix (its files on disk).
function partStored(s3: S3Server, prefix: string): boolean {
  const dir = path.join(s3.dataDir, S3_BUCKET, '._S3rver_uploads');
  try {
    return readdirSync(dir).some((id) => existsSync(path.join(dir, id, '1.md5')) && readFileSync(path.join(dir, id, 'key'), 'utf8').startsWith(prefix));
  } catch {
    return false;
  }
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

// Feeds a buffer as a stream of 64 KiB chunks (as a tar pipeline would).
function streamOf(data: Buffer): Readable {
  return Readable.from((function* () {
    for (let i = 0; i < data.length; i += 64 * 1024) yield data.subarray(i, i + 64 * 1024);
  })());
}

describe('S3 storage', () => {
  it('streams a multipart upload that the awscli reads back byte for byte', async () => {
    const data = randomBytes(13 * MiB + 123);
    const store = openStore('multi');
    const { log, lines } = recordingLogger();
    const result = await store.upload({ key: store.key('a/archive.bin'), body: streamOf(data), log });
    expect(result).toMatchObject({ key: 'multi/a/archive.bin', size: data.length, parts: 3 });
    // s3rver's ETag of a multipart object is the MD5 of the whole (not S3's MD5 of the part MD5s, -N): the
    // object is checked by its size, each part having been checked by its MD5
    expect(result.verified).toBe('size');
    expect(result.etag).toBe(createHash('md5').update(data).digest('hex'));
    const head = JSON.parse(await aws(server, ['s3api', 'head-object', '--bucket', S3_BUCKET, '--key', 'multi/a/archive.bin']));
    expect(head.ContentLength).toBe(data.length);
    expect(objectOnDisk(server, 'multi/a/archive.bin')).toBe(true);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-s3-get-'));
    try {
      await aws(server, ['s3', 'cp', '--only-show-errors', 's3://lifeboat/multi/a/archive.bin', path.join(dir, 'copy')]);
      expect(sha256(readFileSync(path.join(dir, 'copy')))).toBe(sha256(data));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(uploadsOnDisk(server, 'multi/')).toEqual([]);
    expect(lines.join('\n')).not.toContain(S3_SECRET_KEY);
    store.close();
  });

  it('uploads a small body in one request checked by its ETag, and reads small objects', async () => {
    const store = openStore('small');
    const result = await store.upload({ key: store.key('x.txt'), body: streamOf(Buffer.from('hello\n')), log: recordingLogger().log });
    expect(result).toMatchObject({ size: 6, parts: 1, verified: 'etag', etag: createHash('md5').update('hello\n').digest('hex') });
    await store.putText(store.key('m.json'), '{"a":1}');
    expect(await store.getText(store.key('m.json'))).toBe('{"a":1}');
    expect(await store.getText(store.key('missing.json'))).toBeUndefined();
    expect(await store.head(store.key('missing.json'))).toBeUndefined();
    expect((await store.list('small/')).map((o) => o.key)).toEqual(['small/m.json', 'small/x.txt']);
    await store.remove(store.key('x.txt'));
    await store.remove(store.key('never-there'));
    expect(await objectKeys(server, 'small/')).toEqual(['small/m.json']);
    store.close();
  });

  it('downloads with a resume when the connection breaks off mid-body', async () => {
    const data = randomBytes(3 * MiB);
    const store = openStore('resume');
    await store.upload({ key: store.key('blob'), body: streamOf(data), log: recordingLogger().log });
    proxy.cutDownloads = 1;
    const { log, lines } = recordingLogger();
    const chunks: Buffer[] = [];
    for await (const chunk of store.download({ key: store.key('blob'), size: data.length, log })) chunks.push(chunk as Buffer);
    expect(proxy.cutDownloads).toBe(0);
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(data));
    expect(lines.some((line) => /broke off after \d+ bytes.*resuming/.test(line))).toBe(true);
    store.close();
  });

  it('fails cleanly after retries when part uploads get HTTP 500: no object, no pending upload', async () => {
    const store = openStore('fail500');
    proxy.partsSeen = 0;
    proxy.passParts = 1;
    proxy.mode = 'fail-parts';
    try {
      const error = await store.upload({ key: store.key('archive'), body: streamOf(randomBytes(16 * MiB)), log: recordingLogger().log }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LifeboatError);
      expect((error as Error).message).toMatch(/HTTP 500.*after 3 attempts/);
      expect(proxy.partsSeen).toBeGreaterThanOrEqual(4); // the first part, then 3 attempts of another
    } finally {
      proxy.mode = 'pass';
    }
    expect(uploadsOnDisk(server, 'fail500/')).toEqual([]);
    expect(await objectKeys(server, 'fail500/')).toEqual([]);
    store.close();
  });

  it('fails cleanly after retries when the server stops answering part uploads', async () => {
    const store = openStore('stall', { timeout: 1 });
    proxy.partsSeen = 0;
    proxy.passParts = 0;
    proxy.mode = 'stall-parts';
    try {
      const error = await store.upload({ key: store.key('archive'), body: streamOf(randomBytes(11 * MiB)), log: recordingLogger().log }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LifeboatError);
      expect((error as Error).message).toMatch(/no answer within 1 s/);
    } finally {
      proxy.mode = 'pass';
    }
    expect(uploadsOnDisk(server, 'stall/')).toEqual([]);
    expect(await objectKeys(server, 'stall/')).toEqual([]);
    store.close();
  });

  it('journals an upload it could not abort (server killed) and aborts it on the next cleanup', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-s3-state-'));
    const journal = new PendingUploads(stateDir);
    const store = openStore('killed', { direct: true, retries: 1, timeout: 2 });
    const body = new Readable({ read() {} });
    let sent = 0;
    let killed = false;
    const feed = setInterval(() => {
      // once the first part is stored, the server dies mid-stream
      if (!killed && partStored(server, 'killed/')) {
        server.kill();
        killed = true;
      }
      if (sent < 40) body.push(randomBytes(MiB));
      if (++sent === 40) body.push(null);
    }, 20);
    try {
      const error = await store.upload({ key: store.key('archive'), body, log: recordingLogger().log }, journal).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LifeboatError);
      expect((error as Error).message).toMatch(/cannot reach the service \(ECONNREFUSED\)|ECONNRESET|socket hang up/);
    } finally {
      clearInterval(feed);
      await server.restart();
    }
    const left = journal.entries();
    expect(left).toHaveLength(1);
    expect(uploadsOnDisk(server, 'killed/')).toEqual([expect.objectContaining({ Key: 'killed/archive', UploadId: left[0].uploadId })]);
    const again = openStore('killed', { direct: true });
    expect(await again.abortStaleUploads('killed/', recordingLogger().log, journal)).toBe(1);
    expect(journal.entries()).toEqual([]);
    expect(uploadsOnDisk(server, 'killed/')).toEqual([]);
    store.close();
    again.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it.for([
    { what: 'an ETag that is not the MD5 sent (one request)', prefix: 'tamper-etag', size: 6, message: /its ETag is 0{32}, expected [0-9a-f]{32}; the object was deleted/ },
    { what: 'a size that is not the size sent (multipart)', prefix: 'tamper-size', size: 11 * MiB, message: new RegExp(`it holds ${11 * MiB + 1} bytes, ${11 * MiB} were sent; the object was deleted`) },
  ])('deletes an object whose HeadObject shows $what', async ({ prefix, size, message }) => {
    // test/helpers/s3-server.mjs answers HeadObject under these prefixes with a wrong ETag or size
    const store = openStore(prefix, { direct: true });
    const key = store.key('archive');
    const error = await store.upload({ key, body: streamOf(randomBytes(size)), log: recordingLogger().log }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LifeboatError);
    expect((error as Error).message).toMatch(/^upload to .*archive.* is not what was sent: /);
    expect((error as Error).message).toMatch(message);
    expect(objectOnDisk(server, key)).toBe(false);
    expect(uploadsOnDisk(server, `${prefix}/`)).toEqual([]);
    store.close();
  });

  it('names the fix for a missing bucket, missing credentials, an untrusted certificate and a bad URL', async () => {
    const nobucket = new S3Store(resolveS3Settings('s3://no-such-bucket/p', { endpoint: server.endpoint, cacert: server.caFile, retries: 0 }, server.env, 'test'));
    await expect(nobucket.list('p/')).rejects.toThrow(/bucket "no-such-bucket" does not exist/);
    nobucket.close();
    const untrusted = new S3Store(resolveS3Settings('s3://lifeboat/p', { endpoint: server.endpoint, retries: 0 }, { ...server.env, AWS_CA_BUNDLE: undefined }, 'test'));
    const error = (await untrusted.list('p/').catch((e: unknown) => e)) as LifeboatError;
    expect(error.message).toMatch(/TLS certificate is not trusted/);
    expect(error.hint).toMatch(/cacert/);
    untrusted.close();
    expect(() => resolveS3Settings('s3://lifeboat/p', {}, { AWS_ACCESS_KEY_ID: 'x' }, 'repository "offsite"')).toThrow(/repository "offsite": no S3 credentials/);
    expect(() => parseS3Url('https://bucket/p', 'x')).toThrow(/not an S3 location/);
    expect(parseS3Url('s3://bucket/a/b/', 'x')).toEqual({ bucket: 'bucket', prefix: 'a/b' });
    expect(parseS3Url('s3://bucket', 'x')).toEqual({ bucket: 'bucket', prefix: '' });
  });
});
