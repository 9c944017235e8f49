// The tar provider on hostile and unusual trees: names that are bytes (not UTF-8, newlines, 255 bytes),
// archives that try to write outside the target through symlinks, Ctrl-C during a backup, short ids,
// extended attributes, ACLs, FIFOs, sockets and sparse files.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { chmod, link, lstat, mkdir, readdir, readFile, readlink, stat, symlink, truncate, writeFile, open } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { createProvider } from '../../plugins/tar/index.js';
import type { Provider } from '../../src/providers/types.js';
import { providerInput, testLogger } from '../helpers/provider.js';
import { BIN, makeRoot } from '../helpers/root.js';
import { readFileList } from '../helpers/tar-list.js';
import { tmpDir } from '../helpers/tmp.js';

const common = () => ({ log: testLogger(), signal: new AbortController().signal });
const bytes = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
const join = (dir: string | Buffer, name: Buffer) => Buffer.concat([Buffer.isBuffer(dir) ? dir : Buffer.from(dir), Buffer.from('/'), name]);

// Names the kernel allows that are not (all) UTF-8 text.
const NAMES = {
  invalid: bytes('a', [0xff, 0xfe]),
  lone: bytes([0xc3]),
  newline: bytes('new\nline'),
  long: bytes('L'.repeat(255)),
  longInvalid: bytes('é'.repeat(100), [0xff], 'x'.repeat(54)),
  backslash: bytes('back\\012slash\r'),
  // Valid UTF-8 that reads like the manifest's text form of `invalid`: told apart by pathB64.
  lookalike: bytes('a\\xff\\xfe'),
};

interface Node {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  sha256?: string;
  target?: string;
  mtimeMs?: number;
  linkGroup?: string;
}

// Reads a tree with Buffer names; keys are the relative paths as hex-free byte strings (latin1).
async function readBytesTree(root: string, options: { times?: boolean } = {}): Promise<Map<string, Node>> {
  const tree = new Map<string, Node>();
  const inodes = new Map<string, string>();
  async function visit(rel: Buffer): Promise<void> {
    const absolute = rel.length ? join(root, rel) : Buffer.from(root);
    const s = await lstat(absolute, { bigint: true });
    const key = rel.toString('latin1');
    const node: Node = { type: 'other', mode: Number(s.mode) & 0o7777, uid: Number(s.uid), gid: Number(s.gid), size: 0, ...(options.times && rel.length ? { mtimeMs: Math.round(Number(s.mtimeNs / 1000n) / 1000) } : {}) };
    if (s.isDirectory()) {
      tree.set(key, { ...node, type: 'directory' });
      const names = (await readdir(absolute, { encoding: 'buffer' })).sort(Buffer.compare);
      for (const name of names) await visit(rel.length ? Buffer.concat([rel, Buffer.from('/'), name]) : name);
    } else if (s.isSymbolicLink()) {
      tree.set(key, { ...node, type: 'symlink', target: (await readlink(absolute, { encoding: 'buffer' })).toString('latin1') });
    } else if (s.isFile()) {
      const inode = `${s.dev}:${s.ino}`;
      if (s.nlink > 1n && !inodes.has(inode)) inodes.set(inode, key);
      tree.set(key, { ...node, type: 'file', size: Number(s.size), sha256: createHash('sha256').update(await readFile(absolute)).digest('hex'), ...(s.nlink > 1n ? { linkGroup: inodes.get(inode) } : {}) });
    } else {
      tree.set(key, { ...node, type: s.isFIFO() ? 'fifo' : 'other' });
    }
  }
  await visit(Buffer.alloc(0));
  return tree;
}

