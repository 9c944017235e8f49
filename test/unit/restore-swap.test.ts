// The in-place swap of a restore on real folders: directories made to hold exactly the staged copy, files
// and directories replaced both ways, nested swap roots (mount points) walked into, byte names, scratch
// names left alone, metadata applied, and a failure undone so every path is as it was.
import { describe, expect, it } from 'vitest';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SCRATCH_PREFIX_BYTES, SwapFailed, applyMetadata, isScratchName, planSwap, swapAll, type SwapRoot } from '../../src/lifecycle/restore-swap.js';
import { LifeboatError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';

const B = (p: string) => Buffer.from(p);

// A folder tree as { name: text | tree }, written and read back.
type Tree = { [name: string]: string | Tree };
function writeTree(dir: string, tree: Tree): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, value] of Object.entries(tree)) {
    if (typeof value === 'string') writeFileSync(path.join(dir, name), value);
    else writeTree(path.join(dir, name), value);
  }
}
function readTree(dir: string): Tree | string {
  if (!lstatSync(dir).isDirectory()) return readFileSync(dir, 'utf8');
  const out: Tree = {};
  for (const name of readdirSync(dir).sort()) out[name] = readTree(path.join(dir, name));
  return out;
}

async function scene(live: Tree | string | undefined, staged: Tree | string | undefined) {
  const dir = await tmpDir();
  const livePath = path.join(dir, 'app');
  const stagedPath = path.join(dir, '.lifeboat-restore-stage', 'app');
  mkdirSync(path.dirname(stagedPath), { recursive: true });
  if (typeof live === 'string') writeFileSync(livePath, live);
  else if (live) writeTree(livePath, live);
  if (typeof staged === 'string') writeFileSync(stagedPath, staged);
  else if (staged) writeTree(stagedPath, staged);
  const root: SwapRoot = { live: B(livePath), staged: staged === undefined ? undefined : B(stagedPath), trash: B(path.join(dir, '.lifeboat-restore-trash')), mount: false };
  return { dir, livePath, stagedPath, root };
}

