// Splits a process's output into lines with bounded memory: a line longer than MAX_LINE_BYTES is logged cut
// (its first MAX_LINE_BYTES and a note), and the rest of it is dropped until the next newline, so one
// 700 MB line costs at most MAX_LINE_BYTES of memory instead of crashing Lifeboat.
import type { Readable } from 'node:stream';
import { LINE_CUT_MARK } from '../log/mask.js';

export const MAX_LINE_BYTES = 64 * 1024;

// Calls onLine for every complete line (and for a last line without newline when the stream ends).
export function readLines(stream: Readable, onLine: (line: string) => void, maxBytes = MAX_LINE_BYTES): void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  // Bytes dropped from the current over-long line; -1 while the line is within bounds.
  let dropped = -1;
  const emit = () => {
    const text = Buffer.concat(pending).toString('utf8');
    onLine(dropped < 0 ? text : `${text}${LINE_CUT_MARK}${dropped} more bytes dropped; a line is kept up to ${maxBytes} bytes]`);
    pending = [];
    pendingBytes = 0;
    dropped = -1;
  };
  stream.on('data', (chunk: Buffer) => {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline < 0 ? chunk.length : newline;
      take(chunk.subarray(start, end));
      if (newline < 0) break;
      emit();
      start = newline + 1;
    }
  });
  stream.on('end', () => {
    if (pendingBytes > 0 || dropped > 0) emit();
  });
  // Keeps up to maxBytes of the current line; counts the rest as dropped.
  const take = (piece: Buffer) => {
    if (piece.length === 0) return;
    const room = maxBytes - pendingBytes;
    if (room > 0) {
      const kept = piece.subarray(0, room);
      pending.push(Buffer.from(kept));
      pendingBytes += kept.length;
    }
    if (piece.length > room) dropped = Math.max(dropped, 0) + piece.length - Math.max(room, 0);
  };
}
