// Setup file of vitest.mutation.config.ts only. Stryker's vitest runner runs the tests in worker threads,
// where Node refuses to set process.umask(); the code under test sets it around each spawn. Here the
// setting is kept in a variable instead, so those tests run; what a part's umask really is, is checked
// by test/unit/umask.test.ts, which runs in `npm test` (forked processes) and not under Stryker.
import { isMainThread } from 'node:worker_threads';

if (!isMainThread) {
  let mask = process.umask();
  process.umask = ((value?: number | string) => {
    if (value === undefined) return mask;
    const previous = mask;
    mask = typeof value === 'string' ? parseInt(value, 8) : value;
    return previous;
  }) as typeof process.umask;
}
