// Faults of the machine around Lifeboat, with restic and borg: a provider binary that is missing, a
// repository that is unusable (a file, a wrong password, a damaged config, read-only), a full disk under
// the state dir (a 1 MiB tmpfs), a database dump that hangs past its timeout, SIGTERM while restic backs up.
// After each: a non-zero exit with a message naming what is wrong (never an internal error), the service
// running again, the failure journaled (when the disk lets it), and no snapshot that looks complete.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { execa, execaSync } from 'execa';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { createFakeService, type FakeService } from '../helpers/service.js';
import { journalRecords } from '../helpers/faults.js';
import { createPostgres, dropPostgres, pathWithout, shimDir, uniqueName } from '../helpers/databases.js';

let t: TestRoot;
let service: FakeService;
let data: string;
const cleanups: Array<() => void> = [];

beforeEach(async () => {
  t = makeRoot();
  service = await createFakeService();
  data = path.join(t.dir, 'data');
  mkdirSync(data);
  writeFileSync(path.join(data, 'file.txt'), 'data\n');
  writeFileSync(path.join(t.dir, 'pass'), 'environment-faults\n', { mode: 0o600 });
  repositories('restic');
});
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  service.cleanup();
  t.cleanup();
});

// lifeboat.yaml with one repository `local` of the given provider, and module m using it.
function repositories(provider: 'restic' | 'borg', extra: Record<string, unknown> = {}): void {
  t.write('lifeboat.yaml', `repositories:\n  local: ${JSON.stringify({ provider, url: path.join(t.dir, 'repo'), passwordFile: path.join(t.dir, 'pass') })}\n`);
  t.module('m', { folders: [data], service: { ...service.config, stopDuringBackup: true }, timeouts: { part: 20, killAfter: 2 }, ...extra });
}

const resticEnv = () => ({ RESTIC_REPOSITORY: path.join(t.dir, 'repo', 'm'), RESTIC_PASSWORD_FILE: path.join(t.dir, 'pass') });
// restic's own listing of the module's repository; a repository restic cannot open fails the test (it is
// never read as "no snapshot").
const resticSnapshots = async () => {
  const result = await execa('restic', ['--no-lock', 'snapshots', '--json'], { env: resticEnv(), reject: false });
  expect(result.exitCode, `restic snapshots: ${result.stderr}`).toBe(0);
  return JSON.parse(result.stdout) as unknown[];
};

// Running restic processes whose repository is `repo` (other tests' restic processes are not counted).
function resticsOf(repo: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'restic' && readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`RESTIC_REPOSITORY=${repo}`);
      } catch {
        return false; // it ended meanwhile
      }
    })
    .map(Number);
}

// What the repository must hold after the fault: `snapshots` (restic lists exactly that many), or
// `absent` (the run failed before anything was written: no repository folder at all).
type RepositoryAfter = { snapshots: number } | 'absent';

// The common outcome of a fault: exit 1, a clear message, service up, failure journaled, the repository
// as `after` says.
async function expectCleanFailure(result: { exitCode?: number; stderr: string }, message: string | RegExp, after: RepositoryAfter, options: { journaled?: boolean } = {}): Promise<void> {
  expect(result.exitCode, result.stderr).toBe(1);
  if (typeof message === 'string') expect(result.stderr).toContain(message);
  else expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toContain('internal error');
  expect(service.isRunning()).toBe(true);
  if (options.journaled !== false) {
    const ends = journalRecords(t.stateDir).filter((r) => r.type === 'end');
    expect(ends.at(-1)).toMatchObject({ result: 'failure' });
  }
  if (after === 'absent') expect(existsSync(path.join(t.dir, 'repo'))).toBe(false);
  else expect(await resticSnapshots()).toHaveLength(after.snapshots);
}

