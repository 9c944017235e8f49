// The backup manifest through the real CLI (copy test provider): complete and byte-exact against a walk
// the test makes itself (50,000 files, and names that test the path order: `a`, `a/b`, `a-b`, `a.b`,
// bytes that are not UTF-8), hashes kept for unchanged files by the merge walk with the previous
// manifest, verify's merge-walk comparison, and manifests in the format before streaming (one JSON
// object) still read by verify and as the previous manifest.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
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
    // the next backup takes its hashes from the old manifest and writes the new format (the mark of
    // the failed verify, which would make it hash every file, is removed: the repository was damaged here)
    rmSync(path.join(t.stateDir, 'modules', 'm', 'manifests', '.rehash-all'));
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

// The newest manifest of repository `local` (the hash cache of the next backup, what verify reads).
function newestManifest(): string {
  return manifestFiles().sort((x, y) => lstatSync(y).mtimeMs - lstatSync(x).mtimeMs)[0];
}

// Rewrites a manifest as a header member and a body member, entries changed by `edit`.
async function rewriteManifest(file: string, edit: (entries: ManifestEntry[]) => ManifestEntry[]): Promise<void> {
  const header = readManifestHeader(file);
  const entries: ManifestEntry[] = [];
  for await (const entry of manifestEntries(file)) entries.push(entry);
  const lines = edit(entries);
  const body = `${lines.map((entry) => JSON.stringify(entry)).join('\n')}\n${JSON.stringify({ end: true, entries: lines.length })}\n`;
  writeFileSync(file, Buffer.concat([gzipSync(`${JSON.stringify(header)}\n`), gzipSync(body)]));
}

