// The borg provider against the real borg binary (a missing binary fails these tests).
import { existsSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LifeboatError } from '../../src/errors.js';
import { Logger } from '../../src/log/logger.js';
import { createProvider, moduleRepository, toBorgPattern } from '../../plugins/borg/index.js';
import { providerInput, testLogger } from '../helpers/provider.js';
import { tmpDir } from '../helpers/tmp.js';
import { testProvider } from './suite.js';

const PASSPHRASE = 'correct horse battery staple';

testProvider('borg', ({ url, root, stateDir }) => {
  const passwordFile = path.join(stateDir, 'borg.pass');
  if (!url.startsWith('/nonexistent')) writeFileSync(passwordFile, `${PASSPHRASE}\n`, { mode: 0o600 });
  return createProvider(providerInput({ provider: 'borg', url, passwordFile }, { root, stateDir }));
});

// A fresh temp dir with a source folder holding one file, and a passphrase file.
async function sourceAndPassphrase(): Promise<{ base: string; src: string; passwordFile: string }> {
  const base = await tmpDir();
  const src = path.join(base, 'src');
  await mkdir(src);
  writeFileSync(path.join(src, 'file'), 'data');
  const passwordFile = path.join(base, 'pass');
  writeFileSync(passwordFile, `${PASSPHRASE}\n`);
  return { base, src, passwordFile };
}

describe('borg provider specifics', () => {
  it('translates restic-style excludes to borg shell patterns', () => {
    expect(toBorgPattern('*.tmp')).toBe('sh:**/*.tmp');
    expect(toBorgPattern('cache/')).toBe('sh:**/cache');
    expect(toBorgPattern('/var/lib/app/logs')).toBe('sh:/var/lib/app/logs');
    expect(toBorgPattern('a/b')).toBe('sh:**/a/b');
    expect(toBorgPattern('**/deep/*.log')).toBe('sh:**/deep/*.log');
    expect(() => toBorgPattern('!keep')).toThrow(LifeboatError);
  });

  it('names the repository and the fix when no passphrase is configured', async () => {
    const base = await tmpDir();
    const provider = createProvider(providerInput({ provider: 'borg', url: path.join(base, 'repo') }, { root: base, stateDir: base }, { name: 'offsite' }));
    const error = await provider.list('alpha', { log: testLogger(), env: { PATH: process.env.PATH ?? '' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LifeboatError);
    expect((error as LifeboatError).message).toContain('"offsite"');
    expect((error as LifeboatError).hint).toContain('passwordFile');
  });

  it('passes the passphrase on fd 3 and never on a command line', async () => {
    const { base, src, passwordFile } = await sourceAndPassphrase();
    const lines: string[] = [];
    const log = new Logger({ level: 'debug', sink: { write: (line) => lines.push(line) } });
    const secrets: string[] = [];
    const provider = createProvider(providerInput({ provider: 'borg', url: path.join(base, 'repo'), passwordFile }, { root: base, stateDir: base }, { secrets }));
    const { snapshot } = await provider.create({ module: 'alpha', paths: [src], exclude: [], host: 'h', tags: [], log, signal: new AbortController().signal });
    expect(snapshot.id).toMatch(/^alpha-\d{8}T\d{6}\.\d{3}Z$/);
    expect(secrets).toContain(PASSPHRASE);
    expect(lines.some((line) => line.includes('running borg create'))).toBe(true);
    expect(lines.join('')).not.toContain(PASSPHRASE);
  });

  it("waits for a repository lock another borg holds instead of failing after borg's default 1 s", async () => {
    const { base, src, passwordFile } = await sourceAndPassphrase();
    const provider = createProvider(providerInput({ provider: 'borg', url: path.join(base, 'repo'), passwordFile }, { root: base, stateDir: base }));
    const options = { module: 'alpha', paths: [src], exclude: [], host: 'h', tags: [], log: testLogger(), signal: new AbortController().signal };
    await provider.create(options);
    // A borg run by hand (or the orphan of a killed run) holds the exclusive lock for 3 s.
    const env = { ...process.env, BORG_PASSPHRASE: PASSPHRASE, BORG_BASE_DIR: path.join(base, 'by-hand') };
    const holder = execa('borg', ['with-lock', path.join(base, 'repo', 'alpha'), 'sh', '-c', `touch ${base}/held; sleep 3`], { env, reject: false });
    while (!existsSync(path.join(base, 'held'))) await new Promise((resolve) => setTimeout(resolve, 20));
    const { snapshot } = await provider.create(options);
    expect((await holder).exitCode).toBe(0);
    expect((await provider.list('alpha', options)).map((s) => s.id)).toContain(snapshot.id);
  });

  it('puts one repository per module under a local folder or an ssh url', () => {
    expect(moduleRepository('/var/backups/borg', 'wiki', '/etc/lifeboat')).toBe('/var/backups/borg/wiki');
    expect(moduleRepository('ssh://u@host:22/./borg/', 'wiki', '/')).toBe('ssh://u@host:22/./borg/wiki');
  });
});
