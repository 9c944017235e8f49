// The shared provider suite against S3: tar with `upload:` only, tar with a local folder and `upload:`,
// and restic with an s3: url (over HTTPS with cacert); then what is particular to tar on S3.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LifeboatError } from '../../src/errors.js';
import type { RepositoryConfig } from '../../src/config/types.js';
import { createProvider as createTar } from '../../plugins/tar/index.js';
import { createProvider as createRestic } from '../../plugins/restic/index.js';
import { forgetByRetention } from '../../src/providers/retention.js';
import { providerInput, testLogger } from '../helpers/provider.js';
import { uploadsOnDisk } from './uploads-on-disk.js';
import { aws, objectKeys, S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, startFaultProxy, startS3, type FaultProxy, type S3Server } from '../helpers/s3.js';
import { tmpDir } from '../helpers/tmp.js';
import { diffTrees, makeTree, readTree } from '../helpers/tree.js';
import { testProvider, type RepoContext } from '../providers/suite.js';

let server: S3Server | undefined;
let proxy: FaultProxy | undefined;
beforeAll(async () => {
  server = await startS3();
  proxy = await startFaultProxy(server);
});
afterAll(async () => {
  await proxy?.close();
  await server?.stop();
});

const CREDENTIALS = { AWS_ACCESS_KEY_ID: S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY };
const MiB = 1024 * 1024;

// A prefix of its own for each repository the suite makes (the suite's temp dir name is unique).
const prefixOf = (context: RepoContext) => path.basename(path.dirname(context.url));

// Is the suite's "unusable repository" case (a file where the repository should be)?
const isUnusable = (context: RepoContext) => existsSync(context.url) && statSync(context.url).isFile();

// tar repository settings on the test server: S3 only, or a local folder too.
function tarConfig(context: RepoContext, withLocal: boolean, extra: Partial<RepositoryConfig> = {}): RepositoryConfig {
  const bucket = isUnusable(context) ? 'no-such-bucket' : S3_BUCKET;
  return {
    provider: 'tar',
    ...(withLocal ? { url: context.url } : {}),
    upload: `s3://${bucket}/tar/${prefixOf(context)}`,
    encryption: 'none',
    endpoint: server?.endpoint ?? 'https://127.0.0.1:9',
    cacert: server?.caFile ?? '/nonexistent.pem',
    compression: 'zstd',
    partSize: 5 * MiB,
    retries: 2,
    retryDelay: 0.05,
    env: CREDENTIALS,
    ...extra,
  };
}

testProvider('tar on S3 (upload only)', (context) => createTar(providerInput(tarConfig(context, false), context)));
testProvider('tar on a folder and S3', (context) => createTar(providerInput(tarConfig(context, isUnusable(context)), context)));
testProvider('restic on S3', (context) => {
  const passwordFile = path.join(context.stateDir, 'restic.pass');
  if (existsSync(context.stateDir)) writeFileSync(passwordFile, 'correct horse battery staple\n', { mode: 0o600 });
  const bucket = isUnusable(context) ? 'Not_A_Bucket' : S3_BUCKET;
  const url = `s3:${server?.endpoint ?? 'https://127.0.0.1:9'}/${bucket}/restic/${prefixOf(context)}`;
  return createRestic(providerInput({ provider: 'restic', url, passwordFile, cacert: server?.caFile, env: CREDENTIALS }, context));
});

const common = () => ({ log: testLogger(), signal: new AbortController().signal });

// A tar-on-S3 provider with a fresh prefix and a source tree.
async function setup(withLocal: boolean, extra: Partial<RepositoryConfig> = {}) {
  const base = await tmpDir('lifeboat-s3tar-');
  const context = { url: path.join(base, 'repo'), root: base, stateDir: path.join(base, 'state') };
  await mkdir(context.stateDir);
  const config = tarConfig(context, withLocal, extra);
  const secrets: string[] = [];
  const provider = createTar(providerInput(config, context, { secrets }));
  const src = path.join(base, 'src', 'app');
  await makeTree(src, { randomBytes: 2 * MiB });
  const prefix = `tar/${prefixOf(context)}/`;
  const create = (module = 'wiki') => provider.create({ module, paths: [src], exclude: [], host: 'h1', tags: [], ...common() });
  return { base, context, config, provider, src, prefix, secrets, create, target: path.join(base, 'target') };
}

