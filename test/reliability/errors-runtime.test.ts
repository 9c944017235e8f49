// The LifeboatError messages a user meets when a tool, a server, the disk or the state dir fails at run
// time (issue 15), through the real CLI (bin/lifeboat): each case makes the fault for real (a tool that
// fails through a shim on a PATH in the test's own temp dir, a tiny TCP server answering RESP wrongly,
// damaged files in the state dir or the repository, a full or read-only file system in a private mount
// namespace, a real podman) and asserts the message on stderr, the exit status and what must not be left.
//
// The configuration and usage messages are in errors-table.test.ts; TESTING.md lists every site.
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import net from 'node:net';
import path from 'node:path';
import { execa, execaSync } from 'execa';
import { BIN, lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, startFaultProxy, startS3, type FaultProxy, type S3Server } from '../helpers/s3.js';
import { MY, PG, dropMariadb, dropPostgres, freePort, mariadb, pathWithout, psql, uniqueName } from '../helpers/databases.js';

// A root with module m (one folder with one file) on the copy provider; removed when the test ends.
function rootWithModule(context: TestContext, extra: Record<string, unknown> = {}): TestRoot {
  const t = makeRoot();
  context.onTestFinished(() => t.cleanup());
  const data = path.join(t.dir, 'data');
  mkdirSync(data, { recursive: true });
  writeFileSync(path.join(data, 'f.txt'), 'x\n');
  t.module('m', { folders: [data], ...extra });
  return t;
}
const moduleFile = (t: TestRoot) => path.join(t.root, 'modules', 'm', 'module.yaml');
const backup = (t: TestRoot, env: Record<string, string> = {}) => execaSync('node', [BIN, '--root', t.root, '--state-dir', t.stateDir, 'backup', 'm', '-q'], { env });
// An executable shim in the test's own folder; returns the folder (for PATH).
function shim(t: TestRoot, name: string, body: string): string {
  const dir = path.join(t.dir, 'shims');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return dir;
}
const withShims = (dir: string) => ({ PATH: `${dir}:${process.env.PATH}` });
// The newest snapshot folder of module m in the copy repository.
function snapshotDir(t: TestRoot): string {
  const dir = path.join(t.dir, 'repo', 'm');
  const names = readdirSync(dir).filter((name) => !name.endsWith('.partial')).sort();
  return path.join(dir, names.at(-1)!);
}
// The one manifest of module m in the state dir.
function manifestOf(t: TestRoot): string {
  const dir = path.join(t.stateDir, 'modules', 'm', 'manifests', 'local');
  const [name] = readdirSync(dir);
  return path.join(dir, name);
}
const DAMAGED_MANIFEST_HINT = 'run `lifeboat backup` again: verify compares the restore with the manifest of the newest backup';

interface Expected {
  exit: number;
  message: string;
  hint?: string;
}
// The failure as the user sees it: the message (after `lifeboat: ` or a part's log prefix) and its hint.
function expectFailure(result: { stderr: string; exitCode?: number }, expected: Expected): void {
  expect(result.stderr).toContain(expected.message);
  if (expected.hint) expect(result.stderr).toContain(`hint: ${expected.hint}`);
  expect(result.stderr).not.toContain('internal error');
  expect(result.exitCode, result.stderr).toBe(expected.exit);
}
// Files and folders a failed command must not have left.
function expectAbsent(...files: string[]): void {
  for (const file of files) expect(existsSync(file), `${file} was left behind`).toBe(false);
}

