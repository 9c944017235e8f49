// Byte-exact output for `lifeboat run-parts`: byte strings (one char per byte, Buffer 'latin1')
// written to fds 1 and 2 synchronously, never through process.stdout (which would make the fd
// non-blocking and asynchronous), with stdout buffered the way stdio buffers it, and glibc's
// strerror() texts for the messages.
import { writeSync } from 'node:fs';
import { isatty } from 'node:tty';

// Used on every JS (UTF-16) string that enters the byte world: argv, texts, option arguments.
export const toBytes = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
// Used for the APIs that only take JS strings (spawn's command and arguments).
export const fromBytes = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');
// Used to hand a byte string to fs calls and writes unchanged.
export const toBuffer = (s: string): Buffer => Buffer.from(s, 'latin1');

// Used to wait without returning to the event loop (EAGAIN retries, dying of a re-raised signal).
export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const brokenFd = new Set<number>();
// Used for every write to fds 1 and 2: retries short writes, EAGAIN and EINTR; gives up on a broken fd.
export function writeAll(fd: number, data: Buffer): void {
  if (brokenFd.has(fd)) return;
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(fd, data, off, data.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') sleepMs(1);
      else if (code !== 'EINTR') {
        // EPIPE and friends: Debian's binary would die of SIGPIPE or drop the output; drop it.
        brokenFd.add(fd);
        return;
      }
    }
  }
}

// Used for stderr texts that are already complete (usage, getopt messages, --debug lines).
export const writeStderr = (s: string): void => writeAll(2, toBuffer(s));
// Used like run-parts' error(): "run-parts: " + message + "\n" on stderr.
export const printError = (s: string): void => writeStderr(`run-parts: ${s}\n`);

// stdout as stdio would buffer it: line-buffered on a tty, else 4096-byte blocks until exit/fflush.
export class BufferedStdout {
  private chunks: Buffer[] = [];
  private size = 0;
  private readonly lineMode = isatty(1);
  // Used for the names printed by --test and --list.
  write(s: string): void {
    const b = toBuffer(s);
    if (this.lineMode) return writeAll(1, b);
    this.chunks.push(b);
    this.size += b.length;
    if (this.size >= 4096) {
      const all = Buffer.concat(this.chunks);
      const keep = all.length % 4096;
      writeAll(1, all.subarray(0, all.length - keep));
      this.chunks = keep ? [all.subarray(all.length - keep)] : [];
      this.size = keep;
    }
  }
  // Used once at the end, as exit() flushes stdio.
  flush(): void {
    if (this.size) writeAll(1, Buffer.concat(this.chunks));
    this.chunks = [];
    this.size = 0;
  }
}

// glibc's strerror() texts for the errors run-parts can meet (Node only has libuv's lower-case ones).
const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  EIO: 'Input/output error',
  ENXIO: 'No such device or address',
  E2BIG: 'Argument list too long',
  ENOEXEC: 'Exec format error',
  EBADF: 'Bad file descriptor',
  EAGAIN: 'Resource temporarily unavailable',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EFAULT: 'Bad address',
  EBUSY: 'Device or resource busy',
  ENODEV: 'No such device',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EINVAL: 'Invalid argument',
  ENFILE: 'Too many open files in system',
  EMFILE: 'Too many open files',
  ETXTBSY: 'Text file busy',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
  ENAMETOOLONG: 'File name too long',
  ELOOP: 'Too many levels of symbolic links',
  EOVERFLOW: 'Value too large for defined data type',
  ELIBBAD: 'Accessing a corrupted shared library',
  ESTALE: 'Stale file handle',
};

// Used wherever run-parts prints strerror(errno): known codes get glibc's text, others libuv's, capitalised.
export function describeErrno(e: unknown): string {
  const ne = e as NodeJS.ErrnoException;
  if (ne && ne.code && STRERROR[ne.code]) return STRERROR[ne.code]!;
  const m = /^[A-Z0-9_]+: ([^,]+)/.exec(String(ne?.message ?? e));
  const text = m ? m[1]! : String(ne?.code ?? e);
  return text.charAt(0).toUpperCase() + text.slice(1);
}
