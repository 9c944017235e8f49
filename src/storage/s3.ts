// One S3 location (bucket + prefix) and what Lifeboat does there: list, read and write small objects,
// delete, stream archives up and down, and clear multipart uploads that a failed or killed run left.
// This module loads the AWS SDK: import it dynamically, only where S3 is used.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { LifeboatError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { MAX_LIST_KEYS, MAX_LIST_PAGE_KEYS, MAX_MANIFEST_BYTES } from './limits.js';
import { createS3Client, describeS3Error, isNotFound, readBounded } from './s3-client.js';
import { downloadStream, type DownloadOptions } from './s3-download.js';
import { PendingUploads } from './s3-pending.js';
import { describeLocation, joinKey, type S3Settings } from './s3-settings.js';
import { uploadStream, type UploadOptions, type UploadResult } from './s3-upload.js';

export interface S3ObjectInfo {
  key: string;
  size: number;
  etag?: string;
  modified?: string;
}

// Uploads older than this under a prefix are abandoned whoever started them (a day: no backup runs that long).
const ABANDONED_AFTER_MS = 24 * 3600 * 1000;

export class S3Store {
  readonly settings: S3Settings;
  private readonly client: S3Client;

  // Opens a client for the location (no request is made yet).
  constructor(settings: S3Settings) {
    this.settings = settings;
    this.client = createS3Client(settings);
  }

  // The full key of a name under the store's prefix.
  key(...parts: string[]): string {
    return joinKey(this.settings.prefix, ...parts);
  }

  // s3://bucket/key for messages.
  describe(key = this.settings.prefix): string {
    return describeLocation(this.settings, key);
  }

