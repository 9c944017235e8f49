// Runs a provider's tool (restic, borg, tar, a script): argv without secrets, masked errors, dry-run echo.
import { stripVTControlCharacters } from 'node:util';
import { execa, type ResultPromise } from 'execa';
import { LifeboatError } from '../errors.js';
import type { Logger } from '../log/logger.js';

export interface ToolOptions {
  env: Record<string, string | undefined>;
  log: Logger;
  signal?: AbortSignal;
  cwd?: string;
  input?: string | Buffer;
  dryRun?: boolean;
  // Called for each stdout line as it arrives (restic --json status lines).
  onLine?: (line: string) => void;
  // Exit codes that are not failures (restic 3: some files could not be read).
  okExitCodes?: number[];
  // Extra file descriptors, e.g. a passphrase on fd 3.
  extraFds?: Array<string | Buffer>;
  killAfterMs?: number;
  // The umask the tool runs with: 077 by default (restic, borg: Lifeboat's own repositories and caches);
  // script providers pass the module's (022 by default, as parts).
  umask?: number;
}

export interface ToolResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

// Runs one command to completion; in dry-run prints it and returns an empty success.
export async function runTool(file: string, args: string[], options: ToolOptions): Promise<ToolResult> {
  const shown = [file, ...args].map(quoteArg).join(' ');
  if (options.dryRun) {
    options.log.info(`dry run: would run ${shown}`);
    return { stdout: '', stderr: '', exitCode: 0 };
  }
  options.log.debug(`running ${shown}`);
  const extra = options.extraFds ?? [];
  // Built-in tools write caches, locks and repositories of their own (restic's cache in the state dir):
  // umask 077 unless told otherwise, so nothing they create is readable by others.
  const previousUmask = process.umask(options.umask ?? 0o077);
  let child: ResultPromise;
  try {
    child = execa(file, args, {
      env: options.env,
      extendEnv: false,
      cwd: options.cwd,
      input: options.input,
      reject: false,
      stripFinalNewline: false,
      cancelSignal: options.signal,
      forceKillAfterDelay: options.killAfterMs ?? 10_000,
      stdio: ['pipe', 'pipe', 'pipe', ...extra.map(() => 'pipe' as const)],
      maxBuffer: 256 * 1024 * 1024,
    });
  } finally {
    process.umask(previousUmask);
  }
  extra.forEach((value, index) => {
    const stream = child.stdio[3 + index] as NodeJS.WritableStream | undefined;
    stream?.end(value);
  });
  if (options.onLine) {
    let pending = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        options.onLine!(pending.slice(0, newline));
        pending = pending.slice(newline + 1);
      }
    });
  }
  const result = await child;
  const stdout = String(result.stdout ?? '');
  const stderr = String(result.stderr ?? '');
  if (result.failed && (result as { code?: string }).code === 'ENOENT') {
    throw new LifeboatError('PROVIDER', `${file} is not installed (not found on PATH)`, { hint: `install it (Debian: apt-get install ${file})` });
  }
  const exitCode = result.exitCode ?? 1;
  if (result.isCanceled || options.signal?.aborted) {
    // What the tool said last tells why it was still running (restic retrying a read-only repository).
    const said = lastLines(stderr, 2);
    throw new LifeboatError('INTERRUPTED', options.log.masker.mask(`${file} ${args[0] ?? ''} was stopped (${String(options.signal?.reason ?? 'aborted')})${said ? `; it last said: ${said}` : ''}`));
  }
  if (exitCode !== 0 && !(options.okExitCodes ?? []).includes(exitCode)) {
    const detail = lastLines(stderr || stdout, 8);
    throw new LifeboatError('PROVIDER', options.log.masker.mask(`${file} ${args[0] ?? ''} failed (exit ${exitCode})${detail ? `: ${detail}` : ''}`));
  }
  return { stdout, stderr, exitCode };
}

// The last non-empty lines of a tool's output, for error messages, as the terminal would have left them:
// terminal control sequences (ESC[2K, colours, titles) taken out, of a line overwritten with CR the last
// part, other control characters dropped.
export function lastLines(text: string, count: number): string {
  return stripVTControlCharacters(text)
    .split('\n')
    .map((line) => (line.split('\r').filter((part) => part.trim()).at(-1) ?? '').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '').trim())
    .filter(Boolean)
    .slice(-count)
    .join(' | ');
}

// Shell-style quoting for printing commands.
export function quoteArg(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
