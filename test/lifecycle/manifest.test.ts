// The backup manifest through the real CLI (copy test provider): complete and byte-exact against a walk
// the test makes itself (50,000 files, and names that test the path order: `a`, `a/b`, `a-b`, `a.b`,
// bytes that are not UTF-8), hashes kept for unchanged files by the merge walk with the previous
// manifest, verify's merge-walk comparison, and manifests in the format before streaming (one JSON
// object) still read by verify and as the previous manifest.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { manifestEntries, readManifestHeader, type ManifestEntry } from '../../src/lifecycle/manifest-stream.js';

let t: TestRoot;
let data: string;

beforeEach(() => {
  t = makeRoot();
  data = path.join(t.dir, 'data');
  mkdirSync(data);
  t.module('m', { folders: [data] });
});
// Removing the 50,000-file test (three copies of its tree) takes minutes on a loaded machine.
afterEach(() => t.cleanup(), 900_000);

const b = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : Buffer.from(part))));

// What the test expects of one path, from its own walk.
interface Seen {
  path: string;
  type: string;
  size?: number;
  sha256?: string;
  target?: string;
}

// The test's own walk: depth first, each directory's names sorted as bytes, every file hashed.
function walkTree(dir: Buffer, out: Seen[] = []): Seen[] {
  const stats = lstatSync(dir);
  const key = keyOf(dir);
  if (stats.isDirectory()) {
    out.push({ path: key, type: 'dir' });
    const names = (readdirSync(dir, { encoding: 'buffer' }) as Buffer[]).sort(Buffer.compare);
    for (const name of names) walkTree(Buffer.concat([dir, b('/'), name]), out);
  } else if (stats.isSymbolicLink()) {
    out.push({ path: key, type: 'symlink', target: keyOf(readlinkSync(dir, { encoding: 'buffer' })) });
  } else {
    out.push({ path: key, type: 'file', size: stats.size, sha256: createHash('sha256').update(readFileSync(dir)).digest('hex') });
  }
  return out;
}

// The manifest's key of a path (UTF-8 text, or b64: and the bytes), made here independently.
function keyOf(file: Buffer): string {
  const text = file.toString('utf8');
  return Buffer.from(text, 'utf8').equals(file) ? text : `b64:${file.toString('base64')}`;
}

function manifestFiles(): string[] {
  const dir = path.join(t.stateDir, 'modules', 'm', 'manifests', 'local');
  return readdirSync(dir).filter((name) => name.endsWith('.json.gz')).map((name) => path.join(dir, name));
}

// The entries of a manifest below `data`, as the test's walk describes them.
async function entriesBelowData(file: string): Promise<{ seen: Seen[]; raw: ManifestEntry[] }> {
  const seen: Seen[] = [];
  const raw: ManifestEntry[] = [];
  for await (const entry of manifestEntries(file)) {
    if (entry.path !== data && !entry.path.startsWith(`${data}/`) && !Buffer.from(entry.path.slice(4), 'base64').toString('latin1').startsWith(`${data}/`)) continue;
    raw.push(entry);
    seen.push({ path: entry.path, type: entry.type, ...(entry.type === 'file' ? { size: entry.size, sha256: entry.sha256 ?? undefined } : {}), ...(entry.type === 'symlink' ? { target: entry.target } : {}) });
  }
  return { seen, raw };
}

// Names whose order differs between a per-component and a plain byte comparison, and between bytes and UTF-16.
function makeTrickyNames(dir: string): void {
  const root = b(dir);
  const join = (...parts: Array<string | number[]>) => Buffer.concat([root, b('/'), b(...parts)]);
  writeFileSync(join('a.b'), 'dot\n');
  writeFileSync(join('a-b'), 'dash\n');
  mkdirSync(join('a'));
  writeFileSync(join('a/b'), 'inside a\n');
  mkdirSync(join('a', [0xff]));
  writeFileSync(join('a', [0xff], '/x'), 'not UTF-8 folder\n');
  writeFileSync(join('a', [0xfe]), 'not UTF-8 file\n');
  writeFileSync(join('a', [0xc3, 0xa9]), 'e acute\n');
  writeFileSync(join('a\u{ff5a}'), 'fullwidth z\n');
  writeFileSync(join('a\u{1f600}'), 'emoji\n');
  writeFileSync(join('a\nb'), 'newline\n');
  writeFileSync(join('a0'), '');
  symlinkSync('a/b', join('link'));
}

