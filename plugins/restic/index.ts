// The restic provider (restic 0.14): one restic repository per module at <url>/<module>, created by the
// first backup. Passwords reach restic through RESTIC_PASSWORD_FILE / _COMMAND / RESTIC_PASSWORD only.
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { LifeboatError } from '../../src/errors.js';
import { missingPassword, notCreatedYet, passwordSource, readPasswordFile, toolFailure, UNREADABLE_FILES_HINT } from '../../src/providers/shared.js';
import { declaration } from './declaration.js';
import { lastLines, runTool, type ToolResult } from '../../src/process/exec.js';
import type {
  CommonOptions,
  CreateOptions,
  Provider,
  ProviderInput,
  ProviderSnapshot,
} from '../../src/providers/types.js';
import { backupFromStdin, DUMP_TAG, runTag } from './stdin.js';
import { snapshotCache, type RawSnapshot, type SnapshotCache } from './snapshot-cache.js';
import { toolEnvironment } from '../../src/process/tool-env.js';

type Env = Record<string, string | undefined>;

// A `status` line of restic backup --json.
interface BackupStatus {
  message_type?: string;
  percent_done?: number;
  bytes_done?: number;
  total_bytes?: number;
  files_done?: number;
  total_files?: number;
}

interface BackupSummary {
  snapshot_id?: string;
  data_added?: number;
}

// Where a module's repository lives: a folder under a local url, `/<module>` appended to a remote one.
export function moduleRepository(url: string, module: string, configRoot: string): string {
  if (/^[a-z0-9]+:/i.test(url) && !url.startsWith('local:')) return `${url.replace(/\/+$/, '')}/${module}`;
  return path.join(path.resolve(configRoot, url.replace(/^local:/, '')), module);
}

// restic cannot open a repository that is not there; anything else (auth, network) is a real error. A
// bucket that does not exist is one too (a wrong url, or a bucket deleted): it is never taken for a
// repository not created yet, which would list as no snapshots and have restic init make a new bucket.
function isMissingRepository(stderr: string): boolean {
  return /unable to open config file[\s\S]*(no such file or directory|does not exist|not found)/i.test(stderr) && !/bucket does not exist/i.test(stderr);
}

// The snapshot files restic could not read (it skips them, warns on stderr and still exits 0).
function unreadableSnapshots(stderr: string): string[] {
  return stderr.split('\n').filter((line) => /^could not load snapshot /.test(line));
}

// Escapes glob characters so an --include path matches only itself (and what lies below it).
function escapeGlob(value: string): string {
  return value.replace(/[*?[\]\\]/g, '\\$&');
}

