// Where an S3 location is and how to talk to it: bucket and prefix from an s3:// URL, endpoint, region,
// addressing, credentials, TLS trust, part size, concurrency, retries and timeouts, resolved once from a
// repository's settings and an environment (README "S3": the AWS variables, or the repository's `env`).
import path from 'node:path';
import { LifeboatError } from '../errors.js';

export type Env = Record<string, string | undefined>;

export interface S3Settings {
  bucket: string;
  // Key prefix without leading or trailing slash; '' for the bucket's top level.
  prefix: string;
  // An S3-compatible service (https://host:port); undefined for AWS itself.
  endpoint?: string;
  region: string;
  pathStyle: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  // Absolute path of a PEM file of CAs to trust (besides the system's).
  cacert?: string;
  partSize: number;
  queueSize: number;
  // Attempts after the first for each request (and for a download that breaks off).
  retries: number;
  // First backoff delay; it doubles per attempt, with jitter, up to MAX_RETRY_DELAY_MS.
  retryDelayMs: number;
  // A request that sends or receives nothing for this long fails (and is retried).
  timeoutMs: number;
}

// What the S3 keys of a repository (or the `lifeboat s3` options) may set; all optional.
export interface S3Options {
  endpoint?: string;
  region?: string;
  pathStyle?: boolean;
  cacert?: string;
  partSize?: number;
  queueSize?: number;
  retries?: number;
  retryDelay?: number;
  timeout?: number;
}

export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
export const DEFAULT_QUEUE_SIZE = 3;
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_RETRY_DELAY_MS = 20_000;

// Splits s3://bucket/some/prefix into bucket and prefix; anything else is a configuration error.
export function parseS3Url(raw: string, where: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(raw);
  if (!match || !/^[a-z0-9][a-z0-9.\-_]{1,254}$/i.test(match[1])) {
    throw new LifeboatError('CONFIG_INVALID', `${where}: ${JSON.stringify(raw)} is not an S3 location`, { hint: 'write it as s3://BUCKET or s3://BUCKET/PREFIX' });
  }
  return { bucket: match[1], prefix: match[2].replace(/^\/+|\/+$/g, '') };
}

// Joins key parts with single slashes, skipping empty ones (so an empty prefix adds nothing).
export function joinKey(...parts: string[]): string {
  return parts
    .map((part) => part.replace(/^\/+|\/+$/g, ''))
    .filter(Boolean)
    .join('/');
}

// Resolves everything needed to open a client; `where` names the repository (or command) in errors.
export function resolveS3Settings(url: string, options: S3Options, env: Env, where: string, configRoot = '/'): S3Settings {
  const { bucket, prefix } = parseS3Url(url, where);
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new LifeboatError('CONFIG_INVALID', `${where}: no S3 credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set)`, {
      hint: 'set them in the environment, in the root\'s environment file, or in the repository\'s env: (env: { AWS_ACCESS_KEY_ID: "${AWS_ACCESS_KEY_ID}", ... })',
    });
  }
  const endpoint = (options.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL)?.replace(/\/+$/, '') || undefined;
  if (endpoint && !/^https?:\/\/[^/]+/.test(endpoint)) {
    throw new LifeboatError('CONFIG_INVALID', `${where}: endpoint ${JSON.stringify(endpoint)} is not an http(s) URL`, { hint: 'write it as https://host[:port]' });
  }
  const partSize = options.partSize ?? DEFAULT_PART_SIZE;
  if (partSize < MIN_PART_SIZE) throw new LifeboatError('CONFIG_INVALID', `${where}: \`partSize\` ${partSize} is below S3's minimum of ${MIN_PART_SIZE} bytes (5 MiB)`);
  return {
    bucket,
    prefix,
    endpoint,
    region: options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    // Custom endpoints (MinIO, Ceph, s3rver, IP addresses) rarely have per-bucket host names.
    pathStyle: options.pathStyle ?? endpoint !== undefined,
    accessKeyId,
    secretAccessKey,
    sessionToken: env.AWS_SESSION_TOKEN || undefined,
    cacert: options.cacert ? path.resolve(configRoot, options.cacert) : env.AWS_CA_BUNDLE || undefined,
    partSize,
    queueSize: options.queueSize ?? DEFAULT_QUEUE_SIZE,
    retries: options.retries ?? 4,
    retryDelayMs: Math.round((options.retryDelay ?? 1) * 1000),
    timeoutMs: Math.round((options.timeout ?? 60) * 1000),
  };
}

// The location for messages: s3://bucket/prefix, plus the endpoint when it is not AWS.
export function describeLocation(settings: Pick<S3Settings, 'bucket' | 'prefix' | 'endpoint'>, key = settings.prefix): string {
  return `s3://${joinKey(settings.bucket, key)}${settings.endpoint ? ` at ${settings.endpoint}` : ''}`;
}
