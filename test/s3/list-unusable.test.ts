// An unusable repository is an error when listed, never "no snapshots": a bucket that does not exist, a
// wrong password, snapshot files or manifests that cannot be read (restic on S3, tar on S3 and on a
// folder, against the real restic and the test S3 server). Only a repository not created yet (a prefix or
// folder never written) lists as [] (README "Repositories"). Corruption is made on the server's own disk.
import { readdirSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LifeboatError } from '../../src/errors.js';
import type { RepositoryConfig } from '../../src/config/types.js';
import type { Provider } from '../../src/providers/types.js';
import { createProvider as createTar } from '../../plugins/tar/index.js';
import { createProvider as createRestic } from '../../plugins/restic/index.js';
import { providerInput, testLogger } from '../helpers/provider.js';
import { S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, startS3, type S3Server } from '../helpers/s3.js';
import { tmpDir } from '../helpers/tmp.js';

let server: S3Server;
beforeAll(async () => {
  server = await startS3();
});
afterAll(async () => {
  await server?.stop();
});

const CREDENTIALS = { AWS_ACCESS_KEY_ID: S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY };
const common = () => ({ log: testLogger(), signal: new AbortController().signal });

// A fresh root with a source folder; `make` builds a provider for repository settings in it.
async function setup() {
  const base = await tmpDir('lifeboat-list-unusable-');
  const dirs = { root: base, stateDir: path.join(base, 'state') };
  await mkdir(dirs.stateDir);
  const src = path.join(base, 'src');
  await mkdir(src);
  await writeFile(path.join(src, 'file.txt'), 'data\n');
  const prefix = path.basename(base);
  const make = (config: RepositoryConfig): Provider => (config.provider === 'restic' ? createRestic : createTar)(providerInput(config, dirs));
  const backup = (provider: Provider) => provider.create({ module: 'alpha', paths: [src], exclude: [], host: 'testhost', tags: ['module:alpha'], ...common() });
  const listed = (provider: Provider) => provider.list('alpha', common()).then((snapshots) => snapshots, (error: unknown) => error);
  return { base, dirs, prefix, make, backup, listed };
}

// restic on the test server: the module's repository is <bucket>/<prefix>/alpha.
function resticOnS3(t: { base: string; prefix: string }, options: { bucket?: string; password?: string } = {}): RepositoryConfig {
  const passwordFile = path.join(t.base, `pass-${options.password ?? 'right'}`);
  writeFileSync(passwordFile, `${options.password ?? 'right'}\n`, { mode: 0o600 });
  return { provider: 'restic', url: `s3:${server.endpoint}/${options.bucket ?? S3_BUCKET}/${t.prefix}`, passwordFile, cacert: server.caFile, env: CREDENTIALS };
}

function tarOnS3(t: { prefix: string }, bucket = S3_BUCKET): RepositoryConfig {
  return { provider: 'tar', upload: `s3://${bucket}/${t.prefix}`, encryption: 'none', endpoint: server.endpoint, cacert: server.caFile, compression: 'none', retries: 0, env: CREDENTIALS };
}

// The files s3rver keeps for the objects under a key prefix, on its own disk.
function objectFilesUnder(prefix: string): string[] {
  const dir = path.join(server.dataDir, S3_BUCKET, prefix);
  return readdirSync(dir).filter((name) => name.endsWith('._S3rver_object')).map((name) => path.join(dir, name));
}

async function expectError(value: unknown, message: string | RegExp): Promise<void> {
  expect(value).toBeInstanceOf(LifeboatError);
  if (typeof message === 'string') expect((value as Error).message).toContain(message);
  else expect((value as Error).message).toMatch(message);
}

