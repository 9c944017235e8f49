// A script provider written the way Clan documents its tar example (test/fixtures/providers/clan-tar/),
// run through the shared suite. GNU tar keeps whole-second mtimes; scripts get no exclude patterns.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createScriptProvider } from '../../src/providers/script.js';
import { providerInput } from '../helpers/provider.js';
import { testProvider } from './suite.js';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'providers', 'clan-tar');

testProvider(
  'script (clan-tar)',
  ({ url, root, stateDir }) => createScriptProvider('clan-tar', FIXTURE, providerInput({ provider: 'clan-tar', url }, { root, stateDir })),
  { mtimeResolutionMs: 1000, excludes: false, keepsMetadata: false, listOfUnusable: 'empty' },
);
