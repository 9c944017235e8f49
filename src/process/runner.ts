// The one process runner: every process Lifeboat starts goes through start() (or runToEnd() / runSync()
// built on the same options). It owns what each caller used to do its own way: the umask a tool starts
// with, its own process group, a timeout that sends SIGTERM and then SIGKILL after killAfterMs, an abort
// signal that does the same, content (or a JSON request) on stdin and on extra file descriptors, and the
// exit and close of the process as promises. Reading output is in lines.ts (bounded lines, a bounded
// tail); masking is the caller's Masker, applied where text leaves the runner (tail(), lastLines()).
// ARCHITECTURE.md, "Layers": this is the base layer; it imports nothing of Lifeboat's but lines.ts, and only
// node:child_process at run time, so `lifeboat run-parts` loads it without cost.
import { spawn, spawnSync, type ChildProcess, type IOType, type StdioNull, type StdioOptions, type StdioPipe } from 'node:child_process';
import type { Stream } from 'node:stream';
import { readLines } from './lines.js';

// What masks secrets in text that leaves the runner: the logger's Masker.
export interface Masking {
  mask(text: string): string;
}

// One stdio slot: a Node stdio value (pipe, ignore, inherit, a file descriptor, a stream).
export type StdioSlot = IOType | StdioNull | StdioPipe | number | Stream | null | undefined;

export interface StartOptions {
  args?: readonly string[];
  // The complete environment (nothing is added from Lifeboat's own); undefined: Lifeboat's environment.
  env?: Record<string, string | undefined>;
  cwd?: string;
  // The umask the process starts with (set around the spawn, then restored); undefined: Lifeboat's.
  umask?: number;
  // Own process group (and session): a terminal's Ctrl-C does not reach it, and signal()/stop() reach
  // everything it started.
  group?: boolean;
  // stdin, stdout, stderr: 'pipe' each by default.
  stdio?: [StdioSlot, StdioSlot, StdioSlot];
  // Written to stdin, which is then closed (stdin must be a pipe). `json` is sent as one JSON document.
  input?: string | Buffer;
  json?: unknown;
  // Content for fd 3, 4, ...: each written and closed at once (a passphrase, a defaults file).
  extraFds?: ReadonlyArray<string | Buffer>;
  // After this long: onTimeout(), then stop(timeoutSignal).
  timeoutMs?: number;
  timeoutSignal?: NodeJS.Signals;
  onTimeout?: () => void;
  // When it aborts: stop(abortSignalOf(reason)); SIGTERM unless told.
  signal?: AbortSignal;
  abortSignalOf?: (reason: unknown) => NodeJS.Signals;
  // Between the first signal of stop() and SIGKILL; 10 s by default.
  killAfterMs?: number;
  // Dies with Lifeboat: started through util-linux `setpriv --pdeathsig KILL`, so the kernel SIGKILLs it
  // when Lifeboat dies (kill -9 included). For a tool that would wait for ever without Lifeboat (borg
  // reading dumps from named pipes only Lifeboat opens). The pid stays the tool's (setpriv execs it).
  dieWithParent?: boolean;
}

export interface Ending {
  code: number | null;
  signal: NodeJS.Signals | null;
  // Set when the process could not start (ENOENT, EACCES, ...).
  error?: NodeJS.ErrnoException;
}

export interface Started {
  child: ChildProcess;
  // Sends a signal to the process group (group: true) or the process; a process already gone is ignored.
  signal(signal: NodeJS.Signals): void;
  // Sends `signal` now and SIGKILL after killAfterMs (once; SIGKILL itself needs no second step).
  stop(signal?: NodeJS.Signals): void;
  // Settles when the process exited (or could not start); its output may still be open.
  readonly exited: Promise<Ending>;
  // Settles when the process exited and all its pipes closed (or it could not start).
  readonly closed: Promise<Ending>;
  readonly timedOut: boolean;
  // The signal an abort sent, null while there was none.
  readonly aborted: NodeJS.Signals | null;
  // Clears the timeout, the SIGKILL timer and the abort listener (done by itself once closed).
  dispose(): void;
}

const DEFAULT_KILL_AFTER_MS = 10_000;
// dieWithParent: setpriv sets the parent-death signal and execs the tool; it exits 127 when the tool is
// not found (util-linux's errexec: "setpriv: failed to execute <file>: ...").
const SETPRIV = 'setpriv';
const SETPRIV_ARGS = ['--pdeathsig', 'KILL', '--'];
const SETPRIV_NOT_FOUND = 127;
const STOPPED_OUTPUT_GRACE_MS = 1000;

