import { defineConfig } from 'vitest/config';

// The fast tests that import the pure core from src/ directly, for `npm run mutation` (Stryker's
// dry run and every mutant run use only these; the full suite runs the built CLI and real engines).
export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/providers/retention.test.ts'],
    // Needs a real process.umask(): Stryker runs tests in worker threads (see umask-in-workers.ts).
    exclude: ['test/unit/umask.test.ts'],
    setupFiles: ['test/unit/umask-in-workers.ts'],
    testTimeout: 30_000,
    pool: 'forks',
    maxWorkers: 1,
  },
});
