// Runs a database client (pg_dump, mariadb, sqlite3, ...) as a stream stage: stdout is the dump, stdin
// takes a dump back, stderr is kept (masked) for the error message. Secrets travel in the environment or
// on extra file descriptors, never in argv.
import type { ChildProcess } from 'node:child_process';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { LifeboatError } from '../errors.js';
import { start, type Started } from '../process/runner.js';
import { toolEnvironment } from '../process/tool-env.js';
import type { DumpOutput, DumpRun, EngineContext } from './types.js';

export interface ToolSpec {
  file: string;
  args: string[];
  // Names the database in every message: `PostgreSQL database "app" on 127.0.0.1:5432`.
  label: string;
  // Extra environment (PGPASSWORD, ...) on top of the engine context's.
  env?: Record<string, string | undefined>;
  // Content for fd 3, 4, ... (a MariaDB defaults file): written and closed at once.
  extraFds?: string[];
  cwd?: string;
  // Rewrites a known failure into one a person understands (version mismatch, wrong password).
  explain?: (stderr: string) => string | undefined;
}

export interface ToolRun {
  stdout: Readable;
  stdin: Writable;
  // Settles when the tool exited: resolves on 0, rejects with a DATABASE error otherwise.
  done: Promise<void>;
  child: ChildProcess;
  // What the tool printed on stderr so far (the last 64 KiB, not masked).
  stderr(): string;
  abort(reason?: string): void;
}

const STDERR_LIMIT = 64 * 1024;
const KILL_AFTER_MS = 5000;

// The Debian package that ships a client, for "not installed" hints.
const PACKAGES: Record<string, string> = {
  pg_dump: 'postgresql-client',
  pg_dumpall: 'postgresql-client',
  pg_restore: 'postgresql-client',
  psql: 'postgresql-client',
  'mariadb-dump': 'mariadb-client',
  mariadb: 'mariadb-client',
  mysqldump: 'mariadb-client',
  mysql: 'mariadb-client',
  sqlite3: 'sqlite3',
};

// Starts a tool; the caller reads stdout and/or writes stdin, then awaits `done`. With `output`, the tool's
// stdout is that pipe, socket or descriptor itself (the kernel moves the bytes, not Lifeboat) and the
// run's `stdout` is an empty stream.
export function startTool(spec: ToolSpec, ctx: EngineContext, output?: DumpOutput): ToolRun {
  const extra = spec.extraFds ?? [];
  // Lifeboat's own environment plus what the engine sets (PGPASSWORD, ...): never the environment files.
  const env = toolEnvironment({ PATH: ctx.env.PATH, ...spec.env });
  ctx.log.debug(`running ${[spec.file, ...spec.args].join(' ')} (${spec.label})${output === undefined ? '' : ', its stdout straight into the consumer'}`);
  // Not its own process group: a dump tool starts nothing it would leave behind, and abort() reaches it.
  const proc = start(spec.file, { args: spec.args, env, cwd: spec.cwd, stdio: ['pipe', output ?? 'pipe', 'pipe'], extraFds: extra, killAfterMs: KILL_AFTER_MS });
  const child = proc.child;
  // Asked for at once: the close must not pass before anyone listens.
  const closed = proc.closed;
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_LIMIT);
  });
  child.stdin!.on('error', () => {}); // EPIPE when the tool dies early; its exit status says why
  const stopping = stopper(proc, ctx.signal);
  const done = closed.then(({ code, signal, error }) => {
    stopping.detach();
    const aborted = stopping.reason();
    if (error && child.pid === undefined) {
      if (error.code === 'ENOENT') {
        throw new LifeboatError('DATABASE', `${spec.label}: ${spec.file} is not installed (not found on PATH)`, {
          hint: `install it (Debian: apt-get install ${PACKAGES[spec.file] ?? spec.file})`,
          cause: error,
        });
      }
      throw new LifeboatError('DATABASE', ctx.log.masker.mask(`${spec.label}: ${spec.file} could not start: ${error.message}`), { cause: error });
    }
    if (code === 0 && !aborted) return;
    const how = aborted ? `was stopped (${aborted})` : signal ? `was killed by ${signal}` : `failed (exit ${code})`;
    const detail = spec.explain?.(stderr) ?? stderrSummary(stderr);
    const code2 = aborted ? 'INTERRUPTED' : 'DATABASE';
    throw new LifeboatError(code2, ctx.log.masker.mask(`${spec.label}: ${spec.file} ${how}${detail ? `: ${detail}` : ''}`));
  });
  done.catch(() => {});
  return { stdout: child.stdout ?? new PassThrough().end().resume(), stdin: child.stdin!, done, child, abort: stopping.stop, stderr: () => stderr };
}

// Stops a dump or load tool (SIGTERM, then SIGKILL after its killAfter) when asked or when `signal`
// aborts, once; reason() says why it was stopped (undefined: it was not); detach() once it has exited.
export function stopper(proc: Started, signal: AbortSignal | undefined): { stop(reason?: string): void; reason(): string | undefined; detach(): void } {
  let aborted: string | undefined;
  const stop = (reason = 'aborted') => {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
    aborted ??= reason;
    proc.stop('SIGTERM');
  };
  const onAbort = () => stop(String(signal?.reason ?? 'aborted'));
  if (signal?.aborted) queueMicrotask(onAbort);
  else signal?.addEventListener('abort', onAbort, { once: true });
  return { stop, reason: () => aborted, detach: () => signal?.removeEventListener('abort', onAbort) };
}

// The meaningful lines of a tool's stderr, joined for a one-line message.
export function stderrSummary(stderr: string, count = 6): string {
  return stderr
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(-count)
    .join(' | ');
}

// Runs a tool to completion and returns its stdout (queries: list databases, server version).
export async function runToolText(spec: ToolSpec, ctx: EngineContext, input = ''): Promise<string> {
  const run = startTool(spec, ctx);
  const chunks: Buffer[] = [];
  run.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  run.stdin.end(input);
  await run.done;
  return Buffer.concat(chunks).toString('utf8');
}

// A dump run whose bytes come from a tool's stdout, or go from it straight into `output` (DumpRun.direct).
export function dumpFromTool(spec: ToolSpec, ctx: EngineContext, output?: DumpOutput): DumpRun {
  const run = startTool(spec, ctx, output);
  run.stdin.end();
  return { stream: run.stdout, done: run.done, abort: run.abort, ...(output === undefined ? {} : { direct: true }) };
}

// Feeds a dump into a tool's stdin (a loader); resolves with its stderr when the tool exited 0.
export async function loadIntoTool(spec: ToolSpec, input: Readable, ctx: EngineContext): Promise<string> {
  const run = startTool(spec, ctx);
  run.stdout.resume();
  input.on('error', (error) => run.abort(`reading the dump failed: ${error.message}`));
  input.pipe(run.stdin);
  await run.done;
  return run.stderr();
}
