// One run per module at a time: a lock file naming its holder (made whole, then linked into place: O_EXCL's
// semantics without an empty file), taken over when that holder is dead
// (SIGKILL, crash, reboot), so a killed run never blocks the next one.
import { closeSync, existsSync, linkSync, mkdirSync, openSync, readFileSync, realpathSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { MODULE_NAME_RE } from '../config/paths.js';
import { LifeboatError, describeError } from '../errors.js';
import type { Logger } from '../log/logger.js';

// What a lock file holds; pid + startTime + bootId identify the holder process even after pid reuse.
export interface LockHolder {
  pid: number;
  startTime: string | null;
  bootId: string | null;
  host: string;
  started: string;
  command: string;
}

export interface LockOptions {
  // Seconds to wait for the holder to finish; without it a held lock fails at once.
  waitSeconds?: number;
  log: Logger;
  // Shown to whoever finds the lock held; default: this process's command line.
  command?: string;
  // Stops waiting (Ctrl-C) with an INTERRUPTED error.
  signal?: AbortSignal;
  // What the lock guards, in messages (default: module "NAME").
  subject?: string;
}

export interface Lock {
  readonly file: string;
  // Removes the lock file if it is still ours; safe to call twice.
  release(): void;
}

interface LockEntry {
  raw: string;
  holder?: LockHolder;
  mtimeMs: number;
}

const POLL_MS = 200;
// A lock file without readable JSON this young is still being written by its creator.
const UNREADABLE_GRACE_MS = 10_000;
const held = new Set<() => void>();
let exitHooked = false;

// Takes the module's lock, waiting up to waitSeconds for a live holder; throws LOCKED when it stays held.
export async function acquireLock(locksDir: string, module: string, options: LockOptions): Promise<Lock> {
  if (!MODULE_NAME_RE.test(module)) throw new LifeboatError('UNKNOWN_MODULE', `cannot lock module "${module}": not a valid module name`);
  const file = path.join(locksDir, `${module}.lock`);
  const text = `${JSON.stringify(describeSelf(options))}\n`;
  const waitSeconds = Math.max(0, options.waitSeconds ?? 0);
  const deadline = Date.now() + waitSeconds * 1000;
  let announced = false;
  let busyTakeovers = 0;
  makeLocksDir(locksDir, module);
  for (;;) {
    if (tryCreate(file, text, module)) return holdLock(file, text, options.log);
    const entry = readLock(file);
    if (!entry) continue;
    if (isStale(entry) && busyTakeovers < 50) {
      if (await removeStale(file, entry, module, options.log)) continue;
      busyTakeovers += 1;
    }
    if (Date.now() >= deadline) throw lockedError(module, file, entry, options.waitSeconds);
    if (!announced) options.log.info(`waiting up to ${waitSeconds}s for ${options.subject ?? `module "${module}"`}, locked by ${describeHolder(entry)}`);
    announced = true;
    await sleep(POLL_MS, module, options.signal);
  }
}

// Whether a process is still the one that was recorded: kill(pid, 0), not a zombie, same start time and boot.
export function isProcessAlive(pid: number, startTime?: string | null, bootId?: string | null): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const boot = currentBootId();
  if (bootId && boot && bootId !== boot) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (!existsSync('/proc/self/stat')) return true;
  const stat = readProcStat(pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
  return !startTime || stat.startTime === startTime;
}

// Start time of a process in clock ticks since boot (/proc/<pid>/stat field 22), for telling reused pids apart.
export function processStartTime(pid: number): string | null {
  return readProcStat(pid)?.startTime ?? null;
}

// Reads the holder of a module's lock, for `status` and messages; undefined when nobody holds it.
export function readLockHolder(locksDir: string, module: string): LockHolder | undefined {
  return readLock(path.join(locksDir, `${module}.lock`))?.holder;
}

// Creates the locks dir (0700) or says why it cannot.
function makeLocksDir(locksDir: string, module: string): void {
  try {
    mkdirSync(locksDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new LifeboatError('STATE', `cannot create the locks dir for module "${module}" (${locksDir}): ${describeError(error)}`, {
      hint: 'check that the state dir is writable by this user, or pass --state-dir',
      cause: error,
    });
  }
}

// Creates the lock file with our JSON in it, atomically; false when it already exists. The JSON is written
// to a private temp file first, which is then hard-linked to the lock's name (link fails with EEXIST like
// O_EXCL): the lock file never exists empty, so a run killed while taking it (kill -9) leaves either no lock
// or a whole one whose dead pid the next run sees at once, never an empty file that reads as a run "just
// starting".
function tryCreate(file: string, text: string, module: string): boolean {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  let fd: number;
  try {
    fd = openSync(temp, 'wx', 0o600);
  } catch (error) {
    throw new LifeboatError('STATE', `cannot create the lock file of module "${module}" (${file}): ${describeError(error)}`, {
      hint: 'check that the state dir is writable by this user, or pass --state-dir',
      cause: error,
    });
  }
  try {
    try {
      writeSync(fd, text);
    } catch (error) {
      throw new LifeboatError('STATE', `cannot write the lock file of module "${module}" (${file}): ${describeError(error)}`, {
        hint: 'free space in the state dir, or pass --state-dir',
        cause: error,
      });
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temp, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new LifeboatError('STATE', `cannot create the lock file of module "${module}" (${file}): ${describeError(error)}`, {
        hint: 'check that the state dir is writable by this user, or pass --state-dir',
        cause: error,
      });
    }
    return true;
  } finally {
    rmSync(temp, { force: true });
  }
}

// Registers a lock we created; it is released by release() or, at the latest, when the process exits.
function holdLock(file: string, text: string, log: Logger): Lock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    held.delete(release);
    try {
      if (readFileSync(file, 'utf8') === text) unlinkSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') log.warn(`could not remove the lock file ${file}: ${describeError(error)}`);
    }
  };
  if (!exitHooked) process.on('exit', releaseAll);
  exitHooked = true;
  held.add(release);
  return { file, release };
}

