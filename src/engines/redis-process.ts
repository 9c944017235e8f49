// A Redis dump streamed into a repository runs as a process of its own, like pg_dump: Lifeboat itself
// (`lifeboat internal-dump-redis`, a hidden command; redis-child.ts) with the consumer's descriptor
// (restic's stdin, the write end of borg's pipe) as its stdout. The bytes never pass through the Lifeboat
// that runs the backup, so when that one alone is killed (kill -9) the dump still goes on to its trailer
// and restic or borg never commits a dump cut short by Lifeboat's death.
// The connection (with the password) and the key patterns travel as one JSON document on the child's fd 3,
// a pipe written and closed at once: never in argv, the environment or a file.
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { PROJECT_DIR } from '../config/paths.js';
import { LifeboatError } from '../errors.js';
import { start, tail } from '../process/runner.js';
import { toolEnvironment } from '../process/tool-env.js';
import { stderrSummary, stopper } from './process.js';
import type { RedisTarget } from './resp.js';
import type { DumpOutput, DumpRun, EngineContext } from './types.js';

// The hidden command the child runs (src/cli/main.ts).
export const REDIS_DUMP_COMMAND = 'internal-dump-redis';

// What the child reads on fd 3.
export interface RedisDumpRequest {
  target: RedisTarget;
  keys?: string[];
  label: string;
}

const KILL_AFTER_MS = 5000;

// Starts the child; `done` resolves when it exited 0 (it wrote the trailer), rejects naming the database
// and what the child said otherwise (killed, exit status, its `lifeboat: ...` message).
export function dumpRedisProcess(request: RedisDumpRequest, ctx: EngineContext, output: DumpOutput): DumpRun {
  const { label } = request;
  ctx.log.debug(`running lifeboat ${REDIS_DUMP_COMMAND} (${label}), its stdout straight into the consumer`);
  // Not its own process group, as pg_dump: abort() reaches it, and it outlives a Lifeboat killed alone.
  const proc = start(process.execPath, {
    args: [path.join(PROJECT_DIR, 'bin', 'lifeboat'), REDIS_DUMP_COMMAND],
    env: toolEnvironment({ PATH: ctx.env.PATH }),
    stdio: ['ignore', output, 'pipe'],
    extraFds: [JSON.stringify(request)],
    killAfterMs: KILL_AFTER_MS,
  });
  const closed = proc.closed;
  const stderr = tail(proc.child.stderr!, 64 * 1024);
  const stopping = stopper(proc, ctx.signal);
  const done = closed.then(({ code, signal, error }) => {
    stopping.detach();
    const aborted = stopping.reason();
    if (error && proc.child.pid === undefined) throw new LifeboatError('DATABASE', `${label}: the dump process could not start: ${error.message}`, { cause: error });
    if (code === 0 && !aborted) return;
    const said = stderr.text();
    if (aborted) throw new LifeboatError('INTERRUPTED', ctx.log.masker.mask(`${label}: the dump was stopped (${aborted})`));
    // The child's own error already names the database: `lifeboat: Redis ...: dump failed: ...`.
    const own = said
      .split('\n')
      .filter((line) => line.startsWith('lifeboat: ') && !line.startsWith('lifeboat: hint: '))
      .map((line) => line.slice('lifeboat: '.length))
      .join(' | ');
    if (code !== null && own) throw new LifeboatError('DATABASE', ctx.log.masker.mask(own.startsWith(label) ? own : `${label}: ${own}`));
    const how = signal ? `was killed by ${signal}` : `failed (exit ${code})`;
    const detail = stderrSummary(said);
    throw new LifeboatError('DATABASE', ctx.log.masker.mask(`${label}: the dump process (lifeboat ${REDIS_DUMP_COMMAND}) ${how}${detail ? `: ${detail}` : ''}`));
  });
  done.catch(() => {});
  return { stream: new PassThrough().end().resume(), done, abort: stopping.stop, direct: true };
}
