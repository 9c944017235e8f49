// A child process for the S3 tests: s3rver on 127.0.0.1 (HTTPS when given a key and certificate), with
// the two multipart calls s3rver 3.7 lacks added in front of its router: ListMultipartUploads
// (GET /bucket?uploads) and AbortMultipartUpload (DELETE /bucket/key?uploadId=ID), both over s3rver's
// own upload folders. Usage: node s3-server.mjs '{"directory":...,"port":0,"key":FILE,"cert":FILE,
// "buckets":[...],"accessKeyId":...,"secretAccessKey":...}'; prints {"port":N} once it listens.
// A misbehaving server on demand: HeadObject of a key under `tamper-etag/` answers a wrong ETag (32
// zeros), under `tamper-size/` one byte more than stored (the upload check must delete such objects).
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import S3rver from 's3rver';
import AWSAccount from 's3rver/lib/models/account.js';
import S3Error from 's3rver/lib/models/error.js';

const options = JSON.parse(process.argv[2] ?? '{}');
if (options.accessKeyId) AWSAccount.DUMMY_ACCOUNT.createKeyPair(options.accessKeyId, options.secretAccessKey);

const server = new S3rver({
  address: '127.0.0.1',
  port: options.port ?? 0,
  silent: true,
  directory: options.directory,
  vhostBuckets: false,
  configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  ...(options.key ? { key: readFileSync(options.key), cert: readFileSync(options.cert) } : {}),
});

// The folder where s3rver keeps the pending multipart uploads of a bucket (one folder per upload id).
const uploadsDir = (bucket) => path.join(options.directory, bucket, '._S3rver_uploads');

// ListMultipartUploads and AbortMultipartUpload; everything else goes on to s3rver's router.
async function multipartExtras(ctx, next) {
  const match = /^\/([^/]+)(?:\/(.*))?$/.exec(ctx.path);
  if (match && ctx.method === 'GET' && !match[2] && 'uploads' in ctx.query) {
    const prefix = String(ctx.query.prefix ?? '');
    const uploads = [];
    for (const id of await readdir(uploadsDir(match[1])).catch(() => [])) {
      const key = await readFile(path.join(uploadsDir(match[1]), id, 'key'), 'utf8').catch(() => undefined);
      if (key === undefined || !key.startsWith(prefix)) continue;
      const { mtime } = await stat(path.join(uploadsDir(match[1]), id));
      uploads.push({ Key: key, UploadId: id, Initiated: mtime.toISOString(), StorageClass: 'STANDARD' });
    }
    ctx.body = { ListMultipartUploadsResult: { Bucket: match[1], Prefix: prefix, MaxUploads: 1000, IsTruncated: false, ...(uploads.length ? { Upload: uploads } : {}) } };
    return;
  }
  if (match && ctx.method === 'DELETE' && match[2] && ctx.query.uploadId) {
    const dir = path.join(uploadsDir(match[1]), path.basename(String(ctx.query.uploadId)));
    const exists = await stat(dir).then(() => true, () => false);
    if (!exists) throw new S3Error('NoSuchUpload', 'The specified upload does not exist.');
    await rm(dir, { recursive: true, force: true });
    ctx.status = 204;
    return;
  }
  return next();
}

// HeadObject under tamper-etag/ and tamper-size/: s3rver's answer, with the ETag or the size made wrong.
async function tamperedHead(ctx, next) {
  await next();
  const match = /^\/[^/]+\/(tamper-etag|tamper-size)\//.exec(ctx.path);
  if (!match || ctx.method !== 'HEAD' || ctx.status !== 200) return;
  if (match[1] === 'tamper-etag') ctx.set('ETag', `"${'0'.repeat(32)}"`);
  else ctx.set('Content-Length', String(Number(ctx.response.get('Content-Length')) + 1));
}

server.middleware.splice(server.middleware.length - 1, 0, tamperedHead, multipartExtras);
const address = await server.run();
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
process.on('SIGTERM', () => server.close().finally(() => process.exit(0)));
