// A real long-running process to stand in for a module's service: `sleep` in its own session, its pid in a
// pidfile in a temp dir, driven by plain stop/start/isActive shell commands (as a module.yaml would hold them).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface FakeService {
  dir: string;
  pidFile: string;
  // The three commands, ready for `service:` in a module.yaml or for openService().
  stop: string;
  start: string;
  isActive: string;
  config: { stop: string; start: string; isActive: string };
  // The pid in the pidfile (the latest started process), if any.
  pid(): number | undefined;
  // True when the pidfile's process exists and is not a zombie.
  isRunning(): boolean;
  // Starts the service directly (test set-up) and waits until it runs.
  startNow(): Promise<void>;
  // SIGKILLs every process the service ever started and removes the temp dir.
  cleanup(): void;
}

// Creates the fake service in a new temp dir (or `dir`); running at once unless `running: false`.
export async function createFakeService(options: { running?: boolean; dir?: string } = {}): Promise<FakeService> {
  const dir = options.dir ?? mkdtempSync(path.join(os.tmpdir(), 'lifeboat-service-'));
  if (dir.includes("'")) throw new Error(`temp dir ${dir} must not contain a single quote`);
  const pidFile = path.join(dir, 'service.pid');
  const allPids = path.join(dir, 'all.pids');
  // The service writes its own pid (sh's $$, then exec sleep keeps that pid), so $! games are not needed.
  // It carries OWNER_VARIABLE=<dir> in its environment: pids wrap around (pid_max is 32768 here and a
  // full suite starts far more processes), so a pid alone may name another test's process by the time
  // anyone looks; every check and kill first asks whether the pid is still this service.
  const owner = `${OWNER_VARIABLE}=${dir}`;
  const body = `echo $$ >> "${allPids}"; echo $$ > "${pidFile}.tmp" && mv "${pidFile}.tmp" "${pidFile}"; ${owner} exec sleep 86400`;
  const start = `setsid /bin/sh -c '${body}' </dev/null >/dev/null 2>&1 &`;
  const mine = `tr '\\0' '\\n' < "/proc/$pid/environ" 2>/dev/null | grep -qxF '${owner}'`;
  const stop = `pid=$(cat '${pidFile}') && ${mine} && kill "$pid"`;
  const isActive = `pid=$(cat '${pidFile}' 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && ! grep -q ') Z' "/proc/$pid/stat" && ${mine}`;
  const pid = () => {
    try {
      const value = Number(readFileSync(pidFile, 'utf8').trim());
      return Number.isInteger(value) && value > 0 ? value : undefined;
    } catch {
      return undefined;
    }
  };
  const service: FakeService = {
    dir,
    pidFile,
    stop,
    start,
    isActive,
    config: { stop, start, isActive },
    pid,
    isRunning: () => isPidRunning(pid()) && ownsProcess(pid()!, dir),
    async startNow() {
      execFileSync('/bin/sh', ['-c', start]);
      const deadline = Date.now() + 5000;
      while (!service.isRunning()) {
        if (Date.now() > deadline) throw new Error(`fake service in ${dir} did not start`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    cleanup() {
      let pids: string[] = [];
      try {
        pids = readFileSync(allPids, 'utf8').split('\n').filter(Boolean);
      } catch {
        // never started
      }
      for (const value of pids) killIfOwned(Number(value), dir);
      if (!options.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  if (options.running !== false) await service.startNow();
  return service;
}

// True when a process exists and is not a zombie (a killed, orphaned sleep may wait to be reaped).
export function isPidRunning(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

// The variable that marks a test's own long-lived processes (see createFakeService).
export const OWNER_VARIABLE = 'LIFEBOAT_TEST_OWNER';

// True while `pid` is a process that was started with OWNER_VARIABLE=owner in its environment.
export function ownsProcess(pid: number, owner: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`${OWNER_VARIABLE}=${owner}`);
  } catch {
    return false;
  }
}

// SIGKILLs `pid` only if it is still the process marked with `owner` (never a recycled pid).
export function killIfOwned(pid: number, owner: string): void {
  if (!ownsProcess(pid, owner)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone in between
  }
}

// SIGKILLs `pid` only if its command line is still `command` (a test's own `sleep 3600`, say): by the
// time a clean-up runs, the pid may have been recycled for another test's process.
export function killIfCommand(pid: number, command: string[]): void {
  try {
    if (readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== `${command.join('\0')}\0`) return;
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}
