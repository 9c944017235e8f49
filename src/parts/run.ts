// Runs one part file: environment, its own copy of the request on stdin, cwd, umask (022 as run-parts), a timeout that
// kills the whole process group, forwarded signals, and every output line prefixed and masked.
import { openSync, readSync, closeSync } from 'node:fs';
import type { Stream } from 'node:stream';
import type { Logger } from '../log/logger.js';
import { readLines } from '../process/lines.js';
import { start } from '../process/runner.js';
import { fitEnvironment } from './env-limit.js';
import { isDamagedElf } from './run-parts/exec-format.js';

// How long output still in the pipes is read after the part exited, before a background process that
// holds them open is left behind.
const OUTPUT_GRACE_MS = 500;

export interface ProcessPartOptions {
  file: string;
  env: Record<string, string>;
  stdin: string;
  cwd: string;
  log: Logger;
  timeoutSeconds: number;
  killAfterSeconds: number;
  // The module's `umask:` (default 0o022, as run-parts).
  umask?: number;
  // Aborted with reason 'SIGINT' or 'SIGTERM' when Lifeboat receives that signal.
  interrupt?: AbortSignal;
}

export interface ProcessPartResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  interrupted: NodeJS.Signals | null;
  error?: string;
}

// Runs the part through the process runner (src/process/runner.ts).
export function runProcessPart(options: ProcessPartOptions): Promise<ProcessPartResult> {
  const notExecutable = checkExecutableFormat(options.file);
  if (notExecutable) return Promise.resolve({ exitCode: null, signal: null, timedOut: false, interrupted: null, error: notExecutable });
  const fitted = fitEnvironment(options.env, (message) => options.log.warn(message));
  if (fitted.error) return Promise.resolve({ exitCode: null, signal: null, timedOut: false, interrupted: null, error: fitted.error });
  return new Promise((resolve) => {
    // Its own process group, so a timeout or signal reaches its grandchildren too. spawn() throws at once
    // for some refusals (E2BIG: the environment as a whole is over the kernel's limit): said as for the others.
    let proc: ReturnType<typeof start>;
    try {
      proc = start(options.file, {
        cwd: options.cwd,
        env: fitted.env,
        group: true,
        umask: options.umask ?? 0o022,
        input: options.stdin,
        timeoutMs: options.timeoutSeconds * 1000,
        onTimeout: () => options.log.warn(`timed out after ${options.timeoutSeconds}s; sending SIGTERM to its process group`),
        signal: options.interrupt,
        abortSignalOf: (reason) => (reason as NodeJS.Signals) ?? 'SIGTERM',
        killAfterMs: options.killAfterSeconds * 1000,
      });
    } catch (error) {
      resolve({ exitCode: null, signal: null, timedOut: false, interrupted: null, error: describeSpawnError(options.file, error as NodeJS.ErrnoException) });
      return;
    }
    const child = proc.child;
    let spawnError: string | undefined;
    readLines(child.stdout!, (line) => options.log.info(line));
    readLines(child.stderr!, (line) => options.log.info(line));
    child.on('error', (error: NodeJS.ErrnoException) => {
      spawnError = describeSpawnError(options.file, error);
    });
    let settled = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const settle = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      proc.dispose();
      if (graceTimer) clearTimeout(graceTimer);
      resolve({ exitCode, signal, timedOut: proc.timedOut, interrupted: proc.aborted, error: spawnError });
    };
    // The run goes on when the part itself exits: a background process it left holding stdout or stderr
    // (`sleep 30 &`, a daemon started without redirecting its output) no longer holds up the run.
    child.on('exit', (exitCode, signal) => {
      // The leader is gone; make sure no member of its group outlives it after a timeout or signal.
      if (proc.timedOut || proc.aborted) proc.signal('SIGKILL');
      graceTimer = setTimeout(() => {
        options.log.warn('exited, but a background process it started still holds its output open; what it writes from now on is discarded (redirect the output of daemons a part starts, e.g. >/dev/null 2>&1, or to a log file)');
        handOver(child.stdout!);
        handOver(child.stderr!);
        settle(exitCode, signal);
      }, OUTPUT_GRACE_MS);
    });
    child.on('close', (exitCode, signal) => settle(exitCode, signal));
  });
}

// Hands a pipe that a part's background process still holds to a detached `cat >/dev/null`, which reads
// (and discards) until that process closes it: closing the read end instead would kill the process with
// SIGPIPE at its next write, at the latest when Lifeboat exits (a daemon a part started with `setsid
// daemon &` would die on its first log line). The drain is in its own session and not waited for; it
// ends when the last writer does. Chosen over a pty (writes fail with EIO there once Lifeboat is gone)
// and over a file (it would grow unbounded): like journald's socket for a service, the reader outlives
// the run. Without `cat` the pipe is closed as before.
function handOver(stream: NodeJS.ReadableStream & { destroy(): void; destroyed: boolean; pause(): unknown }): void {
  if (stream.destroyed) return;
  stream.pause();
  try {
    const drain = start('cat', { stdio: [stream as unknown as Stream, 'ignore', 'ignore'], group: true }).child;
    drain.on('error', () => {});
    drain.unref();
  } catch {
    // no cat: the pipe closes with Lifeboat's end below
  }
  stream.destroy();
}

// Refuses files that are neither `#!` scripts nor ELF binaries, instead of letting a shell guess (ENOEXEC).
function checkExecutableFormat(file: string): string | undefined {
  const head = Buffer.alloc(64);
  let read: number;
  try {
    const fd = openSync(file, 'r');
    try {
      read = readSync(fd, head, 0, 64, 0);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    return describeSpawnError(file, error as NodeJS.ErrnoException);
  }
  const isScript = read >= 2 && head[0] === 0x23 && head[1] === 0x21;
  const isElf = read >= 4 && head.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  if (isElf && isDamagedElf(head.subarray(0, read))) {
    return `cannot execute ${file}: Exec format error (ENOEXEC): it starts like an ELF binary but its header is cut short or damaged (${read} bytes read); reinstall or copy it again`;
  }
  if (isScript || isElf) return undefined;
  return `cannot execute ${file}: Exec format error (ENOEXEC): it has no #! line and is not a binary; add a first line such as #!/bin/sh`;
}

// Rewrites spawn errors into sentences that say what to do.
function describeSpawnError(file: string, error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'EACCES':
      return `cannot execute ${file}: permission denied (EACCES); check its mode (chmod +x) and the mount options (noexec)`;
    case 'ENOENT':
      return `cannot execute ${file}: it or its interpreter (the #! line) does not exist (ENOENT)`;
    case 'E2BIG':
      return `cannot execute ${file}: its environment is larger than the kernel allows (E2BIG, ARG_MAX: see getconf ARG_MAX); pass long values in files instead`;
    case 'ENOEXEC':
      return `cannot execute ${file}: Exec format error (ENOEXEC); add a #! line`;
    default:
      return `cannot execute ${file}: ${error.message}`;
  }
}