describe('a provider binary that is missing', () => {
  it.for(['restic', 'borg'] as const)('%s not on PATH: backup refuses before anything runs naming it, check names it too', async (tool) => {
    repositories(tool);
    const bin = pathWithout([tool]);
    cleanups.push(() => rmSync(bin, { recursive: true, force: true }));
    const result = await lifeboat(t, ['backup', 'm'], { env: { PATH: bin } });
    // the preflight (src/check/backup-config.ts): exit 2, the service never stopped, nothing written
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain(`${tool} is not installed (not found on PATH), and the ${tool} repository needs it; install it (Debian: apt-get install ${tool === 'borg' ? 'borgbackup' : 'restic'})`);
    expect(service.isRunning()).toBe(true);
    expect(existsSync(path.join(t.dir, 'repo'))).toBe(false);
    const check = await lifeboat(t, ['check'], { env: { PATH: bin } });
    expect(check.exitCode).toBe(1);
    expect(check.stdout).toMatch(new RegExp(`FAIL\\s+${tool}\\s+not found on PATH`));
  });
});

describe('an unusable repository', () => {
  it('a file where the repository should be', async () => {
    writeFileSync(path.join(t.dir, 'repo'), 'not a repository\n');
    const result = await lifeboat(t, ['backup', 'm']);
    expect(readFileSync(path.join(t.dir, 'repo'), 'utf8')).toBe('not a repository\n');
    rmSync(path.join(t.dir, 'repo'));
    await expectCleanFailure(result, 'restic repository "local" of module m', 'absent');
  });

  it('a wrong password', async () => {
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    const before = await resticSnapshots();
    writeFileSync(path.join(t.dir, 'pass'), 'not-the-password\n', { mode: 0o600 });
    const result = await lifeboat(t, ['backup', 'm']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/wrong password/);
    expect(service.isRunning()).toBe(true);
    writeFileSync(path.join(t.dir, 'pass'), 'environment-faults\n', { mode: 0o600 });
    expect(await resticSnapshots()).toEqual(before);
  });

  it('a damaged repository (its config file gone) is not silently initialised again', async () => {
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    rmSync(path.join(t.dir, 'repo', 'm', 'config'));
    const result = await lifeboat(t, ['backup', 'm']);
    expect(result.exitCode, result.stderr).toBe(1);
    // The journal knows earlier backups into it: refused as a vanished repository (without that journal,
    // restic's own guard says 'exists but has no config file').
    expect(result.stderr).toContain(`repository local at ${path.join(t.dir, 'repo')} has no snapshots of module m, but the journal records 1 successful backup(s) into it`);
    expect(existsSync(path.join(t.dir, 'repo', 'm', 'config'))).toBe(false);
    expect(service.isRunning()).toBe(true);
  });

  // borg says "is not a valid repository": a damaged repository, never a missing one (a list of none).
  it('a damaged borg repository (its config file gone) fails snapshots, check and backup; it is never read as empty', async () => {
    repositories('borg');
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    const repo = path.join(t.dir, 'repo', 'm');
    rmSync(path.join(repo, 'config'));
    const damaged = `borg repository "local" of module m: borg list failed: ${repo} is not a valid repository`;
    const snapshots = await lifeboat(t, ['snapshots', 'm']);
    expect(snapshots.exitCode, snapshots.stdout).toBe(1);
    expect(snapshots.stderr).toContain(damaged);
    expect(snapshots.stdout).not.toContain('no snapshots');
    const check = await lifeboat(t, ['check']);
    expect(check.exitCode, check.stdout).toBe(1);
    const table = check.stdout.split('\n').map((line) => line.split(/ {2,}/).join('|'));
    expect(table.filter((line) => line.startsWith('FAIL|repository local (module m)|'))).toEqual([expect.stringContaining(`cannot be opened: ${damaged}`)]);
    expect(check.stdout).not.toContain('no snapshots yet');
    const result = await lifeboat(t, ['backup', 'm']);
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toContain(damaged);
    expect(result.stderr).not.toContain('internal error');
    expect(existsSync(path.join(repo, 'config'))).toBe(false);
    expect(service.isRunning()).toBe(true);
    expect(journalRecords(t.stateDir).filter((r) => r.type === 'end').at(-1)).toMatchObject({ result: 'failure' });
  });

  it('a read-only repository', async () => {
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    const repo = path.join(t.dir, 'repo');
    execaSync('mount', ['--bind', repo, repo]);
    cleanups.push(() => execaSync('umount', [repo]));
    execaSync('mount', ['-o', 'remount,bind,ro', repo]);
    // restic retries a failing write until timeouts.part; the message still says why
    t.module('m', { folders: [data], service: { ...service.config, stopDuringBackup: true }, timeouts: { part: 6, killAfter: 2 } });
    const result = await lifeboat(t, ['backup', 'm']);
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/read-only file system/i);
    expect(service.isRunning()).toBe(true);
    expect(journalRecords(t.stateDir).filter((r) => r.type === 'end').at(-1)).toMatchObject({ result: 'failure' });
  });
});

