// The AWS SDK client as Lifeboat configures it, and S3 failures rewritten into errors a person can act
// on. Deliberate choices: checksums only WHEN_REQUIRED (the SDK's default CRC32 trailers break S3-compatible
// servers; Lifeboat sends Content-MD5 per part itself, see s3-upload.ts), path-style addressing for custom
// endpoints, keep-alive sockets, a socket inactivity timeout, and exponential backoff on 5xx, throttling
// and network errors. This module loads the SDK: import it only where S3 is used (cold start).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { LifeboatError } from '../errors.js';
import { escapeControl } from '../log/control.js';
import { MAX_RESPONSE_BYTES } from './limits.js';
import { describeLocation, MAX_RETRY_DELAY_MS, type S3Settings } from './s3-settings.js';

type RetryStrategy = NonNullable<S3ClientConfig['retryStrategy']>;
interface RetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}

// Builds a client for one location; the caller destroys it when done (it holds keep-alive sockets).
export function createS3Client(settings: S3Settings): S3Client {
  let ca: string[] | undefined;
  if (settings.cacert) {
    try {
      ca = [...tls.rootCertificates, readFileSync(settings.cacert, 'utf8')];
    } catch (error) {
      throw new LifeboatError('CONFIG_INVALID', `cacert ${settings.cacert} cannot be read: ${(error as Error).message}`, { hint: 'point cacert: at a PEM file with the CA certificate', cause: error });
    }
  }
  const maxSockets = Math.max(8, settings.queueSize * 2);
  // The SDK announces on stderr that its 2027 releases will need Node 22: noise in every command's output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new S3Client({
    region: settings.region,
    endpoint: settings.endpoint,
    forcePathStyle: settings.pathStyle,
    credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey, sessionToken: settings.sessionToken },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // The SDK's own warnings (e.g. on a failed streaming part, which s3-upload.ts retries) stay quiet.
    logger: { trace: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    maxAttempts: settings.retries + 1,
    retryStrategy: backoffStrategy(settings.retries + 1, settings.retryDelayMs),
    requestHandler: {
      connectionTimeout: Math.min(settings.timeoutMs, 15_000),
      // Inactivity, not a deadline: a large part on a slow link may take long, but never silence.
      socketTimeout: settings.timeoutMs,
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets, ca }),
      httpAgent: new http.Agent({ keepAlive: true, maxSockets }),
    },
  });
  boundResponseBodies(client, settings);
  return client;
}

// The SDK reads every response body but an object's bytes whole into memory before parsing it: this
// middleware (innermost, so it sees the raw response first) reads it itself up to MAX_RESPONSE_BYTES and
// refuses a larger or endless one (a bucket is untrusted storage).
function boundResponseBodies(client: S3Client, settings: S3Settings): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const response = result.response as { statusCode?: number; headers?: Record<string, string>; body?: unknown };
      const status = response.statusCode ?? 0;
      const objectBytes = context.commandName === 'GetObjectCommand' && status >= 200 && status < 300;
      // A HEAD answer has no body: its Content-Length is the object's size, not what is sent here.
      if (objectBytes || context.commandName === 'HeadObjectCommand' || !(response.body instanceof Readable)) return result;
      const what = `${context.commandName?.replace(/Command$/, '') ?? 'request'} of ${describeLocation(settings)}`;
      response.body = Readable.from([await readBounded(response.body, MAX_RESPONSE_BYTES, what, Number(response.headers?.['content-length']))]);
      return result;
    },
    { step: 'deserialize', priority: 'low', name: 'lifeboatBoundedResponse' },
  );
}

// Reads a stream whole, refusing (and destroying) it as soon as it has more than `limit` bytes.
export async function readBounded(stream: Readable, limit: number, what: string, announced?: number): Promise<Buffer> {
  const refuse = (announcedBytes?: number) => {
    stream.destroy();
    const sent = announcedBytes === undefined ? `more than ${limit} bytes` : `${announcedBytes} bytes`;
    return new LifeboatError('PROVIDER', `${what}: refused: the server ${announcedBytes === undefined ? 'sent' : 'announced'} ${sent}; Lifeboat accepts at most ${limit} bytes here`, {
      hint: 'the bucket or the server is not what Lifeboat wrote to; check the endpoint and inspect the object',
    });
  };
  if (Number.isFinite(announced) && announced! > limit) throw refuse(announced);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > limit) throw refuse();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, total);
}

