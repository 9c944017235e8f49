// Streaming download that survives a broken connection: the SDK retries a GetObject that fails before
// its body starts; when the body breaks off half-way, this resumes with a Range request from the last
// byte received, pinned to the same object version (If-Match on its ETag), with the same backoff.
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { LifeboatError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { createS3Client, describeS3Error, isTransientS3Error } from './s3-client.js';
import { describeLocation, MAX_RETRY_DELAY_MS, type S3Settings } from './s3-settings.js';

export interface DownloadOptions {
  key: string;
  // The size the object must have (from a manifest); a shorter or longer body is an error.
  size?: number;
  signal?: AbortSignal;
  log: Logger;
  onProgress?: (bytes: number) => void;
}

// A Readable of the object's bytes, with backpressure (one GetObject body at a time).
export function downloadStream(settings: S3Settings, options: DownloadOptions): Readable {
  return Readable.from(chunks(settings, options), { objectMode: false });
}

// Yields the object's bytes, resuming after a transient failure of the body.
async function* chunks(settings: S3Settings, options: DownloadOptions): AsyncGenerator<Buffer> {
  const client = createS3Client(settings);
  const where = describeLocation(settings, options.key);
  let offset = 0;
  let etag: string | undefined;
  let failures = 0;
  try {
    for (;;) {
      try {
        const response = await client.send(
          new GetObjectCommand({ Bucket: settings.bucket, Key: options.key, Range: offset > 0 ? `bytes=${offset}-` : undefined, IfMatch: etag }),
          { abortSignal: options.signal },
        );
        etag ??= response.ETag;
        // The server is untrusted: more bytes than expected stop the download at once (an endless body
        // must not fill the disk), whether announced up front or only arriving.
        const tooMuch = (announced?: number) =>
          new LifeboatError('PROVIDER', `download of ${where}: refused: the server ${announced === undefined ? `sent more than ${options.size} bytes` : `announced ${announced} bytes`}; the object has ${options.size}`, { hint: 'the object was changed or the server is not a working S3 service; `lifeboat verify` checks every archive' });
        if (options.size !== undefined && response.ContentLength !== undefined && offset + response.ContentLength > options.size) {
          (response.Body as Readable).destroy();
          throw tooMuch(offset + response.ContentLength);
        }
        for await (const chunk of response.Body as Readable) {
          offset += (chunk as Buffer).length;
          if (options.size !== undefined && offset > options.size) throw tooMuch();
          failures = 0;
          options.onProgress?.(offset);
          yield chunk as Buffer;
        }
        if (options.size !== undefined && offset !== options.size) {
          throw new LifeboatError('PROVIDER', `download of ${where}: got ${offset} bytes, the manifest says ${options.size}`, { hint: 'the object was changed or damaged; `lifeboat verify` checks every archive' });
        }
        return;
      } catch (error) {
        if (options.signal?.aborted) throw new LifeboatError('INTERRUPTED', `download of ${where}: stopped`, { cause: error });
        if (error instanceof LifeboatError || !isTransientS3Error(error) || ++failures > settings.retries) throw describeS3Error(error, 'download of', settings, options.key);
        const ceiling = Math.min(MAX_RETRY_DELAY_MS, settings.retryDelayMs * 2 ** (failures - 1));
        const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
        options.log.warn(`download of ${where} broke off after ${offset} bytes (${(error as Error).message}); resuming in ${delay} ms`);
        await sleep(delay, undefined, { signal: options.signal }).catch(() => {});
      }
    }
  } finally {
    client.destroy();
  }
}
