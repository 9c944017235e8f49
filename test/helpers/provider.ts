// Builds what a provider factory gets (ProviderInput) for tests, with a quiet logger.
import type { RepositoryConfig } from '../../src/config/types.js';
import { Logger } from '../../src/log/logger.js';
import type { ProviderInput } from '../../src/providers/types.js';

export interface InputDirs {
  root: string;
  stateDir: string;
}

// A ProviderInput for one repository named `local` (or `name`); `secrets` collects what addSecret got.
export function providerInput(config: RepositoryConfig, dirs: InputDirs, options: { name?: string; secrets?: string[] } = {}): ProviderInput {
  const name = options.name ?? 'local';
  return {
    name,
    config,
    root: { root: dirs.root, stateDir: dirs.stateDir, global: { repositories: { [name]: config }, defaults: {}, notify: [] }, rootEnv: {}, host: 'testhost', moduleNames: [] },
    addSecret: (...values) => options.secrets?.push(...values.filter((v): v is string => v !== undefined)),
  };
}

// A logger that prints only warnings and errors (set LIFEBOAT_TEST_LOG=debug to see everything).
export function testLogger(): Logger {
  return new Logger({ level: process.env.LIFEBOAT_TEST_LOG === 'debug' ? 'debug' : 'warn' });
}
