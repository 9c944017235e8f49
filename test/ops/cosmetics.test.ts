// What a person reads after a run: a module that was locked says by whom without an empty "(:" part
// name, and borg archives are shown by ids that tell them apart (their names share a long prefix).
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { requireTool } from './tools.js';

let t: TestRoot;
afterEach(() => t?.cleanup());

async function waitFor(ready: () => boolean): Promise<void> {
  while (!ready()) await new Promise((resolve) => setTimeout(resolve, 100));
}

describe('the end-of-run lines', () => {
  it('a locked module says who holds it, with no empty part name', async () => {
    t = makeRoot();
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'file.txt'), 'hello\n');
    t.module('blog', { folders: [data] });
    const gate = path.join(t.dir, 'gate');
    t.part('pre-backup', '10hold', `#!/bin/sh\ntouch '${gate}.held'\nwhile [ ! -e '${gate}' ]; do sleep 0.1; done\n`, 'blog');
    const holder = lifeboat(t, ['backup', 'blog']);
    await waitFor(() => existsSync(`${gate}.held`));
    const second = await lifeboat(t, ['backup', 'blog']);
    writeFileSync(gate, '');
    expect((await holder).exitCode).toBe(0);
    expect(second.exitCode).toBe(3);
    expect(second.stdout).toMatch(/^backup blog: skipped: locked by pid \d+ \(.*backup blog, started \d{4}-\d\d-\d\dT[\d:.]+Z\); pass --wait SECONDS to wait for it$/m);
    expect(second.stdout).not.toContain('(:');
  }, 120_000);

  it('borg archives of the same day are shown by ids that differ', async (ctx) => {
    requireTool('borg', ctx);
    t = makeRoot();
    const pass = path.join(t.dir, 'pass');
    writeFileSync(pass, 'short-ids\n', { mode: 0o600 });
    t.write('lifeboat.yaml', stringify({ repositories: { vault: { provider: 'borg', url: path.join(t.dir, 'borg'), passwordFile: pass } } }));
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'file.txt'), 'hello\n');
    t.module('blog', { folders: [data] });
    const shown: string[] = [];
    for (let i = 0; i < 2; i++) {
      const run = await lifeboat(t, ['backup', 'blog']);
      expect(run.exitCode, run.stderr).toBe(0);
      shown.push(/^backup blog: ok vault:(\S+)$/m.exec(run.stdout)![1]);
    }
    const ids = (JSON.parse((await lifeboat(t, ['snapshots', 'blog', '--json'])).stdout) as Array<{ id: string }>).map((s) => s.id);
    // The whole archive name: a cut one would be "blog-2026112" for both.
    expect(shown).toEqual(ids);
    expect(new Set(shown).size).toBe(2);
    const table = (await lifeboat(t, ['snapshots', 'blog'])).stdout.trim().split('\n').slice(1).map((line) => line.split(/ {2,}/)[0]);
    expect(table).toEqual(ids);
  }, 120_000);
});
