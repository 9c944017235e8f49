// Cuts a stream into parts of exactly partSize bytes (the last one shorter) in a small pool of reused
// buffers: a part's buffer goes back to the pool when its upload is done, so memory stays at about
// (queueSize + 1) x partSize however large the stream is, and no part is copied twice.
import type { Readable } from 'node:stream';

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

  // Reads `body` through its async iterator (backpressure: nothing is read until a part is asked for).
  constructor(body: Readable, partSize: number) {
    this.iterator = body[Symbol.asyncIterator]();
    this.partSize = partSize;
  }

  // The next part, or undefined at the end of the stream; rejects when the stream fails.
  async next(): Promise<Part | undefined> {
    if (this.ended && !this.leftover) return undefined;
    const buffer = this.free.pop() ?? Buffer.allocUnsafeSlow(this.partSize);
    let filled = 0;
    while (filled < this.partSize) {
      const chunk = this.leftover ?? (await this.read());
      this.leftover = undefined;
      if (!chunk) break;
      const count = Math.min(chunk.length, this.partSize - filled);
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