// A tree whose names are bytes: every name of NAMES as a file, in a folder whose own name is not UTF-8,
// a symlink to such a name, a hard link pair and a deep path.
async function makeByteTree(src: string): Promise<void> {
  const folder = join(src, bytes('dir', [0xfe]));
  await mkdir(folder, { recursive: true });
  for (const name of Object.values(NAMES)) await writeFile(join(folder, name), Buffer.concat([name, randomBytes(100)]));
  await symlink(bytes('dir', [0xfe], '/', [0xc3]), join(src, bytes('link', [0xff])));
  await link(join(folder, NAMES.invalid), join(src, bytes('hard', [0xc3, 0x28])));
  const deep = join(src, Buffer.concat([NAMES.long, Buffer.from('/'), NAMES.longInvalid]));
  await mkdir(deep, { recursive: true });
  await writeFile(join(deep, NAMES.newline), 'deep\n');
  await chmod(join(folder, NAMES.lone), 0o751);
  await writeFile(join(src, NAMES.invalid), 'invalid');
  await writeFile(join(src, NAMES.lookalike), 'lookalike');
}

// A tar repository with one source folder.
async function setup(compression: 'zstd' | 'gzip' | 'none' = 'zstd') {
  const base = await tmpDir();
  const url = path.join(base, 'repo');
  const provider: Provider = createProvider(providerInput({ provider: 'tar', url, compression }, { root: base, stateDir: base }));
  const src = path.join(base, 'src', 'app');
  await mkdir(src, { recursive: true });
  const backup = () => provider.create({ module: 'wiki', paths: [src], exclude: [], host: 'h', tags: [], ...common() });
  return { base, url, provider, src, target: path.join(base, 'target'), backup };
}

// Writes a hand-made (uncompressed) archive plus a manifest without files, as an attacker might (with
// the archive's true size and SHA-256: anyone who can write the manifest can write those).
async function plantArchive(url: string, archiveBytes: Buffer, id = 'wiki-20240101T000000.000Z'): Promise<void> {
  await mkdir(path.join(url, 'wiki'), { recursive: true });
  await writeFile(path.join(url, 'wiki', `${id}.tar`), archiveBytes);
  const manifest = { format: 'lifeboat-tar/1', id, archive: `${id}.tar`, module: 'wiki', host: 'h', tags: [], time: new Date().toISOString(), paths: [], exclude: [], compression: 'none', archiveSize: archiveBytes.length, archiveSha256: createHash('sha256').update(archiveBytes).digest('hex'), files: [] };
  await writeFile(path.join(url, 'wiki', `${id}.manifest.json`), JSON.stringify(manifest));
}

type Crafted = { name: string; type?: 'file' | 'symlink' | 'link' | 'directory'; linkname?: string; body?: string; mode?: number; uid?: number; gid?: number };

