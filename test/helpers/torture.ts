// The torture tree: every kind of name and entry a backup must keep, written and read back with names as
// bytes. Compared by name bytes, type, mode, owner, mtime (ns), size, content hash, link target,
// hard-link groups, xattrs, POSIX ACLs and sparseness.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chownSync, closeSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync, writeSync, chmodSync } from 'node:fs';

const b = (text: string | number[]) => (typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text));
const join = (dir: Buffer, name: Buffer | string) => Buffer.concat([dir, b('/'), typeof name === 'string' ? b(name) : name]);

export interface TortureOptions {
  // How many small files to add (10,000 in the list; fewer keeps a test short).
  smallFiles?: number;
  // Leave out entries a provider is documented not to hold.
  fifo?: boolean;
  xattrs?: boolean;
  acl?: boolean;
  // A symlink whose target is not UTF-8 (restic 0.14 stores link targets as text: 0xff comes back as U+FFFD).
  oddLinkTarget?: boolean;
}

// Names that are not UTF-8, hold a newline, or are 255 bytes long.
export const ODD_NAMES: Buffer[] = [b([0x62, 0x61, 0x64, 0xff, 0xfe]), b([0x6c, 0x6f, 0x6e, 0x65, 0xc3]), b('new\nline'), b('x'.repeat(255)), b('tab\tand space '), b('-leading-dash'), b('ünï€')];

// Writes the torture tree into dir (a string path without odd bytes).
export function makeTortureTree(dirPath: string, options: TortureOptions = {}): void {
  const dir = b(dirPath);
  mkdirSync(dir, { recursive: true });
  const odd = join(dir, 'odd');
  mkdirSync(odd);
  for (const [index, name] of ODD_NAMES.entries()) writeFileSync(join(odd, name), `odd ${index}\n`);
  const oddDir = join(odd, b([0x64, 0x69, 0x72, 0xff]));
  mkdirSync(oddDir);
  writeFileSync(join(oddDir, b([0xc3, 0x28])), 'inside a non-UTF-8 folder\n');
  let deep = join(dir, 'deep');
  for (let level = 0; level < 40; level++) deep = join(deep, `level-${level}`);
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(deep, 'bottom.txt'), 'deep\n');
  writeFileSync(join(dir, 'linked'), 'hard linked\n');
  linkSync(join(dir, 'linked'), join(dir, 'linked-2'));
  linkSync(join(dir, 'linked'), join(odd, b([0x6c, 0x69, 0x6e, 0x6b, 0xff])));
  // A sparse file: 8 MiB with 4 KiB of data in the middle.
  const sparse = openSync(join(dir, 'sparse.img'), 'w');
  writeSync(sparse, Buffer.alloc(4096, 7), 0, 4096, 4 * 1024 * 1024);
  writeSync(sparse, Buffer.from([1]), 0, 1, 8 * 1024 * 1024 - 1);
  closeSync(sparse);
  writeFileSync(join(dir, 'owned'), 'owned by someone else\n');
  chownSync(join(dir, 'owned'), 1234, 5678);
  writeFileSync(join(dir, 'setgid-exec'), '#!/bin/sh\n');
  chmodSync(join(dir, 'setgid-exec'), 0o2751);
  mkdirSync(join(dir, 'links'));
  symlinkSync('/etc/hostname', join(dir, 'links/absolute'));
  symlinkSync('../linked', join(dir, 'links/relative'));
  symlinkSync('nowhere', join(dir, 'links/dangling'));
  if (options.oddLinkTarget !== false) symlinkSync(b([0x74, 0xff]), join(dir, 'links/odd-target'));
  mkdirSync(join(dir, 'empty'));
  mkdirSync(join(dir, 'empty-private'), { mode: 0o700 });
  if (options.xattrs !== false) execFileSync('setfattr', ['-n', 'user.lifeboat', '-v', 'kept', `${dirPath}/linked`]);
  if (options.acl !== false) execFileSync('setfacl', ['-m', 'u:1234:r--', `${dirPath}/owned`]);
  if (options.fifo !== false) execFileSync('mkfifo', [`${dirPath}/pipe`]);
  const many = join(dir, 'many');
  mkdirSync(many);
  for (let i = 0; i < (options.smallFiles ?? 2000); i++) writeFileSync(join(many, `f${i}`), `${i}\n`);
  // Distinct times, to the nanosecond where the file system keeps them.
  const base = 1_600_000_000;
  let index = 0;
  for (const entry of walk(dir).reverse()) {
    if (entry.equals(dir)) continue;
    const time = base + index++ + 0.123456;
    lutimesSync(entry, time, time);
  }
}

