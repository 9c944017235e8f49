// Cuts a stream into parts of exactly partSize bytes (the last one shorter) in a small pool of reused
// buffers: a part's buffer goes back to the pool when its upload is done, so memory stays at about
// (queueSize + 1) x partSize however large the stream is, and no part is copied twice. S3 allows 10,000
// parts and the stream's length is unknown, so the part size doubles every 2,000 parts (8 MiB parts:
// 16 GiB at 8 MiB, then 16, 32, 64 and 128 MiB parts, up to ~484 GiB).
import type { Readable } from 'node:stream';
import { LifeboatError } from '../errors.js';

export const MAX_PARTS = 10_000;
const PARTS_PER_SIZE = 2_000;

export interface Part {
  // The part's bytes (a view into a pooled buffer; valid until release()).
  data: Buffer;
  // True when nothing follows.
  last: boolean;
  // The pooled buffer behind `data`.
  readonly buffer: Buffer;
}

export class PartReader {
  private readonly iterator: AsyncIterator<unknown>;
  private readonly partSize: number;
  private readonly free: Buffer[] = [];
  private leftover: Buffer | undefined;
  private ended = false;
  private count = 0;

  // Reads `body` through its async iterator (backpressure: nothing is read until a part is asked for).
  constructor(body: Readable, partSize: number) {
    this.iterator = body[Symbol.asyncIterator]();
    this.partSize = partSize;
  }

  // The next part, or undefined at the end of the stream; rejects when the stream fails.
  async next(): Promise<Part | undefined> {
    if (this.ended && !this.leftover) return undefined;
    if (this.count >= MAX_PARTS) {
      throw new LifeboatError('PROVIDER', `the stream is larger than ${MAX_PARTS} parts can hold (${this.maxBytes()} bytes at partSize ${this.partSize})`, { hint: 'raise partSize: on the repository' });
    }
    const size = this.sizeOf(++this.count);
    let buffer = this.free.pop();
    while (buffer && buffer.length !== size) buffer = this.free.pop();
    buffer ??= Buffer.allocUnsafeSlow(size);
    let filled = 0;
    while (filled < size) {
      const chunk = this.leftover ?? (await this.read());
      this.leftover = undefined;
      if (!chunk) break;
      const count = Math.min(chunk.length, size - filled);
      chunk.copy(buffer, filled, 0, count);
      filled += count;
      if (count < chunk.length) this.leftover = chunk.subarray(count);
    }
    // a full part may be the last one: look ahead so the caller knows
    if (!this.ended && !this.leftover) this.leftover = await this.read();
    if (filled === 0) {
      this.free.push(buffer);
      return undefined;
    }
    return { data: buffer.subarray(0, filled), last: this.ended && !this.leftover, buffer };
  }

  // The size of part number n (1-based).
  private sizeOf(n: number): number {
    return this.partSize * 2 ** Math.floor((n - 1) / PARTS_PER_SIZE);
  }

  // The most bytes MAX_PARTS parts hold.
  private maxBytes(): number {
    let total = 0;
    for (let n = 1; n <= MAX_PARTS; n += PARTS_PER_SIZE) total += PARTS_PER_SIZE * this.sizeOf(n);
    return total;
  }

  // Gives a part's buffer back to the pool once nothing reads it any more.
  release(part: Part): void {
    this.free.push(part.buffer);
  }

  // One chunk from the stream as a Buffer; undefined at its end.
  private async read(): Promise<Buffer | undefined> {
    for (;;) {
      const result = await this.iterator.next();
      if (result.done) {
        this.ended = true;
        return undefined;
      }
      const chunk = Buffer.isBuffer(result.value) ? result.value : Buffer.from(result.value as Uint8Array);
      if (chunk.length > 0) return chunk;
    }
  }
}