describe('the backup manifest', () => {
  it('holds every path in path order with the hashes of the files; an unchanged backup hashes nothing', async () => {
    makeTrickyNames(data);
    const first = await lifeboat(t, ['-v', 'backup', 'm']);
    expect(first.exitCode, first.stderr).toBe(0);
    const [file] = manifestFiles();
    const header = readManifestHeader(file);
    expect(header).toMatchObject({ format: 'lifeboat-manifest', version: 2, module: 'm' });
    let files = 0;
    for await (const entry of manifestEntries(file)) if (entry.type === 'file') files++;
    expect(header.files).toBe(files);
    const expected = walkTree(b(data));
    const { seen } = await entriesBelowData(file);
    expect(seen).toEqual(expected);
    // the order, spelled out: a folder right before what it holds, names compared as bytes
    const relative = seen.map((entry) => (entry.path.startsWith('b64:') ? Buffer.from(entry.path.slice(4), 'base64') : Buffer.from(entry.path)).subarray(data.length).toString('latin1'));
    const names = ['', '/a', '/a/b', '/a\nb', '/a-b', '/a.b', '/a0', b('/a', [0xc3, 0xa9]), b('/a\u{ff5a}'), b('/a\u{1f600}'), b('/a', [0xfe]), b('/a', [0xff]), b('/a', [0xff], '/x'), '/link'];
    expect(relative).toEqual(names.map((name) => (typeof name === 'string' ? name : name.toString('latin1'))));
    // an unchanged backup keeps every hash from the previous manifest; a changed file is hashed again
    // the walk's output left by a killed run (its pid gone) is removed by the next one
    const leftover = path.join(t.stateDir, 'modules', 'm', 'manifests', '.backup-4194399-1.tmp');
    writeFileSync(leftover, 'partial');
    const second = await lifeboat(t, ['-v', 'backup', 'm']);
    expect(second.stderr).toMatch(/manifest: \d+ entries, 0 bytes hashed/);
    expect(existsSync(leftover)).toBe(false);
    expect(readdirSync(path.dirname(leftover)).filter((name) => name.startsWith('.'))).toEqual([]);
    writeFileSync(path.join(data, 'a.b'), 'DOT\n');
    utimesSync(path.join(data, 'a.b'), new Date(), new Date(Date.now() + 5000));
    const third = await lifeboat(t, ['-v', 'backup', 'm']);
    expect(third.stderr).toMatch(/manifest: \d+ entries, 4 bytes hashed/);
    const newest = manifestFiles().sort((x, y) => lstatSync(y).mtimeMs - lstatSync(x).mtimeMs)[0];
    expect((await entriesBelowData(newest)).seen).toEqual(walkTree(b(data)));
  });

  it('lets verify compare a restore by a merge walk, and name a damaged file among awkward names', async () => {
    makeTrickyNames(data);
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    const clean = await lifeboat(t, ['verify', 'm']);
    expect(clean.exitCode, clean.stderr).toBe(0);
    expect(clean.stderr).toMatch(/\d+ file\(s\), .* match the manifest/);
    const [snapshot] = readdirSync(path.join(t.dir, 'repo', 'm'));
    const stored = b(path.join(t.dir, 'repo', 'm', snapshot), data, '/a', [0xff], '/x');
    writeFileSync(stored, 'NOT UTF-8 folder\n');
    utimesSync(stored, lstatSync(b(data, '/a', [0xff], '/x')).mtime, lstatSync(b(data, '/a', [0xff], '/x')).mtime);
    const broken = await lifeboat(t, ['verify', 'm']);
    expect(broken.exitCode).toBe(1);
    expect(broken.stderr).toContain(`${data}/a\\xff/x: content differs`);
  });

  it('still reads a manifest in the format before streaming (one JSON object): verify, and as the previous manifest', async () => {
    makeTrickyNames(data);
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    const [file] = manifestFiles();
    const header = readManifestHeader(file);
    const entries: ManifestEntry[] = [];
    for await (const entry of manifestEntries(file)) entries.push(entry);
    // The old writer walked the paths in the order configured (here: the data last), one JSON object.
    const below = (entry: ManifestEntry) => entry.path === data || entry.path.startsWith(`${data}/`) || entry.path.startsWith('b64:');
    const oldOrder = [...entries.filter((entry) => !below(entry)), ...entries.filter(below)];
    expect(oldOrder.map((entry) => entry.path)).not.toEqual(entries.map((entry) => entry.path));
    writeFileSync(file, gzipSync(JSON.stringify({ version: 1, module: 'm', created: header.created, host: header.host, snapshot: header.snapshot, paths: [...header.paths].reverse(), entries: oldOrder })));
    const verify = await lifeboat(t, ['verify', 'm']);
    expect(verify.exitCode, verify.stderr).toBe(0);
    expect(verify.stderr).toMatch(/\d+ file\(s\), .* match the manifest/);
    const [snapshot] = readdirSync(path.join(t.dir, 'repo', 'm'));
    writeFileSync(path.join(t.dir, 'repo', 'm', snapshot, data, 'a-b'), 'DASH\n');
    utimesSync(path.join(t.dir, 'repo', 'm', snapshot, data, 'a-b'), lstatSync(path.join(data, 'a-b')).mtime, lstatSync(path.join(data, 'a-b')).mtime);
    const broken = await lifeboat(t, ['verify', 'm']);
    expect(broken.exitCode).toBe(1);
    expect(broken.stderr).toContain(`${data}/a-b: content differs`);
    // the next backup takes its hashes from the old manifest and writes the new format
    const next = await lifeboat(t, ['-v', 'backup', 'm']);
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stderr).toMatch(/manifest: \d+ entries, 0 bytes hashed/);
    const newest = manifestFiles().find((other) => other !== file)!;
    expect(readManifestHeader(newest).version).toBe(2);
    expect((await entriesBelowData(newest)).seen).toEqual(walkTree(b(data)));
  });

  it('is complete and byte-exact for 50,000 files, and an unchanged backup keeps it identical', async () => {
    for (let d = 0; d < 50; d++) {
      const folder = path.join(data, `d${d}`);
      mkdirSync(folder);
      for (let f = 0; f < 1000; f++) writeFileSync(path.join(folder, `f${f}${f % 7 === 0 ? '.b' : f % 11 === 0 ? '-b' : ''}`), `${d}/${f} ${'x'.repeat(f % 50)}\n`);
    }
    makeTrickyNames(path.join(data, 'd7'));
    const first = await lifeboat(t, ['-v', 'backup', 'm']);
    expect(first.exitCode, first.stderr).toBe(0);
    const [file] = manifestFiles();
    const expected = walkTree(b(data));
    expect(expected.filter((seen) => seen.type === 'file')).toHaveLength(50_010);
    const { seen } = await entriesBelowData(file);
    expect(seen.length).toBe(expected.length);
    // Compared one by one: a failure names the first path that differs instead of printing 50,000.
    for (let i = 0; i < expected.length; i++) if (JSON.stringify(seen[i]) !== JSON.stringify(expected[i])) expect(seen[i]).toEqual(expected[i]);
    expect(readManifestHeader(file).files).toBeGreaterThanOrEqual(50_010);
    const second = await lifeboat(t, ['-v', 'backup', 'm']);
    expect(second.exitCode, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/manifest: \d+ entries, 0 bytes hashed/);
    const newest = manifestFiles().find((other) => other !== file)!;
    const again = await entriesBelowData(newest);
    expect(again.seen.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) if (JSON.stringify(again.seen[i]) !== JSON.stringify(expected[i])) expect(again.seen[i]).toEqual(expected[i]);
  }, 1_800_000);
});