// An archive made with tar-stream from the given entries.
async function craft(entries: Crafted[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const entry of entries) pack.entry({ name: entry.name, type: entry.type ?? 'file', linkname: entry.linkname, mode: entry.mode, uid: entry.uid, gid: entry.gid }, entry.body ?? '');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('tar: file names are bytes', () => {
  it('restores names that are not UTF-8, newlines and 255-byte names byte for byte, and check passes', async () => {
    const t = await setup();
    await makeByteTree(t.src);
    const { snapshot } = await t.backup();
    await t.provider.restore({ module: 'wiki', snapshot, target: t.target, ...common() });
    const expected = await readBytesTree(t.src, { times: true });
    expect(expected.has(`dir\xfe/a\xff\xfe`)).toBe(true);
    expect(await readBytesTree(path.join(t.target, t.src), { times: true })).toEqual(expected);
    await t.provider.check!('wiki', common());
    const manifest = { files: readFileList(path.join(t.url, 'wiki', `${snapshot.id}.files.ndjson.gz`)).entries };
    const invalid = manifest.files.find((f: { pathB64?: string }) => f.pathB64 && Buffer.from(f.pathB64, 'base64').equals(join(t.src, join(bytes('dir', [0xfe]), NAMES.invalid))));
    expect(invalid).toMatchObject({ type: 'file', path: `${t.src}/dir\\xfe/a\\xff\\xfe` });
    const sameText = manifest.files.filter((f: { path: string }) => f.path === `${t.src}/a\\xff\\xfe`);
    expect(sameText.map((f: { pathB64?: string }) => f.pathB64 && Buffer.from(f.pathB64, 'base64').toString('latin1'))).toEqual([undefined, `${t.src}/a\xff\xfe`]);
    expect(readFileSync(join(path.join(t.target, t.src), NAMES.lookalike), 'utf8')).toBe('lookalike');
    expect(readFileSync(join(path.join(t.target, t.src), NAMES.invalid), 'utf8')).toBe('invalid');
    expect(manifest.files.find((f: { path: string }) => f.path === t.src)).not.toHaveProperty('pathB64');
  });

  it('GNU tar extracts the same bytes from a Lifeboat archive', async () => {
    const t = await setup('none');
    await makeByteTree(t.src);
    const { snapshot } = await t.backup();
    const out = path.join(t.base, 'gnu');
    mkdirSync(out);
    execFileSync('tar', ['-C', out, '-xpf', path.join(t.url, 'wiki', `${snapshot.id}.tar`)], { env: { ...process.env, LC_ALL: 'C.UTF-8' } });
    expect(await readBytesTree(path.join(out, t.src), { times: true })).toEqual(await readBytesTree(t.src, { times: true }));
  });

  it.each(['gnu', 'posix'])('restores an archive GNU tar wrote in %s format with such names', async (format) => {
    const t = await setup('none');
    await makeByteTree(t.src);
    const archive = path.join(t.base, 'gnu.tar');
    execFileSync('tar', ['-C', '/', `--format=${format}`, '-cf', archive, t.src.slice(1)]);
    await plantArchive(t.url, readFileSync(archive));
    const [snapshot] = await t.provider.list('wiki', common());
    await t.provider.restore({ module: 'wiki', snapshot, target: t.target, ...common() });
    expect(await readBytesTree(path.join(t.target, t.src))).toEqual(await readBytesTree(t.src));
  });
});

describe('tar: nothing is written outside the target', () => {
  const cases: Array<[string, (outside: string) => Crafted[], RegExp, ((target: string, outside: string) => Promise<void>)?]> = [
    [
      'a symlink to a folder outside, then directory entries below it (mode 777, another owner)',
      (outside) => [{ name: 'data/ok/', type: 'directory' }, { name: 'data/ok/f', body: 'ok' }, { name: 'data/evil', type: 'symlink', linkname: outside }, { name: 'data/evil/x/', type: 'directory', mode: 0o777, uid: 1234, gid: 1234 }, { name: 'data/evil/x/f', body: 'pwned' }],
      /refusing entry "data\/evil\/x".*through the symlink/,
    ],
    [
      'a symlink to a folder outside, then a directory entry for the symlink itself (mode 777)',
      (outside) => [{ name: 'data/evil', type: 'symlink', linkname: outside }, { name: 'data/evil/', type: 'directory', mode: 0o777, uid: 1234 }],
      /refusing entry "data\/evil".*is a symlink/,
    ],
    ['a symlink, then a file through it', (outside) => [{ name: 'data/evil', type: 'symlink', linkname: outside }, { name: 'data/evil/f', body: 'pwned' }], /through the symlink/],
    [
      'a symlink, then a hard link through it',
      (outside) => [{ name: 'data/a', body: 'a' }, { name: 'data/evil', type: 'symlink', linkname: outside }, { name: 'data/evil/h', type: 'link', linkname: 'data/a' }],
      /through the symlink/,
    ],
    ['a directory entry where the target already has a symlink', () => [{ name: 'data/', type: 'directory', mode: 0o777, uid: 1234 }], /is a symlink/, (target, outside) => symlink(outside, path.join(target, 'data'))],
    ['a file below a symlink already in the target', () => [{ name: 'data/x/f', body: 'pwned' }], /through the symlink/, (target, outside) => symlink(outside, path.join(target, 'data'))],
  ];

  it.each(cases)('refuses %s and leaves nothing behind', async (_what, entries, message, arrange) => {
    const t = await setup('none');
    const outside = path.join(t.base, 'outside');
    await mkdir(outside, { mode: 0o700 });
    await writeFile(path.join(outside, 'marker'), 'm');
    await mkdir(t.target);
    await arrange?.(t.target, outside);
    const before = readdirSync(t.target);
    await plantArchive(t.url, await craft(entries(outside)));
    const [snapshot] = await t.provider.list('wiki', common());
    const error = await t.provider.restore({ module: 'wiki', snapshot, target: t.target, ...common() }).catch((e: unknown) => e as Error);
    expect(error?.message).toMatch(message);
    expect(readdirSync(outside)).toEqual(['marker']);
    const s = await stat(outside);
    expect([s.mode & 0o7777, s.uid]).toEqual([0o700, process.getuid!()]);
    expect(readdirSync(t.target)).toEqual(before);
  });

  // The real CLI with a module `arch` whose archive is swapped for a crafted one.
  async function cliSetup() {
    const root = makeRoot({ repositories: { archive: { provider: 'tar', compression: 'none', url: 'PLACEHOLDER' } } });
    const data = path.join(root.dir, 'data');
    const outside = path.join(root.dir, 'outside');
    mkdirSync(data);
    mkdirSync(outside, { mode: 0o700 });
    writeFileSync(path.join(data, 'live.txt'), 'live\n');
    root.write('lifeboat.yaml', `repositories:\n  archive: { provider: tar, compression: none, url: ${root.dir}/tar }\n`);
    root.module('arch', { folders: [data], repositories: ['archive'] });
    const run = (args: string[]) => runCli(root.root, root.stateDir, args);
    expect((await run(['backup', 'arch'])).code).toBe(0);
    const dir = path.join(root.dir, 'tar', 'arch');
    const archive = readdirSync(dir).find((name) => name.endsWith('.tar'))!;
    const rel = data.slice(1);
    writeFileSync(path.join(dir, archive), await craft([
      { name: `${rel}/`, type: 'directory', mode: 0o755 },
      { name: `${rel}/evil`, type: 'symlink', linkname: outside },
      { name: `${rel}/evil/x/`, type: 'directory', mode: 0o777, uid: 1234, gid: 1234 },
      { name: `${rel}/evil/x/f`, body: 'pwned' },
    ]));
    return { root, data, outside, run, id: archive.slice(0, -'.tar'.length) };
  }

  it('refuses the symlink-then-directory archive with --target: exit 1, nothing outside, no leftovers', async () => {
    const c = await cliSetup();
    const target = path.join(c.root.dir, 'target');
    const result = await c.run(['restore', 'arch', c.id, '--target', target]);
    expect(result.code, result.stderr).toBe(1);
    // the crafted archive is not the one the manifest records: refused as such (restore hashes it), and
    // extraction had refused the write through the symlink before anything left the scratch folder
    expect(result.stderr).toContain(`${path.join(c.root.dir, 'tar', 'arch', `${c.id}.tar`)}: not the archive its manifest records (`);
    expect(readdirSync(c.outside)).toEqual([]);
    expect((await stat(c.outside)).mode & 0o7777).toBe(0o700);
    expect(existsSync(target) ? readdirSync(target) : []).toEqual([]);
    c.root.cleanup();
  });

  it('refuses the symlink-then-directory archive in place: exit 1, nothing outside, live files kept', async () => {
    const c = await cliSetup();
    const result = await c.run(['restore', 'arch', c.id, '--no-safety-snapshot']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(`${path.join(c.root.dir, 'tar', 'arch', `${c.id}.tar`)}: not the archive its manifest records (`);
    expect(readdirSync(c.outside)).toEqual([]);
    expect((await stat(c.outside)).mode & 0o7777).toBe(0o700);
    expect(readdirSync(c.data)).toEqual(['live.txt']);
    expect(readFileSync(path.join(c.data, 'live.txt'), 'utf8')).toBe('live\n');
    c.root.cleanup();
  });
});

// Runs bin/lifeboat in its own process group; resolves its exit code and output.
function runCli(root: string, stateDir: string, args: string[], onStart?: (child: ChildProcess) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('node', [BIN, '--root', root, '--state-dir', stateDir, ...args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    onStart?.(child);
  });
}

// A root with module `shop` (300 MB of random bytes) and a zstd tar repository.
async function bigModule() {
  const root = makeRoot({ repositories: { archive: { provider: 'tar', url: 'PLACEHOLDER' } } });
  const data = path.join(root.dir, 'data');
  mkdirSync(data);
  const file = await open(path.join(data, 'big.bin'), 'w');
  for (let i = 0; i < 300; i++) await file.write(randomBytes(1 << 20));
  await file.close();
  const repo = path.join(root.dir, 'tar');
  root.write('lifeboat.yaml', `repositories:\n  archive: { provider: tar, url: ${repo} }\n`);
  root.module('shop', { folders: [data], repositories: ['archive'] });
  mkdirSync(path.join(repo, 'shop'), { recursive: true, mode: 0o700 });
  const lastJournalRecord = () => JSON.parse(readFileSync(path.join(root.stateDir, 'journal.jsonl'), 'utf8').trim().split('\n').at(-1)!);
  return { root, data, repo, lastJournalRecord };
}

const NODE_CRASH = /EPIPE|Emitted 'error' event|node:internal|Node\.js v\d|^\s+at /m;

describe('tar: Ctrl-C during a backup or a restore', () => {
  it('a backup exits 1 with a journal end, no .partial and no Node stack trace', { timeout: 180_000 }, async () => {
    const { root, repo, lastJournalRecord } = await bigModule();
    const partials = () => readdirSync(path.join(repo, 'shop')).filter((name) => name.endsWith('.partial'));
    let sent = false;
    const watcher = watch(path.join(repo, 'shop'));
    const result = await runCli(root.root, root.stateDir, ['backup', 'shop'], (child) => {
      // Like Ctrl-C in a terminal: SIGINT to the whole process group once the .partial exists.
      watcher.on('change', () => {
        if (sent || partials().length === 0) return;
        sent = true;
        process.kill(-child.pid!, 'SIGINT');
      });
    });
    watcher.close();
    expect(sent).toBe(true);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).not.toMatch(NODE_CRASH);
    expect(result.stderr).toMatch(/SIGINT/);
    expect(partials()).toEqual([]);
    expect(readdirSync(path.join(repo, 'shop'))).toEqual([]);
    expect(lastJournalRecord()).toMatchObject({ type: 'end', module: 'shop', action: 'backup', result: 'failure' });
    root.cleanup();
  });

  it('a restore --target exits 1 saying it was interrupted, with a journal end and nothing left in the target', { timeout: 180_000 }, async () => {
    const { root, lastJournalRecord } = await bigModule();
    expect((await runCli(root.root, root.stateDir, ['backup', 'shop'])).code).toBe(0);
    const target = path.join(root.dir, 'target');
    let sent = false;
    const result = await runCli(root.root, root.stateDir, ['restore', 'shop', 'latest', '--target', target], (child) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        if (sent || !chunk.toString().includes('restoring shop')) return;
        sent = true;
        process.kill(-child.pid!, 'SIGINT');
      });
    });
    expect(sent).toBe(true);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).not.toMatch(NODE_CRASH);
    expect(lastJournalRecord()).toMatchObject({ type: 'end', module: 'shop', action: 'restore', result: 'failure', error: 'interrupted by SIGINT' });
    expect(existsSync(target) ? readdirSync(target) : []).toEqual([]);
    root.cleanup();
  });

  it('the next backup names an unfinished archive a killed run left', async () => {
    const t = await setup();
    await writeFile(path.join(t.src, 'f'), 'x');
    await mkdir(path.join(t.url, 'wiki'), { recursive: true });
    await writeFile(path.join(t.url, 'wiki', 'old.tar.zst.partial'), 'half');
    const warnings: string[] = [];
    const log = testLogger();
    log.warn = (message: string) => void warnings.push(message);
    await t.provider.create({ module: 'wiki', paths: [t.src], exclude: [], host: 'h', tags: [], log, signal: new AbortController().signal });
    expect(warnings.join('\n')).toMatch(/unfinished files of an earlier run.*old\.tar\.zst\.partial/);
  });
});

