// The borg provider (borgbackup 1.2): one repokey-encrypted repository per module at <url>/<module>,
// created by the first backup. Archives are named <module>-<UTC time, ISO 8601 basic>; the snapshot id
// is the archive name. Host, tags and time ride in the archive comment as JSON.
//
// Excludes arrive in restic syntax and become borg shell patterns (borg strips the leading /):
//   /abs/path   -> sh:/abs/path      that path and everything below it
//   cache/      -> sh:**/cache       a trailing / is dropped (as restic does): any file or dir named cache
//   *.tmp       -> sh:**/*.tmp       no / inside: matches a name at any depth
//   a/b         -> sh:**/a/b         relative with /: matches those components anywhere
//   **/x, a/**  -> sh:**/x, sh:**/a/**  ** spans directories in both tools
// Negated patterns (!pattern) are refused.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { LifeboatError } from '../../src/errors.js';
import { lastLines, runTool, type ToolResult } from '../../src/process/exec.js';
import type { CommonOptions, CreateOptions, Provider, ProviderInput, ProviderSnapshot } from '../../src/providers/types.js';
import { findSpecialFiles, serveFifos, type FifoServer } from './fifo.js';
import { declaration } from './declaration.js';
import { toolEnvironment } from '../../src/process/tool-env.js';
import { missingPassword, notCreatedYet, passwordSource, readPasswordFile, toolFailure, UNREADABLE_FILES_HINT } from '../../src/providers/shared.js';

type Env = Record<string, string | undefined>;

interface RawArchive {
  name: string;
  time?: string;
  start?: string;
  comment?: string;
  hostname?: string;
}

interface Comment {
  module?: string;
  host?: string;
  tags?: string[];
  time?: string;
  paths?: string[];
}

const COMPRESSION: Record<string, string> = { zstd: 'zstd', gzip: 'zlib', none: 'none' };

// How long borg waits for a repository lock another borg holds (its default is 1 s). Lifeboat's own lock
// keeps its runs of a module apart, so the holder is the orphan of a killed run, one a person started, or
// a process just killed that the system has not reaped yet: waiting is right, the part timeout bounds it.
const LOCK_WAIT_SECONDS = 120;

// Translates one restic-style exclude pattern into a borg pattern (table in the header).
export function toBorgPattern(pattern: string): string {
  if (pattern.startsWith('!')) {
    throw new LifeboatError('CONFIG_INVALID', `exclude pattern "${pattern}": negated patterns are not supported by the borg provider`, { hint: 'list the paths to exclude instead' });
  }
  const cleaned = pattern.replace(/\/+$/, '') || '/';
  if (cleaned.startsWith('/') || cleaned.startsWith('**/')) return `sh:${cleaned}`;
  return `sh:**/${cleaned}`;
}

// Where a module's repository lives: a folder under a local url, `/<module>` appended to ssh:// urls.
export function moduleRepository(url: string, module: string, configRoot: string): string {
  if (/^[a-z0-9+]+:\/\//i.test(url) || /^[^/]+:/.test(url)) return `${url.replace(/\/+$/, '')}/${module}`;
  return path.join(path.resolve(configRoot, url), module);
}

// An archive-name-safe UTC time: ISO 8601 basic format with milliseconds (20240102T030405.123Z).
function stamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '');
}

// The readable reason of a borg failure: the exception line of a traceback, else the last lines.
function borgReason(stderr: string): string {
  const exception = stderr.split('\n').find((line) => /^\w+(Error|Exception): /.test(line));
  return exception ?? lastLines(stderr, 4);
}