// Starts one process. Throws only what spawn() throws synchronously (invalid arguments); a process that
// cannot start settles `exited` and `closed` with `error`.
export function start(file: string, options: StartOptions = {}): Started {
  const extra = options.extraFds ?? [];
  const stdio = options.stdio ?? ['pipe', 'pipe', 'pipe'];
  const spawnOptions = {
    env: options.env,
    cwd: options.cwd,
    detached: options.group ?? false,
    stdio: (extra.length > 0 ? [...stdio, ...extra.map(() => 'pipe' as const)] : stdio) as StdioOptions,
  };
  const [command, args] = options.dieWithParent ? [SETPRIV, [...SETPRIV_ARGS, file, ...(options.args ?? [])]] : [file, options.args ?? []];
  let child: ChildProcess;
  if (options.umask === undefined) child = spawn(command, args, spawnOptions);
  else {
    const previous = process.umask(options.umask);
    try {
      child = spawn(command, args, spawnOptions);
    } finally {
      process.umask(previous);
    }
  }
  const group = options.group ?? false;
  let timedOut = false;
  let aborted: NodeJS.Signals | null = null;
  let timeout: NodeJS.Timeout | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  let spawnError: NodeJS.ErrnoException | undefined;

  const signal = (sig: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      if (group) process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch {
      // the process (group) is gone already
    }
  };
  const stop = (sig: NodeJS.Signals = 'SIGTERM') => {
    signal(sig);
    if (sig !== 'SIGKILL') killTimer ??= setTimeout(() => signal('SIGKILL'), options.killAfterMs ?? DEFAULT_KILL_AFTER_MS);
  };
  const onAbort = () => {
    aborted = options.abortSignalOf?.(options.signal?.reason) ?? 'SIGTERM';
    stop(aborted);
  };
  const dispose = () => {
    if (timeout) clearTimeout(timeout);
    if (killTimer) clearTimeout(killTimer);
    options.signal?.removeEventListener('abort', onAbort);
  };

  if (options.timeoutMs !== undefined) {
    timeout = setTimeout(() => {
      timedOut = true;
      options.onTimeout?.();
      stop(options.timeoutSignal ?? 'SIGTERM');
    }, options.timeoutMs);
  }
  if (options.signal?.aborted) setImmediate(onAbort);
  else options.signal?.addEventListener('abort', onAbort, { once: true });

  // Written and closed at once; a process that does not read them (or died) must not fail Lifeboat.
  const input = options.json !== undefined ? JSON.stringify(options.json) : options.input;
  if (input !== undefined && child.stdin) {
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  }
  extra.forEach((content, index) => {
    const stream = child.stdio[3 + index] as NodeJS.WritableStream | null;
    stream?.on('error', () => {});
    stream?.end(content);
  });

  child.once('error', (error: NodeJS.ErrnoException) => {
    spawnError = error;
  });
  let exited: Promise<Ending> | undefined;
  let closed: Promise<Ending> | undefined;
  // Both are made when first asked for (run-parts asks for neither): a failed start settles both.
  const settleOn = (event: 'exit' | 'close') =>
    new Promise<Ending>((resolve) => {
      child.once(event, (code: number | null, sig: NodeJS.Signals | null) => resolve({ code, signal: sig, error: spawnError }));
      child.once('error', (error: NodeJS.ErrnoException) => {
        if (child.pid === undefined) resolve({ code: null, signal: null, error });
      });
    });
  child.once('close', dispose);
  child.once('error', () => {
    if (child.pid === undefined) dispose();
  });

  return {
    child,
    signal,
    stop,
    get exited() {
      return (exited ??= settleOn('exit'));
    },
    get closed() {
      return (closed ??= settleOn('close'));
    },
    get timedOut() {
      return timedOut;
    },
    get aborted() {
      return aborted;
    },
    dispose,
  };
}

export interface RunOptions extends StartOptions {
  // stdout kept up to this many bytes (1 MiB by default); beyond it the process is stopped and
  // `overflow` is set.
  maxStdout?: number;
  // The last this many characters of stderr are kept (64 KiB by default).
  maxStderr?: number;
  // Called with each stdout line as it arrives (bounded: lines.ts), besides keeping stdout.
  onLine?: (line: string) => void;
}

export interface Outcome extends Ending {
  stdout: Buffer;
  stderr: string;
  timedOut: boolean;
  aborted: NodeJS.Signals | null;
  // stdout went beyond maxStdout: the process was stopped and stdout holds the first maxStdout bytes.
  overflow: boolean;
}

// Runs a process to its end (exit and pipes closed), keeping its stdout and the tail of its stderr.
export async function runToEnd(file: string, options: RunOptions = {}): Promise<Outcome> {
  const proc = start(file, options);
  const maxStdout = options.maxStdout ?? 1 << 20;
  const chunks: Buffer[] = [];
  let size = 0;
  let overflow = false;
  if (options.onLine && proc.child.stdout) readLines(proc.child.stdout, options.onLine);
  proc.child.stdout?.on('data', (chunk: Buffer) => {
    if (overflow) return;
    if (size + chunk.length <= maxStdout) {
      chunks.push(chunk);
      size += chunk.length;
      return;
    }
    chunks.push(chunk.subarray(0, maxStdout - size));
    size = maxStdout;
    overflow = true;
    proc.stop('SIGTERM');
  });
  const stderr = proc.child.stderr ? tail(proc.child.stderr, options.maxStderr ?? 64 * 1024) : undefined;
  // Once a process that was stopped (time limit, abort, too much output) has exited, what it left holding
  // its pipes (a child outside its group) is not waited for beyond a short grace.
  const ending = await Promise.race([
    proc.closed,
    proc.exited.then(async (exited) => {
      if (!proc.timedOut && !proc.aborted && !overflow) return proc.closed;
      await new Promise((resolve) => setTimeout(resolve, STOPPED_OUTPUT_GRACE_MS).unref());
      for (const stream of [proc.child.stdout, proc.child.stderr]) stream?.destroy();
      return exited;
    }),
  ]);
  proc.dispose();
  const said = stderr?.text() ?? '';
  if (options.dieWithParent && ending.code === SETPRIV_NOT_FOUND && said.startsWith(`${SETPRIV}: failed to execute ${file}:`)) {
    // The tool itself was not found: the same as a direct spawn's ENOENT.
    const error: NodeJS.ErrnoException = Object.assign(new Error(`spawn ${file} ENOENT`), { code: 'ENOENT', path: file });
    return { code: null, signal: null, error, stdout: Buffer.concat(chunks), stderr: said, timedOut: proc.timedOut, aborted: proc.aborted, overflow };
  }
  return { ...ending, stdout: Buffer.concat(chunks), stderr: said, timedOut: proc.timedOut, aborted: proc.aborted, overflow };
}

