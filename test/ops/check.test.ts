// `check` as a real preflight, and `backup --dry-run` running the same checks: repositories open (real
// restic and borg, right and wrong password), databases answer (real PostgreSQL, MariaDB, Redis, SQLite),
// folders exist, parts can be executed, hook directories hold nothing run-parts would ignore.
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { requireTool } from './tools.js';

let t: TestRoot;
afterEach(() => t?.cleanup());

// The findings of `check` as "LEVEL|subject|message" rows (the table's columns, padding removed).
function rows(stdout: string): string[] {
  return stdout
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.split(/ {2,}/).join('|'));
}

// A root with restic and borg repositories sharing one password file, and a module `web` with one folder.
function resticBorgRoot(): { pass: string; data: string } {
  t = makeRoot();
  const pass = path.join(t.dir, 'pass');
  writeFileSync(pass, 'correct-horse-battery\n', { mode: 0o600 });
  t.write('lifeboat.yaml', stringify({ repositories: { local: { provider: 'restic', url: path.join(t.dir, 'restic'), passwordFile: pass }, vault: { provider: 'borg', url: path.join(t.dir, 'borg'), passwordFile: pass } } }));
  const data = path.join(t.dir, 'data');
  mkdirSync(data);
  writeFileSync(path.join(data, 'file.txt'), 'hello\n');
  t.module('web', { folders: [data], schedule: '0 3 * * *' });
  return { pass, data };
}

describe('check: repositories', () => {
  it('opens restic and borg repositories, and fails on a wrong or missing password', async (ctx) => {
    requireTool('restic', ctx);
    requireTool('borg', ctx);
    const { pass } = resticBorgRoot();
    let run = await lifeboat(t, ['check']);
    expect(rows(run.stdout)).toContain('OK|repository local (module web)|opens: no snapshots yet (the first backup creates it)');
    expect(rows(run.stdout)).toContain('OK|repository vault (module web)|opens: no snapshots yet (the first backup creates it)');
    expect((await lifeboat(t, ['backup', '-q'])).exitCode).toBe(0);
    run = await lifeboat(t, ['check']);
    expect(run.exitCode, run.stdout).toBe(0);
    expect(rows(run.stdout).find((r) => r.startsWith('OK|repository local'))).toMatch(/^OK\|repository local \(module web\)\|opens: 1 snapshot\(s\), the newest from \d{4}-/);

    writeFileSync(pass, 'not-the-password\n');
    run = await lifeboat(t, ['check']);
    expect(run.exitCode).toBe(1);
    expect(rows(run.stdout)).toContain(
      'FAIL|repository local (module web)|cannot be opened: restic repository "local" of module web: restic snapshots failed (exit 1): Fatal: wrong password or no key found; check its url, password (passwordFile / passwordCommand) and that it is reachable',
    );
    expect(rows(run.stdout)).toContain(
      'FAIL|repository vault (module web)|cannot be opened: borg repository "vault" of module web: borg list failed: passphrase supplied in BORG_PASSPHRASE, by BORG_PASSCOMMAND or via BORG_PASSPHRASE_FD is incorrect.; check its url, password (passwordFile / passwordCommand) and that it is reachable',
    );

    rmSync(pass);
    run = await lifeboat(t, ['check']);
    expect(run.exitCode).toBe(1);
    expect(rows(run.stdout)).toContain(
      `FAIL|repository local (module web)|cannot be opened: repository "local": cannot read passwordFile ${pass}: ENOENT: no such file or directory, open '${pass}'; check its url, password (passwordFile / passwordCommand) and that it is reachable`,
    );
  });

  // Root can write anywhere, so this case exists only for other users (not registered as root: no skip in CI).
  const asUser = process.getuid?.() === 0 ? () => undefined : it;
  asUser('fails a repository that does not exist and cannot be created', async (ctx: { skip: (note?: string) => void }) => {
    requireTool('restic', ctx);
    resticBorgRoot();
    const locked = path.join(t.dir, 'locked');
    mkdirSync(locked, { mode: 0o555 });
    const pass = path.join(t.dir, 'pass');
    t.write('lifeboat.yaml', stringify({ repositories: { local: { provider: 'restic', url: path.join(locked, 'repo'), passwordFile: pass } } }));
    const run = await lifeboat(t, ['check']);
    expect(run.exitCode).toBe(1);
    expect(rows(run.stdout)).toContain(`FAIL|repository local (module web)|has no snapshots yet and cannot be created: ${locked} is not writable; create ${path.join(locked, 'repo')} or fix its permissions`);
  });
});

