// The one splitter of gzipped NDJSON (backup manifest, tar file list): lines across chunks, empty lines,
// a last line without '\n', one long line in many chunks, and the bound on a line.
import { describe, expect, it } from 'vitest';
import { LineReader, MORE } from '../../src/files/line-reader.js';

async function* chunksOf(parts: string[]): AsyncGenerator<string> {
  for (const part of parts) yield part;
}

async function all(parts: string[], maxLine?: number): Promise<string[]> {
  const reader = new LineReader(chunksOf(parts), maxLine);
  const lines: string[] = [];
  for (let line = await reader.next(); line !== undefined; line = await reader.next()) lines.push(line);
  return lines;
}

describe('LineReader', () => {
  it('splits lines inside and across chunks and skips empty lines', async () => {
    expect(await all(['{"a":1}\n{"b"', ':2}\n\n{"c":3}\n', '\n{"d":', '4}'])).toEqual(['{"a":1}', '{"b":2}', '{"c":3}', '{"d":4}']);
    expect(await all(['x\n', '', 'y\n'])).toEqual(['x', 'y']);
    expect(await all([])).toEqual([]);
    expect(await all(['\n\n'])).toEqual([]);
  });

  it('joins one long line from many chunks (a format-1 manifest)', async () => {
    const parts = Array.from({ length: 1000 }, (_, i) => `${i}`.padStart(100, '.'));
    expect(await all(parts)).toEqual([parts.join('')]);
  });

  it('answers from the chunk at hand without awaiting, MORE when it is used up', async () => {
    const reader = new LineReader(chunksOf(['a\nb\nc', 'd\n']));
    expect(reader.take()).toBe(MORE);
    await reader.fill();
    expect([reader.take(), reader.take(), reader.take()]).toEqual(['a', 'b', MORE]);
    await reader.fill();
    expect([reader.take(), reader.take()]).toEqual(['cd', MORE]);
    await reader.fill();
    expect(reader.take()).toBeUndefined();
  });

  it('refuses a line longer than its bound, whole or still partial', async () => {
    await expect(all(['x'.repeat(11), '\n'], 10)).rejects.toThrow('a line longer than 10 bytes');
    await expect(all(['x'.repeat(6), 'x'.repeat(6)], 10)).rejects.toThrow('a line longer than 10 bytes');
    await expect(all(['y\n' + 'x'.repeat(11) + '\n'], 10)).rejects.toThrow('a line longer than 10 bytes');
    expect(await all(['x'.repeat(5), 'x'.repeat(5), '\n'], 10)).toEqual(['x'.repeat(10)]);
  });
});