export interface SyncOptions {
  args?: readonly string[];
  env?: Record<string, string | undefined>;
  input?: string | Buffer;
  stdio?: [StdioSlot, StdioSlot, StdioSlot];
  timeoutMs?: number;
}

// Runs a short command synchronously (a crontab, a container volume): for callers that cannot wait.
export function runSync(file: string, options: SyncOptions = {}): { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; error?: Error } {
  const result = spawnSync(file, options.args ?? [], {
    env: options.env,
    input: options.input,
    stdio: (options.stdio ?? ['pipe', 'pipe', 'pipe']) as StdioOptions,
    timeout: options.timeoutMs,
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  });
  return { code: result.status, signal: result.signal, stdout: result.stdout ?? '', stderr: result.stderr ?? '', error: result.error };
}

// Keeps the last `max` bytes a stream writes, decoded as UTF-8; text() masks them when told how.
export function tail(stream: NodeJS.ReadableStream, max: number): { text(masker?: Masking): string } {
  let chunks: Buffer[] = [];
  let size = 0;
  stream.on('data', (chunk: Buffer | string) => {
    const piece = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    chunks.push(piece);
    size += piece.length;
    // Trimmed once twice the limit is held, so a long stderr costs linear time.
    if (size > 2 * max) {
      chunks = [Buffer.concat(chunks).subarray(size - max)];
      size = max;
    }
  });
  const text = () => {
    const all = Buffer.concat(chunks);
    return all.subarray(Math.max(0, all.length - max)).toString('utf8');
  };
  return { text: (masker) => (masker ? masker.mask(text()) : text()) };
}

// Keeps the first `max` characters a stream writes (a tool's first complaint).
export function head(stream: NodeJS.ReadableStream, max: number): { text(masker?: Masking): string } {
  let kept = '';
  stream.on('data', (chunk: Buffer | string) => {
    if (kept.length < max) kept += chunk.toString();
  });
  return { text: (masker) => (masker ? masker.mask(kept) : kept) };
}

// Why a run did not succeed, in a few words (`exit 3`, `timed out after 30 s`, `could not start (ENOENT)`);
// undefined when it exited 0 with all its output kept.
export function describeFailure(outcome: Outcome, timeoutMs?: number): string | undefined {
  if (outcome.error) return `could not start (${outcome.error.code ?? outcome.error.message})`;
  if (outcome.timedOut) return `timed out after ${timeoutMs === undefined ? 'its time limit' : `${timeoutMs / 1000} s`}`;
  if (outcome.overflow) return 'printed more than it may (output cut)';
  if (outcome.aborted) return `stopped (${outcome.aborted})`;
  if (outcome.signal) return `killed by ${outcome.signal}`;
  if (outcome.code !== 0) return `exit ${outcome.code}`;
  return undefined;
}

// What `/bin/sh -c command` prints (a passwordCommand), with stdin closed, its output up to 1 MiB and a
// time limit: resolves its stdout, rejects with an Error saying why it failed and its first complaint.
export async function shellOutput(command: string, env: Record<string, string | undefined>, timeoutMs: number): Promise<string> {
  // Its own process group: at the time limit everything it started is stopped too (a `sleep` left behind
  // would hold its output open, and the run with it).
  const outcome = await runToEnd('/bin/sh', { args: ['-c', command], env, input: '', timeoutMs, maxStdout: 1 << 20, group: true, killAfterMs: 2000 });
  const failure = describeFailure(outcome, timeoutMs);
  if (failure === undefined) return outcome.stdout.toString('utf8');
  const said = outcome.stderr.trim().split('\n')[0];
  throw new Error(`${failure}${said ? `: ${said}` : ''}`);
}

// Why an abort signal fired, in words for a message: a timeout (AbortSignal.timeout) says so instead of
// the DOMException text; a signal name or any other reason as it is.
export function abortReason(reason: unknown): string {
  if (reason instanceof Error) return reason.name === 'TimeoutError' ? 'it ran out of time' : reason.message;
  return String(reason ?? 'aborted');
}