describe('check: databases and folders', () => {
  it('fails a database that does not answer or does not exist, and a missing folder, naming file and key', async (ctx) => {
    requireTool('psql', ctx);
    requireTool('mariadb', ctx);
    t = makeRoot();
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    const sqlite = path.join(data, 'app.sqlite3');
    execFileSync('sqlite3', [sqlite, 'CREATE TABLE t (x); INSERT INTO t VALUES (1);']);
    writeFileSync(path.join(data, 'notes.txt'), 'not a database\n');
    t.module('web', {
      folders: [data, path.join(t.dir, 'gone')],
      databases: [
        { postgres: { database: 'postgres', host: '127.0.0.1', user: 'postgres' } },
        { postgres: { database: 'lifeboat_check_missing', host: '127.0.0.1', user: 'postgres' } },
        { mysql: { database: 'mysql', host: '127.0.0.1', user: 'root' } },
        { mysql: { database: 'lifeboat_check_missing', host: '127.0.0.1', user: 'root' } },
        { redis: { url: 'redis://127.0.0.1:6379/0' } },
        { redis: { url: 'redis://127.0.0.1:1/0' } },
        { sqlite: { path: sqlite } },
        { sqlite: { path: path.join(data, 'notes.txt') } },
      ],
    });
    const run = await lifeboat(t, ['check']);
    expect(run.exitCode).toBe(1);
    const found = rows(run.stdout).filter((r) => r.includes('/databases/') || r.includes('/folders/'));
    expect(found[0]).toBe(`FAIL|modules/web/module.yaml: /folders/1|${path.join(t.dir, 'gone')} does not exist; create it, or remove it from folders:`);
    expect(found[1]).toBe('OK|modules/web/module.yaml: /databases/0/postgres|PostgreSQL database "postgres" answers');
    expect(found[2]).toMatch(/^FAIL\|modules\/web\/module\.yaml: \/databases\/1\/postgres\|PostgreSQL database "lifeboat_check_missing" does not exist \(the server has: .*postgres.*\); fix the entry \(host, user, password\) or the server$/);
    expect(found[3]).toBe('OK|modules/web/module.yaml: /databases/2/mysql|MySQL/MariaDB database "mysql" answers');
    expect(found[4]).toBe('FAIL|modules/web/module.yaml: /databases/3/mysql|MySQL/MariaDB database "lifeboat_check_missing" does not exist or this user cannot see it; fix the entry (host, user, password) or the server');
    expect(found[5]).toBe('OK|modules/web/module.yaml: /databases/4/redis|Redis 127.0.0.1:6379 db 0 answers');
    expect(found[6]).toBe('FAIL|modules/web/module.yaml: /databases/5/redis|Redis 127.0.0.1:1 db 0: connect ECONNREFUSED 127.0.0.1:1; fix the entry (host, user, password) or the server');
    expect(found[7]).toBe(`OK|modules/web/module.yaml: /databases/6/sqlite|SQLite database ${sqlite} exists`);
    expect(found[8]).toBe(`FAIL|modules/web/module.yaml: /databases/7/sqlite|${path.join(data, 'notes.txt')} is not an SQLite database; fix the entry (host, user, password) or the server`);
    expect(found).toHaveLength(9);
  });
});

describe('check: excludes and dump names', () => {
  it('fails a negated exclude the provider cannot honour and two databases dumped to one file, naming file and key', async () => {
    t = makeRoot();
    t.write('lifeboat.yaml', stringify({ repositories: { archive: { provider: 'tar', url: path.join(t.dir, 'tar'), compression: 'none' } } }));
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    t.module('web', { folders: [data], exclude: ['*.tmp', '!keep.tmp'], databases: [{ sqlite: { path: path.join(t.dir, 'a', 'app.db') } }, { sqlite: { path: path.join(t.dir, 'b', 'app.db') } }] });
    const run = await lifeboat(t, ['check']);
    expect(run.exitCode, run.stdout).toBe(1);
    expect(rows(run.stdout)).toContain('FAIL|module web|modules/web/module.yaml: /exclude/1 "!keep.tmp": negated patterns are not supported by the tar provider; list the paths to exclude instead');
    expect(rows(run.stdout)).toContain(
      `FAIL|module web|modules/web/module.yaml: /databases: SQLite database ${path.join(t.dir, 'a', 'app.db')} and SQLite database ${path.join(t.dir, 'b', 'app.db')} would both be dumped to databases/sqlite-app.sqlite3; give one of them a distinct \`name:\` in module.yaml`,
    );
  });
});

