// Secrets: known values in a restic password file, a borg passphrase file, the root and module environment
// files, a repository's `env`, and PostgreSQL / MariaDB password files. Every command runs with --verbose
// (and --json where it has it), successful and failing; no secret may appear in stdout, stderr, the journal,
// any file of the state dir, a notification, or the argv of restic, borg, pg_dump and mariadb-dump
// (recording wrappers first on PATH log each argv and exec the real tool).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { Masker } from '../../src/log/mask.js';
import { createFakeService, type FakeService } from '../helpers/service.js';
import { createPostgres, dropMariadb, dropPostgres, mariadb, uniqueName } from '../helpers/databases.js';

const SECRETS = {
  resticPassword: 'S3cr3t-restic-pw-41a7',
  borgPassphrase: 'S3cr3t-borg-pp-52b8',
  rootEnv: 'S3cr3t-root-env-63c9',
  moduleEnv: 'S3cr3t-module-env-74da',
  repoEnv: 'S3cr3t-repo-env-85eb',
  interpolated: 'S3cr3t-interp-96fc',
  pgPassword: 'S3cr3t-pg-pw-a70d',
  myPassword: 'S3cr3t-my-pw-b81e',
};
const TOOLS = ['restic', 'borg', 'pg_dump', 'pg_restore', 'psql', 'mariadb-dump', 'mariadb', 'mysqldump', 'mysql'];

let t: TestRoot;
let service: FakeService;
let argvLog: string;
let wrappers: string;
const pings: string[] = [];
let server: http.Server;
const pgName = uniqueName();
const myName = uniqueName();
const myUser = `lb_${myName.slice(-10)}`;

beforeAll(async () => {
  t = makeRoot();
  service = await createFakeService();
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      pings.push(`${req.method} ${req.url}\n${JSON.stringify(req.headers)}\n${body}`);
      res.end('OK');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  // Recording wrappers: one line per call, then the real tool.
  wrappers = path.join(t.dir, 'wrappers');
  argvLog = path.join(t.dir, 'argv.log');
  mkdirSync(wrappers);
  for (const tool of TOOLS) {
    const real = realTool(tool);
    if (!real) continue;
    writeFileSync(path.join(wrappers, tool), `#!/bin/sh\n{ printf '%s' "${tool}"; for a in "$@"; do printf ' %s' "$a"; done; printf '\\n'; } >> "${argvLog}"\nexec "${real}" "$@"\n`);
    chmodSync(path.join(wrappers, tool), 0o755);
  }

  createPostgres(pgName);
  mariadb(`CREATE DATABASE \`${myName}\`; CREATE USER '${myUser}'@'127.0.0.1' IDENTIFIED BY '${SECRETS.myPassword}'; GRANT ALL ON \`${myName}\`.* TO '${myUser}'@'127.0.0.1'; CREATE TABLE \`${myName}\`.t (id int PRIMARY KEY); INSERT INTO \`${myName}\`.t VALUES (1);`);

  const file = (name: string, content: string) => {
    const full = path.join(t.dir, name);
    writeFileSync(full, `${content}\n`, { mode: 0o600 });
    return full;
  };
  const resticPass = file('restic.pass', SECRETS.resticPassword);
  const borgPass = file('borg.pass', SECRETS.borgPassphrase);
  const pgPass = file('pg.pass', SECRETS.pgPassword);
  const myPass = file('my.pass', SECRETS.myPassword);
  t.write('environment', `ROOT_TOKEN=${SECRETS.rootEnv}\nINTERPOLATED=${SECRETS.interpolated}\n`);
  t.write(
    'lifeboat.yaml',
    `repositories:\n` +
      `  local: { provider: restic, url: ${t.dir}/restic, passwordFile: ${resticPass}, env: { AWS_SECRET_ACCESS_KEY: ${SECRETS.repoEnv}, API_TOKEN: "\${INTERPOLATED}" } }\n` +
      `  vault: { provider: borg, url: ${t.dir}/borg, passwordFile: ${borgPass} }\n` +
      `notify:\n  - { webhook: "http://127.0.0.1:${port}/ping", format: json, actions: [backup, restore, verify] }\n`,
  );
  const data = path.join(t.dir, 'data');
  mkdirSync(data);
  writeFileSync(path.join(data, 'file.txt'), 'data\n');
  t.write('modules/m/environment', `MODULE_TOKEN=${SECRETS.moduleEnv}\n`);
  t.module('m', {
    folders: [data],
    // ${VAR} in a service command is the shell's (its environment holds the env files): the shell's own
    // argv, recorded from /proc, must show the reference, not the secret
    service: {
      stop: `tr '\\0' ' ' < /proc/$$/cmdline >> "${path.join(t.dir, 'argv.log')}"; echo >> "${path.join(t.dir, 'argv.log')}"; [ -n "\${MODULE_TOKEN}" ] || exit 9; echo "stopping with $MODULE_TOKEN"; ${service.stop}`,
      start: `[ -n "\${ROOT_TOKEN}" ] || exit 9; ${service.start}`,
      isActive: service.isActive,
      stopDuringBackup: true,
    },
    databases: [
      { postgres: { database: pgName, host: '127.0.0.1', user: 'postgres', passwordFile: pgPass } },
      { mysql: { database: myName, host: '127.0.0.1', user: myUser, passwordFile: myPass } },
    ],
    retention: { keepLast: 10 },
    schedule: '0 3 * * *',
  });
  // A part that prints every secret it can see; with the switch on it also fails (the error paths).
  t.part('pre-backup', '40chatty', `#!/bin/sh\necho "module token $MODULE_TOKEN root token $ROOT_TOKEN"\necho "to stderr: $MODULE_TOKEN" >&2\nif [ -e "${t.dir}/fail" ]; then echo "failing with $ROOT_TOKEN"; exit 3; fi\n`, 'm');
  t.write('modules/m/bin/module-dump-state', '#!/bin/sh\necho "state dump" > "$LIFEBOAT_STATE_DIR/state.txt"\n', 0o755);
});

