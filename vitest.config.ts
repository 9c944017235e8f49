import { defineConfig } from 'vitest/config';

// Tests run real tools (restic, borg, databases, processes): generous timeouts, two workers for two cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