describe('a full disk under the state dir (1 MiB tmpfs)', () => {
  beforeEach(() => {
    mkdirSync(t.stateDir, { recursive: true, mode: 0o700 });
    execaSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', t.stateDir]);
    cleanups.push(() => execaSync('umount', ['-l', t.stateDir]));
  });
  const fill = '#!/bin/sh\nhead -c 4194304 /dev/zero > "$LIFEBOAT_STATE_DIR/dump.bin"\n';

  it('a dump that fills it fails the backup; the cleanup frees it and the failure is journaled', async () => {
    t.write('modules/m/bin/module-dump-state', fill, 0o755);
    t.write('modules/m/bin/module-cleanup-state', '#!/bin/sh\nrm -f "$LIFEBOAT_STATE_DIR/dump.bin"\n', 0o755);
    const result = await lifeboat(t, ['backup', 'm']);
    await expectCleanFailure(result, /bin\/module-dump-state exited with status 1/, 'absent');
    expect(journalRecords(t.stateDir).filter((r) => r.type === 'end').at(-1)).toMatchObject({ failedPart: 'pre-backup/30module_dump_state' });
  });

  it('a dump that fills it and stays: the journal cannot be written, which is said plainly', async () => {
    // One good run, then the journal padded so that the next start record ends just short of a page
    // boundary: the end record needs a new page, which the full disk cannot give. (No service here: its
    // stopped-marker, removed after the start, would free the page the end record needs.)
    t.module('m', { folders: [data] });
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    const journal = path.join(t.stateDir, 'journal.jsonl');
    const text = readFileSync(journal, 'utf8');
    const startLength = Buffer.byteLength(text.split('\n')[0]) + 1;
    const pad = 4096 - startLength - 16 - Buffer.byteLength(text) - 1;
    writeFileSync(journal, `${text}${' '.repeat(pad)}\n`);
    t.write('modules/m/bin/module-dump-state', fill, 0o755);
    const result = await lifeboat(t, ['backup', 'm']);
    await expectCleanFailure(result, /journal.*no space left on device/i, { snapshots: 1 }, { journaled: false });
    // once there is room again, the next run works and the lost end shows as an interrupted run
    rmSync(path.join(t.stateDir, 'modules', 'm', 'state', 'dump.bin'));
    rmSync(path.join(t.root, 'modules', 'm', 'bin', 'module-dump-state'));
    const next = await lifeboat(t, ['backup', 'm']);
    expect(next.exitCode, next.stderr).toBe(0);
    const status = JSON.parse((await lifeboat(t, ['status', '--json'])).stdout);
    expect(JSON.stringify(status)).toContain('interrupted');
  });

  it('already full before the run: nothing runs, the service is not stopped', async () => {
    try {
      execaSync('sh', ['-c', `head -c 2097152 /dev/zero > "${t.stateDir}/ballast"`]);
    } catch {
      // the tmpfs is full now, which is the point
    }
    const pid = service.pid();
    const result = await lifeboat(t, ['backup', 'm']);
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/no space left on device/i);
    expect(result.stderr).not.toContain('internal error');
    expect(service.pid()).toBe(pid);
    expect(existsSync(path.join(t.dir, 'repo'))).toBe(false);
  });
});