// Retries transient, throttling and server errors (never 4xx) with full-jitter exponential backoff.
function backoffStrategy(maxAttempts: number, baseMs: number): RetryStrategy {
  const token = (count: number, delay: number): RetryToken => ({ getRetryCount: () => count, getRetryDelay: () => delay });
  return {
    mode: 'standard',
    acquireInitialRetryToken: async () => token(0, 0),
    refreshRetryTokenForRetry: async (previous: RetryToken, info: { errorType: string; error?: SdkError }) => {
      const count = previous.getRetryCount() + 1;
      const notImplemented = info.error?.$metadata?.httpStatusCode === 501;
      // Internal: the SDK stops retrying on this and reports the request's own error (describeS3Error).
      if (count >= maxAttempts || info.errorType === 'CLIENT_ERROR' || notImplemented) throw new Error('no more attempts');
      const ceiling = Math.min(MAX_RETRY_DELAY_MS, baseMs * 2 ** (count - 1));
      return token(count, Math.round(ceiling / 2 + (Math.random() * ceiling) / 2));
    },
    recordSuccess: () => {},
  } as unknown as RetryStrategy;
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  cause?: { code?: string };
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

const TLS_CODES = ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID'];
const NETWORK_CODES = ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE', 'ETIMEDOUT'];

// True for failures worth another attempt: network errors, timeouts, 5xx and throttling.
export function isTransientS3Error(error: unknown): boolean {
  const e = (error ?? {}) as SdkError;
  const code = e.code ?? e.cause?.code ?? '';
  const status = e.$metadata?.httpStatusCode ?? 0;
  return NETWORK_CODES.includes(code) || ['TimeoutError', 'RequestTimeout', 'SlowDown', 'InternalError'].includes(e.name ?? '') || (status >= 500 && status !== 501) || /aborted|socket hang up|premature close/i.test(e.message ?? '');
}

// True when the object or upload is not there (404, NoSuchKey, NoSuchUpload, NotFound).
export function isNotFound(error: unknown): boolean {
  const e = (error ?? {}) as SdkError;
  return ['NoSuchKey', 'NotFound', 'NoSuchUpload'].includes(e.name ?? '') || e.$metadata?.httpStatusCode === 404;
}

// Rewrites an SDK or network failure into a LifeboatError saying what failed where and what to do.
export function describeS3Error(error: unknown, what: string, settings: S3Settings, key?: string): LifeboatError {
  if (error instanceof LifeboatError) return error;
  const e = (error ?? {}) as SdkError;
  const code = e.code ?? e.cause?.code ?? '';
  const status = e.$metadata?.httpStatusCode;
  const attempts = e.$metadata?.attempts ?? 1;
  const where = describeLocation(settings, key);
  const tries = attempts > 1 ? ` (after ${attempts} attempts)` : '';
  // The server's words are untrusted: control codes are shown escaped.
  const fail = (reason: string, hint: string) => new LifeboatError('PROVIDER', escapeControl(`${what} ${where}: ${reason}${tries}`), { hint, cause: error });
  if (e.name === 'NoSuchBucket') return fail(`bucket "${settings.bucket}" does not exist`, `create it (e.g. aws s3 mb s3://${settings.bucket}) or fix the bucket name`);
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'Forbidden'].includes(e.name ?? '') || status === 403) {
    return fail(`access denied (${e.name ?? status})`, 'check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (environment or the repository\'s env:) and the bucket\'s permissions');
  }
  if (TLS_CODES.includes(code)) return fail(`the server's TLS certificate is not trusted (${code})`, 'give the repository cacert: /path/to/ca.pem (the CA that signed the server certificate)');
  if (e.name === 'TimeoutError' || code === 'ETIMEDOUT') return fail(`no answer within ${Math.round(settings.timeoutMs / 1000)} s`, 'check the network and the endpoint; raise timeout: for a slow service');
  if (NETWORK_CODES.includes(code)) return fail(`cannot reach the service (${code})`, `check endpoint${settings.endpoint ? ` ${settings.endpoint}` : ''} and the network`);
  if (status === 501) return fail(`the server does not support this request (HTTP 501 ${e.name ?? ''})`.trim(), 'use an S3 service that implements it');
  if (status !== undefined && status >= 500) return fail(`the server failed (HTTP ${status}${e.name && e.name !== 'Error' ? ` ${e.name}` : ''})`, 'the service is having trouble; the next run tries again');
  if (isNotFound(error)) return fail(`${key ?? 'the object'} does not exist`, 'list what is there with `lifeboat s3 ls`');
  return fail(`${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message ?? String(error)}`, 'run with -v for details');
}
