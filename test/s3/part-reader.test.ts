// The part reader: exact part sizes from any chunking, `last` known in advance, buffers reused, and
// part sizes that double every 2,000 parts so 10,000 parts hold a stream of unknown length.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PartReader } from '../../src/storage/part-reader.js';

// A stream of `total` bytes (byte i = i mod 251) in chunks of `chunk` bytes.
function source(total: number, chunk: number): Readable {
  return Readable.from((function* () {
    for (let offset = 0; offset < total; offset += chunk) yield Buffer.from(Array.from({ length: Math.min(chunk, total - offset) }, (_, i) => (offset + i) % 251));
  })());
}

// Reads every part, releasing each at once; returns sizes, last flags and the bytes.
async function readAll(reader: PartReader) {
  const sizes: number[] = [];
  const lasts: boolean[] = [];
  const bytes: Buffer[] = [];
  const buffers = new Set<Buffer>();
  for (let part = await reader.next(); part; part = await reader.next()) {
    sizes.push(part.data.length);
    lasts.push(part.last);
    bytes.push(Buffer.from(part.data));
    buffers.add(part.buffer);
    reader.release(part);
  }
  return { sizes, lasts, bytes: Buffer.concat(bytes), buffers };
}

describe('PartReader', () => {
  it.each([
    [25, 3, [10, 10, 5]],
    [20, 7, [10, 10]],
    [20, 64, [10, 10]],
    [3, 1, [3]],
    [0, 1, []],
  ])('cuts %i bytes in chunks of %i into parts of 10: %j', async (total, chunk, expected) => {
    const { sizes, lasts, bytes, buffers } = await readAll(new PartReader(source(total, chunk), 10));
    expect(sizes).toEqual(expected);
    expect(lasts).toEqual(expected.map((_, i) => i === expected.length - 1));
    expect(bytes.equals(Buffer.concat([await readAll(new PartReader(source(total, total || 1), 1_000_000)).then((r) => r.bytes)]))).toBe(true);
    expect(buffers.size).toBeLessThanOrEqual(1);
  });

  it('doubles the part size every 2,000 parts', async () => {
    const { sizes } = await readAll(new PartReader(source(2000 * 4 + 8 + 3, 1000), 4));
    expect(sizes.slice(0, 2000).every((size) => size === 4)).toBe(true);
    expect(sizes.slice(2000)).toEqual([8, 3]);
  });

  it('passes a failing stream on', async () => {
    const failing = new Readable({ read() { this.destroy(new Error('disk on fire')); } });
    await expect(new PartReader(failing, 10).next()).rejects.toThrow('disk on fire');
  });
});
