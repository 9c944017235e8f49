// Mutation testing of the pure core (`npm run mutation`; the score is in TESTING.md).
// Mutants are tested by the fast unit tests of vitest.mutation.config.ts, never the full suite.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: [
    'src/parts/**/*.ts',
    'src/config/**/*.ts',
    '!src/config/schema/**',
    'src/providers/retention.ts',
    'src/schedule/**/*.ts',
    'src/lifecycle/phases.ts',
    'src/lifecycle/runner.ts',
    'src/lifecycle/restore-swap.ts',
  ],
  coverageAnalysis: 'perTest',
  // A static mutant (a module-level table or constant) re-runs every test; see TESTING.md.
  ignoreStatic: true,
  concurrency: 2,
  timeoutMS: 10_000,
  reporters: ['clear-text', 'progress', 'html'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  incremental: false,
  tempDirName: '.stryker-tmp',
  // Other runs' scratch folders (one folder at a time, see TESTING.md) and old reports are not copied.
  ignorePatterns: ['/.stryker-tmp*', '/reports'],
  cleanTempDir: true,
};
