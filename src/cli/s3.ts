// `lifeboat s3 ls|put|get`: S3 helpers for parts and people, with the same client, checks and retries as
// the tar provider's uploads. With --repo NAME the endpoint, region, cacert, part size and credentials
// come from that repository in lifeboat.yaml, and a location without s3:// is taken under its upload
// prefix; without --repo, from the options and the AWS_* variables. Credentials never go on the command line.
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createLogger, printJson, renderTable, type GlobalOptions } from './common.js';
import { loadRoot } from '../config/load.js';
import { LifeboatError } from '../errors.js';
import { interruptSignal } from '../lifecycle/signals.js';
import type { Logger } from '../log/logger.js';
import { joinKey, parseS3Url, resolveS3Settings, type Env, type S3Options, type S3Settings } from '../storage/s3-settings.js';

interface S3CommandOptions extends GlobalOptions, S3Options {
  repo?: string;
  uploads?: boolean;
  recursive?: boolean;
}

// Dispatches ls, put and get.
export async function s3Command([operation, rest]: unknown[], options: S3CommandOptions): Promise<number> {
  const log = createLogger(options);
  const [first, second, extra] = (rest as string[] | undefined) ?? [];
  if (extra !== undefined) throw new LifeboatError('USAGE', `lifeboat s3 ${String(operation)}: unexpected argument ${JSON.stringify(extra)}`);
  if (operation === 'ls') return list(first as string | undefined, options, log);
  if (operation === 'put') {
    if (!first || !second) throw new LifeboatError('USAGE', 'usage: lifeboat s3 put FILE|- LOCATION (s3://bucket/key, or a key under --repo\'s upload prefix)');
    return put(first as string, second as string, options, log);
  }
  if (operation === 'get') {
    if (!first || !second) throw new LifeboatError('USAGE', 'usage: lifeboat s3 get LOCATION FILE|-');
    return get(first as string, second as string, options, log);
  }
  throw new LifeboatError('USAGE', `unknown s3 operation ${JSON.stringify(operation)}; use ls, put or get`);
}

// Settings for a location: from --repo's S3 keys and env, else from the options and the environment.
function settingsFor(location: string | undefined, options: S3CommandOptions, log: Logger): S3Settings {
  const numbers: S3Options = {
    ...options,
    partSize: options.partSize === undefined ? undefined : Number(options.partSize),
    queueSize: options.queueSize === undefined ? undefined : Number(options.queueSize),
    retries: options.retries === undefined ? undefined : Number(options.retries),
    timeout: options.timeout === undefined ? undefined : Number(options.timeout),
  };
  for (const [name, value] of Object.entries(numbers)) {
    if (typeof value === 'number' && !(value >= 0)) throw new LifeboatError('USAGE', `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a number, got ${JSON.stringify((options as Record<string, unknown>)[name])}`);
  }
  let env: Env = { ...process.env };
  let url = location ?? '';
  let configRoot = process.cwd();
  let where = 'lifeboat s3';
  if (options.repo) {
    const root = loadRoot(options);
    const repository = root.global.repositories[options.repo];
    if (!repository) throw new LifeboatError('UNKNOWN_REPOSITORY', `--repo ${options.repo}: no such repository in lifeboat.yaml; defined: ${Object.keys(root.global.repositories).join(', ') || 'none'}`);
    // tar: upload: s3://bucket/prefix; restic: url: s3:https://host/bucket/prefix (the endpoint is in it)
    const restic = /^s3:(https?:\/\/[^/]+)\/(.+)$/.exec(repository.url ?? '');
    const base = repository.upload ?? (restic ? `s3://${restic[2]}` : undefined);
    if (restic && !repository.upload) numbers.endpoint ??= restic[1];
    if (!url.startsWith('s3://')) {
      if (!base) throw new LifeboatError('USAGE', `repository "${options.repo}" has no S3 location (upload: s3://... or url: s3:https://...); give a full s3://bucket/key location`);
      const { bucket, prefix } = parseS3Url(base, `repository "${options.repo}"`);
      url = `s3://${joinKey(bucket, prefix, url)}`;
    }
    env = { ...env, ...root.rootEnv, ...repository.env };
    Object.assign(numbers, { ...pick(repository), ...definedOnly(numbers) });
    configRoot = root.root;
    where = `repository "${options.repo}"`;
  }
  if (!url) throw new LifeboatError('USAGE', 'give a location: s3://bucket[/prefix] (or --repo NAME)');
  const settings = resolveS3Settings(url, numbers, env, where, configRoot);
  log.masker.add(settings.secretAccessKey, settings.accessKeyId, settings.sessionToken);
  return settings;
}