describe('tar: snapshot ids', () => {
  it('two backups in the same second get distinct ids, distinct in their first 12 and 16 characters', async () => {
    const t = await setup();
    await writeFile(path.join(t.src, 'f'), 'x');
    const other: Provider = createProvider(providerInput({ provider: 'tar', url: t.url, compression: 'zstd' }, { root: t.base, stateDir: t.base }));
    const ids = [(await t.backup()).snapshot.id, (await t.backup()).snapshot.id, (await other.create({ module: 'wiki', paths: [t.src], exclude: [], host: 'h', tags: [], ...common() })).snapshot.id];
    expect(new Set(ids).size).toBe(3);
    expect(new Set(ids.map((id) => id.slice(0, 12))).size).toBe(3);
    expect(new Set(ids.map((id) => id.slice(0, 16))).size).toBe(3);
    expect((await t.provider.list('wiki', common())).map((s) => s.id).sort()).toEqual([...ids].sort());
  });
});

describe('tar: xattrs, ACLs, FIFOs, sockets, sparse files', () => {
  // getfattr's dump of a tree with paths relative to it.
  const xattrDump = (dir: string) => execFileSync('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'base64', '--absolute-names', dir]).toString('latin1').split(dir).join('<root>');

  it('keeps extended attributes, ACLs, default ACLs, FIFOs and holes', async () => {
    const t = await setup();
    await writeFile(path.join(t.src, 'plain'), 'p');
    await writeFile(join(t.src, bytes('attr', [0xff])), 'a');
    execFileSync('sh', ['-c', `setfattr -n user.binary -v 0x00ff0a0d "$(printf 'attr\\377')"`], { cwd: t.src });
    await writeFile(path.join(t.src, 'acl'), 'b');
    execFileSync('setfacl', ['-m', 'u:1234:rw,g:4321:r', path.join(t.src, 'acl')]);
    await mkdir(path.join(t.src, 'shared'));
    execFileSync('setfacl', ['-d', '-m', 'g:4321:rwx', path.join(t.src, 'shared')]);
    execFileSync('mkfifo', [path.join(t.src, 'pipe')]);
    const sparse = path.join(t.src, 'sparse');
    await writeFile(sparse, '');
    const handle = await open(sparse, 'r+');
    await handle.write(Buffer.alloc(4096, 7), 0, 4096, 8 << 20);
    await handle.close();
    await truncate(sparse, 32 << 20);
    const { snapshot } = await t.backup();
    await t.provider.restore({ module: 'wiki', snapshot, target: t.target, ...common() });
    const restored = path.join(t.target, t.src);
    expect(xattrDump(restored)).toEqual(xattrDump(t.src));
    expect(xattrDump(restored)).toMatch(/system\.posix_acl_access/);
    expect(xattrDump(restored)).toMatch(/system\.posix_acl_default/);
    expect(xattrDump(restored)).toMatch(/user\.binary=0sAP8KDQ==/);
    expect((await lstat(path.join(restored, 'pipe'))).isFIFO()).toBe(true);
    expect(await readBytesTree(restored, { times: true })).toEqual(await readBytesTree(t.src, { times: true }));
    const s = await stat(path.join(restored, 'sparse'));
    expect(s.size).toBe(32 << 20);
    expect(s.blocks * 512).toBeLessThan(1 << 20);
  });

  it('an in-place restore through the CLI keeps the live FIFO, the xattrs and the ACL', { timeout: 60_000 }, async () => {
    const root = makeRoot({ repositories: { archive: { provider: 'tar', url: 'PLACEHOLDER' } } });
    const data = path.join(root.dir, 'data');
    mkdirSync(data);
    execFileSync('mkfifo', [path.join(data, 'pipe')]);
    writeFileSync(path.join(data, 'acl'), 'z\n');
    execFileSync('setfacl', ['-m', 'u:1234:rw', path.join(data, 'acl')]);
    execFileSync('setfattr', ['-n', 'user.k', '-v', 'v', path.join(data, 'acl')]);
    root.write('lifeboat.yaml', `repositories:\n  archive: { provider: tar, url: ${root.dir}/tar }\n`);
    root.module('shop', { folders: [data], repositories: ['archive'] });
    const before = xattrDump(data);
    expect((await runCli(root.root, root.stateDir, ['backup', 'shop'])).code).toBe(0);
    writeFileSync(path.join(data, 'damage'), 'x');
    const restore = await runCli(root.root, root.stateDir, ['restore', 'shop']);
    expect(restore.code, restore.stderr).toBe(0);
    expect(readdirSync(data).sort()).toEqual(['acl', 'pipe']);
    expect((await lstat(path.join(data, 'pipe'))).isFIFO()).toBe(true);
    expect(xattrDump(data)).toEqual(before);
    expect(before).toMatch(/system\.posix_acl_access=.*\n.*user\.k=/);
    root.cleanup();
  });

  it('refuses a restore whose ACLs cannot be set (no setfattr): exit 2 naming the file, nothing left in the target', async () => {
    const t = await setup('none');
    await writeFile(path.join(t.src, 'acl'), 'a');
    execFileSync('setfacl', ['-m', 'u:1234:rw', path.join(t.src, 'acl')]);
    const { snapshot } = await t.backup();
    const noTools = path.join(t.base, 'no-tools');
    await mkdir(noTools);
    const saved = process.env.PATH;
    process.env.PATH = noTools;
    const error = await t.provider.restore({ module: 'wiki', snapshot, target: t.target, ...common() }).catch((e: unknown) => e as Error & { exitCode: number });
    process.env.PATH = saved;
    expect(error.message).toContain(`${path.join(t.target, t.src)}/acl has extended attributes or ACLs, and setfattr is not installed`);
    expect(error.exitCode).toBe(2);
    expect(readdirSync(t.target)).toEqual([]);
  });

  it('refuses a socket, naming it, and keeps no archive', async () => {
    const t = await setup();
    await writeFile(path.join(t.src, 'f'), 'x');
    const socket = path.join(t.src, 'app.sock');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    try {
      const error = await t.backup().catch((e: unknown) => e as Error & { exitCode: number });
      expect(error.message).toContain(`${socket} is a socket, which the tar provider cannot archive`);
      expect(error.exitCode).toBe(2);
      expect(readdirSync(path.join(t.url, 'wiki'))).toEqual([]);
    } finally {
      server.close();
    }
  });

  it('refuses a device file, naming it, and keeps no archive', async () => {
    const t = await setup();
    const device = path.join(t.src, 'null');
    execFileSync('mknod', [device, 'c', '1', '3']);
    const error = await t.backup().catch((e: unknown) => e as Error);
    expect(error.message).toContain(`${device} is a device file, which the tar provider cannot archive`);
    expect(readdirSync(path.join(t.url, 'wiki'))).toEqual([]);
  });
});
