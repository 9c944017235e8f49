// --stdin: run-parts copies all of its stdin into a temporary file once, and each script reads
// that copy from the start. execute.ts loads this module only for --stdin.
import { closeSync, existsSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { printError, sleepMs } from './output.js';

/** The copy: an open fd, and the path to unlink at the end ('' when /proc let us unlink it at once). */
export class StdinCopy {
  constructor(
    private readonly fd: number,
    private readonly path: string,
  ) {}

  // Used before each script: a new read-only open file of the copy, so every script starts at offset 0.
  reopen(): number {
    return openSync(this.path || `/proc/self/fd/${this.fd}`, 'r');
  }

  // Used once at the end: closes the copy and removes it if /proc did not let us unlink it early.
  remove(): void {
    closeSync(this.fd);
    if (this.path) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
  }
}

// Used before the first script runs (even under --test or --list): all of stdin into a temporary file.
export function copyStdin(): StdinCopy | null {
  const tmp = process.env.TMPDIR || '/tmp';
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let fd = -1;
  let path = '';
  for (let i = 0; i < 100 && fd < 0; i++) {
    path = `${tmp}/run-parts.stdin.`;
    for (let j = 0; j < 6; j++) path += chars[Math.floor(Math.random() * chars.length)];
    try {
      fd = openSync(path, 'wx+', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return null;
    }
  }
  if (fd < 0) return null;
  // With /proc each script gets a fresh open file (offset 0) of the already-unlinked file.
  if (existsSync(`/proc/self/fd/${fd}`)) {
    unlinkSync(path);
    path = '';
  }
  const buf = Buffer.alloc(65536);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        sleepMs(1);
        continue;
      }
      if (code === 'EOF') break;
      if (code === 'EINTR') continue;
      printError('run-parts: failed to read from stdin\n');
      closeSync(fd);
      return null;
    }
    if (n === 0) break;
    try {
      writeFully(fd, buf.subarray(0, n));
    } catch {
      printError('run-parts: failed to write to temporary file\n');
      closeSync(fd);
      return null;
    }
  }
  return new StdinCopy(fd, path);
}

// Used for the temporary file, where a failed write must surface (unlike writeAll's on fds 1 and 2).
function writeFully(fd: number, b: Buffer): void {
  for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
}
