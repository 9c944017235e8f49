// Runs one part file: environment, its own copy of the request on stdin, cwd, umask (022 as run-parts), a timeout that
// kills the whole process group, forwarded signals, and every output line prefixed and masked.
import { spawn } from 'node:child_process';
import { openSync, readSync, closeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Logger } from '../log/logger.js';

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

// Spawns the part in its own process group so a timeout or signal reaches its grandchildren too.
export function runProcessPart(options: ProcessPartOptions): Promise<ProcessPartResult> {
  const notExecutable = checkExecutableFormat(options.file);
  if (notExecutable) return Promise.resolve({ exitCode: null, signal: null, timedOut: false, interrupted: null, error: notExecutable });
  return new Promise((resolve) => {
    const previousUmask = process.umask(options.umask ?? 0o022);
    let child;
    try {
      child = spawn(options.file, [], { cwd: options.cwd, env: options.env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    } finally {
      process.umask(previousUmask);
    }
    let timedOut = false;
    let interrupted: NodeJS.Signals | null = null;
    let killTimer: NodeJS.Timeout | undefined;
    let spawnError: string | undefined;

    const signalGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // the group is gone already
      }
    };
    const escalate = () => {
      killTimer ??= setTimeout(() => signalGroup('SIGKILL'), options.killAfterSeconds * 1000);
    };
    const timeout = setTimeout(() => {
      timedOut = true;
      options.log.warn(`timed out after ${options.timeoutSeconds}s; sending SIGTERM to its process group`);
      signalGroup('SIGTERM');
      escalate();
    }, options.timeoutSeconds * 1000);
    const onInterrupt = () => {
      interrupted = (options.interrupt?.reason as NodeJS.Signals) ?? 'SIGTERM';
      signalGroup(interrupted);
      escalate();
    };
    if (options.interrupt?.aborted) setImmediate(onInterrupt);
    else options.interrupt?.addEventListener('abort', onInterrupt, { once: true });

    child.stdin.on('error', () => {});
    child.stdin.end(options.stdin);
    const pipeLines = (stream: NodeJS.ReadableStream) => createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => options.log.info(line));
    pipeLines(child.stdout);
    pipeLines(child.stderr);
    child.on('error', (error: NodeJS.ErrnoException) => {
      spawnError = describeSpawnError(options.file, error);
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(timeout);
      // The leader is gone; make sure no member of its group outlives it after a timeout or signal.
      if (timedOut || interrupted) signalGroup('SIGKILL');
      if (killTimer) clearTimeout(killTimer);
      options.interrupt?.removeEventListener('abort', onInterrupt);
      resolve({ exitCode, signal, timedOut, interrupted, error: spawnError });
    });
  });
}

// Refuses files that are neither `#!` scripts nor ELF binaries, instead of letting a shell guess (ENOEXEC).
function checkExecutableFormat(file: string): string | undefined {
  const head = Buffer.alloc(4);
  let read = 0;
  try {
    const fd = openSync(file, 'r');
    try {
      read = readSync(fd, head, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    return describeSpawnError(file, error as NodeJS.ErrnoException);
  }
  const isScript = read >= 2 && head[0] === 0x23 && head[1] === 0x21;
  const isElf = read === 4 && head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
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
    case 'ENOEXEC':
      return `cannot execute ${file}: Exec format error (ENOEXEC); add a #! line`;
    default:
      return `cannot execute ${file}: ${error.message}`;
  }
}
