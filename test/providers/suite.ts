// One shared suite for every provider (as unstorage's testDriver): testProvider(name, makeRepo) runs the
// same checks against restic, borg, tar and script providers, each with real tools and temp dirs.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LifeboatError } from '../../src/errors.js';
import { resolveSnapshot } from '../../src/providers/snapshot-ref.js';
import { kindOf, SAFETY_TAG } from '../../src/providers/kinds.js';
import { forgetByRetention } from '../../src/providers/retention.js';
import type { CreateOptions, Provider, ProviderSnapshot, StreamSource } from '../../src/providers/types.js';
import { testLogger } from '../helpers/provider.js';
import { tmpDir } from '../helpers/tmp.js';
import { diffTrees, EXCLUDED, excludesFor, filterTree, makeTree, readTree, withoutPaths } from '../helpers/tree.js';

export interface RepoContext {
  // The repository url: a path that does not exist yet (or, in the failure test, a file).
  url: string;
  root: string;
  stateDir: string;
}

export interface SuiteOptions {
  // Timestamps closer than this count as equal (1000 for tools that keep whole seconds).
  mtimeResolutionMs?: number;
  // Whether create honours exclude patterns (script providers get none).
  excludes?: boolean;
  // Whether list gives back host and tags.
  keepsMetadata?: boolean;
  // What list does on the unusable repository (a file where its folder should be; for S3 a bucket that
  // does not exist): throw a LifeboatError (the default), or answer [] because the provider takes a
  // repository it cannot find for one never written. Declared per provider, so either answer is asserted
  // exactly and a change shows.
  listOfUnusable?: 'throws' | 'empty';
}

// A test a provider's declared capabilities rule out (tar takes no streams, a script provider gets no
// excludes and has no check) is not registered for it, rather than shown as skipped: nothing is missing,
// and Lifeboat's fallbacks for them (staging dumps, verify's restore-only drill) are tested elsewhere.
function notApplicable(_name: string, _test: () => Promise<void>): void {}