// Every path below dir (dir first), names as bytes, in byte order.
export function walk(dir: Buffer): Buffer[] {
  const out: Buffer[] = [dir];
  const stats = lstatSync(dir);
  if (!stats.isDirectory()) return out;
  for (const name of (readdirSync(dir, { encoding: 'buffer' }) as Buffer[]).sort(Buffer.compare)) out.push(...walk(join(dir, name)));
  return out;
}

// Reads a tree into lines keyed by the hex of each relative name; equal trees give equal maps.
export function readTortureTree(dirPath: string, options: { ignoreRootMeta?: boolean } = {}): Map<string, string> {
  const dir = b(dirPath);
  const result = new Map<string, string>();
  const groups = new Map<string, string>();
  for (const file of walk(dir)) {
    const rel = file.subarray(dir.length).toString('hex') || '(root)';
    const stats = lstatSync(file, { bigint: true });
    const type = stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : stats.isSymbolicLink() ? 'symlink' : stats.isFIFO() ? 'fifo' : 'other';
    const parts = [type, `mode=${(stats.mode & 0o7777n).toString(8)}`, `owner=${stats.uid}:${stats.gid}`];
    if (!(options.ignoreRootMeta && rel === '(root)') && type !== 'dir') parts.push(`mtime=${stats.mtimeNs}`);
    if (type === 'file') {
      parts.push(`size=${stats.size}`, `sha=${createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16)}`);
      if (stats.size > 1_000_000n) parts.push(`sparse=${stats.blocks * 512n < stats.size / 2n}`);
      if (stats.nlink > 1n) {
        const key = `${stats.dev}:${stats.ino}`;
        if (!groups.has(key)) groups.set(key, rel);
        parts.push(`group=${groups.get(key)}`);
      }
    }
    if (type === 'symlink') parts.push(`target=${(readlinkSync(file, { encoding: 'buffer' }) as Buffer).toString('hex')}`);
    if (type === 'file' || type === 'dir') parts.push(`xattrs=${xattrs(file)}`);
    result.set(rel, parts.join(' '));
  }
  return result;
}

// user.* xattrs and ACLs of a path, as text (getfattr dumps both; names with odd bytes are skipped by
// getfattr's text interface, so only the named test files carry them).
function xattrs(file: Buffer): string {
  if (!file.toString('utf8').match(/\/(linked|owned)$/)) return '-';
  try {
    return execFileSync('getfattr', ['-d', '-m', '-', '--absolute-names', file.toString('utf8')], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .sort()
      .join(',');
  } catch {
    return '?';
  }
}

// The differences of two read trees, as lines (names shown as hex).
export function diffTortureTrees(expected: Map<string, string>, actual: Map<string, string>): string[] {
  const problems: string[] = [];
  for (const [rel, want] of expected) {
    const got = actual.get(rel);
    if (got === undefined) problems.push(`${rel}: missing (${want})`);
    else if (got !== want) problems.push(`${rel}: ${got} != ${want}`);
  }
  for (const rel of actual.keys()) if (!expected.has(rel)) problems.push(`${rel}: unexpected`);
  return problems;
}
