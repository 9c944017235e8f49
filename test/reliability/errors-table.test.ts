// The LifeboatError messages a user meets, one table through the real CLI: each case sets up a root, runs
// one command and asserts the exit status (2 for usage and configuration codes, 1 for runtime codes such
// as PART_FAILED; the code decides it, see src/errors.ts) and the message on stderr, byte for byte.
//
// TESTING.md lists every LifeboatError site: which test meets it, or why no CLI input reaches it.
//
// Not in this table:
// - runtime failures of the real tools and servers (restic, borg, tar, S3, PostgreSQL, MariaDB, Redis):
//   they need the tool to fail and are asserted where that is set up: test/reliability/environment-faults,
//   fault-matrix, untrusted-storage, untrusted-bucket, restore-safety; test/engines/*; test/s3/*;
//   test/providers/*;
// - LOCKED (test/lifecycle/commands.test.ts, lock.test.ts) and INTERRUPTED (fault-matrix's signals);
// - messages no CLI input reaches: `unknown engine` of dump/load (any other name is taken as a module
//   name, and an unknown module is reported as such), the restic tag check (Lifeboat's own tags never hold a comma), a JS
//   provider missing its exports (js-plugin.ts: only trusted built-ins are loaded as JS), the lock's
//   module-name check (module names are validated by the config schema first), and the s3 `--part-size`
//   minimum (the schema refuses a smaller partSize in lifeboat.yaml before the S3 layer sees it).
import { describe, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { execaSync } from 'execa';
import { BIN, lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';

interface Case {
  // what the user did
  what: string;
  args: (t: TestRoot) => string[];
  arrange?: (t: TestRoot) => void;
  env?: Record<string, string> | ((t: TestRoot) => Record<string, string>);
  // what the command reads on stdin (empty when not given)
  input?: string;
  // the fix, as stderr shows it after the message (`hint: ...`); a failing part's hint is logged by the runner
  hint?: (t: TestRoot) => string;
  exit: number;
  // the message (after `lifeboat: `) as it must appear on stderr
  message: (t: TestRoot) => string;
  // files the failed command must not have left
  absent?: (t: TestRoot) => string[];
}

// A module m with one folder, on the copy provider of makeRoot().
function moduleM(t: TestRoot, extra: Record<string, unknown> = {}): void {
  const data = path.join(t.dir, 'data');
  mkdirSync(data, { recursive: true });
  writeFileSync(path.join(data, 'f.txt'), 'x\n');
  t.module('m', { folders: [data], ...extra });
}
const yaml = (t: TestRoot, text: string) => t.write('lifeboat.yaml', text);
const repoYaml = (t: TestRoot, repository: Record<string, unknown>) => yaml(t, `repositories:\n  local: ${JSON.stringify(repository)}\n`);
const moduleFile = (t: TestRoot) => path.join(t.root, 'modules', 'm', 'module.yaml');
// Repositories local and other (copy provider), both used by module m.
function twoRepositories(t: TestRoot): void {
  yaml(t, `repositories:\n  local: { provider: copy, url: ${path.join(t.dir, 'repo')} }\n  other: { provider: copy, url: ${path.join(t.dir, 'other')} }\n`);
  moduleM(t);
}
// The one manifest module m's one backup left in the state dir.
function manifestOf(t: TestRoot): string {
  const dir = path.join(t.stateDir, 'modules', 'm', 'manifests', 'local');
  const [name] = readdirSync(dir);
  return path.join(dir, name);
}
// Credentials that pass the settings check (no request is made in these cases).
const S3_KEYS = { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'example-secret' };

const CASES: Case[] = [
  // usage
  { what: 'an unknown completion shell', args: () => ['completion', 'fish'], exit: 2, message: () => 'completion: unknown shell "fish"; use bash or zsh' },
  { what: 'an unknown plan action', arrange: moduleM, args: () => ['plan', 'm', 'frobnicate'], exit: 2, message: () => 'unknown action "frobnicate"; use one of ' },
  { what: '--parallel that is not a number', args: () => ['backup', '--parallel', 'x'], exit: 2, message: () => '--parallel must be a whole number, got "x"' },
  { what: 'an empty --target', arrange: moduleM, args: () => ['restore', 'm', '--target', ''], exit: 2, message: () => '--target is empty; give the folder to restore under (or leave --target out to restore in place)' },
  { what: 'an unknown s3 operation', args: () => ['s3', 'frob'], exit: 2, message: () => 'unknown s3 operation "frob"; use ls, put or get' },
  { what: 's3 get without its arguments', args: () => ['s3', 'get'], exit: 2, message: () => 'usage: lifeboat s3 get LOCATION FILE|-' },
  { what: 's3 put without its arguments', args: () => ['s3', 'put'], exit: 2, message: () => "usage: lifeboat s3 put FILE|- LOCATION (s3://bucket/key, or a key under --repo's upload prefix)" },
  { what: 's3 get with an extra argument', args: () => ['s3', 'get', 's3://bucket/p', 'file', 'extra'], exit: 2, message: () => 'lifeboat s3 get: unexpected argument "extra"' },
  { what: 's3 ls without a location', args: () => ['s3', 'ls'], exit: 2, message: () => 'give a location: s3://bucket[/prefix] (or --repo NAME)' },
  { what: 's3 --repo naming no repository', args: () => ['s3', 'ls', '--repo', 'nosuch'], exit: 2, message: () => '--repo nosuch: no such repository in lifeboat.yaml; defined: local' },
  { what: 's3 --repo of a repository without S3', args: () => ['s3', 'ls', '--repo', 'local'], exit: 2, message: () => 'repository "local" has no S3 location (upload: s3://... or url: s3:https://...); give a full s3://bucket/key location' },
  { what: 'a redis-restore TTL that is not a number', args: () => ['redis-restore', 'k', '--ttl', 'abc'], exit: 2, message: () => 'the TTL must be milliseconds (0: no expiry), got "abc"' },
  { what: 'a REDIS_ADDRESS that is not host:port', args: () => ['redis-dump', 'k'], env: { REDIS_ADDRESS: 'a b' }, exit: 2, message: () => 'REDIS_ADDRESS must be host:port, got "a b"' },
  { what: 'an unknown service operation', arrange: moduleM, args: () => ['service', 'frob', 'm'], exit: 2, message: () => 'unknown service operation "frob"; use stop, start or is-active' },
  { what: 'a service operation on a module without a service', arrange: moduleM, args: () => ['service', 'stop', 'm'], exit: 2, message: (t) => `module m declares no service (service: in ${moduleFile(t)})` },
  { what: 'schedule with --cron and --systemd', args: () => ['schedule', '--cron', '--systemd'], exit: 2, message: () => 'give --cron or --systemd, not both' },
  { what: 'load --database all', args: () => ['load', 'postgres', '--database', 'all'], exit: 2, message: () => '--database all: load each dump with --database NAME (or `lifeboat load MODULE`)' },
  { what: 'a dump without --database', args: () => ['dump', 'postgres'], exit: 2, message: () => 'lifeboat postgres: --database is required' },
  { what: 'a dump --port that is not a port', args: () => ['dump', 'postgres', '--database', 'x', '--port', 'abc'], exit: 2, message: () => '--port must be a port number, got "abc"' },
  { what: 'dump of a module without databases', arrange: moduleM, args: () => ['dump', 'm', '--output', '/nonexistent/x'], exit: 2, message: (t) => `module m declares no databases (databases: in ${moduleFile(t)})` },
  { what: 'load of a module without databases', arrange: moduleM, args: () => ['load', 'm'], exit: 2, message: (t) => `module m declares no databases (databases: in ${moduleFile(t)})` },
  { what: 'init on a root that is not empty', args: () => ['init'], exit: 2, message: (t) => `${t.root} is not empty; init writes a new root` },
  // snapshots and repositories
  { what: 'a restore of a module never backed up', arrange: moduleM, args: () => ['restore', 'm'], exit: 2, message: () => 'no snapshots yet, so there is nothing to restore' },
  { what: 'an empty snapshot id', arrange: moduleM, args: () => ['restore', 'm', ''], exit: 2, message: () => 'the snapshot id is empty; give an id, a unique prefix of one, or latest' },
  { what: 'restore --repo naming no repository', arrange: moduleM, args: () => ['restore', 'm', '--repo', 'nosuch'], exit: 2, message: () => '--repo nosuch: no such repository in lifeboat.yaml; defined: local' },
  {
    what: 'restore --repo of a repository the module does not use',
    arrange: (t) => {
      yaml(t, `repositories:\n  local: { provider: copy, url: ${path.join(t.dir, 'repo')} }\n  other: { provider: copy, url: ${path.join(t.dir, 'other')} }\n`);
      moduleM(t, { repositories: ['local'] });
    },
    args: () => ['restore', 'm', '--repo', 'other'],
    exit: 2,
    message: () => '--repo other: module "m" does not use it (its repositories: local)',
  },
  { what: 'an unknown module', args: () => ['snapshots', 'nosuch'], exit: 2, message: (t) => `module "nosuch" not found: no modules/nosuch/module.yaml in ${t.root}` },
  { what: 'a config root that does not exist', args: () => ['--root', '/nonexistent/lifeboat-root', 'check'], exit: 2, message: () => 'config root /nonexistent/lifeboat-root does not exist' },
  {
    what: 'a provider that does not exist',
    arrange: (t) => {
      repoYaml(t, { provider: 'nosuch', url: path.join(t.dir, 'repo') });
      moduleM(t);
    },
    args: () => ['backup', 'm'],
    exit: 2,
    message: () => 'repository "local": provider "nosuch" not found',
  },
  { what: 'restore --repo given twice', arrange: twoRepositories, args: () => ['restore', 'm', '--repo', 'local', '--repo', 'other'], exit: 2, message: () => 'restore reads from one repository: give --repo once' },
  { what: 'a module when lifeboat.yaml defines no repository', arrange: (t) => { yaml(t, 'repositories: {}\n'); moduleM(t); }, args: () => ['backup', 'm'], exit: 2, message: () => 'module "m" has no repository: define one under repositories: in lifeboat.yaml' },
  {
    what: 'a restore on a host that has only other hosts\' snapshots',
    arrange: (t) => {
      moduleM(t);
      t.write('lifeboat.yaml', `host: old-host\nrepositories:\n  local: { provider: copy, url: ${path.join(t.dir, 'repo')} }\n`);
      execaSync('node', [BIN, '--root', t.root, '--state-dir', t.stateDir, 'backup', 'm', '-q']);
      t.write('lifeboat.yaml', `host: new-host\nrepositories:\n  local: { provider: copy, url: ${path.join(t.dir, 'repo')} }\n`);
    },
    args: () => ['restore', 'm'],
    exit: 2,
    message: () => "module m, repository local: no snapshots of this host (new-host) yet; only other hosts' snapshots\nlifeboat: hint: give the id of another host's snapshot to restore it (`lifeboat snapshots` lists them, column HOST), set `host:` in lifeboat.yaml when this host replaces that one, or run `lifeboat backup` first",
  },
  {
    what: 'a load of a module whose dump is not there',
    arrange: (t) => moduleM(t, { databases: [{ sqlite: { path: path.join(t.dir, 'app.sqlite3') } }] }),
    args: () => ['load', 'm'],
    exit: 1,
    message: (t) => `no dump of SQLite database ${path.join(t.dir, 'app.sqlite3')} at ${path.join(t.stateDir, 'modules', 'm', 'state', 'databases', 'sqlite-app.sqlite3')}`,
  },
  {
    what: 'a local restic repository folder that holds something but no config',
    arrange: (t) => {
      writeFileSync(path.join(t.dir, 'pass'), 'p\n', { mode: 0o600 });
      repoYaml(t, { provider: 'restic', url: path.join(t.dir, 'repo'), passwordFile: path.join(t.dir, 'pass') });
      moduleM(t);
      t.write('../repo/m/stray.txt', 'not restic\n');
    },
    args: () => ['backup', 'm'],
    exit: 1,
    message: (t) => `restic repository "local" of module m at ${path.join(t.dir, 'repo', 'm')} exists but has no config file: it is damaged or not a restic repository, and Lifeboat does not initialise over it`,
  },
  {
    what: 'a restore of an encrypted tar snapshot after its key was removed from lifeboat.yaml',
    arrange: (t) => {
      moduleM(t);
      writeFileSync(path.join(t.dir, 'pass'), 'tar passphrase\n', { mode: 0o600 });
      repoYaml(t, { provider: 'tar', url: path.join(t.dir, 'repo'), passwordFile: path.join(t.dir, 'pass') });
      execaSync('node', [BIN, '--root', t.root, '--state-dir', t.stateDir, 'backup', 'm', '-q']);
      repoYaml(t, { provider: 'tar', url: path.join(t.dir, 'repo') });
    },
    args: (t) => ['restore', 'm', '--target', path.join(t.dir, 'target')],
    exit: 2,
    message: (t) => `${path.join(t.dir, 'repo', 'm', readdirSync(path.join(t.dir, 'repo', 'm')).find((name) => name.endsWith('.tar.zst.age'))!)} is encrypted (age, passphrase) but its repository has no key\nlifeboat: hint: add the passwordFile (or passwordCommand) it was made with to the repository in lifeboat.yaml`,
  },
  {
    what: 'schedule while a module cannot be loaded',
    arrange: (t) => {
      moduleM(t, { schedule: '0 3 * * *' });
      t.write('modules/bad/module.yaml', 'folders: 42\n');
    },
    args: () => ['schedule', '--cron'],
    exit: 2,
    message: () => 'fix the module(s) above before scheduling: bad',
  },
  {
    what: 'a state dir whose locks folder is a file',
    arrange: (t) => {
      moduleM(t);
      mkdirSync(t.stateDir, { recursive: true });
      writeFileSync(path.join(t.stateDir, 'locks'), 'not a folder\n');
    },
    args: () => ['backup', 'm'],
    exit: 1,
    // the run reports the lock's error as why nothing ran
    message: (t) => `[m] error: cannot take the lock in ${path.join(t.stateDir, 'locks')}: EEXIST: file already exists, mkdir '${path.join(t.stateDir, 'locks')}'; nothing was run`,
  },
  // dump and load helpers
  { what: 'a redis url with an unknown scheme', args: (t) => ['dump', 'redis', '--url', 'http://x', '--output', path.join(t.dir, 'x.redis')], exit: 2, message: () => 'redis url "http://x": unknown scheme http:\nlifeboat: hint: use redis://, rediss:// or unix://', absent: (t) => [path.join(t.dir, 'x.redis')] },
  { what: 'a redis url that is not a url', args: (t) => ['dump', 'redis', '--url', '::nope', '--output', path.join(t.dir, 'x.redis')], exit: 2, message: () => 'redis url "::nope" is not a url\nlifeboat: hint: use redis://127.0.0.1:6379/0 or unix:///run/redis.sock?db=0', absent: (t) => [path.join(t.dir, 'x.redis')] },
  {
    what: 'a dump of an SQLite file that does not exist, to --output',
    args: (t) => ['dump', 'sqlite', '--path', path.join(t.dir, 'missing.db'), '--output', path.join(t.dir, 'out.sqlite3')],
    exit: 1,
    message: (t) => `SQLite database ${path.join(t.dir, 'missing.db')} does not exist\nlifeboat: hint: fix path: in module.yaml, or create the database first`,
    // a failed dump leaves no (empty) output file behind
    absent: (t) => [path.join(t.dir, 'out.sqlite3'), path.join(t.dir, 'out.sqlite3.partial')],
  },
  // an empty dump (a wrong redirect, a file cut to nothing) is refused, and no database file is made
  {
    what: 'load of an empty dump on stdin',
    args: (t) => ['load', 'sqlite', '--path', path.join(t.dir, 'new.db')],
    exit: 2,
    message: () => 'the dump on stdin is empty (0 bytes); nothing was loaded\nlifeboat: hint: give the dump file: lifeboat load ENGINE ... < FILE (or --input FILE)',
    absent: (t) => [path.join(t.dir, 'new.db')],
  },
  {
    what: 'load of an empty dump file',
    arrange: (t) => t.write('empty.dump', ''),
    args: (t) => ['load', 'sqlite', '--path', path.join(t.dir, 'new.db'), '--input', path.join(t.root, 'empty.dump')],
    exit: 2,
    message: (t) => `the dump ${path.join(t.root, 'empty.dump')} is empty (0 bytes); nothing was loaded`,
    absent: (t) => [path.join(t.dir, 'new.db')],
  },
  // s3 (before any request: locations, credentials, endpoint, numbers)
  { what: 's3 with a location that is not s3://', args: () => ['s3', 'ls', 'http://bucket/x'], env: S3_KEYS, exit: 2, message: () => 'lifeboat s3: "http://bucket/x" is not an S3 location\nlifeboat: hint: write it as s3://BUCKET or s3://BUCKET/PREFIX' },
  { what: 's3 without credentials', args: () => ['s3', 'ls', 's3://bucket/x'], env: { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' }, exit: 2, message: () => 'lifeboat s3: no S3 credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set)' },
  { what: 's3 with an endpoint that is not http(s)', args: () => ['s3', 'ls', 's3://bucket/x', '--endpoint', 'ftp://host'], env: S3_KEYS, exit: 2, message: () => 'lifeboat s3: endpoint "ftp://host" is not an http(s) URL\nlifeboat: hint: write it as https://host[:port]' },
  { what: 's3 with a part size that is not a number', args: () => ['s3', 'put', '-', 's3://bucket/key', '--part-size', 'big'], env: S3_KEYS, exit: 2, message: () => '--part-size must be a number, got "big"' },
  { what: 's3 put to a folder', args: () => ['s3', 'put', '-', 's3://bucket/dir/'], env: S3_KEYS, exit: 2, message: () => "s3://bucket/dir/: give the object's key, not a folder" },
  // environment files
  {
    what: 'an environment file with NUL bytes',
    arrange: (t) => {
      moduleM(t);
      t.write('modules/m/environment', 'A=1\0\n');
    },
    args: () => ['backup', 'm'],
    exit: 2,
    message: () => 'contains NUL bytes; an environment file must be text (KEY=VALUE lines)',
  },
  {
    what: 'an environment file that is a directory',
    arrange: (t) => {
      moduleM(t);
      mkdirSync(path.join(t.root, 'modules', 'm', 'environment'));
    },
    args: () => ['backup', 'm'],
    exit: 2,
    message: () => 'is a directory, expected a dotenv file',
  },
  {
    what: 'an environment file that is a dangling symlink',
    arrange: (t) => {
      moduleM(t);
      symlinkSync('/nonexistent/env', path.join(t.root, 'modules', 'm', 'environment'));
    },
    args: () => ['backup', 'm'],
    exit: 2,
    message: () => 'is a symlink to /nonexistent/env, which does not exist',
  },
  {
    what: 'an environment file others can read',
    arrange: (t) => {
      moduleM(t);
      t.write('modules/m/environment', 'A=1\n', 0o646);
    },
    args: () => ['backup', 'm'],
    exit: 2,
    message: () => 'it holds secrets: chmod 600 and chown it to root or to you',
  },
  // Repositories' settings, excludes and dump names: configuration errors refused before anything runs
  // (check/backup-config.ts), exit 2 (they used to surface only in 50snapshot or 20dump_databases).
  {
    what: 'a restic repository without a password',
    arrange: (t) => {
      repoYaml(t, { provider: 'restic', url: path.join(t.dir, 'repo') });
      moduleM(t);
    },
    args: () => ['backup', 'm'],
    exit: 2,
    message: () => 'lifeboat.yaml: /repositories/local: the restic repository has no password; set passwordFile: (a file holding it, mode 600) or passwordCommand:, or RESTIC_PASSWORD under env:',
  },
  {
    what: 'a restic passwordFile that cannot be read',
    arrange: (t) => {
      repoYaml(t, { provider: 'restic', url: path.join(t.dir, 'repo'), passwordFile: path.join(t.dir, 'missing.pass') });
      moduleM(t);
    },
    args: () => ['backup', 'm'],
    exit: 2,
    message: (t) => `lifeboat.yaml: /repositories/local/passwordFile: ${path.join(t.dir, 'missing.pass')} does not exist; create it`,
  },
  {
    what: 'a borg repository without a passphrase',
    arrange: (t) => {
      repoYaml(t, { provider: 'borg', url: path.join(t.dir, 'repo') });
      moduleM(t);
    },
    args: () => ['backup', 'm'],
    exit: 2,
    message: () => 'lifeboat.yaml: /repositories/local: the borg repository has no passphrase; set passwordFile: (a file holding it, mode 600) or passwordCommand:, or BORG_PASSPHRASE under env:',
  },
  {
    what: 'a negated exclude pattern with borg',
    arrange: (t) => {
      writeFileSync(path.join(t.dir, 'pass'), 'p\n', { mode: 0o600 });
      repoYaml(t, { provider: 'borg', url: path.join(t.dir, 'repo'), passwordFile: path.join(t.dir, 'pass') });
      moduleM(t, { exclude: ['!keep'] });
    },
    args: () => ['backup', 'm'],
    exit: 2,
    message: () => 'modules/m/module.yaml: /exclude/0 "!keep": negated patterns are not supported by the borg provider; list the paths to exclude instead',
  },
  {
    what: 'a negated exclude pattern with tar',
    arrange: (t) => {
      repoYaml(t, { provider: 'tar', url: path.join(t.dir, 'repo') });
      moduleM(t, { exclude: ['!keep'] });
    },
    args: () => ['backup', 'm'],
    exit: 2,
    message: () => 'modules/m/module.yaml: /exclude/0 "!keep": negated patterns are not supported by the tar provider; list the paths to exclude instead',
  },
  {
    what: 'two databases that would be dumped to the same file',
    arrange: (t) => moduleM(t, { databases: [{ sqlite: { path: path.join(t.dir, 'a', 'db.sqlite3') } }, { sqlite: { path: path.join(t.dir, 'b', 'db.sqlite3') } }] }),
    args: () => ['backup', 'm'],
    exit: 2,
    message: (t) => `modules/m/module.yaml: /databases: SQLite database ${path.join(t.dir, 'a', 'db.sqlite3')} and SQLite database ${path.join(t.dir, 'b', 'db.sqlite3')} would both be dumped to databases/sqlite-db.sqlite3; give one of them a distinct \`name:\` in module.yaml`,
  },
  // a part that fails: PART_FAILED (exit 1)
  {
    what: 'a state-include.conf line naming a missing path',
    arrange: (t) => {
      moduleM(t);
      t.write('modules/m/etc/state-include.conf', 'not-there.txt\n');
    },
    args: () => ['backup', 'm'],
    exit: 1,
    message: (t) => `${path.join(t.root, 'modules', 'm', 'etc', 'state-include.conf')}:1: not-there.txt: ${path.join(t.stateDir, 'modules', 'm', 'state', 'not-there.txt')} does not exist; create it or remove the line`,
  },
  // built-ins that fail (exit 1): their hint is logged after the message, and kept in the journal and --json
  {
    what: 'a module folder that does not exist',
    arrange: (t) => t.module('m', { folders: [path.join(t.dir, 'gone')] }),
    args: () => ['backup', 'm'],
    exit: 1,
    message: (t) => `folder ${path.join(t.dir, 'gone')} does not exist; create it or remove it from ${moduleFile(t)} (folders)`,
    hint: (t) => `create it, or remove it from folders: in ${moduleFile(t)}`,
  },
  {
    what: 'a restore drill of a module never backed up',
    arrange: moduleM,
    args: () => ['verify', 'm'],
    exit: 1,
    message: () => 'restore drill failed in 1 repository(ies): local: no snapshot of module m yet; run `lifeboat backup m` first',
    hint: () => 'run `lifeboat backup m` first',
  },
  {
    what: 'a module script that fails',
    arrange: (t) => {
      moduleM(t);
      t.write('modules/m/bin/module-dump-state', '#!/bin/sh\nexit 4\n', 0o755);
    },
    args: () => ['backup', 'm'],
    exit: 1,
    message: () => 'bin/module-dump-state exited with status 4',
    hint: (t) => `its output is above; fix ${path.join(t.root, 'modules', 'm', 'bin', 'module-dump-state')}, or remove it when the module has no state to dump`,
  },
  // a state dir that cannot be a folder (a typo naming a file): refused before anything reads it
  {
    what: 'a state dir that is a file',
    arrange: (t) => {
      moduleM(t);
      t.write('a-file', 'x\n');
    },
    args: (t) => ['--state-dir', path.join(t.root, 'a-file'), 'status'],
    exit: 2,
    message: (t) => `state dir ${path.join(t.root, 'a-file')} cannot be used: it is a file, not a folder`,
    hint: () => 'pass --state-dir (or set LIFEBOAT_STATE_DIR to) a folder, or one that does not exist yet (it is created)',
  },
  {
    what: 'a state dir below a file',
    arrange: (t) => {
      moduleM(t);
      t.write('a-file', 'x\n');
    },
    args: (t) => ['--state-dir', path.join(t.root, 'a-file', 'state'), 'backup', 'm'],
    exit: 2,
    message: (t) => `state dir ${path.join(t.root, 'a-file', 'state')} cannot be used: ${path.join(t.root, 'a-file')} is a file, not a folder`,
  },
  // added for issue 15: messages no test met before
  { what: 'a redis url whose database is not a number', args: (t) => ['dump', 'redis', '--url', 'redis://127.0.0.1:6379/abc', '--output', path.join(t.dir, 'x.redis')], exit: 2, message: () => 'redis url "redis://127.0.0.1:6379/abc": database abc is not a number', absent: (t) => [path.join(t.dir, 'x.redis')] },
  { what: 'redis-dump of a key that does not exist', args: () => ['redis-dump', `lifeboat-errtable-missing-${process.pid}`], env: { REDIS_ADDRESS: '127.0.0.1:6379' }, exit: 1, message: () => `key "lifeboat-errtable-missing-${process.pid}" does not exist` },
  {
    what: 'a restore of a snapshot id that does not exist',
    arrange: (t) => {
      moduleM(t);
      execaSync('node', [BIN, '--root', t.root, '--state-dir', t.stateDir, 'backup', 'm', '-q']);
    },
    args: () => ['restore', 'm', 'zzzzzzzz'],
    exit: 2,
    message: () => 'snapshot "zzzzzzzz" not found; `lifeboat snapshots` lists them',
  },
  {
    what: 'a module bin script others can write',
    arrange: (t) => {
      moduleM(t);
      t.write('modules/m/bin/module-dump-state', '#!/bin/sh\nexit 0\n', 0o757);
    },
    args: () => ['backup', 'm'],
    exit: 2,
    message: (t) => `${path.join(t.root, 'modules', 'm', 'bin', 'module-dump-state')}: refused: writable by others (mode 0757); fix with chmod go-w or chown root`,
  },
  {
    what: 'an environment file that is a FIFO',
    arrange: (t) => {
      moduleM(t);
      execaSync('mkfifo', ['-m', '600', path.join(t.root, 'modules', 'm', 'environment')]);
    },
    args: () => ['backup', 'm'],
    exit: 2,
    message: () => 'is not a regular file; an environment file holds KEY=VALUE lines',
  },
  {
    what: 'exclude patterns that match the database dumps',
    arrange: (t) => {
      execaSync('sqlite3', [path.join(t.dir, 'app.sqlite3'), 'CREATE TABLE t (x); INSERT INTO t VALUES (1);']);
      moduleM(t, { databases: [{ sqlite: { path: path.join(t.dir, 'app.sqlite3') } }], exclude: ['*.sqlite3'] });
    },
    args: () => ['backup', 'm'],
    // found by the preflight from the settings alone, before anything runs (src/check/backup-config.ts)
    exit: 2,
    message: (t) =>
      `modules/m/module.yaml: /exclude/0 "*.sqlite3" matches the database dump ${path.join(t.stateDir, 'modules', 'm', 'state', 'databases', 'sqlite-app.sqlite3')}; remove or narrow the pattern so that databases/ in the state dir stays in the snapshot (Lifeboat removes the dumps after the snapshot itself)`,
  },
  {
    what: 'a tar repository whose url is not a local folder',
    arrange: (t) => {
      repoYaml(t, { provider: 'tar', url: 's3://bucket/x' });
      moduleM(t);
    },
    args: () => ['backup', 'm'],
    exit: 2,
    message: () => 'repository "local" (tar): `url` must be a local folder, got "s3://bucket/x"',
  },
  {
    what: 'a restic repository without url',
    arrange: (t) => {
      writeFileSync(path.join(t.dir, 'pass'), 'p\n', { mode: 0o600 });
      repoYaml(t, { provider: 'restic', passwordFile: path.join(t.dir, 'pass') });
      moduleM(t);
    },
    args: () => ['backup', 'm'],
    exit: 2,
    message: () => 'repository "local" (restic) has no `url`',
  },
  {
    what: 'a borg repository without url',
    arrange: (t) => {
      writeFileSync(path.join(t.dir, 'pass'), 'p\n', { mode: 0o600 });
      repoYaml(t, { provider: 'borg', passwordFile: path.join(t.dir, 'pass') });
      moduleM(t);
    },
    args: () => ['backup', 'm'],
    exit: 2,
    message: () => 'repository "local" (borg) has no `url`',
  },
  { what: 's3 put of a file that does not exist', args: () => ['s3', 'put', '/nonexistent/lifeboat-file', 's3://bucket/key', '--endpoint', 'http://127.0.0.1:9'], env: S3_KEYS, exit: 2, message: () => 'cannot read /nonexistent/lifeboat-file: no such file' },
  {
    what: 'a database passwordEnv that is not set',
    arrange: (t) => moduleM(t, { databases: [{ postgres: { database: 'lifeboat_errtable_none', host: '127.0.0.1', passwordEnv: 'LIFEBOAT_ERRTABLE_UNSET' } }] }),
    args: (t) => ['dump', 'm', '--output', path.join(t.dir, 'out')],
    exit: 1,
    message: () => 'passwordEnv LIFEBOAT_ERRTABLE_UNSET is not set',
  },
  // dumps that are plainly not what the engine writes: refused by their first bytes before the server is
  // asked anything (src/engines/dump-kind.ts; exit 2, no database is created)
  {
    what: 'load of a file that is not an SQLite dump',
    arrange: (t) => t.write('garbage.dump', 'not an sqlite dump\n'),
    args: (t) => ['load', 'sqlite', '--path', path.join(t.dir, 'new.db'), '--input', path.join(t.root, 'garbage.dump')],
    exit: 2,
    message: (t) => `SQLite database ${path.join(t.dir, 'new.db')}: the dump ${path.join(t.root, 'garbage.dump')} is not an SQLite database file (one starts with "SQLite format 3"): it starts with "not an sqlite du"; nothing was loaded`,
    hint: () => "give a dump of this database made by its backup (databases/sqlite-new.sqlite3 in the module's state dir) or by `lifeboat dump sqlite`",
    absent: (t) => [path.join(t.dir, 'new.db')],
  },
  {
    what: 'load of a PostgreSQL dump file that is not a pg_dump archive',
    arrange: (t) => t.write('garbage.dump', 'not a dump\n'),
    args: (t) => ['load', 'postgres', '--host', '127.0.0.1', '--database', `lifeboat_errtable_${process.pid}`, '--input', path.join(t.root, 'garbage.dump')],
    exit: 2,
    message: (t) => `PostgreSQL database "lifeboat_errtable_${process.pid}" on 127.0.0.1: the dump ${path.join(t.root, 'garbage.dump')} is not a pg_dump custom-format archive (one starts with "PGDMP"): it starts with "not a dump\\n"; nothing was loaded`,
  },
  {
    what: 'load of a PostgreSQL dump on stdin that is not a pg_dump archive',
    args: () => ['load', 'postgres', '--host', '127.0.0.1', '--database', `lifeboat_errtable_${process.pid}`],
    input: 'not a dump\n',
    exit: 2,
    message: () => `PostgreSQL database "lifeboat_errtable_${process.pid}" on 127.0.0.1: the dump on stdin is not a pg_dump custom-format archive (one starts with "PGDMP"): it starts with "not a dump\\n"; nothing was loaded`,
  },
  {
    what: 'load of a Redis dump that is not a Lifeboat Redis dump',
    args: () => ['load', 'redis', '--url', 'redis://127.0.0.1:6379/13'],
    input: 'not a dump\n',
    exit: 2,
    message: () => 'Redis 127.0.0.1:6379 db 13 (whole database): the dump on stdin is not a Lifeboat Redis dump (one starts with "LIFEBOAT-REDIS/1"): it starts with "not a dump\\n"; nothing was loaded',
  },
  // a script provider (plugins/NAME/list) that prints something else than its JSON array
  ...[
    { output: 'nope', message: (list: string) => `${list} printed something that is not JSON: "nope\\n"; it must print a JSON array of objects with "name"` },
    { output: '{}', message: (list: string) => `${list} must print a JSON array, got object` },
    { output: '[{}]', message: (list: string) => `${list}: entry 0 has no "name" string: {}` },
  ].map(({ output, message }): Case => ({
    what: `a script provider whose list prints ${output}`,
    arrange: (t) => {
      moduleM(t);
      t.write('plugins/copy/list', `#!/bin/sh\necho '${output}'\n`, 0o755);
    },
    args: () => ['snapshots', 'm'],
    exit: 1,
    message: (t) => message(path.join(t.root, 'plugins', 'copy', 'list')),
  })),
  // a provider's tool missing from PATH (PATH holds only node)
  ...[
    { tool: 'restic', debian: 'restic' },
    { tool: 'borg', debian: 'borgbackup' },
  ].map(({ tool, debian }): Case => ({
    what: `a ${tool} repository when ${tool} is not installed`,
    arrange: (t) => {
      writeFileSync(path.join(t.dir, 'pass'), 'p\n', { mode: 0o600 });
      repoYaml(t, { provider: tool, url: path.join(t.dir, 'repo'), passwordFile: path.join(t.dir, 'pass') });
      moduleM(t);
      mkdirSync(path.join(t.dir, 'bin'));
      symlinkSync(process.execPath, path.join(t.dir, 'bin', 'node'));
    },
    env: (t) => ({ PATH: path.join(t.dir, 'bin') }),
    args: () => ['backup', 'm'],
    // found by the preflight before anything runs (src/check/backup-config.ts)
    exit: 2,
    message: () => `lifeboat.yaml: /repositories/local: ${tool} is not installed (not found on PATH), and the ${tool} repository needs it; install it (Debian: apt-get install ${debian})`,
  })),
  // the manifest of the newest backup damaged in the state dir: verify refuses to compare against it
  ...[
    { content: 'garbage\n', problem: 'is damaged: its header is not JSON' },
    { content: 'garbage', problem: 'has no complete header line' },
    { content: '{"version":99}\n', problem: 'has an unknown format (version 99)' },
  ].map(({ content, problem }): Case => ({
    what: `verify with a manifest that ${problem}`,
    arrange: (t) => {
      moduleM(t);
      execaSync('node', [BIN, '--root', t.root, '--state-dir', t.stateDir, 'backup', 'm', '-q']);
      writeFileSync(manifestOf(t), gzipSync(content));
    },
    args: () => ['verify', 'm'],
    exit: 1,
    message: (t) => `verify failed at verify/20check_manifest: manifest ${manifestOf(t)} ${problem}`,
    hint: () => 'run `lifeboat backup` again: verify compares the restore with the manifest of the newest backup',
  })),
];

describe.concurrent('every LifeboatError a user can meet from the CLI', () => {
  it.for(CASES)('$what', async (c, { expect: expectHere, onTestFinished }) => {
    const t = makeRoot();
    onTestFinished(() => t.cleanup());
    c.arrange?.(t);
    const result = await lifeboat(t, c.args(t), { env: typeof c.env === 'function' ? c.env(t) : c.env, input: c.input });
    expectHere(result.stderr).toContain(c.message(t));
    if (c.hint) expectHere(result.stderr).toContain(`hint: ${c.hint(t)}`);
    expectHere(result.stderr).not.toContain('internal error');
    expectHere(result.exitCode, result.stderr).toBe(c.exit);
    for (const file of c.absent?.(t) ?? []) expectHere(existsSync(file), `${file} was left behind`).toBe(false);
  });
});

