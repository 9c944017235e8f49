// restore --target leaves everything live alone: a module's own pre-restore, restore and post-restore
// parts (a Clan-style postRestore drops and reloads the live database) are not run; finally parts are.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';

describe('restore --target and the module own restore parts', () => {
  let t: TestRoot;
  afterEach(() => t.cleanup());

  it('are not run (named in the log); in place they are', { timeout: 120_000 }, async () => {
    t = makeRoot();
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'f'), 'x\n');
    t.module('m', { folders: [data] });
    const seen = path.join(t.dir, 'seen');
    for (const phase of ['pre-restore', 'restore', 'post-restore', 'finally']) t.part(phase, '50mark', `#!/bin/sh\necho ${phase} >> "${seen}"\n`, 'm');
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    const aside = await lifeboat(t, ['restore', 'm', '--target', path.join(t.dir, 'copy')]);
    expect(aside.exitCode, aside.stderr).toBe(0);
    // the backup's finally, then the --target restore's finally only
    expect(readFileSync(seen, 'utf8')).toBe('finally\nfinally\n');
    expect(aside.stderr).toContain('post-restore/50mark: not run: a --target restore runs only the built-in parts');
    expect(existsSync(path.join(t.dir, 'copy', data, 'f'))).toBe(true);
    const inPlace = await lifeboat(t, ['restore', 'm', '--no-safety-snapshot']);
    expect(inPlace.exitCode, inPlace.stderr).toBe(0);
    expect(readFileSync(seen, 'utf8')).toBe('finally\nfinally\npre-restore\nrestore\npost-restore\nfinally\n');
  });
});
