// Feeding a streamed dump into a consumer (restic's stdin, a FIFO borg reads) so that a dump that fails
// half-way can never look complete: the consumer's input is left open until the dump has finished, and the
// caller ends it only on success (on failure it kills the consumer first, so no snapshot is written).
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type { DumpRun } from './types.js';

// Copies the dump into `sink` with backpressure, never ending `sink`. Resolves once every byte was handed
// to `sink` and the producer exited successfully; rejects with the producer's error (which names the
// database and carries its stderr) or with the sink's error (the producer is then aborted).
// A direct run (its tool writes into the consumer's descriptor itself) has nothing to copy: this only
// waits for the producer; the caller's copy of the descriptor keeps the consumer's input open meanwhile.
export function feed(run: Pick<DumpRun, 'stream' | 'done' | 'abort' | 'direct'>, sink: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      run.stream.unpipe(sink);
      reject(error);
    };
    // Stays attached: a consumer killed after a failure must not crash the process with EPIPE.
    const onSinkError = (error: Error) => {
      if (settled) return;
      run.abort(`the consumer stopped reading: ${error.message}`);
      // Prefer the producer's own reason when it has one.
      run.done.then(() => fail(error), fail);
    };
    sink.on('error', onSinkError);
    if (!run.direct) run.stream.pipe(sink, { end: false });
    Promise.all([run.direct ? undefined : finished(run.stream), run.done]).then(
      () => {
        if (!settled) {
          settled = true;
          resolve();
        }
      },
      (error: unknown) => run.done.then(() => fail(error), fail),
    );
  });
}

// Whether a dump tool gets its consumer's descriptor as its stdout (the default) instead of being copied
// through Lifeboat (LIFEBOAT_DUMP_DIRECT=0). Redis's dump, which Lifeboat makes itself, then runs as a
// process of its own too (src/engines/redis-process.ts). Direct is the default for safety, not speed: when
// Lifeboat alone is killed (kill -9) the dump process goes on writing to the end, so restic or borg never
// commits a dump cut short by Lifeboat's death (copied, Lifeboat's death looked like its end). It also
// uses less CPU and memory; wall time was about the same on a busy 2-core machine (BENCHMARKS.md).
export function directDumps(): boolean {
  return process.env.LIFEBOAT_DUMP_DIRECT !== '0';
}
