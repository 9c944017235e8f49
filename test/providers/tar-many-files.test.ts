// The tar provider's file list at scale: 50,000 files in 100 folders. The list beside the archive
// (<id>.files.ndjson.gz, written as a stream while the archive is made) must hold every path of the
// tree exactly once, in path order, with the size and SHA-256 of the bytes on disk; check reads the
// archive and the list side by side and passes; a restore gives back every byte. No timing is asserted.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, lstatSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createProvider } from '../../plugins/tar/index.js';
import { comparePaths } from '../../src/files/path-order.js';
import { providerInput, testLogger } from '../helpers/provider.js';
import { readFileList } from '../helpers/tar-list.js';
import { tmpDir } from '../helpers/tmp.js';

const FILES = 50_000;
const common = () => ({ log: testLogger(), signal: new AbortController().signal });

// Every path below root (root included), each with what the list should say about it, in path order.
function walk(root: string): Array<{ path: string; type: string; size: number; sha256?: string }> {
  const out: Array<{ path: string; type: string; size: number; sha256?: string }> = [];
  const visit = (absolute: string) => {
    const stat = lstatSync(absolute);
    if (stat.isDirectory()) {
      out.push({ path: absolute, type: 'directory', size: 0 });
      for (const name of readdirSync(absolute).sort()) visit(path.join(absolute, name));
    } else {
      const bytes = readFileSync(absolute);
      out.push({ path: absolute, type: 'file', size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
  };
  visit(root);
  return out;
}

describe('tar provider with 50,000 files', () => {
  it('lists every file with its exact size and sha256, in path order; check passes; restore gives every byte back', { timeout: 600_000 }, async () => {
    const base = await tmpDir();
    const src = path.join(base, 'src', 'mail');
    // names that sort differently byte by byte and component by component: `d-1` after `d/…`
    for (let i = 0; i < FILES; i++) {
      const folder = path.join(src, i % 2 ? `d${Math.floor(i / 1000)}` : `d${Math.floor(i / 1000)}-x`);
      if (i % 1000 < 2) mkdirSync(folder, { recursive: true });
      writeFileSync(path.join(folder, `m${i}.eml`), `message ${i}\n`.repeat(1 + (i % 7)));
    }
    const url = path.join(base, 'repo');
    const provider = createProvider(providerInput({ provider: 'tar', url, compression: 'zstd' }, { root: base, stateDir: base }));
    const { snapshot } = await provider.create({ module: 'mail', paths: [src], exclude: [], host: 'h', tags: [], ...common() });

    const expected = walk(src);
    expect(expected.filter((entry) => entry.type === 'file')).toHaveLength(FILES);
    const list = readFileList(path.join(url, 'mail', `${snapshot.id}.files.ndjson.gz`));
    const got = list.entries.map(({ path: p, type, size, sha256 }) => ({ path: p, type, size, ...(sha256 ? { sha256 } : {}) }));
    const want = expected.map(({ path: p, type, size, sha256 }) => ({ path: p, type, size, ...(sha256 ? { sha256 } : {}) }));
    const order = (a: { path: string }, b: { path: string }) => comparePaths(Buffer.from(a.path), Buffer.from(b.path));
    expect(got).toEqual([...want].sort(order));
    expect(list.end).toMatchObject({ end: true, entries: FILES + 101 });
    const manifest = JSON.parse(readFileSync(path.join(url, 'mail', `${snapshot.id}.manifest.json`), 'utf8'));
    expect(manifest.list).toMatchObject({ entries: FILES + 101 });

    await provider.check!('mail', common());
    const target = path.join(base, 'target');
    await provider.restore({ module: 'mail', snapshot, target, ...common() });
    expect(walk(path.join(target, src)).map((entry) => ({ ...entry, path: entry.path.slice(target.length) }))).toEqual(expected);
  });
});
