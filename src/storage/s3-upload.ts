// Streaming multipart upload: @aws-sdk/lib-storage cuts the stream into parts (partSize) and sends
// queueSize of them at once, so nothing is staged on disk and memory stays near partSize x queueSize.
// Around it, per upload: every part carries Content-MD5 (S3 rejects a part that arrived damaged) and its
// ETag must echo that MD5; the first part that fails for good stops the whole upload, the parts still in
// flight are waited for, and the multipart upload is aborted; after completion HeadObject must show the
// size sent and, where the server uses S3's multipart ETag, the MD5 of the part MD5s.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AbortMultipartUploadCommand, DeleteObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { LifeboatError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { createS3Client, describeS3Error, isNotFound } from './s3-client.js';
import { describeLocation, type S3Settings } from './s3-settings.js';

export interface UploadOptions {
  key: string;
  body: Readable;
  contentType?: string;
  signal?: AbortSignal;
  log: Logger;
  // Bytes sent so far (parts acknowledged by the server).
  onProgress?: (bytes: number) => void;
  // Called with the multipart upload id once it exists and with undefined once it is completed or
  // aborted: a journal of uploads to abort later if this process dies first (s3-pending.ts).
  onUploadId?: (uploadId: string | undefined) => void;
}

export interface UploadResult {
  key: string;
  size: number;
  etag: string;
  parts: number;
  // How the whole object was checked after the upload: its ETag, or (servers whose multipart ETag is
  // not S3's MD5 of part MD5s) its size, every part having been checked on its own.
  verified: 'etag' | 'size';
}