describe('a damaged or wrong manifest', () => {
  for (const damage of ['a flipped byte in its checksum', 'a flipped byte in its body', 'a cut']) {
    it(`costs the next backup only the reuse of hashes when the previous one has ${damage}: warned once, naming it; the new manifest is complete`, async () => {
      makeTrickyNames(data);
      expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
      const file = newestManifest();
      const bytes = readFileSync(file);
      if (damage === 'a cut') writeFileSync(file, bytes.subarray(0, bytes.length - 20));
      else {
        const at = damage === 'a flipped byte in its checksum' ? bytes.length - 6 : bytes.length - 40;
        bytes[at] ^= 0x55;
        writeFileSync(file, bytes);
      }
      const next = await lifeboat(t, ['-v', 'backup', 'm']);
      expect(next.exitCode, next.stderr).toBe(0);
      expect(next.stderr).not.toContain('could not write the backup manifest');
      const warnings = next.stderr.split('\n').filter((line) => line.includes('previous manifest cannot be read'));
      expect(warnings, next.stderr).toHaveLength(1);
      expect(warnings[0]).toContain(file);
      expect(next.stderr).not.toMatch(/manifest: \d+ entries, 0 bytes hashed/);
      const fresh = newestManifest();
      expect(fresh).not.toBe(file);
      expect((await entriesBelowData(fresh)).seen).toEqual(walkTree(b(data)));
      const verify = await lifeboat(t, ['verify', 'm']);
      expect(verify.exitCode, verify.stderr).toBe(0);
      expect(verify.stderr).toMatch(/\d+ file\(s\), .* match the manifest/);
      // the damaged one is no longer the newest: the backup after reuses hashes again, silently
      const third = await lifeboat(t, ['-v', 'backup', 'm']);
      expect(third.stderr).not.toContain('previous manifest cannot be read');
      expect(third.stderr).toMatch(/manifest: \d+ entries, 0 bytes hashed/);
    });
  }

  it('a FIFO planted at the newest manifest: backup warns and goes on, verify names it, neither hangs', async () => {
    makeTrickyNames(data);
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    const file = newestManifest();
    rmSync(file);
    execFileSync('mkfifo', ['-m', '600', file]);
    const verify = await lifeboat(t, ['verify', 'm']);
    expect(verify.exitCode).toBe(1);
    expect(verify.stderr).toContain(`manifest ${file} is not a regular file`);
    const next = await lifeboat(t, ['backup', 'm']);
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stderr.split('\n').filter((line) => line.includes('previous manifest cannot be read') && line.includes(`manifest ${file} is not a regular file`))).toHaveLength(1);
  });

  it('a previous manifest with a 64 MiB line: the backup names it as damaged without reading the line into memory whole', async () => {
    makeTrickyNames(data);
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    const file = newestManifest();
    const header = gunzipSync(readFileSync(file)).toString('utf8').split('\n')[0];
    writeFileSync(file, gzipSync(Buffer.concat([Buffer.from(`${header}\n`), Buffer.alloc(64 << 20, 'a'), Buffer.from('\n')])));
    const next = await lifeboat(t, ['backup', 'm']);
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stderr).toContain(`manifest ${file} is damaged: a line longer than ${1 << 20} bytes`);
    const verify = await lifeboat(t, ['verify', 'm']);
    expect(verify.exitCode, verify.stderr).toBe(0);
  });

  it('makes verify name the manifest and say it is cut short, or that its lines are out of order', async () => {
    makeTrickyNames(data);
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    const file = newestManifest();
    const whole = readFileSync(file);
    writeFileSync(file, whole.subarray(0, whole.length - 20));
    const cut = await lifeboat(t, ['verify', 'm']);
    expect(cut.exitCode).not.toBe(0);
    expect(cut.stderr).toContain(`manifest ${file} is cut short`);
    writeFileSync(file, whole);
    await rewriteManifest(file, (entries) => {
      const at = entries.findIndex((entry) => entry.path === path.join(data, 'a-b'));
      return [...entries.slice(0, at - 1), entries[at], entries[at - 1], ...entries.slice(at + 1)];
    });
    const swapped = await lifeboat(t, ['verify', 'm']);
    expect(swapped.exitCode).not.toBe(0);
    expect(swapped.stderr).toContain(`manifest ${file} is damaged: its lines are out of path order`);
    expect(swapped.stderr).not.toContain('missing from the restore');
  });

  it('fails verify when the manifest was made for another snapshot, naming both', async () => {
    writeFileSync(path.join(data, 'f'), 'one\n');
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    const older = newestManifest();
    writeFileSync(path.join(data, 'f'), 'two, longer\n');
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    const newest = newestManifest();
    expect(newest).not.toBe(older);
    writeFileSync(newest, readFileSync(older));
    const verify = await lifeboat(t, ['verify', 'm']);
    expect(verify.exitCode).toBe(1);
    const olderId = path.basename(older, '.json.gz');
    const newestId = path.basename(newest, '.json.gz');
    expect(verify.stderr).toContain(`manifest ${newest} was made for snapshot ${olderId} of module m, not for snapshot ${newestId} of module m being verified`);
    expect(verify.stderr).not.toContain('match the manifest');
  });

  it('makes the next backup hash every file again after verify found a wrong hash (a wrong hash would otherwise carry forward)', async () => {
    writeFileSync(path.join(data, 'f'), 'right content\n');
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    const file = newestManifest();
    await rewriteManifest(file, (entries) => entries.map((entry) => (entry.path === path.join(data, 'f') ? { ...entry, sha256: '0'.repeat(64) } : entry)));
    // an unchanged file keeps the (wrong) hash of the previous manifest: the damage carries forward
    expect((await lifeboat(t, ['-v', 'backup', 'm'])).stderr).toMatch(/manifest: \d+ entries, 0 bytes hashed/);
    const failed = await lifeboat(t, ['verify', 'm']);
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toContain(`${path.join(data, 'f')}: content differs`);
    expect(failed.stderr).toContain('the next `lifeboat backup` hashes every file again');
    const rehashed = await lifeboat(t, ['-v', 'backup', 'm']);
    expect(rehashed.exitCode, rehashed.stderr).toBe(0);
    expect(rehashed.stderr).toContain('hashing every file');
    expect(rehashed.stderr).not.toMatch(/manifest: \d+ entries, 0 bytes hashed/);
    const passed = await lifeboat(t, ['verify', 'm']);
    expect(passed.exitCode, passed.stderr).toBe(0);
    // and the backup after that reuses hashes again
    expect((await lifeboat(t, ['-v', 'backup', 'm'])).stderr).toMatch(/manifest: \d+ entries, 0 bytes hashed/);
  });
});