afterAll(async () => {
  service?.cleanup();
  t?.cleanup();
  dropPostgres(pgName);
  dropMariadb(myName);
  mariadb(`DROP USER IF EXISTS '${myUser}'@'127.0.0.1';`);
  await new Promise((resolve) => server?.close(resolve));
});

// The real binary of a tool (not a wrapper), or undefined when it is not installed.
function realTool(tool: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

// Every place a secret could have leaked to, as [where, text] pairs.
function haystacks(outputs: Array<[string, string]>): Array<[string, string]> {
  const found: Array<[string, string]> = [...outputs];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      const st = statSync(file);
      if (st.isDirectory()) walk(file);
      else if (st.isFile()) found.push([file, readFileSync(file).toString('latin1')]);
    }
  };
  walk(t.stateDir);
  found.push(['argv of the wrapped tools', existsSync(argvLog) ? readFileSync(argvLog, 'utf8') : '']);
  pings.forEach((ping, index) => found.push([`notification ${index}`, ping]));
  return found;
}

describe('secrets never leak', () => {
  it('through any command, --verbose and --json, success and failure', { timeout: 600_000 }, async () => {
    const env = { PATH: `${wrappers}:${process.env.PATH}` };
    const outputs: Array<[string, string]> = [];
    const run = async (args: string[], expectExit?: number) => {
      const result = await lifeboat(t, ['--verbose', ...args], { env });
      outputs.push([`stdout of lifeboat ${args.join(' ')}`, result.stdout], [`stderr of lifeboat ${args.join(' ')}`, result.stderr]);
      if (expectExit !== undefined) expect(result.exitCode, `lifeboat ${args.join(' ')}: ${result.stderr}`).toBe(expectExit);
      return result;
    };
    await run(['backup', 'm', '--json'], 0);
    await run(['backup', 'm', '--dry-run', '--json'], 0);
    writeFileSync(path.join(t.dir, 'fail'), '');
    const failed = await run(['backup', 'm', '--json'], 1);
    expect(failed.stderr).toContain('failing with ***');
    expect(readFileSync(path.join(t.stateDir, 'journal.jsonl'), 'utf8')).toContain('pre-backup/40chatty');
    execFileSync('rm', [path.join(t.dir, 'fail')]);
    await run(['snapshots', '--json'], 0);
    await run(['snapshots', 'm', '--repo', 'vault'], 0);
    await run(['restore', 'm', '--json'], 0);
    await run(['restore', 'm', '--repo', 'vault', '--target', path.join(t.dir, 'aside'), '--json'], 0);
    // the MariaDB user of this test may not create accounts: the drill fails, saying so (masked as ever)
    const verify = await run(['verify', 'm', '--json'], 1);
    expect(verify.stderr).toContain('you need (at least one of) the CREATE USER privilege(s)');
    await run(['forget', 'm', '--json'], 0);
    await run(['plan', 'm', '--json'], 0);
    await run(['check', '--json'], 0);
    await run(['status', '--json'], 0);
    await run(['schedule', '--cron'], 0);
    await run(['service', 'stop', 'm'], 0);
    await run(['service', 'start', 'm'], 0);
    await run(['dump', 'm', '--output', path.join(t.dir, 'dumps')], 0);
    // A wrong restic password: the error path of the provider, with the password file's content known.
    writeFileSync(path.join(t.dir, 'restic.pass'), `${SECRETS.resticPassword}-but-wrong\n`);
    await run(['snapshots', 'm', '--repo', 'local'], 1);
    writeFileSync(path.join(t.dir, 'restic.pass'), `${SECRETS.resticPassword}\n`);

    // the wrappers really saw the tools run, and the notifications really went out
    const argv = readFileSync(argvLog, 'utf8');
    for (const tool of ['restic', 'borg', 'pg_dump']) expect(argv).toMatch(new RegExp(`^${tool} `, 'm'));
    expect(argv).toContain('/bin/sh -c tr');
    expect(argv).toMatch(/^(mariadb-dump|mysqldump) /m);
    expect(pings.length).toBeGreaterThanOrEqual(4);

    const leaks: string[] = [];
    for (const [where, text] of haystacks(outputs)) {
      for (const [name, secret] of Object.entries(SECRETS)) if (text.includes(secret)) leaks.push(`${name} in ${where}`);
    }
    expect(leaks).toEqual([]);
  });
});