type Next = (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>;

// Uploads a stream to one key; on any failure nothing is left (no object, no pending multipart upload).
export async function uploadStream(settings: S3Settings, options: UploadOptions): Promise<UploadResult> {
  const client = createS3Client(settings);
  const { key, log } = options;
  const where = describeLocation(settings, key);
  const parts = new Map<number, { md5: Buffer; size: number }>();
  const inflight = new Set<Promise<unknown>>();
  let uploadId: string | undefined;
  let failure: unknown;
  let upload: Upload | undefined;
  const fail = (error: unknown) => {
    failure ??= error;
    void upload?.abort();
  };

  // Sees every request of this upload: adds Content-MD5 to parts, checks their ETags, notes the upload id.
  client.middlewareStack.add(
    ((next: Next, context: { commandName?: string }) => async (args: { input: Record<string, unknown> }) => {
      const command = context.commandName ?? '';
      const sending = (async () => {
        if (command !== 'UploadPartCommand' && command !== 'PutObjectCommand') {
          const result = await next(args);
          if (command === 'CreateMultipartUploadCommand') {
            uploadId = result.output.UploadId as string | undefined;
            options.onUploadId?.(uploadId);
            log.debug(`multipart upload ${uploadId} of ${where} started`);
          }
          return result;
        }
        const body = args.input.Body as Uint8Array;
        const number = (args.input.PartNumber as number | undefined) ?? 1;
        const md5 = createHash('md5').update(body).digest();
        args.input.ContentMD5 = md5.toString('base64');
        const result = await next(args);
        const etag = String(result.output.ETag ?? '').replace(/"/g, '').toLowerCase();
        if (result.output.ServerSideEncryption !== 'aws:kms' && etag !== md5.toString('hex')) {
          throw new LifeboatError('PROVIDER', `upload to ${where}: part ${number} was stored with ETag ${etag || 'none'}, not the MD5 of what was sent (${md5.toString('hex')})`, {
            hint: 'the data was damaged on the way or the server misbehaves; the upload was aborted',
          });
        }
        parts.set(number, { md5, size: body.byteLength });
        return result;
      })();
      inflight.add(sending);
      try {
        return await sending;
      } catch (error) {
        if (command === 'UploadPartCommand' || command === 'PutObjectCommand' || command === 'CreateMultipartUploadCommand') fail(error);
        throw error;
      } finally {
        inflight.delete(sending);
      }
    }) as never,
    { step: 'initialize', name: 'lifeboatPartIntegrity' },
  );

  const onAbort = () => fail(new LifeboatError('INTERRUPTED', `upload to ${where}: stopped`));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    upload = new Upload({
      client,
      params: { Bucket: settings.bucket, Key: key, Body: options.body, ContentType: options.contentType ?? 'application/octet-stream' },
      partSize: settings.partSize,
      queueSize: settings.queueSize,
      // Lifeboat aborts the upload itself, after the parts still in flight have settled.
      leavePartsOnError: true,
    });
    if (options.onProgress) upload.on('httpUploadProgress', (progress) => options.onProgress!(progress.loaded ?? 0));
    if (options.signal?.aborted) onAbort();
    try {
      await upload.done();
      if (failure) throw failure;
    } catch (error) {
      const described = describeS3Error(failure ?? error, 'upload to', settings, key);
      // Stops whatever feeds the body at once (the parts in flight and the abort still take a moment).
      if (!options.body.destroyed) options.body.destroy(described);
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
      await abortUpload(client, settings, key, uploadId, log, options);
      throw described;
    }
    options.onUploadId?.(undefined);
    return await verifyUpload(client, settings, key, parts, log);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    client.destroy();
  }
}

// Aborts a multipart upload (the client retries it); when even that fails, the id stays in the journal.
async function abortUpload(client: S3Client, settings: S3Settings, key: string, uploadId: string | undefined, log: Logger, options: UploadOptions): Promise<void> {
  if (!uploadId) return;
  try {
    await client.send(new AbortMultipartUploadCommand({ Bucket: settings.bucket, Key: key, UploadId: uploadId }));
    log.debug(`multipart upload ${uploadId} of ${describeLocation(settings, key)} aborted`);
    options.onUploadId?.(undefined);
  } catch (error) {
    if (isNotFound(error)) {
      options.onUploadId?.(undefined);
      return;
    }
    log.warn(`${describeS3Error(error, 'aborting the multipart upload to', settings, key).message}; upload ${uploadId} is removed by the next backup`);
  }
}

// Checks the completed object: its size, and its ETag when the server computes S3's multipart form.
async function verifyUpload(client: S3Client, settings: S3Settings, key: string, parts: Map<number, { md5: Buffer; size: number }>, log: Logger): Promise<UploadResult> {
  const where = describeLocation(settings, key);
  const ordered = [...parts.entries()].sort(([a], [b]) => a - b).map(([, part]) => part);
  const size = ordered.reduce((sum, part) => sum + part.size, 0);
  let head;
  try {
    head = await client.send(new HeadObjectCommand({ Bucket: settings.bucket, Key: key }));
  } catch (error) {
    throw describeS3Error(error, 'checking the upload of', settings, key);
  }
  const etag = String(head.ETag ?? '').replace(/"/g, '').toLowerCase();
  const multipartForm = `${createHash('md5').update(Buffer.concat(ordered.map((p) => p.md5))).digest('hex')}-${ordered.length}`;
  const plain = ordered.length === 1 ? ordered[0].md5.toString('hex') : undefined;
  const problems: string[] = [];
  if (head.ContentLength !== size) problems.push(`it holds ${head.ContentLength} bytes, ${size} were sent`);
  let verified: UploadResult['verified'] = 'etag';
  if (etag !== multipartForm && etag !== plain) {
    if (head.ServerSideEncryption === 'aws:kms' || (!etag.includes('-') && !plain)) verified = 'size';
    else problems.push(`its ETag is ${etag}, expected ${plain ?? multipartForm}`);
  }
  if (problems.length) {
    await client.send(new DeleteObjectCommand({ Bucket: settings.bucket, Key: key })).catch(() => {});
    throw new LifeboatError('PROVIDER', `upload to ${where} is not what was sent: ${problems.join('; ')}; the object was deleted`, { hint: 'the server misbehaves or the data was damaged on the way; try again' });
  }
  log.debug(`uploaded ${where}: ${size} bytes in ${ordered.length} part(s), verified by ${verified === 'etag' ? 'ETag' : 'size and per-part MD5'}`);
  return { key, size, etag, parts: ordered.length, verified };
}
