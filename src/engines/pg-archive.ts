// The header of a pg_dump custom-format archive: which database it is the dump of (the `dbname:` that
// pg_restore --list prints), read from the first bytes of a file or a stream, so a restore can refuse the
// archive of another database before anything is loaded.
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';

// Enough bytes for any header (a database name is at most 63 bytes, versions a few dozen).
export const HEADER_BYTES = 4096;

// The archive's database name, or a reason why the bytes are not a custom-format archive header.
export function archiveDbname(head: Buffer): { dbname: string } | { bad: string } {
  let at = 0;
  const byte = () => {
    // A reason: caught below and returned as `bad`, which the engines turn into a DATABASE error.
    if (at >= head.length) throw new Error('the header is truncated');
    return head[at++];
  };
  try {
    if (head.subarray(0, 5).toString('latin1') !== 'PGDMP') return { bad: 'it is not a pg_dump custom-format archive (no PGDMP mark)' };
    at = 5;
    const major = byte();
    const minor = byte();
    if (major > 1 || minor > 0) byte(); // revision
    const version = major * 100 + minor;
    if (version < 104) return { bad: `its archive format ${major}.${minor} is too old to name its database` };
    const intSize = byte();
    if (intSize < 1 || intSize > 8) return { bad: 'its header is damaged' };
    if (version >= 107) byte(); // offset size
    byte(); // format
    const int = () => {
      const negative = byte() !== 0;
      let value = 0;
      for (let i = 0; i < intSize; i++) value += byte() * 2 ** (8 * i);
      return negative ? -value : value;
    };
    if (version >= 115) byte(); // compression algorithm
    else int(); // compression level
    for (let i = 0; i < 7; i++) int(); // creation time
    const length = int();
    if (length < 0 || at + length > head.length) return { bad: 'its header is damaged' };
    return { dbname: head.subarray(at, at + length).toString('utf8') };
  } catch (error) {
    return { bad: (error as Error).message };
  }
}

// The first bytes of a file.
export async function fileHead(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, HEADER_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

// Reads the first bytes of a stream; returns them and a stream that yields every byte again.
export async function peekStream(input: Readable, bytes = HEADER_BYTES): Promise<{ head: Buffer; stream: Readable }> {
  const iterator = (input as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let length = 0;
  let ended = false;
  while (length < bytes) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    chunks.push(next.value);
    length += next.value.length;
  }
  const head = Buffer.concat(chunks);
  async function* all(): AsyncGenerator<Buffer> {
    yield head;
    if (ended) return;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { head: head.subarray(0, bytes), stream: Readable.from(all(), { objectMode: false }) };
}
