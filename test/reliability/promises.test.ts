// README promises that had no test of their own, each through the CLI against real tools: a stale restic
// lock removed with `restic unlock` and the call retried; a read-only state dir; SIGKILL after
// timeouts.killAfter for a part that outlives SIGTERM; a backup-phase part failing after 50snapshot keeps
// the snapshot; root plugins overriding the project's; borg --read-special leaving out FIFOs and devices;
// a PostgreSQL `database: all` restore; staleness for a weekdays-only schedule; progress off with -q,
// TERM=dumb and LIFEBOAT_PROGRESS=0. (S3's ETag/size check deleting the object: test/s3/storage.test.ts.)
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { execa, execaSync } from 'execa';
import { BIN, COPY_PROVIDER, lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { createFakeService, type FakeService } from '../helpers/service.js';
import { journalRecords } from '../helpers/faults.js';
import { createPostgres, dropPostgres, shimDir, startThrowawayPostgres, uniqueName } from '../helpers/databases.js';
import { journalEnd, journalStart } from '../../src/state/journal.js';
import { requireTool } from '../ops/tools.js';

let t: TestRoot;
let data: string;
const cleanups: Array<() => void> = [];
beforeEach(() => {
  t = makeRoot();
  data = path.join(t.dir, 'data');
  mkdirSync(data);
  writeFileSync(path.join(data, 'file.txt'), 'promised\n');
  writeFileSync(path.join(t.dir, 'pass'), 'promises-password\n', { mode: 0o600 });
});
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  t.cleanup();
});

// lifeboat.yaml with one repository `local` of a real provider.
function repository(provider: 'restic' | 'borg'): void {
  t.write('lifeboat.yaml', `repositories:\n  local: ${JSON.stringify({ provider, url: path.join(t.dir, 'repo'), passwordFile: path.join(t.dir, 'pass') })}\n`);
}
const resticEnv = () => ({ ...process.env, RESTIC_REPOSITORY: path.join(t.dir, 'repo', 'm'), RESTIC_PASSWORD_FILE: path.join(t.dir, 'pass') });
const borgEnv = () => ({ ...process.env, BORG_PASSPHRASE: 'promises-password', BORG_BASE_DIR: path.join(t.stateDir, 'borg') });
const copySnapshots = () => (existsSync(path.join(t.dir, 'repo', 'm')) ? readdirSync(path.join(t.dir, 'repo', 'm')).sort() : []);
const toolPath = (tool: string) => execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
const lastEnd = () => journalRecords(t.stateDir).filter((r) => r.type === 'end').at(-1);