  // Every object under a key prefix (a folder: give it with a trailing slash), in key order. The server
  // is untrusted: a page with more than MAX_LIST_PAGE_KEYS keys, more than MAX_LIST_KEYS in all, or a
  // continuation token it already gave (an endless loop) ends the listing with an error.
  async list(prefix: string): Promise<S3ObjectInfo[]> {
    const objects: S3ObjectInfo[] = [];
    const seen = new Set<string>();
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: prefix, ContinuationToken: token }));
        const contents = page.Contents ?? [];
        if (contents.length > MAX_LIST_PAGE_KEYS) throw this.badListing(prefix, `one page holds ${contents.length} keys (S3 sends at most 1,000)`);
        for (const item of contents) {
          if (item.Key) objects.push({ key: item.Key, size: item.Size ?? 0, etag: item.ETag?.replace(/"/g, ''), modified: item.LastModified?.toISOString() });
        }
        if (objects.length > MAX_LIST_KEYS) throw this.badListing(prefix, `more than ${MAX_LIST_KEYS} keys`);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
        if (token !== undefined && seen.has(token)) throw this.badListing(prefix, 'the server repeated a continuation token (the listing would never end)');
        if (token !== undefined) seen.add(token);
      } while (token);
    } catch (error) {
      throw describeS3Error(error, 'listing', this.settings, prefix);
    }
    return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  // The error for a listing the server got wrong.
  private badListing(prefix: string, reason: string): LifeboatError {
    return new LifeboatError('PROVIDER', `listing ${this.describe(prefix)}: refused: ${reason}`, { hint: 'the server is not a working S3 service; check the endpoint' });
  }

  // A small object as text, refused when larger than `limit` bytes (checked while reading); undefined
  // when it does not exist.
  async getText(key: string, limit = MAX_MANIFEST_BYTES): Promise<string | undefined> {
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: key }));
      const bytes = await readBounded(response.Body as Readable, limit, `reading ${this.describe(key)}`, response.ContentLength);
      return bytes.toString('utf8');
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw describeS3Error(error, 'reading', this.settings, key);
    }
  }

  // Writes a small object in one request, with Content-MD5 so S3 refuses damaged bytes.
  async putText(key: string, text: string, contentType = 'application/json'): Promise<void> {
    const body = Buffer.from(text, 'utf8');
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.settings.bucket, Key: key, Body: body, ContentType: contentType, ContentMD5: createHash('md5').update(body).digest('base64') }),
      );
    } catch (error) {
      throw describeS3Error(error, 'writing', this.settings, key);
    }
  }

  // Size and ETag of an object; undefined when it does not exist.
  async head(key: string): Promise<{ size: number; etag: string } | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: key }));
      return { size: head.ContentLength ?? 0, etag: String(head.ETag ?? '').replace(/"/g, '') };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw describeS3Error(error, 'checking', this.settings, key);
    }
  }

  // Deletes one object (one request per key: DeleteObjects needs checksums some servers refuse).
  async remove(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: key }));
    } catch (error) {
      if (!isNotFound(error)) throw describeS3Error(error, 'deleting', this.settings, key);
    }
  }

  // Streams a body into key (see s3-upload.ts); with a journal, a killed run's upload is aborted next time.
  upload(options: UploadOptions, journal?: PendingUploads): Promise<UploadResult> {
    if (!journal) return uploadStream(this.settings, options);
    let recorded: string | undefined;
    return uploadStream(this.settings, {
      ...options,
      onUploadId: (uploadId) => {
        if (uploadId) {
          recorded = uploadId;
          journal.record({ endpoint: this.settings.endpoint ?? '', bucket: this.settings.bucket, key: options.key, uploadId });
        } else if (recorded) {
          journal.clear(recorded);
          recorded = undefined;
        }
        options.onUploadId?.(uploadId);
      },
    });
  }

  // The bytes of an object as a stream (see s3-download.ts).
  download(options: DownloadOptions): Readable {
    return downloadStream(this.settings, options);
  }

  // Aborts the multipart uploads under a prefix that a failed run left: those in the journal at once,
  // any other once it is a day old. Problems are warnings: they never stop a backup.
  async abortStaleUploads(prefix: string, log: Logger, journal?: PendingUploads): Promise<number> {
    let aborted = 0;
    const abort = async (key: string, uploadId: string, why: string) => {
      try {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.settings.bucket, Key: key, UploadId: uploadId }));
        aborted++;
        log.info(`aborted the multipart upload ${uploadId} of ${this.describe(key)} (${why})`);
      } catch (error) {
        if (!isNotFound(error)) {
          log.warn(`${describeS3Error(error, 'aborting an old multipart upload to', this.settings, key).message}`);
          return;
        }
      }
      journal?.clear(uploadId);
    };
    for (const entry of journal?.entries() ?? []) {
      if (entry.bucket === this.settings.bucket && entry.endpoint === (this.settings.endpoint ?? '') && entry.key.startsWith(prefix)) {
        await abort(entry.key, entry.uploadId, `left by a run that failed at ${entry.time}`);
      }
    }
    try {
      let keyMarker: string | undefined;
      let idMarker: string | undefined;
      const seen = new Set<string>();
      do {
        const page = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.settings.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: idMarker }));
        for (const upload of page.Uploads ?? []) {
          const age = Date.now() - (upload.Initiated?.getTime() ?? Date.now());
          if (upload.Key && upload.UploadId && age > ABANDONED_AFTER_MS) await abort(upload.Key, upload.UploadId, `started ${upload.Initiated?.toISOString()}, abandoned`);
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        idMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
        // A marker the server gave before would loop for ever.
        if (keyMarker !== undefined && seen.has(`${keyMarker}\n${idMarker}`)) throw this.badListing(prefix, 'the server repeated a multipart upload marker');
        if (keyMarker !== undefined) seen.add(`${keyMarker}\n${idMarker}`);
      } while (keyMarker);
    } catch (error) {
      log.debug(`listing multipart uploads under ${this.describe(prefix)} failed: ${(error as Error).message}`);
    }
    return aborted;
  }

  // Pending multipart uploads under a prefix (key and id), for `lifeboat s3 ls --uploads` and tests.
  async listUploads(prefix: string): Promise<Array<{ key: string; uploadId: string; initiated?: string }>> {
    try {
      const page = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.settings.bucket, Prefix: prefix }));
      return (page.Uploads ?? []).map((u) => ({ key: u.Key ?? '', uploadId: u.UploadId ?? '', initiated: u.Initiated?.toISOString() }));
    } catch (error) {
      throw describeS3Error(error, 'listing multipart uploads in', this.settings, prefix);
    }
  }

  // Closes the keep-alive sockets.
  close(): void {
    this.client.destroy();
  }
}
