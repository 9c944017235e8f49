// Streamed database dumps for the borg provider, borgmatic's way: each dump is served through a named pipe
// at its path in the module's state dir, and `borg create --read-special` archives what it reads from the
// pipe as a regular file (restore needs nothing special). A dump starts only when borg opens its pipe.
// The write end stays open until the dump process has exited: on success it is closed (borg sees the end
// of the file); on failure borg is killed first, so no archive is written. Pipes are removed afterwards.
// Only Lifeboat opens the write ends, so borg runs with dieWithParent (index.ts, createStreaming): killed
// with Lifeboat, it neither waits for ever on the next pipe holding the lock nor saves a cut dump.
// A dump tool (Lifeboat's own Redis dump process too) gets the write end as its stdout
// (LIFEBOAT_DUMP_DIRECT=0: the dump is copied into the pipe).
// --read-special would also read other special files in the folders (a FIFO there would hang borg), so
// they are found first and excluded, as borgmatic does.
import { constants, mkdirSync, open as openCallback, rmSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import net from 'node:net';
import path from 'node:path';
import { LifeboatError } from '../../src/errors.js';
import { directDumps, feed } from '../../src/engines/pump.js';
import { runSync } from '../../src/process/runner.js';
import type { Logger } from '../../src/log/logger.js';
import type { StreamSource } from '../../src/providers/types.js';

const POLL_MS = 50;
const openFd = promisify(openCallback);

export interface FifoServer {
  // Resolves when every dump went through its pipe; rejects at the first failing dump (pipes stay open).
  done: Promise<void>;
  // Labels of dumps borg has not read to the end (it never opened their pipe).
  unread(): string[];
  // Aborts unfinished dumps, closes and removes every pipe.
  close(): void;
}

// Creates the pipes and waits, for each, until borg opens it.
export function serveFifos(sources: StreamSource[], log: Logger): FifoServer {
  let closed = false;
  const sockets: net.Socket[] = [];
  const runs: Array<{ abort(reason?: string): void }> = [];
  const finished = new Set<string>();
  for (const source of sources) {
    mkdirSync(path.dirname(source.path), { recursive: true, mode: 0o700 });
    rmSync(source.path, { force: true });
    const made = runSync('mkfifo', { args: ['-m', '600', source.path] });
    if (made.code !== 0) throw new LifeboatError('PROVIDER', `cannot create the pipe ${source.path} for ${source.label}: ${made.stderr.trim() || made.error?.message}`);
  }
  // Serves one pipe: opens its write end once borg reads, then feeds the dump through it.
  const serve = async (source: StreamSource): Promise<void> => {
    let fd: number | undefined;
    while (fd === undefined) {
      if (closed) return;
      try {
        fd = await openFd(source.path, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENXIO') throw error;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    }
    const socket = new net.Socket({ fd, readable: false, writable: true });
    sockets.push(socket);
    log.debug(`borg opened ${source.path}; starting the dump of ${source.label}`);
    // Unless LIFEBOAT_DUMP_DIRECT=0, a dump tool writes into the pipe itself (its stdout is this descriptor,
    // made blocking for it); this process's copy keeps the pipe open until the tool has exited.
    const run = source.open(directDumps() ? fd : undefined);
    runs.push(run);
    await feed(run, socket);
    await new Promise<void>((resolve) => socket.end(resolve));
    finished.add(source.label);
  };
  const done = Promise.all(sources.map(serve)).then(() => undefined);
  done.catch(() => {});
  return {
    done,
    unread: () => sources.filter((source) => !finished.has(source.label)).map((source) => source.label),
    close() {
      closed = true;
      for (const run of runs) run.abort('the backup stopped');
      for (const socket of sockets) socket.destroy();
      for (const source of sources) rmSync(source.path, { force: true });
    },
  };
}

// Sockets, FIFOs and device files under the paths (borg --read-special would read them): their paths.
export async function findSpecialFiles(roots: string[], skip: Set<string>): Promise<string[]> {
  const found: string[] = [];
  const visit = async (file: string): Promise<void> => {
    if (skip.has(file)) return;
    let stat;
    try {
      stat = await lstat(file);
    } catch {
      return;
    }
    if (stat.isDirectory()) {
      let names: string[];
      try {
        names = await readdir(file);
      } catch {
        return;
      }
      for (const name of names) await visit(path.join(file, name));
    } else if (stat.isFIFO() || stat.isCharacterDevice() || stat.isBlockDevice()) {
      found.push(file);
    }
  };
  for (const root of roots) await visit(root);
  return found;
}
