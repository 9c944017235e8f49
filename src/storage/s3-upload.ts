// Streaming multipart upload on the client-s3 commands. The stream is cut into parts (part-reader.ts,
// reused buffers) and queueSize parts are in flight at once, so nothing is staged on disk and memory
// stays near (queueSize + 1) x partSize. Each part carries Content-MD5 (S3 refuses a part that arrived
// damaged) and its ETag must echo that MD5; a part is retried with backoff on 5xx, throttling, timeouts
// and network errors; the first part that fails for good stops the upload: the others are cancelled,
// and the multipart upload is aborted once they have settled. After completion, HeadObject must show
// the size sent and, where the server uses S3's multipart ETag, the MD5 of the part MD5s.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { LifeboatError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { PartReader, type Part } from './part-reader.js';
import { createS3Client, describeS3Error, isNotFound, isTransientS3Error } from './s3-client.js';
import { describeLocation, MAX_RETRY_DELAY_MS, type S3Settings } from './s3-settings.js';

export interface UploadOptions {
  key: string;
  body: Readable;
  contentType?: string;
  signal?: AbortSignal;
  log: Logger;
  // Bytes stored so far (parts acknowledged by the server).
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

interface SentPart {
  number: number;
  md5: Buffer;
  size: number;
  etag: string;
}

// Slices a part is written in: TLS encrypts slice by slice instead of a second copy of the whole part.
const SLICE = 256 * 1024;

// Uploads a stream to one key; on any failure nothing is left (no object, no pending multipart upload).
export async function uploadStream(settings: S3Settings, options: UploadOptions): Promise<UploadResult> {
  const client = createS3Client(settings);
  const where = describeLocation(settings, options.key);
  const cancel = new AbortController();
  const onAbort = () => {
    const stopped = new LifeboatError('INTERRUPTED', `upload to ${where}: stopped`);
    cancel.abort(stopped);
    // A body still waiting for its next bytes (a pipe kept open) must not hold the abort up.
    if (!options.body.destroyed) options.body.destroy(stopped);
  };
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const reader = new PartReader(options.body, settings.partSize);
  let uploadId: string | undefined;
  try {
    const first = await reader.next().catch((error: unknown) => {
      throw describeS3Error(error, 'upload to', settings, options.key);
    });
    cancel.signal.throwIfAborted();
    if (!first || first.last) return await putSingle(client, settings, options, first?.data ?? Buffer.alloc(0), cancel.signal);
    const created = await client.send(new CreateMultipartUploadCommand({ Bucket: settings.bucket, Key: options.key, ContentType: options.contentType ?? 'application/octet-stream' }), { abortSignal: cancel.signal });
    uploadId = created.UploadId!;
    options.onUploadId?.(uploadId);
    options.log.debug(`multipart upload ${uploadId} of ${where} started (parts of ${settings.partSize} bytes, ${settings.queueSize} at once)`);
    const parts = await sendParts(client, settings, options, uploadId, reader, first, cancel);
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: settings.bucket,
        Key: options.key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts.map((part) => ({ PartNumber: part.number, ETag: part.etag })) },
      }),
      { abortSignal: cancel.signal },
    );
    options.onUploadId?.(undefined);
    uploadId = undefined;
    return await verifyUpload(client, settings, options.key, parts, options.log);
  } catch (error) {
    const described = cancel.signal.aborted && cancel.signal.reason instanceof LifeboatError && cancel.signal.reason.code === 'INTERRUPTED' ? cancel.signal.reason : describeS3Error(error, 'upload to', settings, options.key);
    // Stops whatever feeds the body at once.
    if (!options.body.destroyed) options.body.destroy(described);
    if (uploadId) await abortUpload(client, settings, options.key, uploadId, options);
    throw described;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    client.destroy();
  }
}

// Sends every part, queueSize at once; the first failure cancels the rest and is thrown once all settled.
async function sendParts(client: S3Client, settings: S3Settings, options: UploadOptions, uploadId: string, reader: PartReader, first: Part, cancel: AbortController): Promise<SentPart[]> {
  const sent: SentPart[] = [];
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  let bytes = 0;
  let part: Part | undefined = first;
  for (let number = 1; part; number++) {
    const current: Part = part;
    const task = sendPart(client, settings, options, uploadId, number, current.data, cancel.signal)
      .then((result) => {
        sent.push(result);
        bytes += result.size;
        options.onProgress?.(bytes);
      })
      .catch((error: unknown) => {
        failure ??= error;
        cancel.abort(error);
      })
      .finally(() => {
        reader.release(current);
        inflight.delete(task);
      });
    inflight.add(task);
    while (inflight.size >= settings.queueSize) await Promise.race(inflight);
    if (failure || cancel.signal.aborted || current.last) break;
    try {
      part = await reader.next();
    } catch (error) {
      failure ??= error;
      cancel.abort(error);
      break;
    }
  }
  await Promise.allSettled([...inflight]);
  if (failure || cancel.signal.aborted) throw failure ?? cancel.signal.reason;
  return sent.sort((a, b) => a.number - b.number);
}