// The factory the registry calls for `provider: restic`.
export function createProvider(input: ProviderInput): Provider {
  const { name: repoName, config } = input;
  if (!config.url) {
    throw new LifeboatError('CONFIG_INVALID', `repository "${repoName}" (restic) has no \`url\``, { hint: 'set url: to a folder (/var/backups/lifeboat) or a restic URL (s3:https://host/bucket/prefix, rest:https://host/)' });
  }
  const url = config.url;
  // A repository in a local folder (a path or `local:`), whose files Lifeboat can read itself.
  const local = !/^[a-z0-9]+:/i.test(url) || url.startsWith('local:');
  const where = (module: string) => `restic repository "${repoName}" of module ${module}`;
  const credentials = /\/\/[^/:@]+:([^@/]+)@/.exec(url);
  if (credentials) input.addSecret(credentials[1], decodeURIComponent(credentials[1]));

  // `--cacert FILE` when the repository names one; a file that is missing or unreadable is a clear error
  // naming the key (restic itself would fail with a Go stack trace).
  function cacertArgs(): string[] {
    if (!config.cacert) return [];
    const file = path.resolve(input.root.root, config.cacert);
    try {
      accessSync(file, constants.R_OK);
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'cannot be read';
      throw new LifeboatError('CONFIG_INVALID', `lifeboat.yaml: repositories.${repoName}.cacert: ${file} ${reason}; put the server's CA certificate (PEM) there, point cacert: at it, or remove cacert: to use the system's CAs`);
    }
    return ['--cacert', file];
  }

  // Builds the environment for one restic call; refuses when no password source is configured.
  function resticEnv(module: string, options: CommonOptions): Env {
    // Lifeboat's own environment and the repository's env, never the environment files (untrusted once restored).
    const env: Env = { ...toolEnvironment({ PATH: options.env?.PATH }), ...config.env };
    env.RESTIC_REPOSITORY = moduleRepository(url, module, input.root.root);
    // restic reads `backup --time` in its local zone: UTC, as resticTime() writes it.
    env.TZ = 'UTC';
    env.RESTIC_CACHE_DIR ??= path.join(input.root.stateDir, 'cache', 'restic');
    // Status lines feed the progress bar when someone shows one; otherwise restic stays quiet.
    env.RESTIC_PROGRESS_FPS ??= (options as { onProgress?: unknown }).onProgress ? '4' : '0.1';
    delete env.RESTIC_REPOSITORY_FILE;
    const password = passwordSource(input);
    if (password.kind === 'file') {
      input.addSecret(readPasswordFile(input, password.file).trim());
      Object.assign(env, { RESTIC_PASSWORD_FILE: password.file, RESTIC_PASSWORD: undefined, RESTIC_PASSWORD_COMMAND: undefined });
    } else if (password.kind === 'command') {
      Object.assign(env, { RESTIC_PASSWORD_COMMAND: password.command, RESTIC_PASSWORD: undefined, RESTIC_PASSWORD_FILE: undefined });
    } else if (!env.RESTIC_PASSWORD && !env.RESTIC_PASSWORD_FILE && !env.RESTIC_PASSWORD_COMMAND) {
      throw missingPassword(input, 'restic', 'password', 'RESTIC_PASSWORD');
    }
    input.addSecret(env.RESTIC_PASSWORD);
    if (url.startsWith('s3:')) input.addSecret(env.AWS_SECRET_ACCESS_KEY, env.AWS_SESSION_TOKEN);
    return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined));
  }

  // Runs one restic subcommand against a module's repository; global flags (--cacert, S3 options) go
  // before the subcommand, so they never land after a backup's `--`.
  // A lock left by a restic that was killed (SIGKILL, OOM, reboot) blocks exclusive operations (check,
  // prune) and, when it was exclusive itself, everything: `restic unlock` removes only such stale locks,
  // then the call is tried once more.
  async function restic(module: string, args: string[], options: CommonOptions, extra: { okExitCodes?: number[]; onLine?: (line: string) => void; dryRun?: boolean } = {}): Promise<ToolResult> {
    const locked = (text: string) => /repository is already locked/i.test(text);
    try {
      const result = await runRestic(module, args, options, extra);
      if (result.exitCode === 0 || !locked(result.stderr)) return result;
    } catch (error) {
      if (!(error instanceof LifeboatError) || !locked(error.message)) throw error;
    }
    options.log.warn(`${where(module)} holds a lock; removing stale locks (of restic processes that no longer run) and trying again`);
    await runRestic(module, ['unlock'], options, {});
    return runRestic(module, args, options, extra);
  }

  function runRestic(module: string, args: string[], options: CommonOptions, extra: { okExitCodes?: number[]; onLine?: (line: string) => void; dryRun?: boolean }): Promise<ToolResult> {
    const cacert = cacertArgs();
    const s3 = url.startsWith('s3:') ? [...(config.region ? ['-o', `s3.region=${config.region}`] : []), ...(config.pathStyle ? ['-o', 's3.bucket-lookup=path'] : [])] : [];
    return runTool('restic', [...cacert, ...s3, ...args], {
      env: resticEnv(module, options),
      log: options.log,
      signal: options.signal,
      input: '',
      dryRun: extra.dryRun ?? false,
      okExitCodes: extra.okExitCodes,
      onLine: extra.onLine,
    });
  }

  // Turns restic's JSON snapshot into ours.
  function toSnapshot(raw: RawSnapshot, module: string): ProviderSnapshot {
    return { id: raw.id, time: new Date(raw.time).toISOString(), module, repository: repoName, host: raw.hostname, tags: raw.tags ?? [], paths: raw.paths };
  }

  // The snapshot cache of a module's local repository (snapshot-cache.ts); undefined for remote ones.
  function cacheOf(module: string): SnapshotCache | undefined {
    // A repository without its config file is damaged (or gone): restic must say so, not the cache.
    if (!local || !existsLocally(module)) return undefined;
    return snapshotCache(moduleRepository(url, module, input.root.root), path.join(input.root.stateDir, 'cache', 'restic-snapshots'));
  }

  // Every snapshot of the module's repository (module, safety and dump snapshots; given ids only, when
  // asked); `null` when the repository does not exist. A local repository's answer comes from the snapshot
  // cache when it knows every snapshot there (no restic run); a full listing by restic refreshes it.
  async function rawSnapshots(module: string, options: CommonOptions, ids: string[] = []): Promise<RawSnapshot[] | null> {
    const cache = ids.length ? undefined : cacheOf(module);
    const cached = options.fresh ? undefined : cache?.read();
    if (cached) {
      options.log.debug(`${where(module)}: ${cached.length} snapshot(s), from the snapshot cache`);
      return cached;
    }
    const result = await restic(module, ['snapshots', '--json', ...ids], options, { okExitCodes: [1] });
    if (result.exitCode !== 0) {
      if (isMissingRepository(result.stderr)) return null;
      throw failure(module, 'snapshots', result, options);
    }
    let parsed: RawSnapshot[];
    try {
      parsed = JSON.parse(result.stdout.trim() || '[]') as RawSnapshot[];
    } catch (error) {
      throw new LifeboatError('PROVIDER', `${where(module)}: restic snapshots printed invalid JSON: ${result.stdout.slice(0, 80)}`, { cause: error });
    }
    // Snapshots restic could not read: with none readable the answer is an error, never "no snapshots".
    const unreadable = unreadableSnapshots(result.stderr);
    if (unreadable.length > 0 && parsed.length === 0) {
      throw new LifeboatError('PROVIDER', options.log.masker.mask(`${where(module)}: restic could not read any snapshot: ${unreadable.slice(0, 3).join('; ')}`), {
        hint: `the repository is damaged: run \`lifeboat check ${module}\` and restore the repository from a copy`,
      });
    }
    for (const line of unreadable) options.log.warn(options.log.masker.mask(`${where(module)}: ${line}`));
    cache?.replace(parsed.map(({ id, time, hostname, tags, paths }) => ({ id, time, hostname, tags, paths })));
    return parsed;
  }

  // Lists the module's snapshots (tag module:<name>), oldest first; `null` when the module has no
  // repository yet (never created on a read).
  async function listOrNull(module: string, options: CommonOptions, ids: string[] = []): Promise<ProviderSnapshot[] | null> {
    const all = await rawSnapshots(module, options, ids);
    if (all === null) return null;
    return all
      .filter((raw) => (raw.tags ?? []).includes(`module:${module}`))
      .map((raw) => toSnapshot(raw, module))
      .sort((a, b) => a.time.localeCompare(b.time));
  }

  // Creates the module's repository on its first backup (restic init).
  async function initRepository(module: string, options: CommonOptions): Promise<void> {
    const location = moduleRepository(url, module, input.root.root);
    // A local folder with content but no config is a damaged repository: a new config and key there would
    // strand every snapshot in it (and restic then fails on the old packs).
    if (local && existsSync(location) && readdirSync(location).length > 0) {
      throw new LifeboatError('PROVIDER', `${where(module)} at ${location} exists but has no config file: it is damaged or not a restic repository, and Lifeboat does not initialise over it`, {
        hint: `restore its config file from a copy, or move ${location} away to start a new repository`,
      });
    }
    options.log.info(`initialising ${where(module)} at ${location}`);
    await restic(module, ['init'], options);
  }

  // Turns a failed restic call into an error naming the repository (and the password when that is it).
  function failure(module: string, command: string, result: ToolResult, options: CommonOptions): LifeboatError {
    return toolFailure({
      where: where(module),
      command: `restic ${command}`,
      exitCode: result.exitCode,
      reason: lastLines(result.stderr, 4),
      stderr: result.stderr,
      hints: [
        [/wrong password/i, `check the password of repository "${repoName}"`],
        [/bucket does not exist/i, `create the bucket or fix url: of repository "${repoName}" in lifeboat.yaml`],
      ],
      otherwise: `check url and credentials of repository "${repoName}"`,
      mask: (text) => options.log.masker.mask(text),
    });
  }

  // Backs up the module: first each streamed dump as its own snapshot (stdin.ts), then the module's
  // snapshot tagged with the same run; any failure removes the dump snapshots of this run again.
  async function create(options: CreateOptions) {
    const streams = options.streams ?? [];
    if (streams.length === 0) return createMain(options);
    const { module } = options;
    const run = runTag(options.runId ?? randomBytes(6).toString('hex'));
    const cacert = cacertArgs();
    const stamp = new Date();
    const args = ['backup', '--json', '--host', options.host, '--time', resticTime(stamp), '--tag', DUMP_TAG, '--tag', run, ...(config.compression === 'none' ? ['--compression', 'off'] : []), ...cacert];
    if (options.dryRun) {
      for (const source of streams) options.log.info(`dry run: would stream ${source.label} into restic ${args.join(' ')} --stdin --stdin-filename ${source.path}`);
      return createMain({ ...options, tags: [...options.tags, run] });
    }
    if (!existsLocally(module) && (await listOrNull(module, options)) === null) await initRepository(module, options);
    const dumps: string[] = [];
    let bytes = 0;
    try {
      for (const source of streams) {
        const started = Date.now();
        const result = await backupFromStdin({ env: resticEnv(module, options) as Record<string, string>, args, source, log: options.log, signal: options.signal, where: where(module) });
        cacheOf(module)?.add(result.id, { time: stamp.toISOString(), hostname: options.host, tags: [DUMP_TAG, run], paths: [path.resolve(source.path)] });
        dumps.push(result.id);
        bytes += result.bytes ?? 0;
        options.log.info(`streamed ${source.label} into restic snapshot ${result.id} (${Date.now() - started} ms)`);
      }
      const main = await createMain({ ...options, tags: [...options.tags, run] });
      return { ...main, bytes: (main.bytes ?? 0) + bytes };
    } catch (error) {
      if (dumps.length) {
        await restic(module, ['forget', '--prune', ...dumps], { ...options, signal: undefined }).catch((forgetError: Error) =>
          options.log.warn(`could not remove the dump snapshots ${dumps.join(', ')} of the failed run: ${forgetError.message}`),
        );
      }
      throw error;
    }
  }

  // Whether a local repository exists already (saves a restic run); false for remote ones.
  function existsLocally(module: string): boolean {
    if (!local) return false;
    return existsSync(path.join(moduleRepository(url, module, input.root.root), 'config'));
  }

  // Whether a local repository's folder is certainly absent (ENOENT; not a permission or a file in the way,
  // whose errors restic reports itself); false for remote ones.
  function absentLocally(module: string): boolean {
    if (!local) return false;
    try {
      lstatSync(moduleRepository(url, module, input.root.root));
      return false;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ENOENT';
    }
  }

  // The streamed dump snapshots (stdin.ts) of the module's repository, optionally of one run only.
  async function dumpSnapshots(module: string, options: CommonOptions, run?: string): Promise<RawSnapshot[]> {
    const all = (await rawSnapshots(module, options)) ?? [];
    return all.filter((raw) => (raw.tags ?? []).includes(DUMP_TAG) && (!run || (raw.tags ?? []).includes(run)));
  }

  // After forget: dump snapshots whose run has no module snapshot left go too (older than the newest one,
  // so the dumps of a backup running right now are never touched).
  async function forgetOrphanDumps(module: string, options: CommonOptions): Promise<void> {
    const all = (await rawSnapshots(module, options)) ?? [];
    const dumps = all.filter((raw) => (raw.tags ?? []).includes(DUMP_TAG));
    if (dumps.length === 0) return;
    const kept = all
      .filter((raw) => (raw.tags ?? []).includes(`module:${module}`))
      .map((raw) => toSnapshot(raw, module))
      .sort((a, b) => a.time.localeCompare(b.time));
    const runs = new Set(kept.flatMap((snapshot) => snapshot.tags.filter((tag) => tag.startsWith('run:'))));
    const newest = kept.at(-1)?.time ?? '';
    const orphans = dumps.filter((dump) => !(dump.tags ?? []).some((tag) => runs.has(tag)) && new Date(dump.time).toISOString() < newest);
    if (orphans.length === 0) return;
    await restic(module, ['forget', ...orphans.map((dump) => dump.id)], options);
    options.log.info(`removed ${orphans.length} dump snapshot(s) whose module snapshot was forgotten or never made (a killed run)`);
  }

  // Backs up; a backup that skipped anything is removed again and reported as a failure.
  async function createMain(options: CreateOptions) {
    const { module } = options;
    const tags = [...new Set([`module:${module}`, ...options.tags])];
    const badTag = tags.find((tag) => tag.includes(',') || tag === '');
    if (badTag !== undefined) throw new LifeboatError('USAGE', `${where(module)}: tag "${badTag}" is empty or contains a comma, which restic cannot store`);
    // The snapshot's time is Lifeboat's clock (the one the journal, retention and schedules use), not restic's.
    const now = new Date();
    const args = ['backup', '--json', '--host', options.host, '--time', resticTime(now), ...tags.flatMap((tag) => ['--tag', tag]), ...options.exclude.flatMap((pattern) => ['--exclude', pattern])];
    if (config.compression === 'none') args.push('--compression', 'off');
    args.push('--', ...options.paths);
    if (options.dryRun) {
      await restic(module, args, options, { dryRun: true });
      return { snapshot: { id: 'dry-run', time: now.toISOString(), module, repository: repoName, host: options.host, tags } };
    }
    let summary: BackupSummary | undefined;
    const backup = () =>
      restic(module, args, options, {
        okExitCodes: [1, 3],
        onLine: (line) => {
          const message = parseJsonLine<BackupSummary & BackupStatus>(line);
          if (message?.message_type === 'summary') summary = message;
          else if (message?.message_type === 'status') {
            options.onProgress?.({ bytesDone: message.bytes_done ?? 0, bytesTotal: message.total_bytes, filesDone: message.files_done, filesTotal: message.total_files });
            if (message.percent_done !== undefined) options.log.debug(`restic backup ${Math.round(message.percent_done * 100)}%`);
          }
        },
      });
    // A local repository whose folder does not exist yet is created straight away; otherwise the backup
    // itself says whether the repository is missing (one restic run fewer than asking first).
    let result = absentLocally(module) ? undefined : await backup();
    if (result === undefined || (result.exitCode === 1 && isMissingRepository(result.stderr))) {
      await initRepository(module, options);
      result = await backup();
    }
    if (result.exitCode === 1) throw failure(module, 'backup', result, options);
    const shortId = summary?.snapshot_id;
    if (!shortId) throw new LifeboatError('PROVIDER', `${where(module)}: restic backup exited ${result.exitCode} without reporting a snapshot: ${lastLines(result.stderr, 4)}`);
    const skipped = skippedItems(result.stderr);
    if (result.exitCode === 3 || skipped.length > 0) {
      await restic(module, ['forget', shortId], options).catch((error: Error) => options.log.warn(`could not remove incomplete snapshot ${shortId}: ${error.message}`));
      const shown = skipped.slice(0, 5).join(', ') + (skipped.length > 5 ? ` and ${skipped.length - 5} more` : '');
      throw new LifeboatError('PROVIDER', options.log.masker.mask(`${where(module)}: restic could not read ${shown || 'some files'}; the incomplete snapshot ${shortId} was removed`), {
        hint: UNREADABLE_FILES_HINT,
      });
    }
    const snapshot = localSnapshot(module, shortId, options, now) ?? (await listOrNull(module, options, [shortId]))?.[0];
    if (!snapshot) throw new LifeboatError('PROVIDER', `${where(module)}: restic reported snapshot ${shortId} but does not list it`);
    // restic stores the paths absolute, cleaned and sorted, the tags as given.
    cacheOf(module)?.add(shortId, { time: now.toISOString(), hostname: options.host, tags, paths: [...new Set(options.paths.map((p) => path.resolve(p)))].sort() });
    return { snapshot, bytes: summary?.data_added };
  }

  // The new snapshot of a local repository, read from its snapshots/ folder (no second restic run, whose
  // key derivation costs more than the backup of a small module); undefined for remote repositories.
  function localSnapshot(module: string, shortId: string, options: CreateOptions, time: Date): ProviderSnapshot | undefined {
    const repository = moduleRepository(url, module, input.root.root);
    if (!local) return undefined;
    try {
      const ids = readdirSync(path.join(repository, 'snapshots')).filter((name) => name.startsWith(shortId));
      if (ids.length !== 1) return undefined;
      const tags = [...new Set([`module:${module}`, ...options.tags])];
      return { id: ids[0], time: time.toISOString(), module, repository: repoName, host: options.host, tags, paths: options.paths };
    } catch {
      return undefined;
    }
  }

  // Deletes the given snapshots (Lifeboat's retention chose them) with restic forget, then the dump
  // snapshots whose module snapshot is gone. Their data stays until prune (on its own cadence).
  async function forget(module: string, snapshots: ProviderSnapshot[], options: CommonOptions): Promise<void> {
    if (snapshots.length === 0) return;
    const result = await restic(module, ['forget', ...snapshots.map((s) => s.id)], options, { okExitCodes: [1], dryRun: options.dryRun });
    if (result.exitCode === 1) throw failure(module, 'forget', result, options);
    if (!options.dryRun) await forgetOrphanDumps(module, options);
  }

  // restic prune: rewrites the packs that hold data no snapshot references any more (exclusive lock).
  async function prune(module: string, options: CommonOptions): Promise<void> {
    const result = await restic(module, ['prune'], options, { okExitCodes: [1], dryRun: options.dryRun });
    if (result.exitCode === 1) throw failure(module, 'prune', result, options);
  }

  return {
    kind: declaration.kind,
    capabilities: declaration.capabilities,
    create,
    forget,
    prune,
    // Before a backup (the check for a vanished repository): a local repository with its config and a
    // snapshot file holds snapshots of the module (it is the module's own); anything else: ask restic.
    // When retention had nothing to forget: the dump snapshots of runs killed before their module snapshot
    // (kill -9 during a streamed dump), which nothing else removes.
    sweep: (module, options) => forgetOrphanDumps(module, options),
    async holdsSnapshots(module) {
      if (!existsLocally(module)) return false;
      try {
        return readdirSync(path.join(moduleRepository(url, module, input.root.root), 'snapshots')).length > 0;
      } catch {
        return false;
      }
    },
    // Snapshots of one module, oldest first; [] when it was never backed up.
    async list(module, options) {
      return (await listOrNull(module, options)) ?? [];
    },
    // restic restore ID --target T [--include P]...: files land at T + their absolute paths.
    async restore(options) {
      const include = (options.include ?? []).flatMap((p) => ['--include', escapeGlob(p)]);
      // Streamed dumps of the same run come back as files at their paths (stdin.ts); first, so that the
      // module snapshot restored after them sets the metadata of the folders they share.
      const run = options.snapshot.tags.find((tag) => tag.startsWith('run:'));
      if (run) {
        const wanted = (file: string) => !options.include?.length || options.include.some((p) => file === p || file.startsWith(`${p.replace(/\/+$/, '')}/`));
        for (const dump of await dumpSnapshots(options.module, options, run)) {
          if (!(dump.paths ?? []).some(wanted)) continue;
          await restic(options.module, ['restore', dump.id, '--target', options.target, ...include], options, { dryRun: options.dryRun });
        }
      }
      await restic(options.module, ['restore', options.snapshot.id, '--target', options.target, ...include], options, { dryRun: options.dryRun });
    },
    // restic check: readDataSubset reads part of the packs (--read-data-subset), readData all of them.
    async check(module, options) {
      const readData = options.readDataSubset ? [`--read-data-subset=${options.readDataSubset}`] : options.readData ? ['--read-data'] : [];
      const result = await restic(module, ['check', ...readData], options, { dryRun: options.dryRun, okExitCodes: [1] });
      if (result.exitCode === 1 && isMissingRepository(result.stderr)) {
        throw notCreatedYet(where(module), module);
      }
      if (result.exitCode === 1) throw failure(module, 'check', result, options);
    },
  };
}

// `restic backup --time` for a moment: "2027-03-01 03:00:00.123" in UTC (restic runs with TZ=UTC; it reads
// the milliseconds too, so two backups within a second stay in order). restic is a
// static binary with its own clock; passing Lifeboat's makes snapshot times follow the clock the journal,
// retention and schedules use (one clock, even under libfaketime).
export function resticTime(time: Date): string {
  return time.toISOString().replace('T', ' ').replace(/Z$/, '');
}

// Paths restic reported as unreadable or missing ({"message_type":"error"} lines, "does not exist, skipping").
function skippedItems(stderr: string): string[] {
  const items: string[] = [];
  for (const line of stderr.split('\n')) {
    const message = parseJsonLine<{ message_type?: string; item?: string; error?: { Path?: string } }>(line);
    if (message) {
      if (message.message_type === 'error') items.push(message.item ?? message.error?.Path ?? 'an unknown file');
    } else {
      const missing = /^(.*) does not exist, skipping$/.exec(line.trim());
      if (missing) items.push(missing[1]);
    }
  }
  return items;
}

// One line of restic's --json output, or undefined for text lines.
function parseJsonLine<T>(line: string): T | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as T;
  } catch {
    return undefined;
  }
}
