// The end-of-run summary of `backup`: one line per module and repository with files, bytes total and stored,
// and duration; nothing with -q or --json.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { requireTool } from './tools.js';

let t: TestRoot;
afterEach(() => t?.cleanup());

describe('end-of-run summary', () => {
  it('prints one line per module and repository, and nothing with -q', async (ctx) => {
    requireTool('restic', ctx);
    t = makeRoot();
    const pass = path.join(t.dir, 'pass');
    writeFileSync(pass, 'summary-test-password\n', { mode: 0o600 });
    t.write('lifeboat.yaml', stringify({ repositories: { one: { provider: 'restic', url: path.join(t.dir, 'r1'), passwordFile: pass }, two: { provider: 'restic', url: path.join(t.dir, 'r2'), passwordFile: pass } } }));
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'a.bin'), Buffer.alloc(3000, 1));
    writeFileSync(path.join(data, 'b.bin'), Buffer.alloc(2000, 2));
    t.module('web', { folders: [data] });
    t.module('wiki', { folders: [data], repositories: ['one'] });
    t.part('pre-backup', '40fail', '#!/bin/sh\nexit 1\n', 'wiki');

    const run = await lifeboat(t, ['backup']);
    expect(run.exitCode).toBe(1);
    const summary = run.stdout.split('\n').filter((line) => line.startsWith('summary '));
    expect(summary).toHaveLength(3);
    expect(summary[0]).toMatch(/^summary web one: 2 files, 4\.9 KiB total, \d+(\.\d)? (B|KiB) stored, \d+\.\ds$/);
    expect(summary[1]).toMatch(/^summary web two: 2 files, 4\.9 KiB total, \d+(\.\d)? (B|KiB) stored, \d+\.\ds$/);
    expect(summary[2]).toMatch(/^summary wiki: no snapshot \(failed\), \d+\.\ds$/);

    const quiet = await lifeboat(t, ['backup', 'web', '-q']);
    expect(quiet.exitCode).toBe(0);
    // -q prints nothing on success, not even the module's result line.
    expect(quiet.stdout).toBe('');
    expect(quiet.stderr).toBe('');
    // A failed module still gets its line (and its errors on stderr): cron mails only then.
    const failed = await lifeboat(t, ['-q', 'backup']);
    expect(failed.exitCode).toBe(1);
    expect(failed.stdout).toBe('backup wiki: FAILED (pre-backup/40fail: exited with status 1)');
    const json = await lifeboat(t, ['backup', 'web', '--json']);
    expect(JSON.parse(json.stdout).ok).toBe(true);
  });
});
