// Issue 13's fresh-eyes findings on the unattended scheduled job: each case as the operator meets it
// (the real CLI, real restic/tar, receivers on 127.0.0.1), with the exact lines and exit codes.
import { afterEach, describe, expect, it } from 'vitest';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { requireTool } from './tools.js';

let t: TestRoot;
afterEach(() => t?.cleanup());

describe('finding 1: a keyed tar repository and a changed passphrase', () => {
  it('refuses the backup (exit 2, naming the repository and the fix) and retention keeps the old archives', async () => {
    t = makeRoot({ repositories: {} });
    const goodPass = path.join(t.dir, 'good.pass');
    const badPass = path.join(t.dir, 'bad.pass');
    writeFileSync(goodPass, 'the-good-passphrase\n', { mode: 0o600 });
    writeFileSync(badPass, 'another-passphrase\n', { mode: 0o600 });
    const repo = path.join(t.dir, 'tar');
    const config = (pass: string) => stringify({ repositories: { t: { provider: 'tar', url: repo, passwordFile: pass, compression: 'none' } } });
    t.write('lifeboat.yaml', config(goodPass));
    t.dataModule('m', { retention: { keepLast: 3 } });
    let run = await lifeboat(t, ['-q', 'backup', 'm']);
    expect(run.exitCode, run.stderr + run.stdout).toBe(0);
    const archives = readdirSync(path.join(repo, 'm')).sort();
    t.write('lifeboat.yaml', config(badPass));
    run = await lifeboat(t, ['backup', 'm']);
    const newest = archives.find((name) => name.endsWith('.tar.age'))!;
    const message = `repository t: the newest snapshot of module m does not open with the configured key: ${path.join(repo, 'm', newest)}: cannot be decrypted with the passphrase in passwordFile ${badPass}: wrong key; set passwordFile (or passwordCommand) to the passphrase the archive was made with; a backup with another key would let retention delete the archives only the earlier key opens (or move the old archives aside to start the repository anew)`;
    expect(run.stderr).toBe(`lifeboat: ${message}`);
    expect(run.stdout).toBe('');
    expect(run.exitCode).toBe(2);
    // Every scheduled run is refused the same way: nothing new, nothing removed.
    for (let i = 0; i < 2; i++) expect((await lifeboat(t, ['-q', 'backup'])).exitCode).toBe(2);
    expect(readdirSync(path.join(repo, 'm')).sort()).toEqual(archives);
  });
});

describe('finding 3: retention in the repositories a partly failed backup wrote to', () => {
  it('forgets in the healthy repository while another one is down (exit 1 each run)', async (ctx) => {
    requireTool('restic', ctx);
    t = makeRoot({ repositories: {} });
    const pass = path.join(t.dir, 'pass');
    writeFileSync(pass, 'correct-horse-battery\n', { mode: 0o600 });
    const repo = path.join(t.dir, 'restic');
    t.write('lifeboat.yaml', stringify({ repositories: { local: { provider: 'restic', url: repo, passwordFile: pass }, off: { provider: 'restic', url: 'rest:http://127.0.0.1:1/x', passwordFile: pass } } }));
    t.dataModule('m', { repositories: ['local', 'off'], retention: { keepLast: 1 } });
    for (let i = 0; i < 3; i++) {
      const run = await lifeboat(t, ['-q', 'backup', 'm']);
      expect(run.exitCode, run.stdout + run.stderr).toBe(1);
      expect(run.stdout).toMatch(/^backup m: FAILED local:[0-9a-f]{8}.*\(backup\/50snapshot: snapshot failed in 1 repository\(ies\): off: /);
      if (i > 0) expect(run.stdout).toMatch(/; retention removed local:[0-9a-f]{8,} \(backup\/50snapshot: /);
    }
    const listed = await lifeboat(t, ['snapshots', 'm', '--repo', 'local', '--json']);
    expect((JSON.parse(listed.stdout) as unknown[]).length, listed.stdout).toBe(1);
  });
});
