// The inside of `lifeboat internal-dump-redis` (redis-process.ts starts it): reads its request (the
// connection with the password, the key patterns, the label) from fd 3, writes the dump to stdout (the
// consumer's descriptor) and exits 0 only after the trailer was written. Any failure is thrown: the CLI
// prints it as `lifeboat: <message>` and exits non-zero, which the parent reports.
import { closeSync, readFileSync } from 'node:fs';
import { LifeboatError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { streamRedis } from './redis.js';
import type { RedisDumpRequest } from './redis-process.js';

const REQUEST_FD = 3;

// Reads the request; a malformed one is a bug in the parent (this command is not for people).
function readRequest(): RedisDumpRequest {
  let text: string;
  try {
    text = readFileSync(REQUEST_FD, 'utf8');
    closeSync(REQUEST_FD);
  } catch (error) {
    throw new LifeboatError('USAGE', `this command is run by Lifeboat itself, with its request on fd 3 (${(error as Error).message})`);
  }
  const request = JSON.parse(text) as RedisDumpRequest;
  if (typeof request?.label !== 'string' || typeof request.target !== 'object') throw new LifeboatError('USAGE', 'this command is run by Lifeboat itself: the request on fd 3 is not one');
  return request;
}

// Dumps into stdout; resolves when every byte (the trailer included) was written to it.
export async function runRedisDumpChild(log: Logger, signal?: AbortSignal): Promise<void> {
  const request = readRequest();
  log.masker.add(request.target.password);
  const run = streamRedis(request.target, request.keys, request.label, { log, signal });
  const out = process.stdout;
  let writeError: Error | undefined;
  // The consumer went away (EPIPE): the dump stops and this process fails.
  out.on('error', (error) => {
    writeError ??= error;
    run.abort('writing the dump failed');
  });
  // Waits for room in stdout (or its failure).
  const drained = () =>
    new Promise<void>((resolve) => {
      const wake = () => {
        out.off('drain', wake);
        out.off('error', wake);
        resolve();
      };
      out.on('drain', wake);
      out.on('error', wake);
    });
  try {
    // Each chunk's write callback runs once it reached the pipe; the last one's means every byte did.
    let written: Promise<void> = Promise.resolve();
    for await (const chunk of run.stream as AsyncIterable<Buffer>) {
      if (writeError) throw writeError;
      written = new Promise<void>((resolve, reject) => out.write(chunk, (error) => (error ? reject(error) : resolve())));
      written.catch(() => {});
      if (out.writableNeedDrain) await drained();
    }
    await run.done;
    await written;
    if (writeError) throw writeError;
  } catch (error) {
    run.abort('writing the dump failed');
    // The dump's own error names the database; a write error (the consumer went away) gets the label.
    const reason = await run.done.then(
      () => writeError ?? error,
      (dumpError: unknown) => writeError ?? dumpError,
    );
    if (reason instanceof LifeboatError) throw reason;
    throw new LifeboatError('DATABASE', log.masker.mask(`${request.label}: writing the dump failed: ${(reason as Error).message}`));
  }
}
