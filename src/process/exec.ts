// Runs a provider's tool (restic, borg, a script, a service's systemctl or podman) through the process
// runner (runner.ts): argv without secrets, masked errors, dry-run echo.
import { stripVTControlCharacters } from 'node:util';
import { LifeboatError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { abortReason, runToEnd } from './runner.js';

// The Debian package of a tool whose name differs from it.
const DEBIAN_PACKAGE: Record<string, string> = { borg: 'borgbackup', setpriv: 'util-linux' };

// What is kept of a tool's stdout and stderr each; beyond it the tool is stopped and the run fails.
const MAX_OUTPUT = 256 * 1024 * 1024;

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
  // The tool is killed when Lifeboat dies (runner.ts, dieWithParent).
  dieWithParent?: boolean;
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
  // Built-in tools write caches, locks and repositories of their own (restic's cache in the state dir):
  // umask 077 unless told otherwise, so nothing they create is readable by others.
  const result = await runToEnd(file, {
    args,
    env: options.env,
    cwd: options.cwd,
    input: options.input,
    extraFds: options.extraFds,
    signal: options.signal,
    killAfterMs: options.killAfterMs ?? 10_000,
    umask: options.umask ?? 0o077,
    maxStdout: MAX_OUTPUT,
    maxStderr: MAX_OUTPUT,
    onLine: options.onLine,
    dieWithParent: options.dieWithParent,
  });
  const stdout = result.stdout.toString('utf8');
  const stderr = result.stderr;
  if (result.error?.code === 'ENOENT') {
    // The tool, or setpriv that starts a tool which dies with Lifeboat.
    const missing = result.error.path === 'setpriv' ? 'setpriv' : file;
    throw new LifeboatError('PROVIDER', `${missing} is not installed (not found on PATH)`, { hint: `install it (Debian: apt-get install ${DEBIAN_PACKAGE[missing] ?? missing})` });
  }
  // The tool and its subcommand (a script provider's operation has none): `restic backup`, `/x/create`.
  const what = args.length > 0 ? `${file} ${args[0]}` : file;
  if (result.aborted || options.signal?.aborted) {
    // What the tool said last tells why it was still running (restic retrying a read-only repository).
    const said = lastLines(stderr, 2);
    throw new LifeboatError('INTERRUPTED', options.log.masker.mask(`${what} was stopped (${abortReason(options.signal?.reason)})${said ? `; it last said: ${said}` : ''}`));
  }
  const exitCode = result.error || result.overflow ? 1 : (result.code ?? 1);
  if (exitCode !== 0 && !(options.okExitCodes ?? []).includes(exitCode)) {
    const detail = result.error ? result.error.message : lastLines(stderr || stdout, 8);
    throw new LifeboatError('PROVIDER', options.log.masker.mask(`${what} failed (exit ${exitCode})${detail ? `: ${detail}` : ''}`));
  }
  // What a tool said on stderr although it succeeded (a provider script's notes), for -v.
  for (const line of stripVTControlCharacters(stderr).split('\n').map((one) => one.trim()).filter(Boolean).slice(-200)) options.log.debug(options.log.masker.mask(`${what}: ${line}`));
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
