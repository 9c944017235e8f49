// `check` prints each finding once: warnings of every kind (a stray folder, a part run-parts ignores, a
// disabled module, no retention, no schedule) are rows of the table and never repeated on stderr.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';

let t: TestRoot;
afterAll(() => t?.cleanup());

describe('check', () => {
  it('prints each warning once, in the table, and nothing on stderr', async () => {
    t = makeRoot();
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    t.module('web', { folders: [data] });
    t.module('off', { folders: [data], enabled: false });
    t.write('modules/web.bak/module.yaml', `folders: [${data}]\n`);
    t.part('pre-backup', '10a.sh', '#!/bin/sh\nexit 0\n');
    const run = await lifeboat(t, ['check']);
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.stderr).toBe('');
    const warnings = run.stdout.split('\n').filter((line) => line.startsWith('WARN'));
    const expected = [
      /^WARN +modules\/web\.bak\/ +is not a module name/,
      /^WARN +\S+\/hooks\.d\/pre-backup\/10a\.sh +run-parts' rules ignore this name/,
      /^WARN +module web +has no retention/,
      /^WARN +module off +DISABLED \(enabled: false\)/,
      /^WARN +module web +no schedule/,
    ];
    for (const pattern of expected) expect(warnings.filter((line) => pattern.test(line)), String(pattern)).toHaveLength(1);
    expect(warnings).toHaveLength(expected.length);
  });
});
