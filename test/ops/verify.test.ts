// The restore drill through the real CLI: passes on a good restic repository, fails after one byte of a
// pack file changes, fails when a restored file differs from the manifest (script provider), runs the
// module's verify parts against the scratch restore, journals the result and cleans up.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { requireTool } from './tools.js';

let t: TestRoot;
let data: string;

// A small tree: text, a binary file, a subfolder, a symlink, an odd mode.
function makeData(dir: string): void {
  mkdirSync(path.join(dir, 'sub'), { recursive: true });
  writeFileSync(path.join(dir, 'notes.txt'), 'hello\n');
  writeFileSync(path.join(dir, 'sub', 'blob.bin'), randomBytes(200_000));
  writeFileSync(path.join(dir, 'sub', 'script.sh'), '#!/bin/sh\n', { mode: 0o750 });
}

afterEach(() => t.cleanup());

describe('verify with restic', () => {
  beforeEach(() => {
    requireTool('restic');
    t = makeRoot();
    writeFileSync(path.join(t.dir, 'restic.pass'), 'verify-test-password\n', { mode: 0o600 });
    t.write('lifeboat.yaml', stringify({ repositories: { local: { provider: 'restic', url: path.join(t.dir, 'repo'), passwordFile: path.join(t.dir, 'restic.pass') } } }));
    data = path.join(t.dir, 'data');
    makeData(data);
    t.module('blog', { folders: [data] });
  });

  it('passes on a good repository, journals it, runs the verify parts on the scratch restore and removes it', async () => {
    t.part('verify', '50look', `#!/bin/sh\ncat "$LIFEBOAT_TARGET${data}/notes.txt" > "${t.dir}/seen"\necho "$LIFEBOAT_SNAPSHOT" >> "${t.dir}/seen"\n`, 'blog');
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    const run = await lifeboat(t, ['verify', 'blog', '--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ ok: true, modules: [{ module: 'blog', ok: true, error: null }] });
    expect(result.modules[0].snapshots).toHaveLength(1);
    expect(run.stderr).toContain('repository check passed (restic)');
    expect(run.stderr).toMatch(/3 file\(s\), .* match the manifest/);
    expect(readFileSync(path.join(t.dir, 'seen'), 'utf8')).toBe(`hello\n${result.modules[0].snapshots[0].id}\n`);
    expect(existsSync(path.join(t.stateDir, 'scratch', 'verify', 'blog'))).toBe(false);
    const journal = readFileSync(path.join(t.stateDir, 'journal.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(journal.at(-1)).toMatchObject({ type: 'end', module: 'blog', action: 'verify', result: 'success' });
    const status = JSON.parse((await lifeboat(t, ['status', '--json'])).stdout);
    expect(status.modules[0].verify).toMatchObject({ result: 'success' });
  });

  it('fails after one byte of a pack file is changed', async () => {
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    const packs = listFiles(path.join(t.dir, 'repo', 'blog', 'data'));
    expect(packs.length).toBeGreaterThan(0);
    const biggest = packs.sort((a, b) => statSync(b).size - statSync(a).size)[0];
    const bytes = readFileSync(biggest);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    writeFileSync(biggest, bytes);
    const run = await lifeboat(t, ['verify', '--json']);
    expect(run.exitCode).toBe(1);
    const result = JSON.parse(run.stdout);
    expect(result.ok).toBe(false);
    expect(result.modules[0]).toMatchObject({ module: 'blog', ok: false });
    expect(result.modules[0].error).toMatch(/restic check failed|ciphertext verification failed|pack/i);
    const journal = readFileSync(path.join(t.stateDir, 'journal.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(journal.at(-1)).toMatchObject({ type: 'end', action: 'verify', result: 'failure', failedPart: 'verify/10restore_scratch' });
  });

  it('fails when there is no snapshot yet', async () => {
    const run = await lifeboat(t, ['verify', 'blog']);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain('verify blog: FAILED');
    expect(run.stderr).toContain('no snapshot of module blog yet');
  });
});

describe('verify with a script provider', () => {
  beforeEach(() => {
    t = makeRoot();
    data = path.join(t.dir, 'data');
    makeData(data);
    t.module('blog', { folders: [data] });
  });

  it('fails when a restored file differs from the manifest, and names it', async () => {
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    const [snapshot] = readdirSync(path.join(t.dir, 'repo', 'blog'));
    const stored = path.join(t.dir, 'repo', 'blog', snapshot, data, 'sub', 'blob.bin');
    // silent corruption: same size, the very same mtime (touch -r keeps the nanoseconds)
    const bytes = readFileSync(stored);
    bytes[100] ^= 0xff;
    writeFileSync(`${stored}.new`, bytes);
    execFileSync('touch', ['-r', stored, `${stored}.new`]);
    renameSync(`${stored}.new`, stored);
    const run = await lifeboat(t, ['verify', 'blog']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain(`${data}/sub/blob.bin: content differs`);
    expect(run.stderr).toContain('verify failed at verify/20check_manifest');
  });

  it('fails on a missing file or a changed mode, and only warns about files that changed during the backup', async () => {
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    const [snapshot] = readdirSync(path.join(t.dir, 'repo', 'blog'));
    const stored = path.join(t.dir, 'repo', 'blog', snapshot, data);
    writeFileSync(path.join(stored, 'notes.txt'), 'changed later, with a new mtime\n');
    const clean = await lifeboat(t, ['verify', 'blog']);
    expect(clean.exitCode, clean.stderr).toBe(0);
    expect(clean.stderr).toContain('1 file(s) changed while the backup ran');
    const { chmodSync, rmSync } = await import('node:fs');
    chmodSync(path.join(stored, 'sub', 'script.sh'), 0o700);
    rmSync(path.join(stored, 'sub', 'blob.bin'));
    const broken = await lifeboat(t, ['verify', 'blog']);
    expect(broken.exitCode).toBe(1);
    expect(broken.stderr).toContain(`${data}/sub/blob.bin: missing from the restore (file)`);
    expect(broken.stderr).toContain(`${data}/sub/script.sh: mode 700, the manifest says 750`);
  });
});

describe('verify of database dumps', () => {
  beforeEach(() => {
    requireTool('sqlite3');
    t = makeRoot();
    data = path.join(t.dir, 'app');
    mkdirSync(data, { recursive: true });
    execFileSync('sqlite3', [path.join(data, 'app.db'), "CREATE TABLE notes(body TEXT); INSERT INTO notes VALUES ('one'), ('two');"]);
    t.module('app', { folders: [data], databases: [{ sqlite: { path: path.join(data, 'app.db') } }] });
    // 20check_manifest would catch the damage first; mask it to test 30check_databases alone.
    t.write('modules/app/hooks.d/verify/20check_manifest', '', 0o644);
  });

  it('runs PRAGMA integrity_check on the restored SQLite dump and fails when it is damaged', async () => {
    const backup = await lifeboat(t, ['backup', 'app']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const good = await lifeboat(t, ['verify', 'app']);
    expect(good.exitCode, good.stderr).toBe(0);
    expect(good.stderr).toMatch(/SQLite .*PRAGMA integrity_check ok/);
    const dumps = listFiles(path.join(t.dir, 'repo', 'app')).filter((file) => file.includes(`${path.sep}databases${path.sep}sqlite-`));
    expect(dumps).toHaveLength(1);
    const bytes = readFileSync(dumps[0]);
    bytes.fill(0x41, 100, Math.min(bytes.length, 4096 + 200));
    writeFileSync(dumps[0], bytes);
    const bad = await lifeboat(t, ['verify', 'app', '--json']);
    expect(bad.exitCode).toBe(1);
    const result = JSON.parse(bad.stdout);
    expect(result.modules[0].error).toMatch(/database check failed: .*SQLite dump .* is damaged/);
  });
});

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? listFiles(path.join(dir, entry.name)) : [path.join(dir, entry.name)]));
}