// Registers the shared provider tests under describe(name).
export function testProvider(name: string, makeRepo: (context: RepoContext) => Provider, options: SuiteOptions = {}): void {
  const capabilities = makeRepo({ url: '/nonexistent/lifeboat-probe', root: '/nonexistent', stateDir: '/nonexistent' }).capabilities;
  const diffOptions = { mtimeResolutionMs: options.mtimeResolutionMs ?? 1 };

  // A fresh repository, source tree and target for one test.
  async function setup(randomBytes?: number) {
    const base = await tmpDir(`lifeboat-${name.replace(/\W+/g, '-')}-`);
    const context: RepoContext = { url: path.join(base, 'repo'), root: path.join(base, 'root'), stateDir: path.join(base, 'state') };
    await mkdir(context.root);
    await mkdir(context.stateDir);
    const src = path.join(base, 'src', 'var', 'lib', 'app');
    await makeTree(src, { randomBytes });
    const provider = makeRepo(context);
    const common = { log: testLogger(), signal: new AbortController().signal };
    const create = (module: string, extra: Partial<CreateOptions> = {}) =>
      provider.create({ module, paths: [src], exclude: [], host: 'testhost', tags: [`module:${module}`], ...common, ...extra });
    const restore = (module: string, snapshot: ProviderSnapshot, target: string, include?: string[]) => provider.restore({ module, snapshot, target, include, ...common });
    return { base, context, src, provider, common, create, restore, target: path.join(base, 'target') };
  }

  describe(`provider ${name}`, () => {
    it('creates snapshots that list shows oldest first, resolvable by prefix and latest', async () => {
      const t = await setup();
      const first = await t.create('alpha', { tags: ['module:alpha', 'nightly'] });
      const second = await t.create('alpha');
      // ids are plain names (they become file names under the state dir), one per snapshot
      expect(first.snapshot.id).toMatch(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/);
      expect(second.snapshot.id).not.toBe(first.snapshot.id);
      const listed = await t.provider.list('alpha', t.common);
      expect(listed.map((s) => s.id)).toEqual([first.snapshot.id, second.snapshot.id]);
      expect(listed[0].time < listed[1].time).toBe(true);
      for (const snapshot of listed) {
        expect(new Date(snapshot.time).toISOString()).toBe(snapshot.time);
        expect(snapshot).toMatchObject({ module: 'alpha', repository: 'local' });
      }
      if (options.keepsMetadata ?? true) {
        expect(listed[0].host).toBe('testhost');
        expect(listed[0].tags).toEqual(expect.arrayContaining(['module:alpha', 'nightly']));
      }
      expect(resolveSnapshot(listed, 'latest', 'test').id).toBe(second.snapshot.id);
      const prefix = uniquePrefix(listed.map((s) => s.id), first.snapshot.id);
      expect(resolveSnapshot(listed, prefix, 'test').id).toBe(first.snapshot.id);
    });

    it('keeps modules apart in one repository', async () => {
      const t = await setup();
      const alpha = await t.create('alpha');
      const beta = await t.create('beta');
      expect((await t.provider.list('alpha', t.common)).map((s) => s.id)).toEqual([alpha.snapshot.id]);
      const betas = await t.provider.list('beta', t.common);
      expect(betas.map((s) => s.id)).toEqual([beta.snapshot.id]);
      expect(betas[0].module).toBe('beta');
    });

    it('restores a tree exactly: content, modes, symlinks, hard links, empty dirs, unicode, mtimes', async () => {
      const t = await setup(3 * 1024 * 1024);
      const { snapshot } = await t.create('alpha');
      await t.restore('alpha', snapshot, t.target);
      expect(diffTrees(await readTree(t.src), await readTree(path.join(t.target, t.src)), diffOptions)).toEqual([]);
    });

    it('restores only the include paths', async () => {
      const t = await setup();
      const { snapshot } = await t.create('alpha');
      const dirs = ['data', 'hard', 'ünïcødé'];
      await t.restore('alpha', snapshot, t.target, dirs.map((dir) => path.join(t.src, dir)));
      const inside = (rel: string) => dirs.some((dir) => rel === dir || rel.startsWith(`${dir}/`));
      const expected = filterTree(await readTree(t.src), inside);
      const restored = filterTree(await readTree(path.join(t.target, t.src)), (rel) => rel !== '');
      expect(diffTrees(expected, restored, diffOptions)).toEqual([]);
    });

    (options.excludes === false ? notApplicable : it)('leaves out excluded paths (restic pattern syntax)', async () => {
      const t = await setup();
      const { snapshot } = await t.create('alpha', { exclude: excludesFor(t.src) });
      await t.restore('alpha', snapshot, t.target);
      const expected = withoutPaths(await readTree(t.src), EXCLUDED);
      expect(diffTrees(expected, await readTree(path.join(t.target, t.src)), diffOptions)).toEqual([]);
    });

    (capabilities.streams ? it : notApplicable)('takes streams: restored as files at their paths; a stream that fails leaves no snapshot', async () => {
      const t = await setup();
      const state = path.join(t.base, 'src', 'state');
      await mkdir(state, { recursive: true });
      const bytes = randomBytes(300_000);
      const source = (fail: boolean): StreamSource => ({
        path: path.join(state, 'databases', 'fake-db.dump'),
        label: 'fake database',
        open() {
          const stream = new PassThrough();
          const done = new Promise<void>((resolve, reject) => {
            stream.write(bytes.subarray(0, 100_000));
            setTimeout(() => {
              if (fail) {
                stream.end();
                reject(new LifeboatError('DATABASE', 'fake database: the dump died half-way'));
              } else {
                stream.end(bytes.subarray(100_000));
                resolve();
              }
            }, 200);
          });
          done.catch(() => {});
          return { stream, done, abort: () => stream.destroy() };
        },
      });
      const paths = [t.src, state];
      const { snapshot } = await t.create('alpha', { paths, streams: [source(false)], runId: 'run-1' });
      await t.restore('alpha', snapshot, t.target);
      expect(Buffer.compare(await readFile(path.join(t.target, state, 'databases', 'fake-db.dump')), bytes)).toBe(0);
      expect(diffTrees(await readTree(t.src), await readTree(path.join(t.target, t.src)), diffOptions)).toEqual([]);
      await expect(t.create('alpha', { paths, streams: [source(true)], runId: 'run-2' })).rejects.toThrow('the dump died half-way');
      expect((await t.provider.list('alpha', t.common)).map((s) => s.id)).toEqual([snapshot.id]);
    });

    (capabilities.forget ? it : notApplicable)('forgets by retention rules (dry run first)', async () => {
      const t = await setup();
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await t.create('alpha')).snapshot.id);
      const dry = await forgetByRetention(t.provider, 'alpha', { keepLast: 2 }, { ...t.common, dryRun: true });
      expect(dry.removed.map((s) => s.id)).toEqual([ids[0]]);
      expect(await t.provider.list('alpha', t.common)).toHaveLength(3);
      const none = await forgetByRetention(t.provider, 'alpha', {}, t.common);
      expect(none.removed).toEqual([]);
      const result = await forgetByRetention(t.provider, 'alpha', { keepLast: 2 }, t.common);
      expect(result.removed.map((s) => s.id)).toEqual([ids[0]]);
      expect(result.kept.map((s) => s.id)).toEqual(ids.slice(1));
      expect((await t.provider.list('alpha', t.common)).map((s) => s.id)).toEqual(ids.slice(1));
    });

    (capabilities.forget ? it : notApplicable)('forgets only this host\'s snapshots: another host\'s in the same repository stay', async () => {
      const t = await setup();
      const other = [(await t.create('alpha', { host: 'hostb' })).snapshot.id, (await t.create('alpha', { host: 'hostb' })).snapshot.id];
      const mine = [(await t.create('alpha')).snapshot.id, (await t.create('alpha')).snapshot.id];
      const result = await forgetByRetention(t.provider, 'alpha', { keepLast: 1 }, { ...t.common, host: 'testhost' });
      expect(result.removed.map((s) => s.id)).toEqual([mine[0]]);
      expect(result.kept.map((s) => s.id)).toEqual([mine[1]]);
      expect((await t.provider.list('alpha', t.common)).map((s) => [s.id, s.host])).toEqual([
        [other[0], 'hostb'],
        [other[1], 'hostb'],
        [mine[1], 'testhost'],
      ]);
    });

    it('lists safety snapshots as kind safety, and latest is the newest backup, not a newer safety snapshot', async () => {
      const t = await setup();
      const backup = await t.create('alpha');
      const safety = await t.create('alpha', { tags: ['module:alpha', SAFETY_TAG] });
      const listed = await t.provider.list('alpha', t.common);
      expect(listed.map((s) => [s.id, kindOf(s)])).toEqual([
        [backup.snapshot.id, 'backup'],
        [safety.snapshot.id, 'safety'],
      ]);
      expect(resolveSnapshot(listed, 'latest', 'test').id).toBe(backup.snapshot.id);
      expect(resolveSnapshot(listed, safety.snapshot.id, 'test').id).toBe(safety.snapshot.id);
    });

    (capabilities.forget ? it : notApplicable)('keepLast 2 after two safety snapshots keeps both backups; old safety snapshots beyond the newest 3 go', async () => {
      const t = await setup();
      const made: Array<{ id: string; kind: string }> = [];
      for (const kind of ['backup', 'backup', 'safety', 'safety']) {
        const { snapshot } = await t.create('alpha', { tags: kind === 'safety' ? ['module:alpha', SAFETY_TAG] : ['module:alpha'] });
        made.push({ id: snapshot.id, kind });
      }
      const result = await forgetByRetention(t.provider, 'alpha', { keepLast: 2 }, t.common);
      expect(result.removed).toEqual([]);
      expect((await t.provider.list('alpha', t.common)).map((s) => s.id)).toEqual(made.map((s) => s.id));
      // Two more safety snapshots, looked at 15 days later: only the newest 3 safety snapshots stay.
      for (let i = 0; i < 2; i++) made.push({ id: (await t.create('alpha', { tags: ['module:alpha', SAFETY_TAG] })).snapshot.id, kind: 'safety' });
      const later = new Date(Date.now() + 15 * 86_400_000);
      const aged = await forgetByRetention(t.provider, 'alpha', { keepLast: 2 }, { ...t.common, now: later });
      expect(aged.removed.map((s) => s.id)).toEqual([made[2].id]);
      expect((await t.provider.list('alpha', t.common)).map((s) => [s.id, kindOf(s)])).toEqual(made.filter((_, i) => i !== 2).map((s) => [s.id, s.kind]));
    });

    (capabilities.check ? it : notApplicable)('checks a repository with a fresh snapshot', async () => {
      const t = await setup();
      await t.create('alpha');
      await expect(t.provider.check!('alpha', { ...t.common, readData: true })).resolves.toBeUndefined();
    });

    it('fails with a LifeboatError and no snapshot when the repository path is unusable', async () => {
      const t = await setup();
      await writeFile(t.context.url, 'a file where the repository folder should be\n');
      const provider = makeRepo(t.context);
      const error = await provider.create({ module: 'alpha', paths: [t.src], exclude: [], host: 'testhost', tags: ['module:alpha'], ...t.common }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LifeboatError);
      // listing it: as the provider declares (never a thrown error turned into [] by the test)
      const listed = await provider.list('alpha', t.common).then(
        (snapshots) => snapshots,
        (e: unknown) => e,
      );
      if ((options.listOfUnusable ?? 'throws') === 'throws') expect(listed).toBeInstanceOf(LifeboatError);
      else expect(listed).toEqual([]);
      expect(await readFile(t.context.url, 'utf8')).toBe('a file where the repository folder should be\n');
    });

    it('fails with a LifeboatError and keeps no partial snapshot when a path cannot be read', async () => {
      const t = await setup();
      const good = await t.create('alpha');
      const error = await t.create('alpha', { paths: [t.src, path.join(t.base, 'vanished')] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LifeboatError);
      expect((await t.provider.list('alpha', t.common)).map((s) => s.id)).toEqual([good.snapshot.id]);
    });

    it('lists a module never backed up as [] without creating anything', async () => {
      const t = await setup();
      expect(await t.provider.list('never', t.common)).toEqual([]);
      expect(existsSync(path.join(t.context.url, 'never'))).toBe(false);
    });

    it('writes nothing on a dry-run create', async () => {
      const t = await setup();
      await t.create('alpha', { dryRun: true });
      expect(existsSync(path.join(t.context.url, 'alpha'))).toBe(false);
      expect(await t.provider.list('alpha', t.common)).toEqual([]);
    });
  });
}

// The shortest prefix of id that no other id starts with.
function uniquePrefix(ids: string[], id: string): string {
  for (let length = 1; length <= id.length; length++) {
    const prefix = id.slice(0, length);
    if (ids.filter((other) => other.startsWith(prefix)).length === 1) return prefix;
  }
  return id;
}