// One part, retried with backoff on transient failures; its ETag must be the MD5 of what was sent.
async function sendPart(client: S3Client, settings: S3Settings, options: UploadOptions, uploadId: string, number: number, data: Buffer, signal: AbortSignal): Promise<SentPart> {
  const md5 = createHash('md5').update(data).digest();
  for (let attempt = 1; ; attempt++) {
    try {
      const output = await client.send(
        new UploadPartCommand({ Bucket: settings.bucket, Key: options.key, UploadId: uploadId, PartNumber: number, Body: bodyOf(data, settings), ContentLength: data.length, ContentMD5: md5.toString('base64') }),
        { abortSignal: signal },
      );
      const etag = String(output.ETag ?? '').replace(/"/g, '').toLowerCase();
      if (output.ServerSideEncryption !== 'aws:kms' && etag !== md5.toString('hex')) {
        throw new LifeboatError('PROVIDER', `upload to ${describeLocation(settings, options.key)}: part ${number} was stored with ETag ${etag || 'none'}, not the MD5 of what was sent (${md5.toString('hex')})`, {
          hint: 'the data was damaged on the way or the server misbehaves; the upload was aborted',
        });
      }
      return { number, md5, size: data.length, etag: output.ETag ?? `"${etag}"` };
    } catch (error) {
      if (signal.aborted || error instanceof LifeboatError || !isTransientS3Error(error) || attempt > settings.retries) {
        const e = error as { $metadata?: { attempts?: number } };
        if (e && typeof e === 'object') e.$metadata = { ...e.$metadata, attempts: Math.max(attempt, e.$metadata?.attempts ?? 1) };
        throw error;
      }
      const ceiling = Math.min(MAX_RETRY_DELAY_MS, settings.retryDelayMs * 2 ** (attempt - 1));
      const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
      options.log.debug(`part ${number} of ${describeLocation(settings, options.key)} failed (${(error as Error).message}); attempt ${attempt + 1} in ${delay} ms`);
      await sleep(delay, undefined, { signal }).catch(() => {});
    }
  }
}

// A part's body: over HTTPS a stream of slices (the SDK then leaves retries to sendPart); over plain
// HTTP the buffer itself, whose SHA-256 goes into the request signature.
function bodyOf(data: Buffer, settings: S3Settings): Buffer | Readable {
  if (settings.endpoint?.startsWith('http://')) return data;
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < data.length; offset += SLICE) yield data.subarray(offset, offset + SLICE);
    })(),
    { objectMode: false },
  );
}

// A body that fits in one part: one PutObject (the client retries it), checked by its ETag.
async function putSingle(client: S3Client, settings: S3Settings, options: UploadOptions, data: Buffer, signal: AbortSignal): Promise<UploadResult> {
  const md5 = createHash('md5').update(data).digest();
  await client.send(
    new PutObjectCommand({ Bucket: settings.bucket, Key: options.key, Body: data, ContentLength: data.length, ContentMD5: md5.toString('base64'), ContentType: options.contentType ?? 'application/octet-stream' }),
    { abortSignal: signal },
  );
  options.onProgress?.(data.length);
  return verifyUpload(client, settings, options.key, [{ number: 1, md5, size: data.length, etag: '' }], options.log, true);
}

// Aborts a multipart upload (the client retries it); when even that fails, the id stays in the journal.
async function abortUpload(client: S3Client, settings: S3Settings, key: string, uploadId: string, options: UploadOptions): Promise<void> {
  try {
    await client.send(new AbortMultipartUploadCommand({ Bucket: settings.bucket, Key: key, UploadId: uploadId }));
    options.log.debug(`multipart upload ${uploadId} of ${describeLocation(settings, key)} aborted`);
    options.onUploadId?.(undefined);
  } catch (error) {
    if (isNotFound(error)) {
      options.onUploadId?.(undefined);
      return;
    }
    options.log.warn(`${describeS3Error(error, 'aborting the multipart upload to', settings, key).message}; upload ${uploadId} is removed by the next backup`);
  }
}

// Checks the stored object: its size, and its ETag (plain MD5 for one PutObject; S3's multipart form).
async function verifyUpload(client: S3Client, settings: S3Settings, key: string, parts: SentPart[], log: Logger, single = false): Promise<UploadResult> {
  const where = describeLocation(settings, key);
  const size = parts.reduce((sum, part) => sum + part.size, 0);
  let head;
  try {
    head = await client.send(new HeadObjectCommand({ Bucket: settings.bucket, Key: key }));
  } catch (error) {
    throw describeS3Error(error, 'checking the upload of', settings, key);
  }
  const etag = String(head.ETag ?? '').replace(/"/g, '').toLowerCase();
  const multipartForm = `${createHash('md5').update(Buffer.concat(parts.map((p) => p.md5))).digest('hex')}-${parts.length}`;
  const plain = single ? parts[0].md5.toString('hex') : undefined;
  const problems: string[] = [];
  if (head.ContentLength !== size) problems.push(`it holds ${head.ContentLength} bytes, ${size} were sent`);
  let verified: UploadResult['verified'] = 'etag';
  if (etag !== multipartForm && etag !== plain) {
    if (head.ServerSideEncryption === 'aws:kms' || (!single && !etag.includes('-'))) verified = 'size';
    else problems.push(`its ETag is ${etag}, expected ${plain ?? multipartForm}`);
  }
  if (problems.length) {
    await client.send(new DeleteObjectCommand({ Bucket: settings.bucket, Key: key })).catch(() => {});
    throw new LifeboatError('PROVIDER', `upload to ${where} is not what was sent: ${problems.join('; ')}; the object was deleted`, { hint: 'the server misbehaves or the data was damaged on the way; try again' });
  }
  log.debug(`uploaded ${where}: ${size} bytes in ${parts.length} part(s), checked by ${verified === 'etag' ? 'ETag' : 'size and per-part MD5'}`);
  return { key, size, etag, parts: parts.length, verified };
}