describe('a stale restic lock', () => {
  it('left by a restic killed while Lifeboat ran is removed with `restic unlock` and the call tried again', { timeout: 600_000 }, async () => {
    repository('restic');
    t.module('m', { folders: [data] });
    // 4 MiB of data: a check reading it at 1 KiB/s cannot finish while the test runs
    writeFileSync(path.join(data, 'big.bin'), randomBytes(4 * 1024 * 1024));
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    // A restic check holds the exclusive lock (reading data at 1 KiB/s, then stopped), run in the background of a shell
    // that reaps it as soon as it dies. (A lock of a dead restic on this host restic ignores by itself.)
    // The first restic call of Lifeboat that meets the lock makes the shim kill the holder, so the lock
    // is stale (its process gone) when Lifeboat runs `restic unlock` and tries the call again.
    const locks = path.join(t.dir, 'repo', 'm', 'locks');
    const pidFile = path.join(t.dir, 'holder.pid');
    const holder = execa('sh', ['-c', `restic check --read-data --limit-download 1 & echo $! > "${pidFile}"; wait`], { env: resticEnv(), reject: false });
    cleanups.push(() => holder.kill('SIGKILL'));
    const deadline = Date.now() + 300_000;
    while ((readdirSync(locks).length === 0 || !existsSync(pidFile)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    // stopped, it keeps its lock and stays alive (however fast it would have finished) until the shim kills it
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGSTOP');
    expect(readdirSync(locks)).toHaveLength(1);
    const first = path.join(t.dir, 'first-call');
    const shims = shimDir({
      restic: [
        `err=$(mktemp)`,
        `${toolPath('restic')} "$@" 2>"$err"; rc=$?`,
        'cat "$err" >&2',
        `if grep -q "already locked" "$err" && [ ! -e "${first}" ]; then`,
        `  touch "${first}"; pid=$(cat "${pidFile}"); kill -9 "$pid"`,
        '  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done',
        'fi',
        'rm -f "$err"; exit $rc',
      ].join('\n'),
    });
    cleanups.push(() => rmSync(shims, { recursive: true, force: true }));
    const result = await lifeboat(t, ['backup', 'm'], { env: { PATH: `${shims}:${process.env.PATH}` } });
    await holder;
    expect(result.exitCode, result.stderr).toBe(0);
    expect(existsSync(first), 'a restic call met the lock').toBe(true);
    expect(result.stderr).toContain('holds a lock; removing stale locks (of restic processes that no longer run) and trying again');
    expect(readdirSync(locks)).toEqual([]);
    const listed = JSON.parse(execFileSync('restic', ['snapshots', '--json'], { env: resticEnv(), encoding: 'utf8' })) as unknown[];
    expect(listed).toHaveLength(2);
  });
});

describe('a read-only state dir', () => {
  it('fails the run before anything runs: no part, no service stop, no snapshot', async () => {
    const service = await createFakeService();
    cleanups.push(() => service.cleanup());
    t.module('m', { folders: [data], service: { ...service.config, stopDuringBackup: true } });
    t.part('pre-backup', '40mark', `#!/bin/sh\ntouch "${t.dir}/part-ran"\n`, 'm');
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    rmSync(path.join(t.dir, 'part-ran'));
    const journalBefore = readFileSync(path.join(t.stateDir, 'journal.jsonl'), 'utf8');
    const snapshotsBefore = copySnapshots();
    execaSync('mount', ['--bind', t.stateDir, t.stateDir]);
    cleanups.push(() => execaSync('umount', ['-l', t.stateDir]));
    execaSync('mount', ['-o', 'remount,bind,ro', t.stateDir]);
    const pid = service.pid();
    const result = await lifeboat(t, ['backup', 'm']);
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/read-only file system/i);
    expect(result.stderr).not.toContain('internal error');
    expect(existsSync(path.join(t.dir, 'part-ran'))).toBe(false);
    expect(service.pid()).toBe(pid);
    expect(copySnapshots()).toEqual(snapshotsBefore);
    expect(readFileSync(path.join(t.stateDir, 'journal.jsonl'), 'utf8')).toBe(journalBefore);
  });
});

describe('a part that outlives SIGTERM', () => {
  it('is SIGKILLed timeouts.killAfter seconds after the timeout SIGTERM', async () => {
    t.module('m', { folders: [data], timeouts: { part: 3, killAfter: 2 } });
    const log = path.join(t.dir, 'part.log');
    // the part's shell catches SIGTERM (notes it) and goes on; only SIGKILL ends it
    t.part('pre-backup', '40stubborn', `#!/bin/sh\necho $$ > "${log}.pid"\ntrap 'echo TERM >> "${log}"' TERM\nwhile :; do sleep 0.2; done\n`, 'm');
    const result = await lifeboat(t, ['backup', 'm']);
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toContain('timed out after 3s; sending SIGTERM to its process group');
    expect(readFileSync(log, 'utf8')).toContain('TERM');
    const pid = Number(readFileSync(`${log}.pid`, 'utf8'));
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(lastEnd()).toMatchObject({ result: 'failure', failedPart: 'pre-backup/40stubborn' });
    expect(String(lastEnd()!.error)).toMatch(/timed out after 3s/);
    expect(copySnapshots()).toEqual([]);
  });
});

describe('a backup-phase part failing after 50snapshot', () => {
  it('keeps the complete snapshot, journals it with the failure and runs on-failure', async () => {
    t.module('m', { folders: [data] });
    t.part('backup', '60notify-app', '#!/bin/sh\necho "the app could not be told" >&2\nexit 4\n', 'm');
    t.part('on-failure', '50mark', `#!/bin/sh\necho "$LIFEBOAT_ERROR" > "${t.dir}/on-failure"\n`, 'm');
    const result = await lifeboat(t, ['backup', 'm']);
    expect(result.exitCode, result.stderr).toBe(1);
    const ids = copySnapshots();
    expect(ids).toHaveLength(1);
    expect(readFileSync(path.join(t.dir, 'repo', 'm', ids[0], data, 'file.txt'), 'utf8')).toBe('promised\n');
    expect(lastEnd()).toMatchObject({ result: 'failure', failedPart: 'backup/60notify-app', snapshots: [{ repository: 'local', id: ids[0] }] });
    expect(readFileSync(path.join(t.dir, 'on-failure'), 'utf8')).toMatch(/exited with status 4/);
    expect(journalRecords(t.stateDir).filter((r) => r.result === 'success')).toEqual([]);
    // the snapshot is listed and restorable
    const listed = JSON.parse((await lifeboat(t, ['snapshots', 'm', '--json'])).stdout) as Array<{ id: string }>;
    expect(listed.map((s) => s.id)).toEqual(ids);
  });
});

describe('root plugins', () => {
  it('override the project plugin of the same name (a root plugins/restic/ replaces restic)', async () => {
    // plugins/restic/ in the root: the copy script provider, marking each create
    const plugin = path.join(t.root, 'plugins', 'restic');
    cpSync(COPY_PROVIDER, plugin, { recursive: true });
    const create = readFileSync(path.join(plugin, 'create'), 'utf8');
    writeFileSync(path.join(plugin, 'create'), create.replace(/^(#!.*\n)/, `$1echo root-plugin >> "${t.dir}/root-plugin-ran"\n`), { mode: 0o755 });
    t.write('lifeboat.yaml', `repositories:\n  local: { provider: restic, url: ${path.join(t.dir, 'repo')} }\n`);
    t.module('m', { folders: [data] });
    // the real restic must not run at all
    const shims = shimDir({ restic: `touch "${t.dir}/real-restic-ran"\nexit 99` });
    cleanups.push(() => rmSync(shims, { recursive: true, force: true }));
    const result = await lifeboat(t, ['backup', 'm'], { env: { PATH: `${shims}:${process.env.PATH}` } });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(readFileSync(path.join(t.dir, 'root-plugin-ran'), 'utf8')).toBe('root-plugin\n');
    expect(existsSync(path.join(t.dir, 'real-restic-ran'))).toBe(false);
    const ids = copySnapshots();
    expect(ids).toHaveLength(1);
    expect(readFileSync(path.join(t.dir, 'repo', 'm', ids[0], data, 'file.txt'), 'utf8')).toBe('promised\n');
  });
});

describe('borg --read-special', () => {
  it('streams a dump through a pipe but leaves FIFOs and devices in the folders out, with a warning', { timeout: 600_000 }, async () => {
    const name = uniqueName();
    createPostgres(name);
    cleanups.push(() => dropPostgres(name));
    repository('borg');
    execFileSync('mkfifo', [path.join(data, 'a-fifo')]);
    execFileSync('mknod', [path.join(data, 'a-device'), 'c', '1', '3']);
    t.module('m', { folders: [data], databases: [{ postgres: { database: name, host: '127.0.0.1', user: 'postgres' } }], timeouts: { part: 600 } });
    const result = await lifeboat(t, ['backup', 'm']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/not archived \(special files; borg --read-special would read them\): .*a-(device|fifo), .*a-(device|fifo)/);
    const repo = path.join(t.dir, 'repo', 'm');
    const [archive] = execFileSync('borg', ['list', '--short', repo], { env: borgEnv(), encoding: 'utf8' }).split('\n').filter(Boolean);
    const paths = execFileSync('borg', ['list', '--format', '{type} {path}{NL}', `${repo}::${archive}`], { env: borgEnv(), encoding: 'utf8' }).split('\n');
    const rel = data.slice(1);
    expect(paths).toContain(`- ${rel}/file.txt`);
    expect(paths.filter((line) => line.includes('a-fifo') || line.includes('a-device'))).toEqual([]);
    // the dump, read through borg's pipe, is a regular file in the archive
    expect(paths.some((line) => /^- .*databases\/postgres-.*\.pgdump$/.test(line))).toBe(true);
  });
});

describe('PostgreSQL database: all', () => {
  it('restores every database and the roles of a cluster', { timeout: 600_000 }, async () => {
    const server = await startThrowawayPostgres();
    cleanups.push(() => server.stop());
    const env = { ...process.env, PGPASSWORD: server.password };
    const sql = (database: string, text: string) => execFileSync('psql', ['-h', '127.0.0.1', '-p', String(server.port), '-U', 'postgres', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', database, '-c', text], { env, encoding: 'utf8' }).trim();
    sql('postgres', 'CREATE ROLE shopkeeper LOGIN');
    sql('postgres', 'CREATE DATABASE shop');
    sql('postgres', 'CREATE DATABASE wiki');
    sql('shop', "CREATE TABLE items(id int primary key, name text); INSERT INTO items VALUES (1, 'Grüße'), (2, 'boat');");
    sql('wiki', "CREATE TABLE pages(title text); INSERT INTO pages VALUES ('Home');");
    writeFileSync(path.join(t.dir, 'pg.pass'), `${server.password}\n`, { mode: 0o600 });
    t.module('m', { folders: [data], databases: [{ postgres: { database: 'all', host: '127.0.0.1', port: server.port, user: 'postgres', passwordFile: path.join(t.dir, 'pg.pass') } }] });
    const backup = await lifeboat(t, ['backup', 'm']);
    expect(backup.exitCode, backup.stderr).toBe(0);
    const [id] = copySnapshots();
    expect(readdirSync(path.join(t.dir, 'repo', 'm', id, t.stateDir, 'modules', 'm', 'state', 'databases', 'postgres-all')).sort()).toEqual(expect.arrayContaining(['globals.sql', 'shop.pgdump', 'wiki.pgdump']));
    // everything changed after the backup: a row, a whole database, the role
    sql('shop', "UPDATE items SET name = 'changed' WHERE id = 2; INSERT INTO items VALUES (3, 'new');");
    sql('postgres', 'DROP DATABASE wiki');
    sql('postgres', 'DROP ROLE shopkeeper');
    const restore = await lifeboat(t, ['restore', 'm', id, '--no-safety-snapshot']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(sql('shop', 'SELECT id, name FROM items ORDER BY id')).toBe('1|Grüße\n2|boat');
    expect(sql('wiki', 'SELECT title FROM pages')).toBe('Home');
    expect(sql('postgres', "SELECT rolname FROM pg_roles WHERE rolname = 'shopkeeper'")).toBe('shopkeeper');
  });
});

describe('staleness', () => {
  // A successful backup `hoursAgo` hours ago in the journal.
  function pastSuccess(module: string, hoursAgo: number): void {
    const end = new Date(Date.now() - hoursAgo * 3600_000);
    journalStart(t.stateDir, { runId: `past-${module}`, module, action: 'backup', time: new Date(end.getTime() - 1000) });
    journalEnd(t.stateDir, { runId: `past-${module}`, module, action: 'backup', result: 'success', snapshots: [], bytes: 1, durationMs: 1000, time: end });
  }

  it('allows a weekdays-only schedule the weekend: twice its longest gap (3 days), not twice a day', async () => {
    t.module('weekdays', { folders: [data], schedule: '0 2 * * 1-5' });
    t.module('daily', { folders: [data], schedule: '0 2 * * *' });
    t.module('lapsed', { folders: [data], schedule: '0 2 * * 1-5' });
    pastSuccess('weekdays', 100);
    pastSuccess('daily', 100);
    pastSuccess('lapsed', 150);
    const status = JSON.parse((await lifeboat(t, ['status', '--json'])).stdout) as { modules: Array<{ module: string; stale: boolean; staleAfterSeconds: number }> } | Array<{ module: string; stale: boolean; staleAfterSeconds: number }>;
    const modules = Array.isArray(status) ? status : status.modules;
    const of = (name: string) => modules.find((m) => m.module === name);
    expect(of('weekdays')).toMatchObject({ stale: false, staleAfterSeconds: 6 * 86_400 });
    expect(of('daily')).toMatchObject({ stale: true, staleAfterSeconds: 2 * 86_400 });
    expect(of('lapsed')).toMatchObject({ stale: true, staleAfterSeconds: 6 * 86_400 });
    const check = await lifeboat(t, ['check', '--json']);
    expect(check.exitCode).toBe(1);
    const findings = JSON.parse(check.stdout).findings as Array<{ level: string; subject: string; message: string }>;
    expect(findings).toContainEqual({ level: 'fail', subject: 'module daily', message: expect.stringMatching(/^STALE: last success 4d 4h ago, older than twice its schedule interval \(2d 0h\)/) });
    expect(findings).toContainEqual({ level: 'fail', subject: 'module lapsed', message: expect.stringMatching(/^STALE: last success 6d 6h ago, older than twice its schedule interval \(6d 0h\)/) });
    expect(findings.filter((f) => f.subject === 'module weekdays' && f.level === 'fail')).toEqual([]);
    expect(findings).toContainEqual({ level: 'ok', subject: 'module weekdays', message: 'last success 4d 4h ago' });
  });
});

describe('progress', () => {
  // Runs the CLI on a pseudo-terminal (`script`), with extra environment and arguments.
  async function onTerminal(args: string[], env: Record<string, string> = {}): Promise<{ exitCode: number; output: string }> {
    const script = requireTool('script');
    const command = ['node', BIN, '--root', t.root, '--state-dir', t.stateDir, ...args].map((a) => `'${a}'`).join(' ');
    const result = await execa(script, ['-q', '-e', '-c', command, '/dev/null'], { reject: false, input: '', env: { TERM: 'xterm', COLUMNS: '160', LINES: '40', ...env } });
    return { exitCode: result.exitCode ?? 1, output: String(result.stdout) };
  }

  it('is drawn on a terminal, and not with -q, TERM=dumb or LIFEBOAT_PROGRESS=0', { timeout: 600_000 }, async () => {
    writeFileSync(path.join(data, 'big.bin'), randomBytes(16 * 1024 * 1024));
    t.module('m', { folders: [data] });
    const drawn = await onTerminal(['backup', 'm']);
    expect(drawn.exitCode, drawn.output).toBe(0);
    expect(drawn.output).toContain('\x1b[2K');
    // A first backup has no previous manifest, so no total: the bar shows bytes and time; the next one
    // measures against the previous backup's size and draws the bar.
    expect(drawn.output).toMatch(/m: manifest .*\r/);
    const second = await onTerminal(['backup', 'm']);
    expect(second.exitCode, second.output).toBe(0);
    expect(second.output).toMatch(/m: manifest \[[#.]{20}\]/);
    for (const [what, args, env] of [
      ['-q', ['-q', 'backup', 'm'], {}],
      ['TERM=dumb', ['backup', 'm'], { TERM: 'dumb' }],
      ['LIFEBOAT_PROGRESS=0', ['backup', 'm'], { LIFEBOAT_PROGRESS: '0' }],
    ] as Array<[string, string[], Record<string, string>]>) {
      const run = await onTerminal(args, env);
      expect(run.exitCode, `${what}: ${run.output}`).toBe(0);
      expect(run.output, what).not.toContain('\x1b');
      expect(run.output, what).not.toMatch(/m: manifest .*\r/);
    }
    expect(copySnapshots()).toHaveLength(5);
  });
});

