// The validators precompiled at build time (dist/src/config/validators.cjs) agree with ajv compiling the
// schemas at run time, on valid and invalid documents.
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import path from 'node:path';
import { compileValidators } from '../../src/config/validate.js';
import { PROJECT } from '../helpers/root.js';

const built = createRequire(import.meta.url)(path.join(PROJECT, 'dist/src/config/validators.cjs'));
const runtime = compileValidators();

const documents: Array<['lifeboat' | 'module', unknown]> = [
  ['module', { folders: ['/srv'], service: { systemd: 42 } }],
  ['module', { folder: ['/srv'], retention: { keepLast: 'three' }, enabled: 'yes' }],
  ['module', { folders: ['relative'], databases: [{ postgres: { database: 'x' }, mysql: { database: 'y' } }] }],
  ['module', { folders: ['/srv'], schedule: '0 3 * * *', repositories: ['local'] }],
  ['lifeboat', { repositories: { local: { provider: 'restic', url: '/x', pasword: 'x' } } }],
  ['lifeboat', { repositories: { 'Bad Name': { provider: 'tar' } }, notify: [{ webhook: 'ftp://x' }] }],
  ['lifeboat', { repositories: { local: { provider: 'tar', url: '/x' } }, defaults: { retention: { keepDaily: 7 } } }],
];

describe('precompiled validators', () => {
  it.each(documents)('%s document gives the same verdict and errors', (kind, doc) => {
    const a = built[kind](doc);
    const b = runtime[kind](doc);
    expect(a).toBe(b);
    const shape = (errors: Array<{ instancePath: string; keyword: string; params: unknown }> | null) => (errors ?? []).map((e) => `${e.instancePath} ${e.keyword} ${JSON.stringify(e.params)}`);
    expect(shape(built[kind].errors)).toEqual(shape(runtime[kind].errors));
  });
});