// A RESP server on 127.0.0.1 that answers each command with `answer(command)` (undefined: close the connection).
async function respServer(context: TestContext, answer: (command: string[]) => string | undefined): Promise<{ port: number; commands: string[][] }> {
  const commands: string[][] = [];
  const server = net.createServer((socket) => {
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      for (;;) {
        const parsed = parseCommand(buffer);
        if (!parsed) return;
        buffer = buffer.slice(parsed.length);
        commands.push(parsed.command);
        const reply = answer(parsed.command);
        if (reply === undefined) {
          socket.destroy();
          return;
        }
        socket.write(reply, 'latin1');
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  context.onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as net.AddressInfo).port, commands };
}
// One RESP array of bulk strings from the start of `text`, or undefined when it is not complete yet.
function parseCommand(text: string): { command: string[]; length: number } | undefined {
  const lines = text.split('\r\n');
  if (lines.length < 2 || !lines[0].startsWith('*')) return undefined;
  const count = Number(lines[0].slice(1));
  const command: string[] = [];
  let length = lines[0].length + 2;
  for (let i = 0; i < count; i++) {
    const header = lines[1 + i * 2];
    const value = lines[2 + i * 2];
    if (header === undefined || value === undefined || 2 + i * 2 >= lines.length - 1) return undefined;
    command.push(value);
    length += header.length + 2 + value.length + 2;
  }
  return { command, length };
}

describe.concurrent('runtime failures a user can meet from the CLI', () => {
  // src/providers/registry.ts: a project plugin others can write is refused before it runs
  it('a project plugin folder and script others can write', async (context) => {
    const t = rootWithModule(context);
    const plugin = path.join(t.root, 'plugins', 'copy');
    chmodSync(plugin, 0o777);
    chmodSync(path.join(plugin, 'create'), 0o757);
    const result = await lifeboat(t, ['backup', 'm']);
    expectFailure(result, {
      exit: 2,
      message: `lifeboat: ${plugin}: refused: writable by group (mode 0777); fix with chmod go-w or chown root\nlifeboat: ${path.join(plugin, 'create')}: refused: writable by others (mode 0757); fix with chmod go-w or chown root`,
    });
    expectAbsent(path.join(t.dir, 'repo'));
  });

  // src/providers/shared.ts (toolFailure): restic refuses the repository's password (changed after the first backup)
  it('a restic repository whose password file no longer holds its password', async (context) => {
    const t = rootWithModule(context);
    const pass = path.join(t.dir, 'pass');
    writeFileSync(pass, 'the first password\n', { mode: 0o600 });
    t.write('lifeboat.yaml', `repositories:\n  local: ${JSON.stringify({ provider: 'restic', url: path.join(t.dir, 'repo'), passwordFile: pass })}\n`);
    backup(t);
    writeFileSync(pass, 'another password\n');
    const result = await lifeboat(t, ['snapshots', 'm']);
    expectFailure(result, {
      exit: 1,
      message: 'lifeboat: restic repository "local" of module m: restic snapshots failed (exit 1): Fatal: wrong password or no key found',
      hint: 'check the password of repository "local"',
    });
    expect(result.stderr).not.toContain('another password');
  });

  // src/process/exec.ts: a script provider's operation that fails
  it('a script provider whose create fails', async (context) => {
    const t = rootWithModule(context);
    t.write('plugins/copy/create', '#!/bin/sh\necho "disk on fire" >&2\nexit 3\n', 0o755);
    const result = await lifeboat(t, ['backup', 'm']);
    expectFailure(result, { exit: 1, message: `snapshot failed in 1 repository(ies): local: ${path.join(t.root, 'plugins', 'copy', 'create')} failed (exit 3): disk on fire` });
    expectAbsent(path.join(t.dir, 'repo'));
  });
});

// An SQLite database whose freelist pointer is cleared: two pages are "never used". sqlite3 still opens it
// and exits 0; only PRAGMA integrity_check / quick_check report the damage.
function damagedSqlite(file: string): void {
  execaSync('sqlite3', [file, "CREATE TABLE t(x TEXT); CREATE TABLE u(y TEXT); WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k+1 FROM n WHERE k<500) INSERT INTO u SELECT printf('row-%05d', k) FROM n; INSERT INTO t VALUES ('keep'); DELETE FROM u;"]);
  const bytes = readFileSync(file);
  bytes.fill(0, 32, 40);
  writeFileSync(file, bytes);
}
const SQLITE_DAMAGE = ['*** in database main ***', 'Page 4 is never used', 'Page 5 is never used'];

describe.concurrent('databases that fail at run time', () => {
  it('a backup of an SQLite database whose copy fails PRAGMA quick_check', async (context) => {
    const t = rootWithModule(context);
    const db = path.join(t.dir, 'app.sqlite3');
    damagedSqlite(db);
    t.module('m', { folders: [path.join(t.dir, 'data')], databases: [{ sqlite: { path: db } }] });
    const before = readFileSync(db);
    const result = await lifeboat(t, ['backup', 'm']);
    // each line of the message is logged with the part's prefix
    const message = `SQLite database ${db}: the copy fails PRAGMA quick_check: ${SQLITE_DAMAGE.join('\n')}`;
    expectFailure(result, { exit: 1, message: message.split('\n').map((line) => `[m/20dump_databases] error: ${line}`).join('\n') });
    expect(result.stderr).toContain(`[m] error: backup failed at pre-backup/20dump_databases: ${message.split('\n')[0]}`);
    const dumps = path.join(t.stateDir, 'modules', 'm', 'state', 'databases');
    expect(existsSync(dumps) ? readdirSync(dumps) : []).toEqual([]);
    expectAbsent(path.join(t.dir, 'repo', 'm'));
    expect(readFileSync(db).equals(before)).toBe(true);
  });

  it('a load of an SQLite file that fails PRAGMA quick_check', async (context) => {
    const t = rootWithModule(context);
    const dump = path.join(t.dir, 'damaged.sqlite3');
    damagedSqlite(dump);
    const live = path.join(t.dir, 'live.sqlite3');
    execaSync('sqlite3', [live, 'CREATE TABLE kept(x); INSERT INTO kept VALUES (42);']);
    const before = readFileSync(live);
    const result = await lifeboat(t, ['load', 'sqlite', '--path', live, '--input', dump]);
    expectFailure(result, { exit: 1, message: `lifeboat: SQLite database ${live}: the dump fails PRAGMA quick_check: ${SQLITE_DAMAGE.join('\n')}` });
    expect(readFileSync(live).equals(before)).toBe(true);
    expect(readdirSync(t.dir).filter((name) => name.includes('lifeboat-restore'))).toEqual([]);
  });

  it('a dump whose sqlite3 cannot be started', async (context) => {
    const t = rootWithModule(context);
    const db = path.join(t.dir, 'app.sqlite3');
    execaSync('sqlite3', [db, 'CREATE TABLE t(x);']);
    // sqlite3 on PATH, but not executable: the kernel refuses to start it (EACCES)
    const bin = path.join(t.dir, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'sqlite3'), '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    symlinkSync(process.execPath, path.join(bin, 'node'));
    const out = path.join(t.dir, 'out.sqlite3');
    const result = await lifeboat(t, ['dump', 'sqlite', '--path', db, '--output', out], { env: { PATH: bin } });
    expectFailure(result, { exit: 1, message: `SQLite database ${db}: sqlite3 could not start: spawn sqlite3 EACCES` });
    expectAbsent(out);
    expect(readdirSync(t.dir).filter((name) => name.includes('partial'))).toEqual([]);
  });

  it('a Redis server that refuses the connection', async (context) => {
    const t = rootWithModule(context);
    const port = await freePort();
    const out = path.join(t.dir, 'x.redis');
    const result = await lifeboat(t, ['dump', 'redis', '--url', `redis://127.0.0.1:${port}/0`, '--output', out]);
    expectFailure(result, { exit: 1, message: `Redis 127.0.0.1:${port} db 0 (whole database): connect ECONNREFUSED 127.0.0.1:${port}` });
    expectAbsent(out, `${out}.partial`);
  });

  it('a Redis server that closes the connection during SCAN', async (context) => {
    const t = rootWithModule(context);
    const server = await respServer(context, (command) => (command[0] === 'SCAN' ? undefined : '+OK\r\n'));
    const out = path.join(t.dir, 'x.redis');
    const result = await lifeboat(t, ['dump', 'redis', '--url', `redis://127.0.0.1:${server.port}/0`, '--output', out]);
    expectFailure(result, { exit: 1, message: `Redis 127.0.0.1:${server.port} db 0 (whole database): the connection closed` });
    expect(server.commands.map((c) => c[0])).toEqual(['SCAN']);
    expectAbsent(out);
    expect(readdirSync(t.dir).filter((name) => name.includes('partial'))).toEqual([]);
  });

  it('a Redis server that answers SCAN with an error', async (context) => {
    const t = rootWithModule(context);
    const server = await respServer(context, () => '-NOPERM this user has no permissions to run the scan command\r\n');
    const out = path.join(t.dir, 'x.redis');
    const result = await lifeboat(t, ['dump', 'redis', '--url', `redis://127.0.0.1:${server.port}/0`, '--output', out]);
    expectFailure(result, { exit: 1, message: `Redis 127.0.0.1:${server.port} db 0 (whole database): SCAN failed: NOPERM this user has no permissions to run the scan command` });
    expectAbsent(out);
  });

  it('a Redis server that answers SCAN with something that is not a cursor and keys', async (context) => {
    const t = rootWithModule(context);
    const server = await respServer(context, () => ':7\r\n');
    const out = path.join(t.dir, 'x.redis');
    const result = await lifeboat(t, ['dump', 'redis', '--url', `redis://127.0.0.1:${server.port}/0`, '--output', out]);
    expectFailure(result, { exit: 1, message: `lifeboat: Redis 127.0.0.1:${server.port} db 0 (whole database): dump failed: SCAN answered 7, not a cursor and a list of keys: is this a Redis server?` });
    expectAbsent(out);
  });

  it('a Redis server that answers RESTORE and then SCAN with something that is not a cursor and keys', async (context) => {
    const t = rootWithModule(context);
    const server = await respServer(context, (command) => (command[0] === 'SCAN' ? ':7\r\n' : '+OK\r\n'));
    // a real dump of one key to load
    const key = `lifeboat-errcore-${process.pid}-${Date.now()}`;
    execaSync('redis-cli', ['SET', key, 'v']);
    const dump = path.join(t.dir, 'k.redis');
    execaSync('node', [BIN, 'dump', 'redis', '--url', 'redis://127.0.0.1:6379/0', '--keys', key, '--output', dump]);
    execaSync('redis-cli', ['DEL', key]);
    const result = await lifeboat(t, ['load', 'redis', '--url', `redis://127.0.0.1:${server.port}/0`, '--input', dump]);
    expectFailure(result, { exit: 1, message: `lifeboat: Redis 127.0.0.1:${server.port} db 0 (whole database): restore failed: SCAN answered 7, not a cursor and a list of keys: is this a Redis server?` });
    expect(server.commands.map((c) => c[0])).toEqual(['RESTORE', 'SCAN']);
  });
});

describe.concurrent('services, the state dir and the disk', () => {
  // src/services/index.ts: stop returned, but isActive still says running after the settle time (10 s)
  it('a service that is still running after its stop command', async (context) => {
    const t = rootWithModule(context, { service: { stop: 'true', start: 'true', isActive: 'true' } });
    const result = await lifeboat(t, ['service', 'stop', 'm']);
    expectFailure(result, {
      exit: 1,
      message: 'lifeboat: service of module "m" is still running 10s after it was stopped',
      hint: 'check `service.stop`, `service.start` and `service.isActive` in the module\'s module.yaml',
    });
  });

  // src/services/container.ts: a real podman, a container that does not exist
  it('a container service whose container does not exist', async (context) => {
    const name = `lifeboat-errcore-none-${process.pid}`;
    const t = rootWithModule(context, { service: { container: name, engine: 'podman' } });
    const result = await lifeboat(t, ['service', 'is-active', 'm']);
    expectFailure(result, {
      exit: 1,
      message: `lifeboat: container ${name} (podman) does not exist: Error: inspecting object: no such container ${name}`,
      hint: "check `service.container` in the module's module.yaml (`podman ps -a` lists the containers)",
    });
  });

  // src/services/container.ts: the engine's stop fails (a podman shim: the container runs, stop is refused)
  it('a container service whose stop fails', async (context) => {
    const t = rootWithModule(context, { service: { container: 'app', engine: 'podman' } });
    const dir = shim(t, 'podman', 'case "$1" in container) echo true ;; stop) echo "Error: cannot stop app: permission denied" >&2; exit 125 ;; esac');
    const result = await lifeboat(t, ['service', 'stop', 'm'], { env: withShims(dir) });
    expectFailure(result, {
      exit: 1,
      message: 'lifeboat: container app (podman): `podman stop app` failed: podman stop failed (exit 125): Error: cannot stop app: permission denied',
      hint: "check `service.container` in the module's module.yaml and `podman ps -a`",
    });
  });

  // src/state/lock.ts: the locks folder on a read-only file system (bind-mounted read-only in a private mount namespace)
  it('a lock file that cannot be created (read-only locks folder)', async (context) => {
    const t = rootWithModule(context);
    const locks = path.join(t.stateDir, 'locks');
    mkdirSync(locks, { recursive: true });
    const result = await execa('unshare', ['-m', 'sh', '-c', 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"', 'sh', locks, 'node', BIN, '--root', t.root, '--state-dir', t.stateDir, 'backup', 'm'], { reject: false });
    expectFailure(result, {
      exit: 1,
      message: `cannot create the lock file of module "m" (${path.join(locks, 'm.lock')}): EROFS: read-only file system, open '${path.join(locks, 'm.lock')}.`,
      hint: 'check that the state dir is writable by this user, or pass --state-dir',
    });
    // the lock is written whole to a temp file that is then linked to its name
    expect(result.stderr).toMatch(new RegExp(`open '${path.join(locks, 'm\\.lock')}\\.\\d+\\.[0-9a-f]{8}\\.tmp'`));
    expect(readdirSync(locks)).toEqual([]);
    expectAbsent(path.join(t.dir, 'repo'));
  });

  // src/state/lock.ts: the locks folder on a full file system (a 4 KiB tmpfs, filled, in a private mount namespace)
  it('a lock file that cannot be written (full locks folder)', async (context) => {
    const t = rootWithModule(context);
    const locks = path.join(t.stateDir, 'locks');
    mkdirSync(locks, { recursive: true });
    const script = 'mount -t tmpfs -o size=4k tmpfs "$1" && (head -c 8192 /dev/zero > "$1/fill" || true) && shift && node "$@"; status=$?; ls -A "$1" >&2; exit $status';
    const result = await execa('unshare', ['-m', 'sh', '-c', script.replace('ls -A "$1"', `ls -A ${locks}`), 'sh', locks, BIN, '--root', t.root, '--state-dir', t.stateDir, 'backup', 'm'], { reject: false });
    expectFailure(result, {
      exit: 1,
      message: `cannot write the lock file of module "m" (${path.join(locks, 'm.lock')}): ENOSPC: no space left on device, write`,
      hint: 'free space in the state dir, or pass --state-dir',
    });
    // the half-made lock file was removed (ls of the tmpfs, printed last, shows only the filler)
    expect(result.stderr.trim().split('\n').at(-1)).toBe('fill');
    expectAbsent(path.join(t.dir, 'repo'));
  });

  // src/lifecycle/builtins/restore.ts: a restore --target on a file system without room (a small tmpfs)
  it('a restore into a target without room', async (context) => {
    const t = rootWithModule(context);
    writeFileSync(path.join(t.dir, 'data', 'big.bin'), Buffer.alloc(256 * 1024, 7));
    backup(t);
    const target = path.join(t.dir, 'target');
    mkdirSync(target);
    const script = 'mount -t tmpfs -o size=64k tmpfs "$1" && shift && node "$@"; status=$?; find "$0" -mindepth 1 >&2; exit $status';
    const result = await execa('unshare', ['-m', 'sh', '-c', script, target, target, BIN, '--root', t.root, '--state-dir', t.stateDir, 'restore', 'm', '--target', target], { reject: false });
    expectFailure(result, {
      exit: 1,
      message: `not enough room to restore under ${target}: `,
      hint: 'free space there, or give --target a folder on a file system with room',
    });
    const restoreScript = path.join(t.root, 'plugins', 'copy', 'restore');
    expect(result.stderr).toContain(`[m/10restore_module] error: not enough room to restore under ${target}: ${restoreScript} failed (exit 1): cp: error writing '${target}/.lifeboat-restore-`);
    expect(result.stderr).toContain(`${path.join(t.dir, 'data', 'big.bin')}': No space left on device; nothing live was changed\n`);
    expect(readFileSync(path.join(t.dir, 'data', 'f.txt'), 'utf8')).toBe('x\n');
    // nothing left in the target's file system (find printed nothing after lifeboat's last line)
    expect(result.stderr.trim().split('\n').at(-1)).toMatch(/^(lifeboat|\[m)/);
  });

  // src/lifecycle/builtins/module-state.ts: a module script that cannot be started at all
  it('a module script whose interpreter does not exist', async (context) => {
    const t = rootWithModule(context);
    const script = t.write('modules/m/bin/module-dump-state', '#!/nonexistent/interpreter\n', 0o755);
    const result = await lifeboat(t, ['backup', 'm']);
    expectFailure(result, {
      exit: 1,
      message: `[m] error: backup failed at pre-backup/30module_dump_state: cannot execute ${script}: it or its interpreter (the #! line) does not exist (ENOENT)`,
      hint: `its output is above; fix ${script}, or remove it when the module has no state to dump`,
    });
    expectAbsent(path.join(t.dir, 'repo', 'm'));
  });

  // src/lifecycle/builtins/verify.ts: a database added to module.yaml after the last backup
  it('a restore drill of a database whose dump is not in the snapshot', async (context) => {
    const t = rootWithModule(context);
    backup(t);
    const db = path.join(t.dir, 'app.sqlite3');
    execaSync('sqlite3', [db, 'CREATE TABLE t(x);']);
    t.module('m', { folders: [path.join(t.dir, 'data')], databases: [{ sqlite: { path: db } }] });
    const result = await lifeboat(t, ['verify', 'm']);
    const id = readdirSync(path.join(t.dir, 'repo', 'm'))[0].slice(0, 12);
    expectFailure(result, {
      exit: 1,
      message: `database check failed: local: SQLite database ${db}: its dump sqlite-app.sqlite3 is not in snapshot ${id} (check that the state dir (its databases/ folder) is not excluded, then back up again)`,
    });
    expect(existsSync(path.join(t.stateDir, 'scratch', 'verify', 'm'))).toBe(false);
  });

  // src/lifecycle/layout-check.ts: include lines refused before the lock (others can write the file)
  it('a state-include.conf others can write', async (context) => {
    const t = rootWithModule(context);
    const file = t.write('modules/m/etc/state-include.conf', 'x\n', 0o646);
    const result = await lifeboat(t, ['backup', 'm']);
    expectFailure(result, { exit: 2, message: `lifeboat: ${file}: refused: writable by others (mode 0646); it names paths root backs up and restores: chmod go-w ${file} and chown it to root` });
    expectAbsent(path.join(t.dir, 'repo'), path.join(t.stateDir, 'locks', 'm.lock'));
  });

  // src/lifecycle/layout-check.ts: a repository inside a folder the module backs up
  it('a repository inside a backed-up folder', async (context) => {
    const t = rootWithModule(context);
    const data = path.join(t.dir, 'data');
    t.write('lifeboat.yaml', `repositories:\n  local: { provider: copy, url: ${path.join(data, 'repo')} }\n`);
    const result = await lifeboat(t, ['backup', 'm']);
    expectFailure(result, {
      exit: 2,
      message: `lifeboat: ${moduleFile(t)}: repository "local" (${path.join(data, 'repo')}) lies inside the backed-up path ${data}: an in-place restore would roll the repository back; keep repositories outside the module's folders`,
    });
    expectAbsent(path.join(data, 'repo'), path.join(t.stateDir, 'locks', 'm.lock'));
  });

  // src/cli/schedule.ts: a schedule systemd timers cannot express
  it('schedule --systemd of a schedule with a nth weekday', async (context) => {
    const t = rootWithModule(context, { schedule: '0 3 * * 1#2' });
    const dest = path.join(t.dir, 'units');
    const result = await lifeboat(t, ['schedule', '--systemd', '--install', '--dest', dest]);
    expectFailure(result, { exit: 2, message: 'lifeboat: module m: cron expression "0 3 * * 1#2" uses # (nth weekday of the month), which systemd\'s OnCalendar= cannot express; use `lifeboat schedule --cron` or a simpler expression' });
    expectAbsent(dest);
  });

  // src/lifecycle/volumes.ts: a volume line naming a podman volume that does not exist
  it('a state-include.conf line naming a container volume that does not exist', async (context) => {
    const t = rootWithModule(context);
    const name = `errcore${process.pid}`;
    const file = t.write('modules/m/etc/state-include.conf', `volumes/${name}\n`);
    const result = await lifeboat(t, ['backup', 'm']);
    expectFailure(result, { exit: 1, message: `${file}:1: volumes/${name}: no container volume ${name} or m-${name} (podman); create it (podman volume create m-${name}) or remove the line` });
    expectAbsent(path.join(t.dir, 'repo', 'm'));
  });
});

// The manifest of module m's one backup as its lines (header, entries, end line), and a way to write it back.
function manifestLines(t: TestRoot): string[] {
  return gunzipSync(readFileSync(manifestOf(t))).toString('utf8').split('\n');
}
const writeManifest = (t: TestRoot, lines: string[]) => writeFileSync(manifestOf(t), gzipSync(lines.join('\n')));

describe.concurrent('manifests damaged in the state dir', () => {
  // verify reads the header first (readManifestHeader), then streams the rest: damage after the header
  it('verify with a manifest whose end line counts other entries', async (context) => {
    const t = rootWithModule(context);
    backup(t);
    const lines = manifestLines(t);
    const end = lines.findIndex((line) => line.startsWith('{"end"'));
    const held = (JSON.parse(lines[end]) as { entries: number }).entries;
    lines[end] = JSON.stringify({ ...JSON.parse(lines[end]), entries: held + 5 });
    writeManifest(t, lines);
    const result = await lifeboat(t, ['verify', 'm']);
    expectFailure(result, { exit: 1, message: `verify failed at verify/20check_manifest: manifest ${manifestOf(t)} is damaged: its end line says ${held + 5} entries, it holds ${held}`, hint: DAMAGED_MANIFEST_HINT });
  });

  it('verify with a manifest holding a line that is not an entry', async (context) => {
    const t = rootWithModule(context);
    backup(t);
    const lines = manifestLines(t);
    lines.splice(1, 0, '{"not":"an entry"}');
    writeManifest(t, lines);
    const result = await lifeboat(t, ['verify', 'm']);
    expectFailure(result, { exit: 1, message: `verify failed at verify/20check_manifest: manifest ${manifestOf(t)} is damaged: line 1 is not an entry`, hint: DAMAGED_MANIFEST_HINT });
  });

  it('verify with a manifest cut short after its header', async (context) => {
    const t = rootWithModule(context);
    backup(t);
    const whole = gzipSync(manifestLines(t).join('\n'));
    writeFileSync(manifestOf(t), whole.subarray(0, whole.length - 12));
    const result = await lifeboat(t, ['verify', 'm']);
    expectFailure(result, { exit: 1, message: `verify failed at verify/20check_manifest: manifest ${manifestOf(t)} is cut short (unexpected end of file)`, hint: DAMAGED_MANIFEST_HINT });
  });

  // A backup reuses the hashes of the previous manifest: one it cannot read is named in a warning and
  // every file is hashed again (the backup succeeds).
  for (const { what, content, problem } of [
    { what: 'empty', content: '', problem: 'is empty' },
    { what: 'not JSON', content: 'garbage\n', problem: 'is damaged: its first line is not JSON' },
    { what: 'of an unknown format', content: '{"version":99}\n', problem: 'has an unknown format (version 99)' },
  ]) {
    it(`a backup after the previous manifest became ${what}`, async (context) => {
      const t = rootWithModule(context);
      backup(t);
      const previous = manifestOf(t);
      writeFileSync(previous, gzipSync(content));
      const result = await lifeboat(t, ['backup', 'm']);
      expect(result.stderr).toContain(`warn: the previous manifest cannot be read, so no hashes are reused and every file is hashed again: manifest ${previous} ${problem}`);
      expect(result.exitCode, result.stderr).toBe(0);
      expect(readdirSync(path.join(t.dir, 'repo', 'm'))).toHaveLength(2);
    });
  }
});

describe.concurrent('dumps and drills of real database servers', () => {
  // src/cli/dump.ts: --database all without --output (the server holds several databases)
  it('dump postgres --database all to stdout', async (context) => {
    const t = rootWithModule(context);
    const result = await lifeboat(t, ['dump', 'postgres', '--host', PG.host, '--database', 'all']);
    expect(result.stderr).toMatch(/^lifeboat: --database all makes \d+ dumps; give --output DIR$/m);
    expect(result.stdout).toBe('');
    expect(result.exitCode, result.stderr).toBe(2);
  });

  // src/engines/postgres-drill.ts (checkArchiveName): a file that starts like an archive but is not one
  it('load of a PostgreSQL archive whose header is damaged', async (context) => {
    const t = rootWithModule(context);
    const name = uniqueName();
    const dump = path.join(t.dir, 'damaged.dump');
    writeFileSync(dump, Buffer.concat([Buffer.from('PGDMP'), Buffer.from([1, 14, 0, 9, 8, 1]), Buffer.alloc(64, 0xff)]));
    const result = await lifeboat(t, ['load', 'postgres', '--host', PG.host, '--database', name, '--input', dump]);
    expectFailure(result, { exit: 1, message: `lifeboat: PostgreSQL database "${name}" on 127.0.0.1: the dump ${dump} cannot be used: its header is damaged` });
    expect(psql('postgres', `SELECT count(*) FROM pg_database WHERE datname = '${name}';`).trim()).toBe('0');
  });

  // An empty database (a new module's): pg_dump 15 writes an archive without entries, and the drill passes
  it('a restore drill of an empty PostgreSQL database passes and says the database was empty', async (context) => {
    const name = uniqueName();
    psql('postgres', `CREATE DATABASE "${name}";`);
    context.onTestFinished(() => dropPostgres(name));
    const t = rootWithModule(context);
    t.module('m', { folders: [path.join(t.dir, 'data')], databases: [{ postgres: { host: PG.host, database: name } }] });
    backup(t);
    const result = await lifeboat(t, ['verify', 'm']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`PostgreSQL database "${name}" on 127\\.0\\.0\\.1: 0 archive entries \\(the database was empty when it was dumped\\) loaded into scratch database lifeboat_verify_\\w+: 0 table\\(s\\), 0 row\\(s\\); dropped again`));
  });

  // src/engines/postgres-drill.ts: an archive that needs a superuser (an untrusted extension) in the drill
  it('a restore drill of a PostgreSQL dump that creates an untrusted extension', async (context) => {
    const name = uniqueName();
    psql('postgres', `CREATE DATABASE "${name}";`);
    context.onTestFinished(() => dropPostgres(name));
    psql(name, 'CREATE EXTENSION file_fdw; CREATE TABLE t (x int); INSERT INTO t VALUES (1);');
    const t = rootWithModule(context);
    t.module('m', { folders: [path.join(t.dir, 'data')], databases: [{ postgres: { host: PG.host, database: name } }] });
    backup(t);
    const result = await lifeboat(t, ['verify', 'm']);
    expectFailure(result, { exit: 1, message: 'permission denied to create extension "file_fdw"' });
    expect(result.stderr).toContain('(the dump needs rights beyond its scratch database; the server refused them)');
    expect(result.stderr).toContain('it may have been altered in the repository');
  });

  // src/engines/postgres-drill.ts: the server refuses the drill's temporary role (pg_restore shim with the server's words)
  it('a restore drill whose temporary role may not log in', async (context) => {
    const name = uniqueName();
    psql('postgres', `CREATE DATABASE "${name}"; `);
    context.onTestFinished(() => dropPostgres(name));
    psql(name, 'CREATE TABLE t (x int);');
    const t = rootWithModule(context);
    t.module('m', { folders: [path.join(t.dir, 'data')], databases: [{ postgres: { host: PG.host, database: name } }] });
    backup(t);
    const dir = shim(t, 'pg_restore', 'case " $* " in *" --list "*|*" --file=/dev/null "*) exec /usr/bin/pg_restore "$@" ;; esac\nuser=; previous=\nfor arg; do [ "$previous" = --username ] && user=$arg; case "$arg" in --username=*) user=${arg#--username=} ;; esac; previous=$arg; done\necho "pg_restore: error: connection to server at \\"127.0.0.1\\", port 5432 failed: FATAL:  password authentication failed for user \\"${user:-$PGUSER}\\"" >&2\nexit 1');
    const result = await lifeboat(t, ['verify', 'm'], { env: withShims(dir) });
    expectFailure(result, { exit: 1, message: 'FATAL:  password authentication failed for user "lifeboat_verify_' });
    expect(result.stderr).toContain('the drill logs in as a temporary role with a password: allow it in pg_hba.conf (host all /^lifeboat_verify_ 127.0.0.1/32 scram-sha-256)');
    // the temporary role and its scratch database are dropped again
    const scratch = /lifeboat_verify_\d+_[0-9a-f]+/.exec(result.stderr)![0];
    expect(psql('postgres', `SELECT (SELECT count(*) FROM pg_roles WHERE rolname = '${scratch}') + (SELECT count(*) FROM pg_database WHERE datname = '${scratch}');`).trim()).toBe('0');
  });

  // src/engines/check.ts: a MariaDB dump cut short in the repository
  it('a restore drill of a MariaDB dump cut short in the repository', async (context) => {
    const name = uniqueName();
    mariadb(`CREATE DATABASE \`${name}\`; CREATE TABLE \`${name}\`.t (x int); INSERT INTO \`${name}\`.t VALUES (1);`);
    context.onTestFinished(() => dropMariadb(name));
    const t = rootWithModule(context);
    t.module('m', { folders: [path.join(t.dir, 'data')], databases: [{ mysql: { host: MY.host, user: MY.user, database: name } }] });
    backup(t);
    const stored = path.join(snapshotDir(t), t.stateDir, 'modules', 'm', 'state', 'databases', `mysql-${name}.sql`);
    const text = readFileSync(stored);
    writeFileSync(stored, text.subarray(0, text.length - 200));
    rmSync(path.join(t.stateDir, 'modules', 'm', 'manifests'), { recursive: true });
    const result = await lifeboat(t, ['verify', 'm']);
    expectFailure(result, { exit: 1, message: `does not end with mariadb-dump's completion mark: it is truncated (or was written with --skip-comments)` });
    expect(result.stderr).toContain(`database check failed: local: MariaDB database "${name}"`);
  });

  // src/engines/mysql-drill.ts: a dump without USE (mariadb-dump of one database without --databases)
  it('a restore drill of a MariaDB dump that selects no database', async (context) => {
    // an empty database: its dump written without --databases (no USE) still loads, selecting nothing
    const name = uniqueName();
    mariadb(`CREATE DATABASE \`${name}\`;`);
    context.onTestFinished(() => dropMariadb(name));
    const t = rootWithModule(context);
    t.module('m', { folders: [path.join(t.dir, 'data')], databases: [{ mysql: { host: MY.host, user: MY.user, database: name } }] });
    backup(t);
    const stored = path.join(snapshotDir(t), t.stateDir, 'modules', 'm', 'state', 'databases', `mysql-${name}.sql`);
    writeFileSync(stored, execaSync('mariadb-dump', ['-h', MY.host, '-u', MY.user, name]).stdout + '\n');
    rmSync(path.join(t.stateDir, 'modules', 'm', 'manifests'), { recursive: true });
    const result = await lifeboat(t, ['verify', 'm']);
    expectFailure(result, { exit: 1, message: `selects no database (no USE statement), so it cannot be loaded into a scratch database` });
    expect(result.stderr).toContain(`database check failed: local: MariaDB database "${name}" on 127.0.0.1: the dump `);
  });

  // src/engines/mysql-drill.ts: only the MySQL client on PATH (no mariadb, so no --sandbox)
  it('a restore drill of a MariaDB dump with only the mysql client', async (context) => {
    const name = uniqueName();
    mariadb(`CREATE DATABASE \`${name}\`; CREATE TABLE \`${name}\`.t (x int);`);
    context.onTestFinished(() => dropMariadb(name));
    const t = rootWithModule(context);
    t.module('m', { folders: [path.join(t.dir, 'data')], databases: [{ mysql: { host: MY.host, user: MY.user, database: name } }] });
    backup(t);
    const bin = pathWithout(['mariadb']);
    context.onTestFinished(() => rmSync(bin, { recursive: true, force: true }));
    const result = await lifeboat(t, ['verify', 'm'], { env: { PATH: bin } });
    expectFailure(result, { exit: 1, message: `the restore drill needs the mariadb client (its --sandbox mode), found only mysql (install it (Debian: apt-get install mariadb-client), or ` });
  });
});

describe.concurrent('restores, drills and S3 against real tools', () => {
  // src/providers/script-namespace.ts: a snapshot folder directly under / that no longer exists
  it('a restore into a target of a folder directly under / that is gone', async (context) => {
    const folder = `/lifeboat-errcore-${process.pid}-${Date.now()}`;
    mkdirSync(folder);
    context.onTestFinished(() => rmSync(folder, { recursive: true, force: true }));
    writeFileSync(path.join(folder, 'f.txt'), 'x\n');
    const t = rootWithModule(context, {});
    t.module('m', { folders: [folder] });
    backup(t);
    rmSync(folder, { recursive: true });
    // without supports-target the script restores in a private mount namespace, each live folder redirected
    rmSync(path.join(t.root, 'plugins', 'copy', 'supports-target'));
    const target = path.join(t.dir, 'target');
    const result = await lifeboat(t, ['restore', 'm', '--target', target]);
    expectFailure(result, { exit: 1, message: `cannot restore ${folder} safely: its folder is /; give it a folder of its own` });
    expectAbsent(folder);
    expect(existsSync(target) ? readdirSync(target) : []).toEqual([]);
  });

  // src/engines/redis.ts: a payload damaged in the repository fails RESTORE's checksum in the scratch server
  it('a restore drill of a Redis dump whose payload is damaged', async (context) => {
    const prefix = `lifeboat-errcore-${process.pid}-${Date.now()}`;
    execaSync('redis-cli', ['SET', `${prefix}:k`, 'value']);
    context.onTestFinished(() => void execaSync('redis-cli', ['DEL', `${prefix}:k`]));
    const t = rootWithModule(context);
    t.module('m', { folders: [path.join(t.dir, 'data')], databases: [{ redis: { url: 'redis://127.0.0.1:6379/0', keys: [`${prefix}:*`] } }] });
    backup(t);
    const dumps = path.join(snapshotDir(t), t.stateDir, 'modules', 'm', 'state', 'databases');
    const [name] = readdirSync(dumps);
    const stored = path.join(dumps, name);
    const bytes = readFileSync(stored);
    // the last byte of the only payload (its CRC64), just before the 12-byte trailer
    bytes[bytes.length - 13] ^= 0xff;
    writeFileSync(stored, bytes);
    rmSync(path.join(t.stateDir, 'modules', 'm', 'manifests'), { recursive: true });
    const result = await lifeboat(t, ['verify', 'm']);
    expectFailure(result, { exit: 1, message: 'RESTORE failed: ERR DUMP payload version or checksum are wrong' });
    expect(result.stderr).toContain('a payload in the dump is damaged, or it was dumped by a newer Redis than the local redis-server');
    expect(execaSync('redis-cli', ['GET', `${prefix}:k`]).stdout).toBe('value');
  });

  // src/lifecycle/volumes.ts: an in-place restore that must create a volume, with neither podman nor docker on PATH
  it('an in-place restore of a volume when no container engine is installed', async (context) => {
    const volume = `errcore${process.pid}`;
    execaSync('podman', ['volume', 'create', `m-${volume}`]);
    context.onTestFinished(() => void execaSync('podman', ['volume', 'rm', '-f', `m-${volume}`], { reject: false }));
    const mount = execaSync('podman', ['volume', 'inspect', `m-${volume}`, '--format', '{{.Mountpoint}}']).stdout.trim();
    writeFileSync(path.join(mount, 'v.txt'), 'volume data\n');
    const t = rootWithModule(context);
    t.write('modules/m/etc/state-include.conf', `volumes/${volume}\n`);
    backup(t);
    execaSync('podman', ['volume', 'rm', '-f', `m-${volume}`]);
    writeFileSync(path.join(t.dir, 'data', 'f.txt'), 'changed after the backup\n');
    const bin = pathWithout(['podman', 'docker']);
    context.onTestFinished(() => rmSync(bin, { recursive: true, force: true }));
    const result = await lifeboat(t, ['restore', 'm'], { env: { PATH: bin } });
    expectFailure(result, { exit: 1, message: `cannot create volume for volumes/${volume}: neither podman nor docker is installed` });
    expect(readFileSync(path.join(t.dir, 'data', 'f.txt'), 'utf8')).toBe('changed after the backup\n');
  });
});

// Waits until `file` exists (a shim's mark that the tool has started), for at most `seconds`.
async function waitForFile(file: string, seconds = 30): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`${file} never appeared`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.concurrent('runs stopped by a signal, and large inputs', () => {
  // src/engines/resp.ts: SIGTERM while the server has not answered SCAN yet (sent when the server sees SCAN)
  it('a Redis dump stopped by SIGTERM while waiting for the server', async (context) => {
    const t = rootWithModule(context);
    let child: ReturnType<typeof lifeboat> | undefined;
    const server = await respServer(context, (command) => {
      if (command[0] !== 'SCAN') return '+OK\r\n';
      child!.kill('SIGTERM');
      return '';
    });
    const out = path.join(t.dir, 'x.redis');
    child = lifeboat(t, ['dump', 'redis', '--url', `redis://127.0.0.1:${server.port}/0`, '--output', out]);
    const result = await child;
    expectFailure(result, { exit: 1, message: `lifeboat: Redis 127.0.0.1:${server.port} db 0 (whole database): stopped (SIGTERM)` });
    expectAbsent(out);
    expect(readdirSync(t.dir).filter((name) => name.includes('partial'))).toEqual([]);
  });

  // src/engines/redis-server.ts: SIGTERM while the drill waits for its throwaway redis-server (a shim that never opens its socket)
  it('a Redis restore drill stopped while its throwaway redis-server starts', async (context) => {
    const prefix = `lifeboat-errcore-${process.pid}-${Date.now()}`;
    execaSync('redis-cli', ['SET', `${prefix}:k`, 'value']);
    context.onTestFinished(() => void execaSync('redis-cli', ['DEL', `${prefix}:k`]));
    const t = rootWithModule(context);
    t.module('m', { folders: [path.join(t.dir, 'data')], databases: [{ redis: { url: 'redis://127.0.0.1:6379/0', keys: [`${prefix}:*`] } }] });
    backup(t);
    const mark = path.join(t.dir, 'redis-server-started');
    const dir = shim(t, 'redis-server', `case "$1" in --version|-v) exec /usr/bin/redis-server "$1" ;; esac\ntouch ${mark}\nexec sleep 60`);
    const child = lifeboat(t, ['verify', 'm'], { env: withShims(dir) });
    await waitForFile(mark);
    child.kill('SIGTERM');
    const result = await child;
    expectFailure(result, { exit: 1, message: 'the throwaway redis-server did not start: stopped (SIGTERM)' });
    // the scratch restore and the throwaway server's folder are removed
    expectAbsent(path.join(t.stateDir, 'scratch', 'verify', 'm'));
  });

  // src/engines/postgres-globals.ts: a roles file larger than any pg_dumpall --globals-only output
  it('load of a PostgreSQL roles file larger than 64 MiB', async (context) => {
    const t = rootWithModule(context, {});
    t.module('m', { folders: [path.join(t.dir, 'data')], databases: [{ postgres: { host: PG.host, database: 'all' } }] });
    const file = path.join(t.stateDir, 'modules', 'm', 'state', 'databases', 'postgres-all', 'globals.sql');
    mkdirSync(path.dirname(file), { recursive: true });
    // it starts as pg_dumpall's globals do (a file that does not is refused before its size is looked at)
    const head = Buffer.from('--\n-- PostgreSQL database cluster dump\n--\n\n');
    writeFileSync(file, Buffer.concat([head, Buffer.alloc((64 << 20) + 1 - head.length, 0x2d)]));
    const result = await lifeboat(t, ['load', 'm']);
    expectFailure(result, { exit: 1, message: `PostgreSQL roles on 127.0.0.1: the roles file ${file} cannot be loaded: it is larger than 64 MiB, which no pg_dumpall --globals-only file is; nothing was loaded` });
  });
});

describe('S3 answering a request with an error, or not at all', () => {
  let server: S3Server;
  let proxy: FaultProxy;
  beforeAll(async () => {
    server = await startS3();
    proxy = await startFaultProxy(server);
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.stop();
  });

  // src/storage/s3-upload.ts (its abort): SIGTERM while the tar provider's upload waits for S3 (the proxy holds the PUT)
  it('a backup to S3 stopped by SIGTERM during the upload', async (context) => {
    const t = rootWithModule(context);
    const prefix = `errcore-${process.pid}-${Date.now()}`;
    t.write('environment', `AWS_ACCESS_KEY_ID=${S3_ACCESS_KEY}\nAWS_SECRET_ACCESS_KEY=${S3_SECRET_KEY}\n`);
    const repository = { provider: 'tar', upload: `s3://${S3_BUCKET}/${prefix}`, encryption: 'none', endpoint: proxy.endpoint, cacert: server.caFile, compression: 'none', timeout: 60, env: { AWS_ACCESS_KEY_ID: '${AWS_ACCESS_KEY_ID}', AWS_SECRET_ACCESS_KEY: '${AWS_SECRET_ACCESS_KEY}' } };
    t.write('lifeboat.yaml', `repositories:\n  local: ${JSON.stringify(repository)}\n`);
    proxy.holdPuts = new RegExp(prefix);
    context.onTestFinished(() => proxy.release('deny'));
    const child = lifeboat(t, ['backup', 'm']);
    const deadline = Date.now() + 30_000;
    while (proxy.held === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(proxy.held).toBeGreaterThan(0);
    child.kill('SIGTERM');
    const result = await child;
    // the upload's own INTERRUPTED error ("upload to ...: stopped") is what stops it; the tar provider reports it as its backup stopped
    expectFailure(result, { exit: 1, message: '[m/50snapshot] error: tar repository "local" of module m: backup stopped; the incomplete archive was removed' });
    expect(result.stderr).toContain('[m] error: backup failed at backup/50snapshot: interrupted by SIGTERM');
    proxy.release('deny');
    // nothing under the prefix in s3rver's own folders: no object, no multipart upload
    const stored = readdirSync(server.dataDir, { recursive: true }).map(String).filter((name) => name.includes(prefix));
    expect(stored).toEqual([]);
  });

  // src/storage/s3-client.ts: the SDK's failure rewritten as what failed where and the fix
  it('s3 ls of a bucket that does not exist', async (context) => {
    const t = rootWithModule(context);
    const result = await lifeboat(t, ['s3', 'ls', 's3://nosuch-errcore/x', '--endpoint', server.endpoint], { env: server.env });
    expectFailure(result, {
      exit: 1,
      message: `lifeboat: listing s3://nosuch-errcore/x at ${server.endpoint}: bucket "nosuch-errcore" does not exist`,
      hint: 'create it (e.g. aws s3 mb s3://nosuch-errcore) or fix the bucket name',
    });
  });
});

describe.concurrent('a restore as a user who is not root', () => {
  // src/providers/script.ts: without root there is no private mount namespace for a script that may write anywhere
  it('a script provider restore into a target, as nobody, without supports-target', async (context) => {
    const t = rootWithModule(context);
    backup(t);
    rmSync(path.join(t.root, 'plugins', 'copy', 'supports-target'));
    // nobody owns the state dir and the folder the target is made in
    const nobody = Number(execaSync('id', ['-u', 'nobody']).stdout);
    const home = path.join(t.dir, 'nobody');
    mkdirSync(home);
    for (const dir of [home, ...execaSync('find', [t.stateDir]).stdout.split('\n')]) chownSync(dir, nobody, nobody);
    // and may read the configuration (root's, not writable by others)
    for (const file of [path.join(t.root, 'lifeboat.yaml'), moduleFile(t)]) chmodSync(file, 0o644);
    const target = path.join(home, 'target');
    const result = await execa('setpriv', ['--reuid', String(nobody), '--regid', String(nobody), '--clear-groups', 'node', BIN, '--root', t.root, '--state-dir', t.stateDir, 'restore', 'm', '--target', target], { reject: false, env: { HOME: home } });
    const script = path.join(t.root, 'plugins', 'copy', 'restore');
    expectFailure(result, {
      exit: 1,
      message: `[m] error: restore failed at restore/10restore_module: ${script}: a restore into a target folder (--target, or verify's scratch restore) needs root (it runs in a private mount namespace so that the script cannot change the live files), or a file ${path.join(t.root, 'plugins', 'copy', 'supports-target')} declaring that the script writes only under LIFEBOAT_TARGET`,
    });
    expect(existsSync(target) ? readdirSync(target) : []).toEqual([]);
  });
});
