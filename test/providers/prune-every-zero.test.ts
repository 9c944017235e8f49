// prune: { every: 0 } as the YAML number (the way README and init --example write it) is accepted and
// prunes after every forget that removed something, with a log line that says so; another number is a
// configuration error naming the key.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { requireTool } from '../ops/tools.js';

let t: TestRoot;
afterEach(() => t?.cleanup());

describe('prune.every 0', () => {
  it('the number 0 prunes after each forget; 5 is refused naming the key', async (ctx) => {
    requireTool('restic', ctx);
    t = makeRoot();
    const pass = path.join(t.dir, 'pass');
    writeFileSync(pass, 'prune-zero\n', { mode: 0o600 });
    const config = (every: unknown) => t.write('lifeboat.yaml', stringify({ repositories: { local: { provider: 'restic', url: path.join(t.dir, 'r'), passwordFile: pass, prune: { every } } } }));
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'a.txt'), 'a\n');
    t.module('m1', { folders: [data], retention: { keepLast: 1 } });
    config(5);
    const refused = await lifeboat(t, ['backup', 'm1']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('lifeboat.yaml: /repositories/local/prune/every must be <= 0, got 5 (a number and h, d or w (12h, 7d, 2w), or 0 (the number or the string))');
    config(0);
    for (let i = 0; i < 3; i++) {
      const run = await lifeboat(t, ['backup', 'm1', '--json']);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).modules[0].pruned).toEqual(i === 0 ? [] : ['local']);
      if (i > 0) expect(run.stderr).toMatch(/m1 in local: pruned \(freed the space of forgotten snapshots\) in \d+\.\ds; the next prune runs after the next forget that removes something \(prune\.every 0\)\n/);
    }
  }, 180_000);
});
