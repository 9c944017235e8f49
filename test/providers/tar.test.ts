// The tar provider: the shared suite for zstd and gzip, plus tar-slip refusal, manifests and check.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import path from 'node:path';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { LifeboatError } from '../../src/errors.js';
import { createProvider } from '../../plugins/tar/index.js';
import { compileExcludes } from '../../src/files/exclude.js';
import type { Provider } from '../../src/providers/types.js';
import { providerInput, testLogger } from '../helpers/provider.js';
import { tmpDir } from '../helpers/tmp.js';
import { diffTrees, filterTree, makeTree, readTree } from '../helpers/tree.js';
import { readFileList } from '../helpers/tar-list.js';
import { testProvider } from './suite.js';
import { lifeboat, makeRoot } from '../helpers/root.js';

// lifeboat-tar/1 repositories (plaintext, and age with the passphrase in pass) of V1_SOURCE.
const FIXTURES = path.join(import.meta.dirname, '../fixtures/tar-v1');
const V1_SOURCE = '/tmp/lbm-tar-v1/app';

// tar lists a repository folder it cannot read as one never written ([]); see listOfUnusable in suite.ts
testProvider('tar (zstd)', ({ url, root, stateDir }) => createProvider(providerInput({ provider: 'tar', url, compression: 'zstd' }, { root, stateDir })));
testProvider('tar (gzip)', ({ url, root, stateDir }) => createProvider(providerInput({ provider: 'tar', url, compression: 'gzip' }, { root, stateDir })));

const common = () => ({ log: testLogger(), signal: new AbortController().signal });

// A tar repository in a temp dir with one source tree.
async function setup(compression: 'zstd' | 'gzip' | 'none' = 'none') {
  const base = await tmpDir();
  const url = path.join(base, 'repo');
  const provider: Provider = createProvider(providerInput({ provider: 'tar', url, compression }, { root: base, stateDir: base }));
  const src = path.join(base, 'src', 'app');
  await makeTree(src);
  return { base, url, provider, src, target: path.join(base, 'target') };
}

// Writes a hand-made (uncompressed) archive plus manifest, as an attacker or a bug might.
async function plantArchive(url: string, module: string, id: string, entries: Array<{ name: string; type?: 'file' | 'symlink' | 'link' | 'directory'; linkname?: string; body?: string }>) {
  const pack = tar.pack();
  for (const entry of entries) pack.entry({ name: entry.name, type: entry.type ?? 'file', linkname: entry.linkname }, entry.body ?? '');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  await mkdir(path.join(url, module), { recursive: true });
  const bytes = Buffer.concat(chunks);
  await writeFile(path.join(url, module, `${id}.tar`), bytes);
  // The archive's true size and SHA-256: anyone who can write the manifest can write those.
  const manifest = { format: 'lifeboat-tar/1', id, archive: `${id}.tar`, module, host: 'h', tags: [], time: new Date().toISOString(), paths: [], exclude: [], compression: 'none', archiveSize: bytes.length, archiveSha256: createHash('sha256').update(bytes).digest('hex'), files: [] };
  await writeFile(path.join(url, module, `${id}.manifest.json`), JSON.stringify(manifest));
}

