// `init --force` on a root in use adds what is missing and never overwrites: a new repository password
// file would make every existing snapshot unreadable.
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { lifeboat } from '../helpers/root.js';

describe('init --force', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the password file, lifeboat.yaml and module.yaml that are there, and says so', async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-init-'));
    const t = { root: path.join(dir, 'root'), stateDir: path.join(dir, 'state') };
    expect((await lifeboat(t, ['init'])).exitCode).toBe(0);
    const before = ['repository.pass', 'lifeboat.yaml', 'modules/example/module.yaml'].map((file) => readFileSync(path.join(t.root, file), 'utf8'));
    const again = await lifeboat(t, ['init', '--example', '--force']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toContain('kept what was there (--force never overwrites)');
    const after = ['repository.pass', 'lifeboat.yaml', 'modules/example/module.yaml'].map((file) => readFileSync(path.join(t.root, file), 'utf8'));
    expect(after).toEqual(before);
    expect((await lifeboat(t, ['check'])).exitCode).not.toBe(2);
  });
});