// The S3 keys of a repository.
function pick(repository: S3Options): S3Options {
  const { endpoint, region, pathStyle, cacert, partSize, queueSize, retries, retryDelay, timeout } = repository;
  return definedOnly({ endpoint, region, pathStyle, cacert, partSize, queueSize, retries, retryDelay, timeout });
}

// Drops undefined values (so they do not hide a repository's setting).
function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

// Lists objects (a folder level, or everything below with --recursive) or pending multipart uploads.
async function list(location: string | undefined, options: S3CommandOptions, log: Logger): Promise<number> {
  const settings = settingsFor(location, options, log);
  const { S3Store } = await import('../storage/s3.js');
  const store = new S3Store(settings);
  try {
    const prefix = settings.prefix && !settings.prefix.endsWith('/') ? `${settings.prefix}/` : settings.prefix;
    if (options.uploads) {
      const uploads = await store.listUploads(prefix);
      if (options.json) printJson(uploads);
      else if (uploads.length) process.stdout.write(renderTable(['INITIATED', 'UPLOAD ID', 'KEY'], uploads.map((u) => [u.initiated ?? '', u.uploadId, u.key])));
      return 0;
    }
    const all = await store.list(prefix);
    const objects = all.filter((o) => options.recursive || !o.key.slice(prefix.length).includes('/'));
    const folders = options.recursive ? [] : [...new Set(all.map((o) => o.key.slice(prefix.length)).filter((rest) => rest.includes('/')).map((rest) => `${rest.split('/')[0]}/`))];
    if (options.json) {
      printJson(objects.map((o) => ({ key: o.key, size: o.size, modified: o.modified ?? null, etag: o.etag ?? null })));
      return 0;
    }
    const rows = [...folders.map((f) => ['', 'DIR', `${prefix}${f}`]), ...objects.map((o) => [o.modified?.replace('T', ' ').replace(/\.\d+Z$/, 'Z') ?? '', String(o.size), o.key])];
    if (rows.length) process.stdout.write(renderTable(['MODIFIED (UTC)', 'SIZE', 'KEY'], rows));
    return 0;
  } finally {
    store.close();
  }
}

// Uploads a file or stdin to a key (streaming multipart, checked, aborted on failure).
async function put(source: string, location: string, options: S3CommandOptions, log: Logger): Promise<number> {
  const settings = settingsFor(location, options, log);
  // The prefix comes without its trailing slashes: the location as given tells a folder.
  if (!settings.prefix || location.endsWith('/')) throw new LifeboatError('USAGE', `${location}: give the object's key, not a folder`);
  const { S3Store } = await import('../storage/s3.js');
  const store = new S3Store(settings);
  const body: Readable = source === '-' ? process.stdin : createReadStream(source, { highWaterMark: 256 * 1024 });
  const opened = new Promise<void>((resolve, reject) => {
    if (source === '-') return resolve();
    body.once('open', () => resolve());
    body.once('error', (error: NodeJS.ErrnoException) => reject(new LifeboatError('USAGE', `cannot read ${source}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`, { cause: error })));
  });
  try {
    await opened;
    // Ctrl-C or SIGTERM aborts the multipart upload: nothing is left in the bucket.
    const result = await store.upload({ key: settings.prefix, body, log, signal: interruptSignal() });
    if (options.json) printJson({ key: result.key, bucket: settings.bucket, size: result.size, parts: result.parts, etag: result.etag, verified: result.verified });
    else log.info(`uploaded ${store.describe(result.key)}: ${result.size} bytes in ${result.parts} part(s), checked by ${result.verified === 'etag' ? 'ETag' : 'size and per-part MD5'}`);
    return 0;
  } finally {
    if (source !== '-') body.destroy();
    store.close();
  }
}

// Downloads a key to a file (written aside, then renamed) or to stdout, resuming after broken connections.
async function get(location: string, target: string, options: S3CommandOptions, log: Logger): Promise<number> {
  const settings = settingsFor(location, options, log);
  const { S3Store } = await import('../storage/s3.js');
  const store = new S3Store(settings);
  try {
    const head = await store.head(settings.prefix);
    if (!head) throw new LifeboatError('USAGE', `${store.describe(settings.prefix)} does not exist`, { hint: 'list what is there with `lifeboat s3 ls`' });
    // Ctrl-C or SIGTERM stops the download; the partial file is removed.
    const signal = interruptSignal();
    const source = store.download({ key: settings.prefix, size: head.size, log, signal });
    if (target === '-') {
      await pipeline(source, process.stdout);
      return 0;
    }
    const partial = path.join(path.dirname(target), `.${path.basename(target)}.partial`);
    try {
      await pipeline(source, createWriteStream(partial, { mode: 0o600 }), { signal });
      await rename(partial, target);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    log.info(`downloaded ${store.describe(settings.prefix)} to ${target} (${head.size} bytes)`);
    return 0;
  } finally {
    store.close();
  }
}