describe('tar provider specifics', () => {
  it('writes <hex>-<module>-<time>.tar.zst with a manifest of every file', async () => {
    const t = await setup('zstd');
    const { snapshot } = await t.provider.create({ module: 'wiki', paths: [t.src], exclude: [], host: 'h', tags: [], ...common() });
    expect(snapshot.id).toMatch(/^[0-9a-f]{8}-wiki-\d{8}T\d{6}\.\d{3}Z$/);
    expect((await readdir(path.join(t.url, 'wiki'))).sort()).toEqual([`${snapshot.id}.files.ndjson.gz`, `${snapshot.id}.manifest.json`, `${snapshot.id}.tar.zst`]);
    const manifest = JSON.parse(await readFile(path.join(t.url, 'wiki', `${snapshot.id}.manifest.json`), 'utf8'));
    expect(manifest).not.toHaveProperty('files');
    const listFile = path.join(t.url, 'wiki', `${snapshot.id}.files.ndjson.gz`);
    const list = readFileList(listFile);
    expect(manifest).toMatchObject({ format: 'lifeboat-tar/2', list: { name: `${snapshot.id}.files.ndjson.gz`, size: statSync(listFile).size, sha256: createHash('sha256').update(readFileSync(listFile)).digest('hex'), entries: list.entries.length } });
    expect(list.head).toEqual({ format: 'lifeboat-tar-files/1', snapshot: { id: snapshot.id, module: 'wiki', host: 'h', time: snapshot.time, paths: [t.src], archive: `${snapshot.id}.tar.zst` }, exclude: [] });
    expect(list.end).toEqual({ end: true, entries: list.entries.length, archiveSize: manifest.archiveSize, archiveSha256: manifest.archiveSha256 });
    const small = list.entries.find((f) => f.path === path.join(t.src, 'data/small.txt'))!;
    expect(small).toMatchObject({ type: 'file', size: 6, mode: 0o640, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(list.entries.find((f) => f.path === path.join(t.src, 'hard/a'))).toMatchObject({ type: 'link', target: small.path });
  });

  // Repositories written before the file list was streamed (lifeboat-tar/1: the list inside the manifest,
  // sealed when encrypted), made by that version of the code: they still list, restore and verify.
  it.each(['plain', 'age'])('restores and verifies a lifeboat-tar/1 repository (%s)', async (kind) => {
    const base = await tmpDir();
    const url = path.join(base, 'repo');
    cpSync(path.join(FIXTURES, kind), url, { recursive: true });
    const provider = createProvider(providerInput({ provider: 'tar', url, compression: 'zstd', ...(kind === 'age' ? { passwordFile: path.join(FIXTURES, 'pass') } : {}) }, { root: base, stateDir: base }));
    const [snapshot, ...more] = await provider.list('wiki', common());
    expect(more).toEqual([]);
    const manifest = JSON.parse(readFileSync(path.join(url, 'wiki', `${snapshot.id}.manifest.json`), 'utf8'));
    expect(manifest.format).toBe('lifeboat-tar/1');
    await provider.check!('wiki', common());
    const target = path.join(base, 'target');
    await provider.restore({ module: 'wiki', snapshot, target, ...common() });
    const app = path.join(target, V1_SOURCE);
    expect(readFileSync(path.join(app, 'data/small.txt'), 'utf8')).toBe('hello\n');
    expect(readFileSync(path.join(app, 'data/a/z.txt'), 'utf8')).toBe('z\n');
    expect(readFileSync(path.join(app, 'data/sub/b.bin'))).toEqual(Buffer.from([0, 1, 2, 255, 254]));
    expect(readFileSync(path.join(app, 'n\u00ff.t'), 'utf8')).toBe('not utf-8 name\n');
    expect(statSync(path.join(app, 'hard/a')).ino).toBe(statSync(path.join(app, 'hard/b')).ino);
    expect(readlinkSync(path.join(app, 'link'))).toBe('data/small.txt');
    // a partial restore whose hard link's first member lies outside it
    const partial = path.join(base, 'partial');
    await provider.restore({ module: 'wiki', snapshot, target: partial, include: [path.join(V1_SOURCE, 'hard/b')], ...common() });
    expect(readFileSync(path.join(partial, V1_SOURCE, 'hard/b'), 'utf8')).toBe('linked\n');
    expect(existsSync(path.join(partial, V1_SOURCE, 'hard/a'))).toBe(false);
  });

  it('restores only some paths of a lifeboat-tar/2 archive, hard link groups included', async () => {
    const t = await setup('gzip');
    const { snapshot } = await t.provider.create({ module: 'wiki', paths: [t.src], exclude: [], host: 'h', tags: [], ...common() });
    await t.provider.restore({ module: 'wiki', snapshot, target: t.target, include: [path.join(t.src, 'hard/b')], ...common() });
    expect([...(await readTree(path.join(t.target, t.src))).keys()]).toEqual(['', 'hard', 'hard/b']);
    expect(readFileSync(path.join(t.target, t.src, 'hard/b'))).toEqual(readFileSync(path.join(t.src, 'hard/b')));
  });

  it('check names a file list that is damaged, cut short, or made for another archive', async () => {
    const t = await setup('none');
    const { snapshot } = await t.provider.create({ module: 'wiki', paths: [t.src], exclude: [], host: 'h', tags: [], ...common() });
    const listFile = path.join(t.url, 'wiki', `${snapshot.id}.files.ndjson.gz`);
    const good = readFileSync(listFile);
    const lines = gunzipSync(good).toString('utf8').split('\n');
    // the list without its last entry and end line: cut short
    writeFileSync(listFile, gzipSync(lines.slice(0, -3).join('\n') + '\n'));
    await expect(t.provider.check!('wiki', common())).rejects.toThrow(/files\.ndjson\.gz: the file list is damaged: cut short \(no end line after \d+ entries\)/);
    // one file's sha256 changed (and the manifest's record of the list left as it was)
    const small = lines.findIndex((line) => line.includes('small.txt'));
    const edited = [...lines];
    edited[small] = edited[small].replace(/"sha256":"[0-9a-f]{6}/, '"sha256":"000000');
    writeFileSync(listFile, gzipSync(edited.join('\n')));
    const error = await t.provider.check!('wiki', common()).catch((e: unknown) => e as LifeboatError);
    expect(error.problems).toEqual(expect.arrayContaining([expect.stringMatching(/small\.txt differs from the manifest \(sha256\)/), `${snapshot.id}.files.ndjson.gz: size or sha256 differs from the manifest`]));
    // a restore refuses the list (its bytes are not what the manifest records), and leaves nothing behind
    const restored = await t.provider.restore({ module: 'wiki', snapshot, target: t.target, ...common() }).catch((e: unknown) => e as Error);
    expect(restored.message).toMatch(/files\.ndjson\.gz: the file list is not the one its manifest records \(\d+ bytes, the manifest says \d+/);
    expect(existsSync(path.join(t.target, t.src))).toBe(false);
    writeFileSync(listFile, good);
    await t.provider.check!('wiki', common());
  });

  it('forget removes the file list with its archive; a list or archive without a manifest is a leftover', async () => {
    const t = await setup('zstd');
    const { snapshot: first } = await t.provider.create({ module: 'wiki', paths: [t.src], exclude: [], host: 'h', tags: [], ...common() });
    const { snapshot: second } = await t.provider.create({ module: 'wiki', paths: [t.src], exclude: [], host: 'h', tags: [], ...common() });
    await t.provider.forget!('wiki', [first], common());
    expect((await readdir(path.join(t.url, 'wiki'))).sort()).toEqual([`${second.id}.files.ndjson.gz`, `${second.id}.manifest.json`, `${second.id}.tar.zst`]);
    await writeFile(path.join(t.url, 'wiki', `${first.id}.files.ndjson.gz`), 'left by a killed run');
    expect(await t.provider.leftovers!('wiki', common())).toEqual([path.join(t.url, 'wiki', `${first.id}.files.ndjson.gz`)]);
  });

  it('writes plain .tar for compression none and restores it', async () => {
    const t = await setup('none');
    const { snapshot } = await t.provider.create({ module: 'wiki', paths: [t.src], exclude: [], host: 'h', tags: [], ...common() });
    expect(existsSync(path.join(t.url, 'wiki', `${snapshot.id}.tar`))).toBe(true);
    await t.provider.restore({ module: 'wiki', snapshot, target: t.target, ...common() });
    expect(diffTrees(await readTree(t.src), await readTree(path.join(t.target, t.src)))).toEqual([]);
  });

  it('restores a hard link whose first link lies outside the include paths', async () => {
    const t = await setup();
    const { snapshot } = await t.provider.create({ module: 'wiki', paths: [t.src], exclude: [], host: 'h', tags: [], ...common() });
    await t.provider.restore({ module: 'wiki', snapshot, target: t.target, include: [path.join(t.src, 'hard')], ...common() });
    const restored = filterTree(await readTree(path.join(t.target, t.src)), (rel) => rel.startsWith('hard'));
    expect([...restored.keys()]).toEqual(['hard', 'hard/a', 'hard/b']);
    expect(restored.get('hard/a')).toMatchObject({ sha256: (await readTree(t.src)).get('hard/a')!.sha256, linkGroup: 'hard/a' });
    expect(restored.get('hard/b')!.linkGroup).toBe('hard/a');
  });

  it('stops when aborted and leaves no archive behind', async () => {
    const t = await setup('zstd');
    const controller = new AbortController();
    controller.abort('SIGTERM');
    const error = await t.provider.create({ module: 'wiki', paths: [t.src], exclude: [], host: 'h', tags: [], log: testLogger(), signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INTERRUPTED' });
    expect(await readdir(path.join(t.url, 'wiki'))).toEqual([]);
  });

  it('does not list an archive whose manifest is missing (a half-written backup)', async () => {
    const t = await setup();
    await mkdir(path.join(t.url, 'wiki'), { recursive: true });
    await writeFile(path.join(t.url, 'wiki', 'wiki-20240101T000000.000Z.tar.partial'), 'half');
    await writeFile(path.join(t.url, 'wiki', 'wiki-20240101T000001.000Z.tar'), 'no manifest');
    expect(await t.provider.list('wiki', common())).toEqual([]);
  });

  it('check finds a damaged archive', async () => {
    const t = await setup('none');
    const { snapshot } = await t.provider.create({ module: 'wiki', paths: [t.src], exclude: [], host: 'h', tags: [], ...common() });
    await t.provider.check!('wiki', common());
    const file = path.join(t.url, 'wiki', `${snapshot.id}.tar`);
    const bytes = await readFile(file);
    const offset = bytes.indexOf('hello\n');
    bytes[offset] = 'j'.charCodeAt(0);
    await writeFile(file, bytes);
    await expect(t.provider.check!('wiki', common())).rejects.toThrow(/small\.txt differs from the manifest/);
  });

  it.each([
    ['a path with ..', [{ name: '../../evil', body: 'x' }], /refusing entry "..\/..\/evil"/],
    ['a relative symlink pointing outside', [{ name: 'app/link', type: 'symlink' as const, linkname: '../../../../outside' }], /refusing entry "app\/link".*outside/],
    ['a write through a symlink', [{ name: 'app/abs', type: 'symlink' as const, linkname: '/tmp' }, { name: 'app/abs/evil', body: 'x' }], /refusing entry "app\/abs\/evil".*through the symlink/],
    ['a hard link outside', [{ name: 'app/hl', type: 'link' as const, linkname: '../../etc/passwd' }], /refusing entry "app\/hl".*leaves the restore target/],
    ['a hard link to a file not in the archive', [{ name: 'app/hl', type: 'link' as const, linkname: 'etc/passwd' }], /refusing entry "app\/hl".*hard link/],
  ])('refuses %s (tar-slip) with an error naming the entry', async (_what, entries, message) => {
    const t = await setup();
    await plantArchive(t.url, 'wiki', 'wiki-20240101T000000.000Z', entries);
    const [snapshot] = await t.provider.list('wiki', common());
    const error = await t.provider.restore({ module: 'wiki', snapshot, target: t.target, ...common() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LifeboatError);
    expect((error as Error).message).toMatch(message);
    expect(existsSync(path.join(t.base, 'evil'))).toBe(false);
    expect(existsSync('/tmp/evil')).toBe(false);
  });

  it('matches excludes the way restic does', () => {
    const excluded = compileExcludes(['*.tmp', 'cache/', '/srv/app/logs', '**/deep/*.log', 'a/b', '/x/**/y', 'file[0-9].txt']);
    expect(excluded('/srv/app/x.tmp')).toBe(true);
    expect(excluded('/srv/app/sub/cache')).toBe(true);
    expect(excluded('/srv/app/sub/cache/file')).toBe(true);
    expect(excluded('/srv/app/logs/a.log')).toBe(true);
    expect(excluded('/srv/other/logs')).toBe(false);
    expect(excluded('/srv/keep/deep/z.log')).toBe(true);
    expect(excluded('/srv/keep/deep/z.txt')).toBe(false);
    expect(excluded('/q/a/b/c')).toBe(true);
    expect(excluded('/q/a/c/b')).toBe(false);
    expect(excluded('/x/y')).toBe(true);
    expect(excluded('/x/1/2/y')).toBe(true);
    expect(excluded('/z/x/y')).toBe(false);
    expect(excluded('/d/file7.txt')).toBe(true);
    expect(excluded('/d/fileA.txt')).toBe(false);
    expect(excluded('/srv/app/x.tmpl')).toBe(false);
    expect(() => compileExcludes(['!keep'])).toThrow(LifeboatError);
  });

  it('refuses a url that is not a local folder', () => {
    expect(() => createProvider(providerInput({ provider: 'tar', url: 's3://bucket/prefix' }, { root: '/', stateDir: '/' }))).toThrow(/must be a local folder/);
  });
});

describe('tar restore through the CLI refuses an edited file list or a cut archive', () => {
  // A root with one tar repository (zstd) and module m over one folder, backed up once.
  async function backedUp() {
    const t = makeRoot();
    const repo = path.join(t.dir, 'tar');
    t.write('lifeboat.yaml', JSON.stringify({ repositories: { vault: { provider: 'tar', url: repo, compression: 'zstd' } } }));
    const data = path.join(t.dir, 'data');
    await mkdir(data);
    writeFileSync(path.join(data, 'run.sh'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
    writeFileSync(path.join(data, 'big.bin'), Buffer.alloc(300_000, 7));
    t.module('m', { folders: [data] });
    const backup = await lifeboat(t, ['backup', 'm']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const names = await readdir(path.join(repo, 'm'));
    const id = names.find((name) => name.endsWith('.manifest.json'))!.replace('.manifest.json', '');
    return { t, data, dir: path.join(repo, 'm'), id, target: path.join(t.dir, 'target') };
  }

  it('refuses a file list whose bytes are not what the manifest records (a mode edited to setuid), naming it, and restores nothing', async () => {
    const { t, data, dir, id, target } = await backedUp();
    try {
      const listFile = path.join(dir, `${id}.files.ndjson.gz`);
      const lines = gunzipSync(readFileSync(listFile)).toString('utf8').split('\n');
      const at = lines.findIndex((line) => line.includes('run.sh'));
      expect(at).toBeGreaterThan(0);
      const entry = JSON.parse(lines[at]) as { mode: number };
      lines[at] = JSON.stringify({ ...entry, mode: entry.mode | 0o4000 });
      writeFileSync(listFile, gzipSync(lines.join('\n')));
      const restore = await lifeboat(t, ['restore', 'm', '--target', target]);
      expect(restore.exitCode).not.toBe(0);
      expect(restore.stderr).toContain(`${listFile}: the file list is not the one its manifest records`);
      expect(restore.stderr).toContain('`lifeboat verify`');
      expect(existsSync(path.join(target, data, 'run.sh'))).toBe(false);
    } finally {
      t.cleanup();
    }
  }, 120_000);

  it('makes `lifeboat check` name a cut archive or file list with its size against the manifest', async () => {
    const { t, dir, id } = await backedUp();
    try {
      expect((await lifeboat(t, ['check'])).exitCode).toBe(0);
      const archive = path.join(dir, (await readdir(dir)).find((name) => name.startsWith(id) && name.endsWith('.tar.zst'))!);
      const listFile = path.join(dir, `${id}.files.ndjson.gz`);
      const archiveBytes = readFileSync(archive);
      const listBytes = readFileSync(listFile);
      writeFileSync(archive, archiveBytes.subarray(0, 10));
      writeFileSync(listFile, listBytes.subarray(0, 5));
      const check = await lifeboat(t, ['check']);
      expect(check.exitCode).not.toBe(0);
      expect(check.stdout).toContain(`${archive}: 10 bytes, its manifest records ${archiveBytes.length}`);
      expect(check.stdout).toContain(`${listFile}: 5 bytes, its manifest records ${listBytes.length}`);
      expect(check.stdout).toContain('`lifeboat verify m`');
    } finally {
      t.cleanup();
    }
  }, 120_000);

  it('names a cut .tar.zst and its size against the manifest', async () => {
    const { t, dir, id, target } = await backedUp();
    try {
      const archive = (await readdir(dir)).find((name) => name.startsWith(id) && name.endsWith('.tar.zst'))!;
      const file = path.join(dir, archive);
      const whole = readFileSync(file);
      writeFileSync(file, whole.subarray(0, whole.length - 100));
      const restore = await lifeboat(t, ['restore', 'm', '--target', target]);
      expect(restore.exitCode).not.toBe(0);
      expect(restore.stderr).toContain(`${file}: not the archive its manifest records (${whole.length - 100} bytes, sha256 ${createHash('sha256').update(whole.subarray(0, whole.length - 100)).digest('hex').slice(0, 12)}…; the manifest records ${whole.length} bytes, sha256 ${createHash('sha256').update(whole).digest('hex').slice(0, 12)}…): damaged, cut short or swapped; nothing was restored`);
    } finally {
      t.cleanup();
    }
  }, 120_000);
});
