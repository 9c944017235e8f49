// Test trees: make one with every kind of entry a backup must keep, read a tree back, and diff two.
import { createHash, randomBytes } from 'node:crypto';
import { chmod, link, lstat, lutimes, mkdir, readdir, readFile, readlink, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface TreeEntry {
  type: 'file' | 'directory' | 'symlink' | 'other';
  mode: number;
  size: number;
  sha256?: string;
  target?: string;
  mtimeMs: number;
  // The first path (in byte order) of the hard-link group, for files with more than one link.
  linkGroup?: string;
}

export type Tree = Map<string, TreeEntry>;

// Paths (relative to the tree) that the exclude patterns in EXCLUDES remove.
export const EXCLUDED = ['x.tmp', 'sub/y.tmp', 'cache', 'sub/cache', 'logs', 'keep/deep/z.log'];
// Exclude patterns in restic syntax, given the tree's absolute root.
export const excludesFor = (root: string) => ['*.tmp', 'cache/', `${root}/logs`, '**/deep/*.log'];

const BASE_TIME = Date.parse('2021-03-04T05:06:07.891Z');

// Writes the test tree into dir: modes, symlinks, hard links, empty dirs, unicode and long names, mtimes.
export async function makeTree(dir: string, options: { randomBytes?: number } = {}): Promise<void> {
  const files: Array<[string, string | Buffer, number]> = [
    ['data/random.bin', randomBytes(options.randomBytes ?? 64 * 1024), 0o644],
    ['data/small.txt', 'hello\n', 0o640],
    ['data/empty.bin', '', 0o600],
    ['bin/run.sh', '#!/bin/sh\necho hi\n', 0o755],
    ['secret/key', 'not really a key\n', 0o600],
    ['ünïcødé/файл 名前 €.txt', 'unicode ✓\n', 0o644],
    [`long/${'n'.repeat(90)}/${'m'.repeat(110)}.txt`, 'long path\n', 0o644],
    ['x.tmp', 'temp\n', 0o644],
    ['sub/y.tmp', 'temp\n', 0o644],
    ['sub/keep.txt', 'keep\n', 0o644],
    ['cache/junk.bin', randomBytes(1024), 0o644],
    ['sub/cache/nested', 'nested cache\n', 0o644],
    ['logs/a.log', 'log\n', 0o644],
    ['keep/deep/z.log', 'deep log\n', 0o644],
    ['keep/deep/z.txt', 'deep text\n', 0o644],
  ];
  await mkdir(dir, { recursive: true });
  for (const [rel, content, mode] of files) {
    await mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await writeFile(path.join(dir, rel), content);
    await chmod(path.join(dir, rel), mode);
  }
  await mkdir(path.join(dir, 'empty'));
  await mkdir(path.join(dir, 'hard'));
  await link(path.join(dir, 'data/small.txt'), path.join(dir, 'hard/a'));
  await link(path.join(dir, 'data/small.txt'), path.join(dir, 'hard/b'));
  await mkdir(path.join(dir, 'links'));
  await symlink('../data/small.txt', path.join(dir, 'links/rel'));
  await symlink('does-not-exist', path.join(dir, 'links/dangling'));
  await symlink('../data', path.join(dir, 'links/dir'));
  await symlink(path.join(dir, 'data/small.txt'), path.join(dir, 'links/abs'));
  await setTimes(dir);
  await chmod(path.join(dir, 'secret'), 0o700);
  await chmod(path.join(dir, 'empty'), 0o750);
}

// Gives every entry a distinct whole-millisecond mtime, directories last (deepest first).
async function setTimes(dir: string): Promise<void> {
  const tree = await readTree(dir);
  const rels = [...tree.keys()].sort((a, b) => b.split('/').length - a.split('/').length || a.localeCompare(b));
  let index = 0;
  for (const rel of rels) {
    const time = (BASE_TIME + index++ * 1001) / 1000;
    const entry = tree.get(rel)!;
    await (entry.type === 'symlink' ? lutimes : utimes)(path.join(dir, rel), time, time);
  }
}

// Reads a tree into a map keyed by relative path ('' is the root itself).
export async function readTree(dir: string): Promise<Tree> {
  const tree: Tree = new Map();
  const inodes = new Map<string, string[]>();
  async function visit(rel: string): Promise<void> {
    const absolute = rel ? path.join(dir, rel) : dir;
    const stat = await lstat(absolute);
    const base = { mode: stat.mode & 0o7777, size: 0, mtimeMs: stat.mtimeMs };
    if (stat.isDirectory()) {
      tree.set(rel, { ...base, type: 'directory' });
      for (const name of (await readdir(absolute)).sort()) await visit(rel ? `${rel}/${name}` : name);
    } else if (stat.isSymbolicLink()) {
      tree.set(rel, { ...base, type: 'symlink', target: await readlink(absolute) });
    } else if (stat.isFile()) {
      const sha256 = createHash('sha256').update(await readFile(absolute)).digest('hex');
      tree.set(rel, { ...base, type: 'file', size: stat.size, sha256 });
      if (stat.nlink > 1) inodes.set(`${stat.dev}:${stat.ino}`, [...(inodes.get(`${stat.dev}:${stat.ino}`) ?? []), rel]);
    } else {
      tree.set(rel, { ...base, type: 'other' });
    }
  }
  await visit('');
  for (const group of inodes.values()) {
    if (group.length < 2) continue;
    const first = [...group].sort()[0];
    for (const rel of group) tree.get(rel)!.linkGroup = first;
  }
  return tree;
}

export interface DiffOptions {
  // Timestamps closer than this count as equal (1000 for tools that keep whole seconds).
  mtimeResolutionMs?: number;
  // Paths whose mtime is not compared (e.g. parents that a partial restore recreates).
  ignoreMtime?: (rel: string) => boolean;
}

// Lists every difference between two trees as readable lines; [] when they are equal.
export function diffTrees(expected: Tree, actual: Tree, options: DiffOptions = {}): string[] {
  const resolution = options.mtimeResolutionMs ?? 1;
  const problems: string[] = [];
  for (const [rel, want] of expected) {
    const got = actual.get(rel);
    const name = rel || '(root)';
    if (!got) {
      problems.push(`${name}: missing`);
      continue;
    }
    if (got.type !== want.type) {
      problems.push(`${name}: is a ${got.type}, expected a ${want.type}`);
      continue;
    }
    if (want.type !== 'symlink' && got.mode !== want.mode) problems.push(`${name}: mode ${got.mode.toString(8)}, expected ${want.mode.toString(8)}`);
    if (got.sha256 !== want.sha256) problems.push(`${name}: content differs`);
    if (got.target !== want.target) problems.push(`${name}: symlink to ${got.target}, expected ${want.target}`);
    if (got.linkGroup !== want.linkGroup) problems.push(`${name}: hard-link group ${got.linkGroup ?? 'none'}, expected ${want.linkGroup ?? 'none'}`);
    const mtimeCompared = want.type !== 'symlink' && !options.ignoreMtime?.(rel);
    if (mtimeCompared && Math.abs(got.mtimeMs - want.mtimeMs) >= resolution) {
      problems.push(`${name}: mtime ${new Date(got.mtimeMs).toISOString()}, expected ${new Date(want.mtimeMs).toISOString()}`);
    }
  }
  for (const rel of actual.keys()) if (!expected.has(rel)) problems.push(`${rel || '(root)'}: unexpected`);
  return problems;
}

// The entries of a tree that a predicate keeps.
export function filterTree(tree: Tree, keep: (rel: string) => boolean): Tree {
  return new Map([...tree].filter(([rel]) => keep(rel)));
}

// A tree without the given relative paths and everything below them.
export function withoutPaths(tree: Tree, removed: string[]): Tree {
  return new Map([...tree].filter(([rel]) => !removed.some((r) => rel === r || rel.startsWith(`${r}/`))));
}