describe('check: hook directories and parts', () => {
  it('reports names run-parts ignores, a phase folder that is not a phase, a part without #!, each once', async () => {
    t = makeRoot();
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    t.module('web', { folders: [data], schedule: '0 3 * * *' });
    const exported = t.part('pre-backup', '45export.sh', '#!/bin/sh\nexit 0\n', 'web');
    const tilde = t.part('pre-backup', '40x~', '#!/bin/sh\nexit 0\n');
    t.part('prebackup', '10dump', '#!/bin/sh\nexit 0\n');
    const plain = t.part('post-backup', '10notify', 'echo done\n', 'web');
    const binary = t.write('modules/web/hooks.d/post-backup/20true', '', 0o755);
    writeFileSync(binary, execFileSync('cat', ['/bin/true']));
    chmodSync(binary, 0o755);
    const run = await lifeboat(t, ['check']);
    expect(run.exitCode).toBe(1);
    const table = rows(run.stdout);
    expect(table).toContain(`WARN|${exported}|run-parts' rules ignore this name (only letters, digits, _ and - are allowed), so it never runs; rename it, e.g. to 45export`);
    expect(table).toContain(`WARN|${tilde}|run-parts' rules ignore this name (only letters, digits, _ and - are allowed), so it never runs; rename it, e.g. to 40x`);
    const prebackup = path.join(t.root, 'hooks.d', 'prebackup');
    expect(table).toContain(
      `FAIL|${prebackup}/|is not a phase, so nothing in it ever runs; did you mean pre-backup? (mv ${prebackup} ${path.join(t.root, 'hooks.d', 'pre-backup')}); phases: pre-backup, backup, post-backup, finally, on-success, on-failure, pre-restore, restore, post-restore, verify`,
    );
    expect(table).toContain(`FAIL|${plain}|has no #! line and is not a binary, so it cannot be executed ("Exec format error"); add a first line such as #!/bin/sh`);
    expect(table.filter((r) => r.includes(binary))).toEqual([]);
    // Printed once: in the table, not again on stderr.
    expect(run.stderr).not.toContain('45export.sh');
  });

  it('warns about a part left under its old name in post-backup/, as backup does', async () => {
    t = makeRoot();
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    t.module('web', { folders: [data], schedule: '0 3 * * *' });
    const old = t.part('post-backup', '90start_service', '#!/bin/sh\nexit 0\n', 'web');
    const run = await lifeboat(t, ['check']);
    expect(rows(run.stdout)).toContain(`WARN|${old}|post-backup/90start_service now belongs to finally/ (it runs after a failure too); it was taken there: move ${old} to hooks.d/finally/`);
  });

  it('fails a part whose #! interpreter is missing or whose #! line ends in CR, naming file and fix', async () => {
    t = makeRoot();
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    t.module('web', { folders: [data], schedule: '0 3 * * *' });
    const python9 = t.part('pre-backup', '10python', '#!/usr/bin/python9\nprint("hi")\n', 'web');
    const crlf = t.part('pre-backup', '20crlf', '#!/bin/sh\r\necho hi\r\n', 'web');
    const viaEnv = t.part('post-backup', '10envtool', '#!/usr/bin/env lifeboat-no-such-tool -x\n', 'web');
    const fine = t.part('post-backup', '20fine', '#!/usr/bin/env sh\necho fine\n', 'web');
    const run = await lifeboat(t, ['check']);
    expect(run.exitCode).toBe(1);
    const table = rows(run.stdout);
    expect(table).toContain(`FAIL|${python9}|its #! interpreter /usr/bin/python9 does not exist or is not executable, so the part fails with "No such file or directory"; install it or change the first line (e.g. #!/bin/sh, or #!/usr/bin/env NAME)`);
    expect(table).toContain(`FAIL|${crlf}|its #! line ends in CR (Windows line ends), so the kernel looks for the interpreter "/bin/sh\\r" and the part fails with "No such file or directory"; convert the file: sed -i 's/\\r$//' FILE (or dos2unix)`);
    expect(table.find((r) => r.startsWith(`FAIL|${viaEnv}|`))).toMatch(/^FAIL\|\S+\|its #! line runs "lifeboat-no-such-tool" through env, and no executable lifeboat-no-such-tool is in PATH \(/);
    expect(table.filter((r) => r.includes(fine))).toEqual([]);
    // What check said is what a run meets: the backup fails at the first of them with the kernel's error.
    const backup = await lifeboat(t, ['backup', 'web']);
    expect(backup.exitCode).toBe(1);
    expect(backup.stderr).toMatch(/10python/);
  });

  it('warns about a #! env tool this shell finds but a scheduled run (cron, systemd) would not', async () => {
    t = makeRoot();
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    t.module('web', { folders: [data], schedule: '0 3 * * *' });
    const bin = path.join(t.dir, 'my bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'lifeboat-private-tool'), '#!/bin/sh\nexec /bin/sh "$@"\n', { mode: 0o755 });
    const part = t.part('pre-backup', '10private', '#!/usr/bin/env lifeboat-private-tool\necho hi\n', 'web');
    const run = await lifeboat(t, ['check'], { env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(run.exitCode, run.stdout).toBe(0);
    expect(rows(run.stdout)).toContain(
      `WARN|${part}|its #! line runs "lifeboat-private-tool" through env, and no executable lifeboat-private-tool is in PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin) of a scheduled run, though this shell finds it; write its full path in the #! line or install it in one of those folders`,
    );
    // Where the scheduled PATH has it too, nothing is said.
    writeFileSync(part, '#!/usr/bin/env sh\necho hi\n');
    expect(rows((await lifeboat(t, ['check'], { env: { PATH: `${bin}:${process.env.PATH}` } })).stdout).filter((r) => r.includes(part))).toEqual([]);
  });

  it("fails a module's own part that is not executable", async () => {
    t = makeRoot();
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    t.module('web', { folders: [data], schedule: '0 3 * * *' });
    const file = t.write('modules/web/hooks.d/pre-backup/40dump', '#!/bin/sh\nexit 0\n', 0o644);
    const run = await lifeboat(t, ['check']);
    expect(run.exitCode).toBe(1);
    expect(rows(run.stdout)).toContain(`FAIL|${file}|part refused: not executable; a module's own part must be: chmod +x ${file} (or empty it to mask a part)`);
  });
});

describe("a dangling symlink among a module's own parts", () => {
  it('fails check and backup (exit 2), naming the link, its target and the fix; in the root layer it stays a warning', async () => {
    t = makeRoot();
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    t.module('web', { folders: [data], schedule: '0 3 * * *' });
    const file = path.join(t.root, 'modules/web/hooks.d/pre-backup/40dump');
    const target = path.join(t.dir, 'gone.sh');
    mkdirSync(path.dirname(file), { recursive: true });
    symlinkSync(target, file);
    const reason = `dangling symlink (its target ${target} does not exist); a module's own part must run: point it at the script, or remove it (a symlink to /dev/null masks a part)`;
    const check = await lifeboat(t, ['check']);
    expect(check.exitCode).toBe(1);
    expect(rows(check.stdout)).toContain(`FAIL|${file}|part refused: ${reason}`);
    const backup = await lifeboat(t, ['backup', 'web']);
    expect(backup.exitCode).toBe(2);
    expect(backup.stderr).toContain(`lifeboat: ${file}: refused: ${reason}`);
    rmSync(file);
    const rootPart = path.join(t.root, 'hooks.d/pre-backup/40dump');
    mkdirSync(path.dirname(rootPart), { recursive: true });
    symlinkSync(target, rootPart);
    const warned = await lifeboat(t, ['check']);
    expect(rows(warned.stdout).find((row) => row.includes(rootPart))).toMatch(/^WARN\|/);
  });
});

describe('backup --dry-run runs the same checks', () => {
  it('exits 1 with the preflight findings and backs up nothing', async () => {
    t = makeRoot();
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    t.module('web', { folders: [data, path.join(t.dir, 'gone')], databases: [{ redis: { url: 'redis://127.0.0.1:1/0' } }] });
    const run = await lifeboat(t, ['backup', '--dry-run']);
    expect(run.exitCode).toBe(1);
    const preflight = run.stdout.slice(run.stdout.indexOf('\npreflight:\n') + '\npreflight:\n'.length);
    expect(rows(preflight)).toEqual([
      `FAIL|modules/web/module.yaml: /folders/1|${path.join(t.dir, 'gone')} does not exist; create it, or remove it from folders:`,
      'WARN|module web|has no retention: every snapshot is kept and the repository only grows; set retention: in its module.yaml or defaults.retention in lifeboat.yaml',
      'FAIL|modules/web/module.yaml: /databases/0/redis|Redis 127.0.0.1:1 db 0: connect ECONNREFUSED 127.0.0.1:1; fix the entry (host, user, password) or the server',
    ]);
    expect(run.stderr).toContain('the backup would fail: see the preflight above (or run `lifeboat check`)');
    expect((await lifeboat(t, ['snapshots', 'web', '--json'])).stdout.trim()).toBe('[]');
  });
});
