// The inside of `lifeboat internal-dump-redis` (redis-process.ts starts it): reads its request (the
// connection with the password, the key patterns, the label) from fd 3, writes the dump to stdout (the
// consumer's descriptor) and exits 0 only after the trailer was written. Any failure is thrown: the CLI
// prints it as `lifeboat: <message>` and exits non-zero, which the parent reports.
import { closeSync, readFileSync } from 'node:fs';
import { finished } from 'node:stream/promises';
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
  // Not ended by the copy: a failed dump must not look ended; the exit status says how it went.
  run.stream.pipe(out, { end: false });
  try {
    await Promise.all([finished(run.stream), run.done]);
    // Every byte written, not only queued.
    await new Promise<void>((resolve, reject) => {
      if (writeError) return reject(writeError);
      out.once('error', reject);
      out.write(Buffer.alloc(0), (error) => (error ? reject(error) : resolve()));
    });
  } catch (error) {
    run.abort('writing the dump failed');
    // The dump's own error names the database; a write error (the consumer went away) gets the label.
    const reason = await run.done.then(
      () => writeError ?? error,
      (dumpError: unknown) => dumpError,
    );
    if (reason instanceof LifeboatError) throw reason;
    throw new LifeboatError('DATABASE', log.masker.mask(`${request.label}: writing the dump failed: ${(reason as Error).message}`));
  }
}