// The 'exit' hook: frees whatever locks this process still holds.
function releaseAll(): void {
  for (const release of [...held]) release();
}

// Reads a lock file; undefined when it does not exist (any more).
function readLock(file: string): LockEntry | undefined {
  try {
    const raw = readFileSync(file, 'utf8');
    const { mtimeMs } = statSync(file);
    return { raw, holder: parseHolder(raw), mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

// Validates a lock file's JSON; undefined for a torn or foreign file.
function parseHolder(raw: string): LockHolder | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockHolder>;
    if (!Number.isInteger(value.pid) || (value.pid as number) <= 0 || typeof value.host !== 'string') return undefined;
    return { pid: value.pid as number, startTime: value.startTime ?? null, bootId: value.bootId ?? null, host: value.host, started: String(value.started ?? '?'), command: String(value.command ?? '?') };
  } catch {
    return undefined;
  }
}

// A lock is stale when its holder on this host is gone; another host's lock is never judged from here.
function isStale(entry: LockEntry): boolean {
  const holder = entry.holder;
  if (!holder) return Date.now() - entry.mtimeMs > UNREADABLE_GRACE_MS;
  if (holder.host !== os.hostname()) return false;
  return !isProcessAlive(holder.pid, holder.startTime, holder.bootId);
}

// Removes a stale lock under a per-lock guard (an abstract unix socket, which the kernel frees when its
// owner dies), re-checking under the guard that the file is still the stale one: two contenders that both
// saw it stale can never delete a fresh lock taken in between. False when another process holds the guard.
async function removeStale(file: string, seen: LockEntry, module: string, log: Logger): Promise<boolean> {
  const guard = await takeGuard(file);
  if (guard === 'busy') {
    await sleep(20, module);
    return false;
  }
  try {
    const entry = readLock(file);
    if (!entry || entry.raw !== seen.raw || !isStale(entry)) return true;
    unlinkSync(file);
    log.warn(`removed the stale lock of module "${module}": ${describeHolder(entry)} is no longer running`);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  } finally {
    guard?.close();
  }
}

// Binds the lock's guard socket; 'busy' when bound elsewhere, undefined where abstract sockets do not exist.
function takeGuard(file: string): Promise<net.Server | 'busy' | undefined> {
  let real = file;
  try {
    real = path.join(realpathSync(path.dirname(file)), path.basename(file));
  } catch {
    // keep the path as given
  }
  const name = `\0lifeboat-lock-${createHash('sha256').update(real).digest('hex').slice(0, 40)}`;
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EADDRINUSE' ? 'busy' : undefined));
    server.listen(name, () => {
      server.unref();
      resolve(server);
    });
  });
}

// The LOCKED error: who holds the lock, since when, and what to do.
function lockedError(module: string, file: string, entry: LockEntry, waitSeconds?: number): LifeboatError {
  const message = waitSeconds
    ? `module "${module}" is still locked by ${describeHolder(entry)} after waiting ${waitSeconds}s; wait for it or pass a longer --wait SECONDS`
    : `module "${module}" is locked by ${describeHolder(entry)}; wait for it or pass --wait SECONDS`;
  const elsewhere = entry.holder && entry.holder.host !== os.hostname();
  return new LifeboatError('LOCKED', message, {
    hint: elsewhere
      ? `the lock was taken on host ${entry.holder?.host}; if no lifeboat run is active there, delete ${file}`
      : `if no lifeboat run is active for "${module}", delete ${file}`,
  });
}

// "pid 123 (lifeboat backup linkding, started 2026-01-01T03:00:00.000Z)" plus the host when it is another one.
function describeHolder(entry: LockEntry): string {
  const holder = entry.holder;
  if (!holder) return `another run that is just starting (its lock file, created ${new Date(entry.mtimeMs).toISOString()}, is not written yet)`;
  const host = holder.host === os.hostname() ? '' : ` on host ${holder.host}`;
  return `pid ${holder.pid}${host} (${holder.command}, started ${holder.started})`;
}

// Our own entry for the lock file.
function describeSelf(options: LockOptions): LockHolder {
  const command = options.command ?? [path.basename(process.argv[1] ?? 'node'), ...process.argv.slice(2)].join(' ');
  return {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    bootId: currentBootId(),
    host: os.hostname(),
    started: new Date().toISOString(),
    command: options.log.masker.mask(command).slice(0, 300),
  };
}

// State (field 3) and start time (field 22) from /proc/<pid>/stat; the name in field 2 may hold spaces.
function readProcStat(pid: number): { state: string; startTime: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', startTime: fields[19] ?? '' };
  } catch {
    return undefined;
  }
}

let bootId: string | null | undefined;
// This boot's id: a lock from before a reboot is stale whatever its pid.
function currentBootId(): string | null {
  if (bootId === undefined) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || null;
    } catch {
      bootId = null;
    }
  }
  return bootId;
}

// Waits between attempts; Ctrl-C (the signal) ends the wait with INTERRUPTED.
function sleep(ms: number, module: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = () => reject(new LifeboatError('INTERRUPTED', `stopped waiting for the lock of module "${module}" (${String(signal?.reason ?? 'aborted')})`));
    if (signal?.aborted) return fail();
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      fail();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