describe('tar on S3 specifics', () => {
  it('uploads the archive, then the manifest; the awscli sees both and the archive matches the manifest', async () => {
    const t = await setup(false);
    const { snapshot } = await t.create();
    const keys = await objectKeys(server!, t.prefix);
    expect(keys).toEqual([`${t.prefix}wiki/${snapshot.id}.files.ndjson.gz`, `${t.prefix}wiki/${snapshot.id}.manifest.json`, `${t.prefix}wiki/${snapshot.id}.tar.zst`]);
    const manifest = JSON.parse(await aws(server!, ['s3', 'cp', '--only-show-errors', `s3://${S3_BUCKET}/${keys[1]}`, '-']));
    expect(manifest).toMatchObject({ id: snapshot.id, module: 'wiki', host: 'h1', archive: `${snapshot.id}.tar.zst` });
    const archiveFile = path.join(t.base, 'archive.tar.zst');
    await aws(server!, ['s3', 'cp', '--only-show-errors', `s3://${S3_BUCKET}/${keys[2]}`, archiveFile]);
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(archiveFile);
    expect(bytes.length).toBe(manifest.archiveSize);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(manifest.archiveSha256);
    expect(existsSync(t.context.url)).toBe(false); // S3 only: nothing on local disk
    expect(t.secrets).toEqual(expect.arrayContaining([S3_SECRET_KEY, S3_ACCESS_KEY]));
  });

  it('keeps both copies with a local folder, and restores from S3 once the local copy is gone', async () => {
    const t = await setup(true);
    const { snapshot } = await t.create();
    expect(readdirSync(path.join(t.context.url, 'wiki')).sort()).toEqual([`${snapshot.id}.files.ndjson.gz`, `${snapshot.id}.manifest.json`, `${snapshot.id}.tar.zst`]);
    expect(await objectKeys(server!, t.prefix)).toHaveLength(3);
    rmSync(t.context.url, { recursive: true });
    const [listed] = await t.provider.list('wiki', common());
    expect(listed.id).toBe(snapshot.id);
    await t.provider.restore({ module: 'wiki', snapshot: listed, target: t.target, ...common() });
    expect(diffTrees(await readTree(t.src), await readTree(path.join(t.target, t.src)))).toEqual([]);
    const result = await forgetByRetention(t.provider, 'wiki', { keepLast: 1 }, common());
    expect(result.removed).toEqual([]);
  });

  it('lists nothing and leaves no upload when part uploads keep failing (HTTP 500)', async () => {
    const t = await setup(true, { endpoint: proxy!.endpoint, partSize: 5 * MiB });
    await makeTree(path.join(t.src, 'more'), { randomBytes: 12 * MiB });
    proxy!.partsSeen = 0;
    proxy!.passParts = 1;
    proxy!.mode = 'fail-parts';
    try {
      const error = await t.create().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LifeboatError);
      expect((error as Error).message).toMatch(/HTTP 500/);
    } finally {
      proxy!.mode = 'pass';
    }
    expect(await t.provider.list('wiki', common())).toEqual([]);
    expect(readdirSync(path.join(t.context.url, 'wiki'))).toEqual([]);
    expect(await objectKeys(server!, t.prefix)).toEqual([]);
    expect(uploadsOnDisk(server!, t.prefix)).toEqual([]);
    const { snapshot } = await t.create();
    expect((await t.provider.list('wiki', common())).map((s) => s.id)).toEqual([snapshot.id]);
  });

  it('stops when aborted mid-upload (SIGTERM) and leaves no object and no pending upload', async () => {
    const t = await setup(false, { endpoint: proxy!.endpoint });
    await makeTree(path.join(t.src, 'more'), { randomBytes: 16 * MiB });
    proxy!.partsSeen = 0;
    const controller = new AbortController();
    const watch = setInterval(() => {
      if (proxy!.partsSeen >= 1) controller.abort('SIGTERM');
    }, 5);
    try {
      const error = await t.provider.create({ module: 'wiki', paths: [t.src], exclude: [], host: 'h1', tags: [], log: testLogger(), signal: controller.signal }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'INTERRUPTED' });
    } finally {
      clearInterval(watch);
    }
    expect(await objectKeys(server!, t.prefix)).toEqual([]);
    expect(uploadsOnDisk(server!, t.prefix)).toEqual([]);
  });

  it('does not list an archive whose manifest is missing, nor a manifest whose archive is missing', async () => {
    const t = await setup(false);
    const { snapshot } = await t.create();
    await aws(server!, ['s3', 'rm', '--only-show-errors', `s3://${S3_BUCKET}/${t.prefix}wiki/${snapshot.id}.manifest.json`]);
    expect(await t.provider.list('wiki', common())).toEqual([]);
    const second = await t.create();
    await aws(server!, ['s3', 'rm', '--only-show-errors', `s3://${S3_BUCKET}/${t.prefix}wiki/${second.snapshot.id}.tar.zst`]);
    expect(await t.provider.list('wiki', common())).toEqual([]);
  });

  it('check downloads and verifies every archive', async () => {
    const t = await setup(false);
    await t.create();
    await expect(t.provider.check!('wiki', { ...common(), readData: true })).resolves.toBeUndefined();
  });

  it('refuses a tar repository with neither url nor upload, and one without credentials', async () => {
    expect(() => createTar(providerInput({ provider: 'tar' }, { root: '/', stateDir: '/' }))).toThrow(/`url` must be a local folder/);
    const provider = createTar(providerInput({ provider: 'tar', upload: 's3://bucket/p', encryption: 'none', endpoint: 'https://127.0.0.1:9' }, { root: '/', stateDir: '/' }));
    const error = await provider.list('wiki', { log: testLogger(), env: { PATH: process.env.PATH ?? '' } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/no S3 credentials/) });
  });
});