describe('timeouts and signals in real tools', () => {
  it('a database dump that hangs past timeouts.part (streamed into restic)', async () => {
    const name = uniqueName();
    createPostgres(name);
    cleanups.push(() => dropPostgres(name));
    // one good backup first (with a generous timeout): the repository exists and holds one snapshot,
    // whatever the hang does
    repositories('restic', { databases: [{ postgres: { database: name, host: '127.0.0.1', user: 'postgres' } }], timeouts: { part: 300, killAfter: 1 } });
    const first = await lifeboat(t, ['backup', 'm']);
    expect(first.exitCode, first.stderr).toBe(0);
    // restic holds two snapshots now: the streamed dump's and the module's
    expect(await resticSnapshots()).toHaveLength(2);
    repositories('restic', { databases: [{ postgres: { database: name, host: '127.0.0.1', user: 'postgres' } }], timeouts: { part: 4, killAfter: 1 } });
    const shims = shimDir({ pg_dump: '/usr/bin/pg_dump "$@" | head -c 4096\nexec sleep 60' });
    cleanups.push(() => rmSync(shims, { recursive: true, force: true }));
    const result = await lifeboat(t, ['backup', 'm'], { env: { PATH: `${shims}:${process.env.PATH}` } });
    await expectCleanFailure(result, /timed out after 4s/, { snapshots: 2 });
  });

  it('SIGTERM while restic backs up: no snapshot, restic check passes, the next backup works', async () => {
    // One backup first, so the repository exists and holds one snapshot (a controlled precondition: the
    // checks below always run). Then 48 MiB of new random data, and restic's uploads limited to 4 MiB/s
    // (the shim adds --limit-upload to the backup call only): the backup takes about 12 s, and the signal
    // is sent once restic has written its first new pack file into the repository.
    const first = await lifeboat(t, ['backup', 'm']);
    expect(first.exitCode, first.stderr).toBe(0);
    const packs = () => readdirSync(path.join(t.dir, 'repo', 'm', 'data'), { recursive: true }).filter((name) => /[0-9a-f]{64}$/.test(String(name)));
    const before = packs().length;
    writeFileSync(path.join(data, 'big.bin'), randomBytes(48 * 1024 * 1024));
    const shims = shimDir({ restic: 'case " $* " in *" backup "*) exec /usr/bin/restic "$@" --limit-upload 4096;; esac\nexec /usr/bin/restic "$@"' });
    cleanups.push(() => rmSync(shims, { recursive: true, force: true }));
    const child = lifeboat(t, ['backup', 'm'], { env: { PATH: `${shims}:${process.env.PATH}` } });
    const deadline = Date.now() + 120_000;
    while (packs().length === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(packs().length, 'restic wrote a new pack file').toBeGreaterThan(before);
    child.kill('SIGTERM');
    const result = await child;
    await expectCleanFailure(result, /interrupted by SIGTERM/, { snapshots: 1 });
    // the signal landed while restic was writing: the second run's pack files are there, its snapshot is not
    expect(packs().length).toBeGreaterThan(before);
    // the killed restic's lock (its process is gone) is what `restic unlock` removes; then check passes
    expect(resticsOf(path.join(t.dir, 'repo', 'm')), 'no restic outlives the run').toEqual([]);
    expect((await execa('restic', ['unlock'], { env: resticEnv(), reject: false })).exitCode).toBe(0);
    const check = await execa('restic', ['check', '--no-cache'], { env: resticEnv(), reject: false });
    expect(check.exitCode, check.stderr).toBe(0);
    const next = await lifeboat(t, ['backup', 'm']);
    expect(next.exitCode, next.stderr).toBe(0);
    expect(await resticSnapshots()).toHaveLength(2);
    expect(readdirSync(path.join(t.stateDir, 'locks'))).toEqual([]);
  });
});
