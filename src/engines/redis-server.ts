// A throwaway redis-server for the restore drill: no TCP port, a unix socket in a private 0700 folder, no
// persistence (nothing is ever written to disk), stopped and removed again by `stop()`.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LifeboatError } from '../errors.js';
import { runToEnd, start } from '../process/runner.js';
import { toolPath } from '../process/tool-env.js';
import { which } from '../process/which.js';
import { SCRATCH_HINT } from './scratch.js';
import type { EngineContext } from './types.js';

const READY_TIMEOUT_MS = 10_000;

export interface ScratchRedis {
  socket: string;
  version: string;
  stop(): Promise<void>;
}

// Starts the server and resolves once it accepts connections on its socket.
export async function startScratchRedis(ctx: EngineContext): Promise<ScratchRedis> {
  const binary = which('redis-server', ctx.env.PATH ?? toolPath());
  if (!binary) {
    throw new LifeboatError('DATABASE', 'redis-server is not installed: the restore drill loads Redis dumps into a throwaway redis-server', {
      hint: `install it (Debian: apt-get install redis-server), or ${SCRATCH_HINT}`,
    });
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-redis-'));
  const socket = path.join(dir, 'redis.sock');
  const args = ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'];
  const proc = start(binary, { args, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: ctx.env.PATH ?? toolPath() }, killAfterMs: 5000 });
  const child = proc.child;
  let output = '';
  const collect = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-4096));
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = proc.closed;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      proc.stop('SIGTERM');
      await exited;
      proc.dispose();
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForSocket(socket, () => child.exitCode !== null || child.signalCode !== null, ctx.signal);
  } catch (error) {
    await stop();
    const said = output.trim().split('\n').slice(-3).join(' | ');
    throw new LifeboatError('DATABASE', `the throwaway redis-server did not start: ${(error as Error).message}${said ? `: ${said}` : ''}`, { hint: SCRATCH_HINT, cause: error });
  }
  return { socket, version: await serverVersion(binary), stop };
}

// Polls until the socket accepts a connection; fails when the server exited or after the timeout.
async function waitForSocket(socket: string, exited: () => boolean, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  // Its plain errors are reasons: startScratchRedis wraps them into a DATABASE error with its hint.
  for (;;) {
    if (exited()) throw new Error('it exited');
    if (signal?.aborted) throw new LifeboatError('INTERRUPTED', `stopped (${String(signal.reason ?? 'aborted')})`);
    const ok = await new Promise<boolean>((resolve) => {
      const probe = net.connect({ path: socket });
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`its socket did not open within ${READY_TIMEOUT_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

// `7.0.15` from `redis-server --version`.
async function serverVersion(binary: string): Promise<string> {
  const result = await runToEnd(binary, { args: ['--version'], stdio: ['ignore', 'pipe', 'ignore'] });
  if (result.error) return 'unknown';
  return /v=([\d.]+)/.exec(result.stdout.toString('utf8'))?.[1] ?? 'unknown';
}