// The factory the registry calls for `provider: borg`.
export function createProvider(input: ProviderInput): Provider {
  const { name: repoName, config } = input;
  if (!config.url) {
    throw new LifeboatError('CONFIG_INVALID', `repository "${repoName}" (borg) has no \`url\``, { hint: 'set url: to a folder (/var/backups/borg) or ssh://user@host/path' });
  }
  const url = config.url;
  const repoOf = (module: string) => moduleRepository(url, module, input.root.root);
  const where = (module: string) => `borg repository "${repoName}" of module ${module}`;
  let lastStamp = '';

  // The environment and fd-3 passphrase for one borg call; refuses when no passphrase source is set.
  function borgEnv(options: CommonOptions): { env: Env; extraFds: string[] } {
    // Lifeboat's own environment and the repository's env, never the environment files (untrusted once restored).
    const env: Env = { ...toolEnvironment({ PATH: options.env?.PATH }), ...config.env };
    Object.assign(env, {
      BORG_RELOCATED_REPO_ACCESS_IS_OK: 'no',
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'no',
      BORG_DISPLAY_PASSPHRASE: 'no',
      BORG_CHECK_I_KNOW_WHAT_I_AM_DOING: 'NO',
      BORG_DELETE_I_KNOW_WHAT_I_AM_DOING: 'NO',
    });
    env.BORG_BASE_DIR ??= path.join(input.root.stateDir, 'borg');
    const password = passwordSource(input);
    if (password.kind === 'file') {
      const passphrase = readPasswordFile(input, password.file).replace(/\n+$/, '');
      input.addSecret(passphrase);
      Object.assign(env, { BORG_PASSPHRASE_FD: '3', BORG_PASSPHRASE: undefined, BORG_PASSCOMMAND: undefined });
      return { env: clean(env), extraFds: [passphrase] };
    }
    if (password.kind === 'command') {
      Object.assign(env, { BORG_PASSCOMMAND: password.command, BORG_PASSPHRASE: undefined, BORG_PASSPHRASE_FD: undefined });
    } else if (!env.BORG_PASSPHRASE && !env.BORG_PASSCOMMAND) {
      throw missingPassword(input, 'borg', 'passphrase', 'BORG_PASSPHRASE');
    }
    input.addSecret(env.BORG_PASSPHRASE);
    return { env: clean(env), extraFds: [] };
  }

  // Runs one borg command; exit 1 (warnings) and 2 (errors) come back to the caller to judge.
  // dieWithParent: borg is killed when Lifeboat dies (a streamed backup: runner.ts).
  async function borg(args: string[], options: CommonOptions, extra: { cwd?: string; dryRun?: boolean; dieWithParent?: boolean } = {}): Promise<ToolResult> {
    const { env, extraFds } = borgEnv(options);
    const [command, ...rest] = args;
    return runTool('borg', [command, '--lock-wait', String(LOCK_WAIT_SECONDS), ...rest], {
      env,
      extraFds,
      log: options.log,
      signal: options.signal,
      cwd: extra.cwd,
      input: '',
      dryRun: extra.dryRun ?? false,
      okExitCodes: [1, 2],
      dieWithParent: extra.dieWithParent,
    });
  }

  // borg's lock timeout names the lock file: another borg process holds the repository (not a url or
  // password problem). The message says so; `lifeboat check` keeps it as it is (src/check/repositories.ts).
  function lockTimeout(stderr: string): string | undefined {
    const lock = /Failed to create\/acquire the lock (\S+?)\.? \(timeout\)/.exec(stderr)?.[1];
    if (lock === undefined) return undefined;
    return `another borg process holds the repository lock ${lock} (waited ${LOCK_WAIT_SECONDS} s)`;
  }
  const LOCK_HINT = 'wait for that borg to end, or stop it (ps -C borg -o pid,args); a lock of a borg that no longer runs on this host is removed by borg itself, else run `borg break-lock` once no borg uses the repository';

  // A failed borg call as an error naming the repository, with the likely fix.
  function failure(module: string, command: string, result: ToolResult, options: CommonOptions): LifeboatError {
    return toolFailure({
      where: where(module),
      command: `borg ${command}`,
      reason: lockTimeout(result.stderr) ?? borgReason(result.stderr),
      stderr: result.stderr,
      hints: [
        [/Failed to create\/acquire the lock \S+ \(timeout\)/, LOCK_HINT],
        [/passphrase/i, `check the passphrase of repository "${repoName}"`],
      ],
      otherwise: `check that url of repository "${repoName}" is a folder (or ssh:// url) borg can use`,
      mask: (text) => options.log.masker.mask(text),
    });
  }

  // Runs borg and turns exit 2 into an error naming the repository; warnings are logged.
  async function borgOrFail(module: string, args: string[], options: CommonOptions, extra: { cwd?: string; dryRun?: boolean } = {}): Promise<ToolResult> {
    const result = await borg(args, options, extra);
    if (result.exitCode === 2) throw failure(module, args[0], result, options);
    if (result.exitCode === 1) options.log.warn(`borg ${args[0]} warned: ${lastLines(result.stderr, 4)}`);
    return result;
  }

  // Lists archives; `null` when the module has no repository yet (a read never creates one).
  async function listOrNull(module: string, options: CommonOptions): Promise<ProviderSnapshot[] | null> {
    const result = await borg(['list', '--json', '--format', '{comment}{hostname}', repoOf(module)], options);
    if (result.exitCode !== 0) {
      if (/^Repository .* does not exist\.$/m.test(result.stderr)) return null;
      throw failure(module, 'list', result, options);
    }
    const archives = (JSON.parse(result.stdout) as { archives: RawArchive[] }).archives;
    return archives
      .filter((raw) => !/\.checkpoint(\.\d+)?$/.test(raw.name))
      .map((raw) => toSnapshot(raw, module))
      .filter((snapshot): snapshot is ProviderSnapshot => snapshot !== undefined)
      .sort((a, b) => a.time.localeCompare(b.time));
  }

  // Reads our JSON comment back; archives of other modules (same folder by mistake) are left out.
  function toSnapshot(raw: RawArchive, module: string): ProviderSnapshot | undefined {
    let comment: Comment;
    try {
      comment = raw.comment ? (JSON.parse(raw.comment) as Comment) : {};
    } catch {
      comment = {};
    }
    if (comment.module && comment.module !== module) return undefined;
    const time = comment.time ?? new Date(raw.start ?? raw.time ?? 0).toISOString();
    return { id: raw.name, time, module, repository: repoName, host: comment.host ?? raw.hostname, tags: comment.tags ?? [`module:${module}`], paths: comment.paths };
  }

  // A new archive name, strictly later than the last one this process made.
  function archiveName(module: string): { name: string; time: Date } {
    let time = new Date();
    if (stamp(time) <= lastStamp) time = new Date(Date.parse(lastStamp.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)/, '$1-$2-$3T$4:$5:$6')) + 1);
    lastStamp = stamp(time);
    return { name: `${module}-${lastStamp}`, time };
  }

  // borg create with --json stats; a backup with warnings (unreadable or vanished files) is deleted again.
  async function create(options: CreateOptions) {
    const { module } = options;
    const tags = [...new Set([`module:${module}`, ...options.tags])];
    const { name, time } = archiveName(module);
    const comment = JSON.stringify({ lifeboat: 1, module, host: options.host, tags, time: time.toISOString(), paths: options.paths });
    // The archive's time is Lifeboat's clock (borg --timestamp: UTC), the one its name and comment carry.
    const args = ['create', '--json', '--timestamp', time.toISOString().replace(/\.\d+Z$/, ''), '--comment', comment.replace(/[{}]/g, '$&$&')];
    if (config.compression) args.push('--compression', COMPRESSION[config.compression] ?? 'lz4');
    args.push(...options.exclude.flatMap((pattern) => ['--exclude', toBorgPattern(pattern)]), `${repoOf(module)}::${name}`, ...options.paths);
    const snapshot: ProviderSnapshot = { id: name, time: time.toISOString(), module, repository: repoName, host: options.host, tags, paths: options.paths };
    if (options.dryRun) {
      await borg(args, options, { dryRun: true });
      return { snapshot };
    }
    if ((await listOrNull(module, options)) === null) {
      options.log.info(`initialising ${where(module)} at ${repoOf(module)} (repokey: keep the passphrase safe; \`borg key export\` makes a key backup)`);
      await borgOrFail(module, ['init', '--encryption=repokey', '--make-parent-dirs', repoOf(module)], options);
    }
    const streams = options.streams ?? [];
    if (streams.length > 0) return createStreaming(options, args, name, snapshot);
    const result = await borg(args, options);
    if (result.exitCode === 2) throw failure(module, 'create', result, options);
    if (result.exitCode === 1) {
      await borg(['delete', `${repoOf(module)}::${name}`], options).catch((error: Error) => options.log.warn(`could not delete incomplete archive ${name}: ${error.message}`));
      throw new LifeboatError('PROVIDER', options.log.masker.mask(`${where(module)}: borg could not read everything (${lastLines(result.stderr, 5)}); the incomplete archive ${name} was deleted`), {
        hint: UNREADABLE_FILES_HINT,
      });
    }
    const stats = (JSON.parse(result.stdout) as { archive?: { stats?: { deduplicated_size?: number } } }).archive?.stats;
    return { snapshot, bytes: stats?.deduplicated_size };
  }

  // borg create --read-special with each streamed dump served through a pipe (fifo.ts). A dump that fails
  // kills borg before its pipe closes, so no archive exists; one borg never read fails the backup too.
  async function createStreaming(options: CreateOptions, baseArgs: string[], name: string, snapshot: ProviderSnapshot) {
    const { module } = options;
    const pipes = new Set(options.streams!.map((source) => source.path));
    const special = await findSpecialFiles(options.paths, pipes);
    if (special.length) options.log.warn(`not archived (special files; borg --read-special would read them): ${special.slice(0, 5).join(', ')}${special.length > 5 ? ` and ${special.length - 5} more` : ''}`);
    const target = baseArgs.indexOf(`${repoOf(module)}::${name}`);
    const args = [...baseArgs.slice(0, target), '--read-special', ...special.flatMap((file) => ['--exclude', `pf:${file.replace(/^\/+/, '')}`]), ...baseArgs.slice(target)];
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, ...(options.signal ? [options.signal] : [])]);
    let server: FifoServer | undefined;
    let dumpError: unknown;
    try {
      server = serveFifos(options.streams!, options.log);
      server.done.catch((error: unknown) => {
        dumpError = error;
        stop.abort('a database dump failed');
      });
      let result: ToolResult;
      try {
        // borg dies with Lifeboat: without Lifeboat nobody opens the write end of the next pipe, and borg
        // would wait for ever holding the repository lock; with one pipe it could commit a cut dump.
        result = await borg(args, { ...options, signal }, { dieWithParent: true });
      } catch (error) {
        if (dumpError) throw dumpError;
        throw error;
      }
      if (result.exitCode === 2) throw failure(module, 'create', result, options);
      if (dumpError) throw dumpError;
      const unread = server.unread();
      if (result.exitCode === 0 && unread.length) {
        await borg(['delete', `${repoOf(module)}::${name}`], options).catch(() => undefined);
        throw new LifeboatError('PROVIDER', `${where(module)}: borg did not read the dump of ${unread.join(', ')}; is the state dir excluded?`);
      }
      if (result.exitCode === 1) {
        await borg(['delete', `${repoOf(module)}::${name}`], options).catch(() => undefined);
        throw new LifeboatError('PROVIDER', options.log.masker.mask(`${where(module)}: borg could not read everything (${lastLines(result.stderr, 5)}); the incomplete archive ${name} was deleted`), {
          hint: UNREADABLE_FILES_HINT,
        });
      }
      const stats = (JSON.parse(result.stdout) as { archive?: { stats?: { deduplicated_size?: number } } }).archive?.stats;
      return { snapshot, bytes: stats?.deduplicated_size };
    } finally {
      server?.close();
    }
  }

  // Deletes the given archives (Lifeboat's retention chose them: not borg prune, whose --keep-last is
  // "keep-secondly" and merges archives made within the same second); borg compact (prune, below, on
  // its own cadence) frees the space.
  async function forget(module: string, snapshots: ProviderSnapshot[], options: CommonOptions): Promise<void> {
    if (snapshots.length === 0) return;
    await borgOrFail(module, ['delete', repoOf(module), ...snapshots.map((s) => s.id)], options, { dryRun: options.dryRun });
  }

  // borg compact: rewrites the segments that hold deleted archives' data (exclusive lock).
  async function prune(module: string, options: CommonOptions): Promise<void> {
    await borgOrFail(module, ['compact', repoOf(module)], options, { dryRun: options.dryRun });
  }

  return {
    kind: declaration.kind,
    capabilities: declaration.capabilities,
    create,
    forget,
    prune,
    // Archives of one module, oldest first; [] when it was never backed up.
    async list(module, options) {
      return (await listOrNull(module, options)) ?? [];
    },
    // borg extract in cwd=target (borg stored the paths without their leading /); --sparse keeps holes.
    async restore(options) {
      const include = (options.include ?? []).map((p) => `pp:${p.replace(/^\/+/, '')}`);
      if (!options.dryRun) await mkdir(options.target, { recursive: true });
      const result = await borgOrFail(options.module, ['extract', '--sparse', `${repoOf(options.module)}::${options.snapshot.id}`, ...include], options, { cwd: options.target, dryRun: options.dryRun });
      if (result.exitCode === 1) throw new LifeboatError('PROVIDER', options.log.masker.mask(`${where(options.module)}: borg extract of ${options.snapshot.id} was incomplete: ${lastLines(result.stderr, 5)}`));
    },
    // borg check; readData adds --verify-data (reads and decrypts every chunk).
    async check(module, options) {
      if ((await listOrNull(module, options)) === null) {
        throw notCreatedYet(where(module), module);
      }
      await borgOrFail(module, ['check', ...(options.readData ? ['--verify-data'] : []), repoOf(module)], options, { dryRun: options.dryRun });
    },
  };
}

// Drops unset variables (execa wants strings).
function clean(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined));
}
