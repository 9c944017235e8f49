// The streamed backup manifest's pieces: the one path order (component by component, bytes), the
// writer that refuses anything out of that order, the reader (a cut-short file is an error, a format-1
// manifest is read and sorted), and the merge walk of verify on two files.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { comparePaths } from '../../src/files/path-order.js';
import { pathKey } from '../../src/files/byte-path.js';
import { ManifestCursor, ManifestWriter, manifestEntries, readManifestHeader, storeManifest, type ManifestEntry, type ManifestHeader } from '../../src/lifecycle/manifest-stream.js';
import { compareManifests } from '../../src/lifecycle/manifest.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-manifest-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const bytes = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : Buffer.from(part))));

// In the order a depth-first walk of sorted directory listings visits them.
const ORDERED = [
  bytes('/d/a'),
  bytes('/d/a/b'),
  bytes('/d/a/b/c'),
  bytes('/d/a', [0x01]),
  bytes('/d/a b'),
  bytes('/d/a-b'),
  bytes('/d/a.b'),
  bytes('/d/a0'),
  bytes('/d/a', [0xc3, 0xa9]), // é
  bytes('/d/a', [0xef, 0xbd, 0x9a]), // ｚ U+FF5A: after é in bytes, and before the emoji (UTF-16 would put it after)
  bytes('/d/a\u{1f600}'),
  bytes('/d/a', [0xff]), // not UTF-8
  bytes('/d/a', [0xff], '/x'),
  bytes('/d/b'),
];

const header = (paths: string[]): ManifestHeader => ({ format: 'lifeboat-manifest', version: 2, module: 'm', created: '2026-11-29T00:00:00.000Z', host: 'h', snapshot: { repository: 'r', id: 's1' }, paths, files: 0, bytes: 0 });
const fileEntry = (key: Buffer, sha256: string, size = 1): ManifestEntry => ({ path: pathKey(key), type: 'file', mode: 0o644, size, sha256, mtimeMs: 1, ctimeMs: 1, ino: 1 });

async function writeBody(file: string, entries: ManifestEntry[]): Promise<void> {
  const writer = new ManifestWriter(file);
  for (const entry of entries) if (!writer.add(entry, Buffer.from(entry.path.startsWith('b64:') ? Buffer.from(entry.path.slice(4), 'base64') : Buffer.from(entry.path)))) await writer.drain();
  await writer.close();
}

async function collect(file: string): Promise<ManifestEntry[]> {
  const entries: ManifestEntry[] = [];
  for await (const entry of manifestEntries(file)) entries.push(entry);
  return entries;
}

describe('path order', () => {
  it('puts a directory right before what it holds, then its siblings in byte order', () => {
    const shuffled = [...ORDERED].reverse().sort((a, b) => (a.length % 3) - (b.length % 3));
    expect(shuffled.sort(comparePaths).map((p) => p.toString('hex'))).toEqual(ORDERED.map((p) => p.toString('hex')));
    for (let i = 0; i + 1 < ORDERED.length; i++) {
      expect(comparePaths(ORDERED[i], ORDERED[i + 1]), `${ORDERED[i]} before ${ORDERED[i + 1]}`).toBeLessThan(0);
      expect(comparePaths(ORDERED[i + 1], ORDERED[i])).toBeGreaterThan(0);
      expect(comparePaths(ORDERED[i], Buffer.from(ORDERED[i]))).toBe(0);
    }
    // Plain byte order differs exactly there: '/' (0x2f) sorts after '-' and '.'.
    expect(Buffer.compare(bytes('/d/a/b'), bytes('/d/a.b'))).toBeGreaterThan(0);
  });
});

