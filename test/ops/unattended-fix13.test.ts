// Issue 13's fresh-eyes findings on the unattended scheduled job: each case as the operator meets it
// (the real CLI, real restic/tar, receivers on 127.0.0.1), with the exact lines and exit codes.
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { startHttpSink, type HttpSink } from '../helpers/http-sink.js';
import { BIN, lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
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
    // Every scheduled run (all modules) fails the module the same way: nothing new, nothing removed.
    for (let i = 0; i < 2; i++) {
      run = await lifeboat(t, ['-q', 'backup']);
      expect(run.exitCode).toBe(1);
      expect(run.stderr).toContain(`module m cannot run: ${message}`);
      expect(run.stdout).toBe(`backup m: FAILED (configuration: ${message})`);
    }
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

describe("finding 2: one module's refused part fails that module only", () => {
  it('backs up the others (exit 1), records the failure in the journal and status; named explicitly it is exit 2', async () => {
    t = makeRoot();
    t.dataModule('example');
    t.dataModule('good');
    const part = t.part('pre-backup', '10x', '#!/bin/sh\nexit 0\n', 'good');
    chmodSync(part, 0o644);
    let run = await lifeboat(t, ['backup']);
    expect(run.exitCode, run.stdout + run.stderr).toBe(1);
    expect(run.stderr).toContain(`module good cannot run: ${part}: refused: not executable`);
    expect(run.stdout).toMatch(/^backup example: ok local:\S+\nbackup good: FAILED \(configuration: /);
    expect(run.stdout).toContain(`backup good: FAILED (configuration: ${part}, shown above)\n`);
    const status = JSON.parse((await lifeboat(t, ['status', '--json'])).stdout) as { modules: { module: string; state: string; lastError?: string | null }[] };
    const states = Object.fromEntries(status.modules.map((m) => [m.module, m.state]));
    expect(states).toEqual({ example: 'ok', good: 'failed' });
    const journal = readFileSync(path.join(t.stateDir, 'journal.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { type: string; module: string; result?: string; error?: string; failedPart?: string });
    expect(journal.filter((r) => r.module === 'good' && r.type === 'end').map((r) => [r.result, r.failedPart, r.error])).toEqual([['failure', 'configuration', `${part}: refused: not executable; a module's own part must be: chmod +x ${part} (or empty it to mask a part)`]]);

    run = await lifeboat(t, ['backup', 'good']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toBe(`lifeboat: ${part}: refused: not executable; a module's own part must be: chmod +x ${part} (or empty it to mask a part)`);
  });
});

// What cron does with a job line's command field (crontab(5)): an unescaped % ends the command (the rest
// becomes its stdin, each further % a newline), and \% is a plain %.
function cronCommand(field: string): string {
  let out = '';
  for (let i = 0; i < field.length; i++) {
    if (field[i] === '\\' && field[i + 1] === '%') {
      out += '%';
      i++;
    } else if (field[i] === '%') return out;
    else out += field[i];
  }
  return out;
}

describe('finding 5: schedule --cron and a % in a path', () => {
  it('escapes % as \\% so the job cron runs is the whole command', async () => {
    t = makeRoot();
    t.dataModule('m', { schedule: '0 3 * * *' });
    const pct = path.join(t.dir, 'x 50% y');
    mkdirSync(pct);
    const at = { root: path.join(pct, 'root'), stateDir: path.join(pct, 'state') };
    renameSync(t.root, at.root);
    const dest = path.join(t.dir, 'cron');
    const install = await lifeboat(at, ['schedule', '--cron', '--install', '--dest', dest]);
    expect(install.exitCode, install.stderr).toBe(0);
    const job = readFileSync(dest, 'utf8').split('\n').find((line) => line.startsWith('0 3 * * * root '))!;
    expect(job).toContain(`--root '${pct.replace('%', '\\%')}/root'`);
    const command = job.split(' ').slice(6).join(' ');
    const run = await execa('/bin/sh', ['-c', cronCommand(command)], { reject: false, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    expect(run.stderr + run.stdout).toBe('');
    expect(run.exitCode).toBe(0);
    expect((await lifeboat(at, ['snapshots', 'm', '--json'])).stdout).toMatch(/"module": "m"/);
  });
});

describe('finding 12: a run skipped for a lock under -q', () => {
  it('prints nothing and exits 3 (cron mails nothing on an overlap)', async () => {
    t = makeRoot();
    t.dataModule('good');
    const running = path.join(t.dir, 'running');
    const release = path.join(t.dir, 'release');
    t.part('pre-backup', '10hold', `#!/bin/sh\ntouch '${running}'\nwhile [ ! -e '${release}' ]; do sleep 0.05; done\n`, 'good');
    const holder = lifeboat(t, ['-q', 'backup', 'good']);
    while (!existsSync(running)) await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await lifeboat(t, ['-q', 'backup', 'good']);
    writeFileSync(release, '');
    expect((await holder).exitCode).toBe(0);
    expect(second.stdout + second.stderr).toBe('');
    expect(second.exitCode).toBe(3);
  });
});

describe('finding 9: a missing lifeboat.yaml', () => {
  let sink: HttpSink | undefined;
  afterEach(async () => {
    await sink?.close();
    sink = undefined;
  });

  it('names the missing file (exit 2) and sends the failure ping from notify-last-good.json', async () => {
    sink = await startHttpSink();
    t = makeRoot();
    const config = parse(readFileSync(path.join(t.root, 'lifeboat.yaml'), 'utf8')) as Record<string, unknown>;
    t.write('lifeboat.yaml', stringify({ ...config, notify: [{ webhook: `${sink.url}/ping/abc` }] }));
    t.dataModule('example');
    expect((await lifeboat(t, ['-q', 'backup'])).exitCode).toBe(0);
    sink.received.length = 0;
    rmSync(path.join(t.root, 'lifeboat.yaml'));
    const run = await lifeboat(t, ['-q', 'backup']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(`lifeboat: module "example" has no repository: ${path.join(t.root, 'lifeboat.yaml')} does not exist (it defines the repositories); put it back (or run \`lifeboat init\` for a new one)`);
    expect(sink.received.map((r) => r.url.split('?')[0])).toEqual(['/ping/abc/start', '/ping/abc/fail']);
    expect(sink.received[1].body).toContain(`lifeboat.yaml does not exist`);
  });
});

describe('finding 8: an ntfy URL with credentials', () => {
  let sink: HttpSink | undefined;
  afterEach(async () => {
    await sink?.close();
    sink = undefined;
  });

  it('sends them as an Authorization: Basic header and never logs the password', async () => {
    sink = await startHttpSink();
    t = makeRoot();
    const config = parse(readFileSync(path.join(t.root, 'lifeboat.yaml'), 'utf8')) as Record<string, unknown>;
    const port = new URL(sink.url).port;
    t.write('lifeboat.yaml', stringify({ ...config, notify: [{ ntfy: `http://user:s3cretpw@127.0.0.1:${port}/t` }, { ntfy: 'http://user:s3cretpw@127.0.0.1:2/t' }] }));
    t.dataModule('m');
    const run = await lifeboat(t, ['backup', 'm']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(sink.received.map((r) => [r.method, r.url, r.headers.authorization])).toEqual([['POST', '/t', `Basic ${Buffer.from('user:s3cretpw').toString('base64')}`]]);
    expect(run.stderr).toMatch(/error: notification \(success\) by ntfy http:\/\/127\.0\.0\.1:2\/… failed: ECONNREFUSED; the run itself is not affected/);
    expect(run.stdout + run.stderr).not.toContain('s3cretpw');
  });
});

describe('finding 6: schedule --cron and L, W, # (not in Debian cron)', () => {
  it('refuses them (exit 2) naming module.yaml, the key and the fix; nothing is written', async () => {
    t = makeRoot();
    const last = t.dataModule('last', { schedule: '5 4 L * *' }) && path.join(t.root, 'modules/last/module.yaml');
    t.dataModule('second', { schedule: '0 3 * * *', verify: { schedule: '0 3 * * MON#2' } });
    const near = t.dataModule('near', { schedule: '0 3 15W * *' }) && path.join(t.root, 'modules/near/module.yaml');
    const second = path.join(t.root, 'modules/second/module.yaml');
    const dest = path.join(t.dir, 'cron');
    const run = await lifeboat(t, ['schedule', '--cron', '--install', '--dest', dest]);
    expect(run.exitCode).toBe(2);
    const fix = "Debian's cron does not support it and would never run the job: write it with numbers, ranges (1-5), lists (1,15) and steps (*/2) only, or use `lifeboat schedule --systemd`";
    expect(run.stderr.split('\n')).toEqual([
      `lifeboat: ${last}: /schedule "5 4 L * *" uses L (last day); ${fix}`,
      `lifeboat: ${near}: /schedule "0 3 15W * *" uses W (nearest weekday); ${fix}`,
      `lifeboat: ${second}: /verify/schedule "0 3 * * MON#2" uses # (nth weekday of the month); ${fix}`,
    ]);
    expect(existsSync(dest)).toBe(false);
  });
});

describe('finding 4: a snapshot dated in the future (a wrong clock)', () => {
  it('check warns naming it, and restore without an id warns that the latest by date is after now', async (ctx) => {
    requireTool('faketime', ctx);
    t = makeRoot({ repositories: {} });
    const repo = path.join(t.dir, 'tar');
    t.write('lifeboat.yaml', stringify({ repositories: { t: { provider: 'tar', url: repo, compression: 'none' } } }));
    const data = t.dataModule('m', { verify: { schedule: '0 4 * * 0' } });
    for (const action of ['backup', 'verify']) {
      const line = [process.execPath, BIN, '--root', t.root, '--state-dir', t.stateDir, '-q', action, 'm'].map((a) => `'${a}'`).join(' ');
      const future = await execa('faketime', ['2030-01-01 03:00:00', '/bin/sh', '-c', line], { reject: false, env: { TZ: 'UTC' } });
      expect(future.exitCode, future.stderr).toBe(0);
    }
    writeFileSync(path.join(data, 'file.txt'), 'now\n');
    expect((await lifeboat(t, ['-q', 'backup', 'm'])).exitCode).toBe(0);
    const listed = JSON.parse((await lifeboat(t, ['snapshots', 'm', '--json'])).stdout) as { id: string; time: string }[];
    const ahead = listed.find((s) => s.time.startsWith('2030-01-01'))!;
    expect(ahead).toBeDefined();
    const check = await lifeboat(t, ['check']);
    expect(check.stdout).toMatch(new RegExp(`WARN +repository t \\(module m\\) +holds 1 snapshot\\(s\\) dated in the future: ${ahead.id} \\(${ahead.time.replace(/[.]/g, '\\.')}\\); `));
    expect(check.stdout).toMatch(/WARN +module m \(restore drill\) +the last drill is dated 2030-01-01 03:00Z, after this host's clock: /);
    const target = path.join(t.dir, 'target');
    const restore = await lifeboat(t, ['restore', 'm', '--target', target]);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(restore.stderr).toContain(`warn: snapshot ${ahead.id}, the latest by date, is dated ${ahead.time}, after this host's clock`);
  });
});

describe('finding 7: notification targets in the preflight, and a failed notification under -q', () => {
  it('check fails a missing sendmail or notify command and warns on an unreachable URL; -q still prints a failed notification', async () => {
    t = makeRoot();
    const config = parse(readFileSync(path.join(t.root, 'lifeboat.yaml'), 'utf8')) as Record<string, unknown>;
    const file = t.write('lifeboat.yaml', stringify({ ...config, notify: [{ sendmail: { to: 'ops@example.org', command: '/nonexistent/sendmail' } }, { command: '/nonexistent/notify-chat --urgent' }, { ntfy: 'http://127.0.0.1:2/t' }, { ntfy: 'http://exa mple/t' }] }));
    t.dataModule('m', { schedule: '0 3 * * *', retention: { keepLast: 3 } });
    const check = await lifeboat(t, ['check']);
    expect(check.exitCode).toBe(1);
    const rows = check.stdout.split('\n').map((line) => line.split(/ {2,}/).join('|'));
    expect(rows).toContain(`FAIL|${file}: /notify/0/sendmail|/nonexistent/sendmail does not exist: no mail can be sent; install a sendmail (e.g. Debian's postfix, msmtp-mta) or set sendmail.command`);
    expect(rows).toContain(`FAIL|${file}: /notify/1/command|/nonexistent/notify-chat does not exist: the notify command cannot run; fix the path or install it`);
    expect(rows).toContain(`WARN|${file}: /notify/2/ntfy|http://127.0.0.1:2 cannot be reached (ECONNREFUSED): notifications to it will fail; check the URL and the network`);
    expect(rows).toContain(`FAIL|${file}: /notify/3/ntfy|is not a URL a notification can be sent to; write it as http(s)://host[:port]/path`);
    const run = await lifeboat(t, ['-q', 'backup', 'm']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('error: notification (success) by e-mail to ops@example.org failed: ');
    expect(run.stderr).toContain('error: notification (success) by notify command failed: ');
    expect(run.stderr).toContain('error: notification (success) by ntfy http://127.0.0.1:2/… failed: ECONNREFUSED; the run itself is not affected');
  });
});

describe('finding 13: FOLDERS longer than the kernel allows', () => {
  it('is a warning at run time (nothing under -q, exit 0) and a check finding naming the module', async () => {
    t = makeRoot();
    const folders = Array.from({ length: 400 }, (_, i) => path.join(t.dir, 'data', 'f'.repeat(200), `${'g'.repeat(200)}${i}`));
    for (const folder of folders) mkdirSync(folder, { recursive: true });
    t.module('web', { folders, schedule: '0 3 * * *', retention: { keepLast: 3 } });
    // Exit 75 skips the rest (the copy test provider, a script, would get the same FOLDERS).
    t.part('pre-backup', '40count', '#!/bin/sh\n[ -z "$FOLDERS" ] && [ "$(wc -l < "$FOLDERS_FILE")" = 400 ] && exit 75\nexit 1\n', 'web');
    const run = await lifeboat(t, ['-q', 'backup', 'web']);
    expect(run.stdout + run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    const size = Buffer.byteLength(`FOLDERS=${folders.join(':')}`) + 1;
    const check = await lifeboat(t, ['check']);
    expect(check.stdout.split('\n').map((line) => line.split(/ {2,}/).join('|'))).toContain(
      `WARN|module web|FOLDERS would be ${size} bytes, longer than the kernel's limit of 131072 bytes for one environment variable (MAX_ARG_STRLEN): parts get no FOLDERS; a part of this module that uses it must read FOLDERS_FILE (one path per line) instead`,
    );
  });
});

describe('finding 14: cosmetic items', () => {
  it('after a partial failure the summary has a line for the repository that failed too', async (ctx) => {
    requireTool('restic', ctx);
    t = makeRoot({ repositories: {} });
    const pass = path.join(t.dir, 'pass');
    writeFileSync(pass, 'correct-horse-battery\n', { mode: 0o600 });
    t.write('lifeboat.yaml', stringify({ repositories: { local: { provider: 'restic', url: path.join(t.dir, 'restic'), passwordFile: pass }, off: { provider: 'restic', url: 'rest:http://127.0.0.1:2/x', passwordFile: pass } } }));
    t.dataModule('m', { repositories: ['local', 'off'] });
    const run = await lifeboat(t, ['backup', 'm']);
    expect(run.exitCode).toBe(1);
    const summary = run.stdout.split('\n').filter((line) => line.startsWith('summary '));
    expect(summary).toHaveLength(2);
    expect(summary[0]).toMatch(/^summary m local: 1 files, 2 B total, .+ stored, \d+\.\ds$/);
    expect(summary[1]).toMatch(/^summary m off: no snapshot \(failed\), \d+\.\ds$/);
  });
});

describe('finding 14: #! lines check explains', () => {
  it('names the argument a CR ends up in, and a UTF-8 BOM before #!', async () => {
    t = makeRoot();
    t.dataModule('web', { schedule: '0 3 * * *', retention: { keepLast: 3 } });
    const cr = t.part('pre-backup', '10cr', '#!/bin/sh -e\r\nexit 0\r\n', 'web');
    const bom = t.part('pre-backup', '20bom', '\ufeff#!/bin/sh\nexit 0\n', 'web');
    const check = await lifeboat(t, ['check']);
    expect(check.exitCode).toBe(1);
    const rows = check.stdout.split('\n').map((line) => line.split(/ {2,}/).join('|'));
    expect(rows).toContain(`FAIL|${cr}|its #! line ends in CR (Windows line ends), so the kernel runs /bin/sh with the argument "-e\\r" and the part fails; convert the file: sed -i 's/\\r$//' FILE (or dos2unix)`);
    expect(rows).toContain(`FAIL|${bom}|starts with a UTF-8 byte order mark (BOM) before its #! line, so the kernel does not see the #! and cannot execute it ("Exec format error"); remove the BOM: sed -i '1s/^\\xEF\\xBB\\xBF//' FILE`);
  });
});

describe('finding 14: the notification text shows what retention removed', () => {
  it('a command target gets "; retention removed REPO:ID" like the result line', async () => {
    t = makeRoot({ repositories: {} });
    const got = path.join(t.dir, 'got');
    t.write('lifeboat.yaml', stringify({ repositories: { local: { provider: 'tar', url: path.join(t.dir, 'tar'), compression: 'none' } }, notify: [{ command: `cat > '${got}'` }] }));
    t.dataModule('m', { retention: { keepLast: 1 } });
    expect((await lifeboat(t, ['-q', 'backup', 'm'])).exitCode).toBe(0);
    const run = await lifeboat(t, ['backup', 'm']);
    expect(run.exitCode).toBe(0);
    const line = /^backup m: ok .+$/m.exec(run.stdout)![0];
    expect(line).toMatch(/; retention removed local:\S+$/);
    expect(readFileSync(got, 'utf8').split('\n')[1]).toBe(`m: ok ${line.slice('backup m: ok '.length)}`);
  });
});