describe('swapAll', () => {
  it('makes a directory hold exactly the staged copy; commit removes the trash', async () => {
    const s = await scene({ keep: 'old', gone: 'x', sub: { a: '1', b: '2' }, '.lifeboat-restore-mine': 'scratch' }, { keep: 'new', added: 'y', sub: { a: '1b' } });
    chmodSync(s.stagedPath, 0o750);
    utimesSync(s.stagedPath, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-02T00:00:00Z'));
    const tx = swapAll([s.root]);
    expect(readTree(s.livePath)).toEqual({ '.lifeboat-restore-mine': 'scratch', added: 'y', keep: 'new', sub: { a: '1b' } });
    expect(statSync(s.livePath).mode & 0o7777).toBe(0o750);
    expect(statSync(s.livePath).mtime.toISOString()).toBe('2020-01-02T00:00:00.000Z');
    expect(existsSync(path.join(s.dir, '.lifeboat-restore-trash'))).toBe(true);
    expect(readdirSync(path.join(s.dir, '.lifeboat-restore-trash')).sort()).toEqual(['0', '1', '2']);
    await tx.commit();
    expect(existsSync(path.join(s.dir, '.lifeboat-restore-trash'))).toBe(false);
    expect(tx.undo()).toEqual([]);
    expect(readTree(s.livePath)).toEqual({ '.lifeboat-restore-mine': 'scratch', added: 'y', keep: 'new', sub: { a: '1b' } });
  });

  it('undo after a successful swap puts everything back', async () => {
    const before = { keep: 'old', gone: 'x', sub: { a: '1' } };
    const s = await scene(before, { keep: 'new', added: 'y' });
    chmodSync(s.livePath, 0o711);
    const tx = swapAll([s.root]);
    expect(tx.undo()).toEqual([]);
    expect(readTree(s.livePath)).toEqual(before);
    expect(statSync(s.livePath).mode & 0o7777).toBe(0o711);
    expect(existsSync(path.join(s.dir, '.lifeboat-restore-trash'))).toBe(false);
  });

  it('replaces a file by a file, creates a missing path, and leaves a root the snapshot lacks alone', async () => {
    const file = await scene('old text', 'new text');
    await swapAll([file.root]).commit();
    expect(readFileSync(file.livePath, 'utf8')).toBe('new text');
    const missing = await scene(undefined, { a: '1' });
    const tx = swapAll([missing.root]);
    expect(readTree(missing.livePath)).toEqual({ a: '1' });
    expect(existsSync(path.join(missing.dir, '.lifeboat-restore-trash'))).toBe(false);
    tx.undo();
    expect(existsSync(missing.livePath)).toBe(false);
    const absent = await scene({ a: '1' }, undefined);
    await swapAll([absent.root]).commit();
    expect(readTree(absent.livePath)).toEqual({ a: '1' });
  });

  it('a directory becomes a file and a file becomes a directory, and back on undo', async () => {
    const toFile = await scene({ a: '1' }, 'now a file');
    const tx = swapAll([toFile.root]);
    expect(readTree(toFile.livePath)).toBe('now a file');
    expect(readdirSync(toFile.dir).filter((n) => n.includes('aside'))).toEqual([]);
    tx.undo();
    expect(readTree(toFile.livePath)).toEqual({ a: '1' });
    const toDir = await scene('was a file', { b: '2' });
    await swapAll([toDir.root]).commit();
    expect(readTree(toDir.livePath)).toEqual({ b: '2' });
  });

  it('the staged copy of a file kept inside the directory it replaces', async () => {
    const dir = await tmpDir();
    const live = path.join(dir, 'data');
    writeTree(live, { x: '1', '.lifeboat-restore-s': { data: 'file content' } });
    const root: SwapRoot = { live: B(live), staged: B(path.join(live, '.lifeboat-restore-s', 'data')), trash: B(path.join(dir, '.lifeboat-restore-t')), mount: false };
    await swapAll([root]).commit();
    expect(readTree(live)).toBe('file content');
  });

  it('walks into a directory that holds a nested root (a mount point) instead of moving it', async () => {
    const dir = await tmpDir();
    const live = path.join(dir, 'srv');
    writeTree(live, { old: 'o', mnt: { inner: 'mounted old', extra: 'e' }, deep: { mnt2: { z: 'z' }, other: 'x' }, lost: { mnt3: { q: 'q' } } });
    const staged = path.join(dir, '.lifeboat-restore-1', 'srv');
    writeTree(staged, { new: 'n', deep: { sibling: 's' } });
    const stagedMnt = path.join(dir, '.lifeboat-restore-2', 'mnt');
    writeTree(stagedMnt, { inner: 'mounted new' });
    const roots: SwapRoot[] = [
      { live: B(live), staged: B(staged), trash: B(path.join(dir, '.lifeboat-restore-t1')), mount: false },
      { live: B(path.join(live, 'mnt')), staged: B(stagedMnt), trash: B(path.join(live, 'mnt', '.lifeboat-restore-t2')), mount: true },
      { live: B(path.join(live, 'deep', 'mnt2')), staged: undefined, trash: B(path.join(dir, '.lifeboat-restore-t3')), mount: true },
      { live: B(path.join(live, 'lost', 'mnt3')), staged: undefined, trash: B(path.join(dir, '.lifeboat-restore-t4')), mount: true },
    ];
    const mntIno = statSync(path.join(live, 'mnt')).ino;
    const deepIno = statSync(path.join(live, 'deep')).ino;
    planSwap(roots);
    const tx = swapAll(roots);
    expect(readTree(live)).toEqual({ deep: { mnt2: { z: 'z' }, sibling: 's' }, lost: { mnt3: { q: 'q' } }, mnt: { '.lifeboat-restore-t2': { '2': 'e', '3': 'mounted old' }, inner: 'mounted new' }, new: 'n' });
    expect(statSync(path.join(live, 'mnt')).ino).toBe(mntIno);
    expect(statSync(path.join(live, 'deep')).ino).toBe(deepIno);
    tx.undo();
    expect(readTree(live)).toEqual({ old: 'o', mnt: { inner: 'mounted old', extra: 'e' }, deep: { mnt2: { z: 'z' }, other: 'x' }, lost: { mnt3: { q: 'q' } } });
  });

  it('handles names that are not UTF-8', async () => {
    const dir = await tmpDir();
    const live = Buffer.concat([B(path.join(dir, 'app')), B('/')]);
    mkdirSync(live.subarray(0, live.length - 1));
    const odd = Buffer.concat([live, Buffer.from([0xff, 0x41])]);
    writeFileSync(odd, 'old');
    const staged = B(path.join(dir, '.lifeboat-restore-s'));
    mkdirSync(staged);
    writeFileSync(Buffer.concat([staged, B('/'), Buffer.from([0xff, 0x41])]), 'new');
    await swapAll([{ live: live.subarray(0, live.length - 1), staged, trash: B(path.join(dir, '.lifeboat-restore-t')), mount: false }]).commit();
    expect(readFileSync(odd, 'utf8')).toBe('new');
  });

  it('a failure part-way undoes every step and says so', async () => {
    const s = await scene({ a: 'old a', b: 'old b' }, { a: 'new a', c: 'new c' });
    const second = await scene({ x: 'old x' }, { y: 'new y' });
    mkdirSync(path.join(second.dir, '.lifeboat-restore-trash')); // the second root's trash cannot be created
    writeFileSync(path.join(second.dir, '.lifeboat-restore-trash', 'in-the-way'), '');
    let error: unknown;
    try {
      swapAll([s.root, second.root]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SwapFailed);
    expect(error).toBeInstanceOf(LifeboatError);
    expect((error as SwapFailed).undone).toBe(true);
    expect((error as SwapFailed).code).toBe('RESTORE');
    expect((error as SwapFailed).hint).toBeUndefined();
    expect((error as Error).message).toBe(`the in-place swap failed: EEXIST: file already exists, mkdir '${path.join(second.dir, '.lifeboat-restore-trash')}'; every path was put back as it was`);
    expect(readTree(s.livePath)).toEqual({ a: 'old a', b: 'old b' });
    expect(readTree(second.livePath)).toEqual({ x: 'old x' });
    expect(existsSync(path.join(s.dir, '.lifeboat-restore-trash'))).toBe(false);
    const failed = new SwapFailed('m', false, new Error('c'));
    expect(failed.hint).toBe('run one of the two commands below to finish the restore or roll it back');
    expect(failed.undone).toBe(false);
  });

  it('an undo step that cannot be done is named', async () => {
    const s = await scene({ a: 'old a' }, { b: 'new b' });
    const tx = swapAll([s.root]);
    // The moved-away file's trash copy disappears: it cannot go back.
    const trash = path.join(s.dir, '.lifeboat-restore-trash');
    const [moved] = readdirSync(trash);
    writeFileSync(path.join(s.dir, 'elsewhere'), '');
    renameSync(path.join(trash, moved!), path.join(s.dir, 'stolen'));
    const failed = tx.undo();
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatch(new RegExp(`^${path.join(s.livePath, 'a').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOENT: no such file or directory, rename`));
    expect(readTree(s.livePath)).toEqual({});
  });
});

describe('planSwap and helpers', () => {
  it('refuses to turn a mount point into a file', async () => {
    const s = await scene({ a: '1' }, 'a file');
    expect(() => planSwap([{ ...s.root, mount: false }])).not.toThrow();
    expect(() => planSwap([{ ...s.root, staged: undefined, mount: true }])).not.toThrow();
    let error: unknown;
    try {
      planSwap([{ ...s.root, mount: true }]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LifeboatError);
    expect((error as LifeboatError).message).toBe(`${s.livePath} is a mount point, but the snapshot holds a file there; it cannot be replaced`);
    expect((error as LifeboatError).code).toBe('RESTORE');
    expect((error as LifeboatError).hint).toBe('unmount it first, or restore with --target DIR and copy what you need');
    const dirs = await scene({ a: '1' }, { b: '2' });
    expect(() => planSwap([{ ...dirs.root, mount: true }])).not.toThrow();
  });

  it('isScratchName and applyMetadata', async () => {
    expect(SCRATCH_PREFIX_BYTES.toString()).toBe('.lifeboat-restore-');
    expect(isScratchName(B('.lifeboat-restore-x'))).toBe(true);
    expect(isScratchName(B('.lifeboat-restore-'))).toBe(true);
    expect(isScratchName(B('.lifeboat-restore'))).toBe(false);
    expect(isScratchName(B('x.lifeboat-restore-'))).toBe(false);
    const dir = await tmpDir();
    const from = path.join(dir, 'from');
    const to = path.join(dir, 'to');
    mkdirSync(from, { mode: 0o700 });
    mkdirSync(to);
    chmodSync(from, 0o2750);
    utimesSync(from, new Date('2021-05-05T00:00:00Z'), new Date('2021-06-06T00:00:00Z'));
    applyMetadata(B(to), lstatSync(from));
    expect(statSync(to).mode & 0o7777).toBe(0o2750);
    expect(statSync(to).mtime.toISOString()).toBe('2021-06-06T00:00:00.000Z');
    expect(statSync(to).atime.toISOString()).toBe('2021-05-05T00:00:00.000Z');
    symlinkSync(from, path.join(dir, 'link'));
    chmodSync(to, 0o755);
    applyMetadata(B(to), lstatSync(path.join(dir, 'link')));
    expect(statSync(to).mode & 0o7777).toBe(0o755);
  });
});