describe('every secret source is masked from the first line of the first part', () => {
  const EARLY = {
    passwordFile: 'S3cr3t-early-pwfile-c92f',
    passwordCommand: 'S3cr3t-early-pwcmd-d03a',
    repoEnv: 'S3cr3t-early-repoenv-e14b',
    dbPasswordFile: 'S3cr3t-early-dbpw-f25c',
    dbUrl: 'S3cret-URL-pw-a71d',
  };
  let e: TestRoot;
  const db = uniqueName();
  afterAll(() => {
    e?.cleanup();
    dropPostgres(db);
  });

  it('a pre-backup part printing password files, passwordCommand output, repository env, a database password file and a database url', { timeout: 300_000 }, async () => {
    e = makeRoot();
    createPostgres(db);
    const file = (name: string, content: string) => {
      const full = path.join(e.dir, name);
      writeFileSync(full, `${content}\n`, { mode: 0o600 });
      return full;
    };
    const resticPass = file('restic.pass', EARLY.passwordFile);
    const dbPass = file('db.pass', EARLY.dbPasswordFile);
    e.write(
      'lifeboat.yaml',
      `repositories:\n` +
        `  byfile: { provider: restic, url: ${e.dir}/restic-file, passwordFile: ${resticPass}, env: { SOME_TOKEN: ${EARLY.repoEnv} } }\n` +
        `  bycommand: { provider: restic, url: ${e.dir}/restic-cmd, passwordCommand: "echo ${EARLY.passwordCommand}" }\n`,
    );
    const data = path.join(e.dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'f'), 'f\n');
    // the redis default user has no password (nopass): any password given with the user name is accepted
    const redisUrl = `redis://default:${EARLY.dbUrl}@127.0.0.1:6379/0`;
    e.module('m', { folders: [data], databases: [{ postgres: { database: db, host: '127.0.0.1', user: 'postgres', passwordFile: dbPass } }, { redis: { url: redisUrl, keys: [`${db}:*`] } }] });
    e.part('pre-backup', '01print', `#!/bin/sh\necho "file: $(cat ${resticPass})"\necho "command: $(echo ${EARLY.passwordCommand})" >&2\necho "env: ${EARLY.repoEnv}"\necho "db: $(cat ${dbPass})"\necho "url: ${redisUrl}"\n`, 'm');
    const result = await lifeboat(e, ['--verbose', 'backup', 'm', '--json']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain('[m/01print] file: ***');
    expect(result.stderr).toContain('command: ***');
    expect(result.stderr).toContain('env: ***');
    expect(result.stderr).toContain('db: ***');
    expect(result.stderr).toContain('url: redis://default:***@127.0.0.1:6379/0');
    const texts: Array<[string, string]> = [['stdout', result.stdout], ['stderr', result.stderr], ['journal', readFileSync(path.join(e.stateDir, 'journal.jsonl'), 'utf8')]];
    const leaks = texts.flatMap(([where, text]) => Object.entries(EARLY).filter(([, secret]) => text.includes(secret)).map(([name]) => `${name} in ${where}`));
    expect(leaks).toEqual([]);
  });

  it('an environment value of 40,000 characters is masked, and does not crash the masker', { timeout: 120_000 }, async () => {
    const big = makeRoot();
    try {
      const value = `S3cr3t-${'abcdefghij'.repeat(4000)}-big`;
      big.write('modules/m/environment', `BIG=${value}\nOTHER=S3cr3t-other-5e6f\n`);
      const data = path.join(big.dir, 'data');
      mkdirSync(data);
      big.module('m', { folders: [data] });
      big.part('pre-backup', '10big', '#!/bin/sh\necho "big: $BIG"\n', 'm');
      const result = await lifeboat(big, ['backup', 'm']);
      expect(result.exitCode, result.stderr.slice(0, 2000)).toBe(0);
      expect(result.stderr).toContain('big: ***');
      expect(result.stderr).not.toContain('abcdefghijabcdefghij');
    } finally {
      big.cleanup();
    }
  });
});