describe('restic on S3', () => {
  it('a prefix never written lists as no snapshots', async () => {
    const t = await setup();
    expect(await t.listed(t.make(resticOnS3(t)))).toEqual([]);
  });

  it('a bucket that does not exist is an error naming it, and a backup does not create it', async () => {
    const t = await setup();
    const provider = t.make(resticOnS3(t, { bucket: 'absent-bucket' }));
    const listed = await t.listed(provider);
    await expectError(listed, `restic repository "local" of module alpha: restic snapshots failed (exit 1): Fatal: unable to open config file: Stat: The specified bucket does not exist`);
    expect((listed as LifeboatError).hint).toBe('create the bucket or fix url: of repository "local" in lifeboat.yaml');
    await expectError(await t.backup(provider).catch((e: unknown) => e), 'The specified bucket does not exist');
    expect(readdirSync(server.dataDir)).not.toContain('absent-bucket');
  });

  it('a wrong password is an error, not an empty list', async () => {
    const t = await setup();
    await t.backup(t.make(resticOnS3(t)));
    const listed = await t.listed(t.make(resticOnS3(t, { password: 'wrong' })));
    await expectError(listed, 'restic snapshots failed (exit 1): Fatal: wrong password or no key found');
    expect((listed as LifeboatError).hint).toBe('check the password of repository "local"');
  });

  it('snapshot files that cannot be read: an error when none is left; the readable ones listed otherwise', async () => {
    const t = await setup();
    const first = await t.backup(t.make(resticOnS3(t)));
    const second = await t.backup(t.make(resticOnS3(t)));
    const files = objectFilesUnder(`${t.prefix}/alpha/snapshots`);
    const fileOf = (id: string) => files.find((file) => path.basename(file).startsWith(id))!;
    // each listing with a fresh state dir: restic's cache would still hold the snapshots
    const fresh = () => createRestic(providerInput(resticOnS3(t), { root: t.dirs.root, stateDir: path.join(t.base, `state-${Math.random().toString(36).slice(2)}`) }));
    writeFileSync(fileOf(first.snapshot.id), 'garbage, not a restic snapshot\n');
    expect((await fresh().list('alpha', common())).map((s) => s.id)).toEqual([second.snapshot.id]);
    writeFileSync(fileOf(second.snapshot.id), 'garbage, not a restic snapshot\n');
    await expectError(await t.listed(fresh()), /^restic repository "local" of module alpha: restic could not read any snapshot: could not load snapshot [0-9a-f]{8}: .*; could not load snapshot [0-9a-f]{8}: /);
  });
});

describe('tar', () => {
  it('on S3: a prefix never written lists as no snapshots; a bucket that does not exist is an error', async () => {
    const t = await setup();
    expect(await t.listed(t.make(tarOnS3(t)))).toEqual([]);
    await expectError(await t.listed(t.make(tarOnS3(t, 'absent-bucket'))), 'bucket "absent-bucket" does not exist');
  });

  it('on S3: manifests that cannot be read are an error when none is left, not "no snapshots"', async () => {
    const t = await setup();
    const provider = t.make(tarOnS3(t));
    await t.backup(provider);
    const [manifest] = objectFilesUnder(`${t.prefix}/alpha`).filter((file) => file.includes('.manifest.json'));
    writeFileSync(manifest, '{"not": "a manifest"');
    await expectError(await t.listed(provider), `s3://${S3_BUCKET}/${t.prefix}/alpha at ${server.endpoint}: none of its 1 manifest(s) can be read: `);
    const good = await t.backup(provider);
    expect((await provider.list('alpha', common())).map((s) => s.id)).toEqual([good.snapshot.id]);
  });

  it('on a folder: a folder never written lists as no snapshots; a file where it should be is an error', async () => {
    const t = await setup();
    const url = path.join(t.base, 'repo');
    expect(await t.listed(t.make({ provider: 'tar', url, compression: 'none' }))).toEqual([]);
    await writeFile(url, 'a file where the repository folder should be\n');
    await expectError(await t.listed(t.make({ provider: 'tar', url, compression: 'none' })), `${url}/alpha: ENOTDIR: not a directory`);
  });

  it('on a folder: manifests that cannot be read are an error when none is left', async () => {
    const t = await setup();
    const url = path.join(t.base, 'repo');
    const provider = t.make({ provider: 'tar', url, compression: 'none' });
    await t.backup(provider);
    const dir = path.join(url, 'alpha');
    const manifest = readdirSync(dir).find((name) => name.endsWith('.manifest.json'))!;
    writeFileSync(path.join(dir, manifest), 'garbage');
    await expectError(await t.listed(provider), `${dir}: none of its 1 manifest(s) can be read: `);
  });
});
