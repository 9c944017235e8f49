// The restic provider against the real restic binary (a missing binary fails these tests).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LifeboatError } from '../../src/errors.js';
import { Logger } from '../../src/log/logger.js';
import { createProvider, moduleRepository } from '../../plugins/restic/index.js';
import { providerInput, testLogger } from '../helpers/provider.js';
import { tmpDir } from '../helpers/tmp.js';
import { testProvider } from './suite.js';

const PASSWORD = 'correct horse battery staple';

testProvider('restic', ({ url, root, stateDir }) => {
  const passwordFile = path.join(stateDir, 'restic.pass');
  if (!url.startsWith('/nonexistent')) writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  return createProvider(providerInput({ provider: 'restic', url, passwordFile }, { root, stateDir }));
});

describe('restic provider specifics', () => {
  it('names the repository and the fix when no password is configured', async () => {
    const base = await tmpDir();
    const provider = createProvider(providerInput({ provider: 'restic', url: path.join(base, 'repo') }, { root: base, stateDir: base }, { name: 'offsite' }));
    const error = await provider.list('alpha', { log: testLogger(), env: { PATH: process.env.PATH ?? '' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LifeboatError);
    expect((error as LifeboatError).message).toContain('"offsite"');
    expect((error as LifeboatError).hint).toContain('passwordFile');
  });

  it('takes RESTIC_PASSWORD from the repository env, masks it, and never puts it on a command line', async () => {
    const base = await tmpDir();
    const src = path.join(base, 'src');
    await mkdir(src);
    writeFileSync(path.join(src, 'file'), 'data');
    const lines: string[] = [];
    const log = new Logger({ level: 'debug', sink: { write: (line) => lines.push(line) } });
    const secrets: string[] = [];
    const input = providerInput({ provider: 'restic', url: path.join(base, 'repo'), env: { RESTIC_PASSWORD: PASSWORD } }, { root: base, stateDir: base }, { secrets });
    const provider = createProvider(input);
    const { snapshot } = await provider.create({ module: 'alpha', paths: [src], exclude: [], host: 'h', tags: [], log, signal: new AbortController().signal });
    expect(snapshot.id).toMatch(/^[0-9a-f]{64}$/);
    expect(secrets).toContain(PASSWORD);
    expect(lines.some((line) => line.includes('running restic backup'))).toBe(true);
    expect(lines.join('')).not.toContain(PASSWORD);
  });

  it('lists a local repository from its snapshot cache while it knows every snapshot there, and asks restic when one appeared behind its back', async () => {
    const base = await tmpDir();
    const src = path.join(base, 'src');
    await mkdir(src);
    writeFileSync(path.join(src, 'file'), 'data');
    writeFileSync(path.join(base, 'pass'), `${PASSWORD}\n`);
    const lines: string[] = [];
    const log = new Logger({ level: 'debug', sink: { write: (line) => lines.push(line) } });
    const config = { provider: 'restic', url: path.join(base, 'repo'), passwordFile: path.join(base, 'pass') };
    const provider = createProvider(providerInput(config, { root: base, stateDir: path.join(base, 'state') }));
    const env = { PATH: process.env.PATH ?? '' };
    const resticRuns = () => lines.filter((line) => line.includes('running restic snapshots')).length;
    const first = await provider.create({ module: 'alpha', paths: [src], exclude: [], host: 'h', tags: ['extra'], log, env });
    const safety = await provider.create({ module: 'alpha', paths: [src], exclude: [], host: 'h', tags: ['lifeboat-safety'], log, env });
    lines.length = 0;
    const cached = await provider.list('alpha', { log, env });
    expect(cached.map((s) => s.id)).toEqual([first.snapshot.id, safety.snapshot.id]);
    expect(resticRuns()).toBe(0);
    // What the cache says is what restic says (a provider with an empty state dir asks restic).
    const fresh = createProvider(providerInput(config, { root: base, stateDir: path.join(base, 'other-state') }));
    expect(await fresh.list('alpha', { log: testLogger(), env })).toEqual(cached);
    // A snapshot made with restic itself: restic is asked, and it is listed.
    const restic = (...args: string[]) => execFileSync('restic', ['-r', path.join(base, 'repo', 'alpha'), ...args], { env: { ...process.env, RESTIC_PASSWORD: PASSWORD }, encoding: 'utf8' });
    restic('backup', '--quiet', '--tag', 'module:alpha', '--host', 'other', src);
    const listed = await provider.list('alpha', { log, env });
    expect(listed.map((s) => s.host)).toEqual(['h', 'h', 'other']);
    expect(resticRuns()).toBe(1);
    // A snapshot forgotten with restic itself is gone from the list, without asking restic again.
    restic('forget', first.snapshot.id);
    expect((await provider.list('alpha', { log, env })).map((s) => s.id)).toEqual(listed.slice(1).map((s) => s.id));
    expect(resticRuns()).toBe(1);
  });

  it('puts one repository per module under a local folder or a remote url', () => {
    expect(moduleRepository('/var/backups/lifeboat', 'wiki', '/etc/lifeboat')).toBe('/var/backups/lifeboat/wiki');
    expect(moduleRepository('backups', 'wiki', '/etc/lifeboat')).toBe('/etc/lifeboat/backups/wiki');
    expect(moduleRepository('s3:https://s3.example.com/bucket/lifeboat/', 'wiki', '/')).toBe('s3:https://s3.example.com/bucket/lifeboat/wiki');
    expect(moduleRepository('rest:https://host:8000/', 'wiki', '/')).toBe('rest:https://host:8000/wiki');
  });
});