describe('manifest files', () => {
  it('writes and reads back every entry, names that are not UTF-8 included, header first', async () => {
    const body = path.join(dir, 'body');
    const entries = ORDERED.map((key, i) => fileEntry(key, String(i).padStart(64, '0')));
    await writeBody(body, entries);
    const file = path.join(dir, 's1.json.gz');
    await storeManifest(file, { ...header(['/d']), files: entries.length, bytes: entries.length }, body);
    expect(readManifestHeader(file)).toMatchObject({ version: 2, paths: ['/d'], files: ORDERED.length });
    expect(await collect(file)).toEqual(entries);
    expect(entries[11].path).toBe(`b64:${bytes('/d/a', [0xff]).toString('base64')}`);
    // One gzip stream to any reader: header line, entries, end line.
    const lines = gunzipSync(readFileSync(file)).toString('utf8').trim().split('\n');
    expect(lines).toHaveLength(ORDERED.length + 2);
    expect(JSON.parse(lines.at(-1)!)).toEqual({ end: true, entries: ORDERED.length });
  });

  it('refuses an entry out of path order', async () => {
    const writer = new ManifestWriter(path.join(dir, 'body'));
    writer.add(fileEntry(bytes('/d/a.b'), 'x'), bytes('/d/a.b'));
    expect(() => writer.add(fileEntry(bytes('/d/a/b'), 'x'), bytes('/d/a/b'))).toThrow('manifest entries out of path order: /d/a/b after /d/a.b');
    writer.abort();
  });

  it('says a manifest without its end line is cut short', async () => {
    const body = path.join(dir, 'body');
    await writeBody(body, ORDERED.slice(0, 3).map((key) => fileEntry(key, 'x')));
    const text = gunzipSync(readFileSync(body)).toString('utf8').split('\n').slice(0, 3).join('\n');
    const file = path.join(dir, 'cut.json.gz');
    writeFileSync(file, gzipSync(`${JSON.stringify(header(['/d']))}\n${text}\n`));
    await expect(collect(file)).rejects.toThrow(`manifest ${file} is cut short (no end line after 3 entries)`);
  });

  it('reads a format-1 manifest (one JSON object, entries in config order) in path order', async () => {
    const file = path.join(dir, 'old.json.gz');
    // The old walk: paths as configured (not sorted), each walked depth first.
    const entries = [bytes('/d/b'), ...ORDERED.slice(0, -1)].map((key) => fileEntry(key, 'y'));
    writeFileSync(file, gzipSync(JSON.stringify({ version: 1, module: 'm', created: 'c', host: 'h', snapshot: { repository: 'r', id: 'old' }, paths: ['/d/b', '/d/a'], entries })));
    expect(readManifestHeader(file)).toMatchObject({ version: 2, module: 'm', snapshot: { id: 'old' }, paths: ['/d/b', '/d/a'], files: ORDERED.length, bytes: ORDERED.length });
    expect((await collect(file)).map((entry) => entry.path)).toEqual(ORDERED.map(pathKey));
    const cursor = await ManifestCursor.open(file);
    expect(cursor.seek(bytes('/d/a.b'))).toMatchObject({ entry: { path: '/d/a.b' } });
    expect(cursor.seek(bytes('/d/a.c'))).toBeUndefined();
    cursor.close();
  });

  it('compares two manifests by a merge walk: missing, extra, different', async () => {
    const expectedBody = path.join(dir, 'expected');
    await writeBody(expectedBody, ORDERED.map((key, i) => fileEntry(key, `h${i}`)));
    const expected = path.join(dir, 'expected.json.gz');
    await storeManifest(expected, header(['/d']), expectedBody);
    const restored = path.join(dir, 'restored');
    const got = ORDERED.map((key, i) => fileEntry(key, i === 6 ? 'other' : `h${i}`)).filter((_, i) => i !== 11);
    got.splice(4, 0, fileEntry(bytes('/d/a', [0x02]), 'new'));
    await writeBody(restored, got);
    const result = await compareManifests(expected, restored);
    expect(result.problems).toEqual(['/d/a.b: content differs (sha256 other…, the manifest says h6…)', '/d/a\\xff: missing from the restore (file)']);
    expect(result).toMatchObject({ problemCount: 2, extraCount: 1, checkedFiles: ORDERED.length - 1 });
  });
});