describe('a secret that an over-long line is cut inside', () => {
  it('is masked up to the cut: no leading piece of it is shown', { timeout: 120_000 }, async () => {
    const cut = makeRoot();
    try {
      cut.write('modules/m/environment', 'API_TOKEN=SuperSecretValue123\n');
      const data = path.join(cut.dir, 'data');
      mkdirSync(data);
      cut.module('m', { folders: [data] });
      // 16, 6 and 2 bytes of the token fit before the 64 KiB cut
      cut.part('pre-backup', '10long', '#!/bin/sh\nfor off in 65520 65530 65534; do printf "%${off}s" "" | tr " " a; echo "$API_TOKEN-tail"; done\n', 'm');
      const result = await lifeboat(cut, ['backup', 'm']);
      expect(result.exitCode, result.stderr.slice(-2000)).toBe(0);
      const lines = result.stderr.split('\n').filter((line) => line.startsWith('[m/10long] aaaa'));
      expect(lines).toHaveLength(3);
      for (const line of lines) {
        expect(line).toMatch(/a\*\*\* \[… line cut: \d+ more bytes dropped; a line is kept up to 65536 bytes\]$/);
        expect(line).not.toMatch(/Su|Sup|SuperS/);
      }
    } finally {
      cut.cleanup();
    }
  });
});

describe('the masker', () => {
  it('masks secrets of any length and count; where they overlap, the longest at the leftmost start wins', () => {
    const masker = new Masker();
    masker.add('abcd', 'abcdefgh', 'efghijkl', 'zz');
    expect(masker.mask('x abcdefghijkl y abcd z zz')).toBe('x ***ijkl y *** z zz');
    const many = Array.from({ length: 20_000 }, (_, i) => `secret-${i}-${'x'.repeat(i % 50)}`);
    masker.add(...many, 'q'.repeat(1_000_000));
    expect(masker.mask(`a ${many[19_999]} b ${'q'.repeat(1_000_000)} c secret-7-xxxxxxx d`)).toBe('a *** b *** c *** d');
    expect(masker.mask('nothing here')).toBe('nothing here');
  });
});
