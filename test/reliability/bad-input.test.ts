// The bad-input catalogue: one table, one fresh root per case. Every case must exit 2 (bad usage or
// configuration) or 1 (a runtime fault), print a message naming the file, key, name or snapshot, and
// change nothing: the whole temp dir (root, state dir, repositories, data) is compared before and after
// (for runtime faults, only the journal may have gained the failed run).
import { describe, it } from 'vitest';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa, execaSync } from 'execa';
import tar from 'tar-stream';
import { BIN, makeRoot, type TestRoot } from '../helpers/root.js';
import { journalRecords } from '../helpers/faults.js';
import { describeTree } from '../helpers/fs-state.js';

interface Ctx {
  t: TestRoot;
  // module m (copy provider, repository `local`) backs up this folder
  data: string;
  // module arch (tar provider, repository `archive`, compression none) backs up this folder
  adata: string;
  // a folder outside every target: a tar-slip must not reach it
  outside: string;
  // values a case computes while arranging (snapshot ids)
  vars: Record<string, string>;
}

interface Case {
  name: string;
  arrange?: (c: Ctx) => void | Promise<void>;
  // default: backup m
  args?: string[] | ((c: Ctx) => string[]);
  exit: 1 | 2;
  // must appear in stderr (a function when it depends on the case's paths)
  message: string | RegExp | ((c: Ctx) => string);
  // run Lifeboat as uid 65534 (the temp dir is chowned to it): for unreadable files, which root reads
  asNobody?: boolean;
  // extra checks after the run
  check?: (c: Ctx, stderr: string) => void;
}

const GOOD_GLOBAL = (c: Ctx) => `repositories:\n  local: { provider: copy, url: ${c.t.dir}/repo }\n  archive: { provider: tar, url: ${c.t.dir}/tar, compression: none }\n`;
const setGlobal = (c: Ctx, text: string) => c.t.write('lifeboat.yaml', text);
const addGlobal = (c: Ctx, text: string) => c.t.write('lifeboat.yaml', GOOD_GLOBAL(c) + text);
const setModule = (c: Ctx, text: string) => c.t.write('modules/m/module.yaml', text);
const goodModule = (c: Ctx) => `folders: [${c.data}]\nrepositories: [local]\n`;
const addModule = (c: Ctx, text: string) => setModule(c, goodModule(c) + text);

// A script provider `weird` whose scripts are the given bodies (the others delegate to copy).
function weirdProvider(c: Ctx, scripts: Partial<Record<'create' | 'list' | 'restore', string>>): void {
  for (const op of ['create', 'list', 'restore'] as const) {
    c.t.write(`plugins/weird/${op}`, `#!/bin/sh\n${scripts[op] ?? `exec "${c.t.root}/plugins/copy/${op}"`}\n`, 0o755);
  }
  setGlobal(c, `repositories:\n  local: { provider: weird, url: ${c.t.dir}/repo }\n`);
}

// Repository `local` of the given provider (extra settings appended) and module m with a service whose
// state is the file `running` (stop removes it; both commands log to `service-events`): for configuration a backup must refuse before its parts.
function lateConfig(c: Ctx, provider: string, extra = '', moduleExtra = ''): void {
  setGlobal(c, `repositories:\n  local: { provider: ${provider}, url: ${c.t.dir}/repo${extra} }\n`);
  const running = path.join(c.t.dir, 'running');
  writeFileSync(running, '');
  const events = path.join(c.t.dir, 'service-events');
  addModule(c, `service: { stop: "rm ${running}; echo stop >> ${events}", start: "touch ${running}; echo start >> ${events}", isActive: "test -f ${running}" }\n${moduleExtra}`);
}

// The service was never stopped (nor started again) and no repository was written.
function serviceStillRunning(c: Ctx): void {
  if (!existsSync(path.join(c.t.dir, 'running'))) throw new Error('the service was stopped');
  if (existsSync(path.join(c.t.dir, 'service-events'))) throw new Error(`the service was stopped and started: ${readFileSync(path.join(c.t.dir, 'service-events'), 'utf8')}`);
  if (existsSync(path.join(c.t.dir, 'repo'))) throw new Error(`the repository ${c.t.dir}/repo was written`);
}

// Two snapshots whose copy-provider names share the prefix 2024.
function twoSnapshots(c: Ctx): void {
  for (const name of ['20240101T000000000000001', '20240101T000000000000002']) mkdirSync(path.join(c.t.dir, 'repo', 'm', name, c.data), { recursive: true });
}

// Backs module arch up for real, then swaps its archive for one holding `entries`, with a manifest made
// to match it as an attacker who can write the repository would (the earlier format without a file
// list, the crafted archive's size and SHA-256), so Lifeboat lists the snapshot as usual and restore
// reaches the extraction's own refusals.
async function craftArchive(c: Ctx, entries: Array<{ header: tar.Headers; body?: string }>): Promise<void> {
  const backup = await execa('node', [BIN, '--root', c.t.root, '--state-dir', c.t.stateDir, 'backup', 'arch'], { reject: false });
  if (backup.exitCode !== 0) throw new Error(`backup arch failed: ${backup.stderr}`);
  const dir = path.join(c.t.dir, 'tar', 'arch');
  const archive = readdirSync(dir).find((name) => name.endsWith('.tar'))!;
  c.vars.snapshot = archive.slice(0, -'.tar'.length);
  const pack = tar.pack();
  for (const { header, body } of entries) pack.entry({ mode: 0o644, mtime: new Date(0), ...header }, body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  writeFileSync(path.join(dir, archive), bytes);
  const manifestFile = path.join(dir, `${c.vars.snapshot}.manifest.json`);
  const { list: _list, ...manifest } = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(manifestFile, JSON.stringify({ ...manifest, format: 'lifeboat-tar/1', archiveSize: bytes.length, archiveSha256: createHash('sha256').update(bytes).digest('hex') }));
}

// The archive path of a live absolute path (tar entries have no leading slash).
const entry = (absolute: string) => absolute.replace(/^\/+/, '');

const CASES: Case[] = [
  // lifeboat.yaml
  { name: 'repositories is a list', arrange: (c) => setGlobal(c, 'repositories: [local]\n'), exit: 2, message: 'lifeboat.yaml: /repositories must be an object' },
  { name: 'unknown top-level key', arrange: (c) => addGlobal(c, 'repos: {}\n'), exit: 2, message: 'lifeboat.yaml: /repos is not a known key' },
  { name: 'misspelled key gets a suggestion', arrange: (c) => addGlobal(c, 'defaults: { retenion: { keepLast: 1 } }\n'), exit: 2, message: '/defaults/retenion is not a known key; did you mean "retention"?' },
  { name: 'repository without provider', arrange: (c) => setGlobal(c, `repositories:\n  local: { url: ${c.t.dir}/repo }\n`), exit: 2, message: '/repositories/local/provider is required' },
  { name: 'provider name with bad characters', arrange: (c) => setGlobal(c, `repositories:\n  local: { provider: "Copy!", url: /x }\n`), exit: 2, message: '/repositories/local/provider must match' },
  { name: 'relative passwordFile', arrange: (c) => setGlobal(c, `repositories:\n  local: { provider: restic, url: /x, passwordFile: pass.txt }\n`), exit: 2, message: '/repositories/local/passwordFile must match ^/' },
  { name: 'webhook that is not http(s)', arrange: (c) => addGlobal(c, 'notify: [{ webhook: "ftp://example.com/x" }]\n'), exit: 2, message: '/notify/0/webhook must match ^https?://' },
  { name: 'S3 endpoint without a scheme', arrange: (c) => setGlobal(c, `repositories:\n  local: { provider: copy, url: /x, endpoint: s3.example.com }\n`), exit: 2, message: '/repositories/local/endpoint must match ^https?://' },
  { name: 'upload that is not s3://', arrange: (c) => setGlobal(c, `repositories:\n  local: { provider: tar, url: /x, upload: "http://bucket/x" }\n`), exit: 2, message: '/repositories/local/upload must match' },
  { name: 'unknown compression', arrange: (c) => setGlobal(c, `repositories:\n  local: { provider: tar, url: /x, compression: xz }\n`), exit: 2, message: '/repositories/local/compression must be one of' },
  { name: 'empty repository url', arrange: (c) => setGlobal(c, `repositories:\n  local: { provider: copy, url: "" }\n`), exit: 2, message: '/repositories/local/url' },
  { name: 'upper-case repository name', arrange: (c) => setGlobal(c, `repositories:\n  Local: { provider: copy, url: /x }\n`), exit: 2, message: 'lifeboat.yaml: /repositories has an invalid key "Local"' },
  { name: 'bad cron expression in defaults', arrange: (c) => addGlobal(c, 'defaults: { schedule: "61 * * * *" }\n'), exit: 2, message: 'lifeboat.yaml: /defaults/schedule' },
  { name: 'keepLast 0', arrange: (c) => addGlobal(c, 'defaults: { retention: { keepLast: 0 } }\n'), exit: 2, message: '/defaults/retention/keepLast must be >= 1' },
  { name: 'negative part timeout', arrange: (c) => addGlobal(c, 'defaults: { timeouts: { part: -1 } }\n'), exit: 2, message: '/defaults/timeouts/part must be > 0' },
  { name: 'unset ${VAR} without default', arrange: (c) => setGlobal(c, `repositories:\n  local: { provider: copy, url: "\${LIFEBOAT_TEST_UNSET_VAR}/repo" }\n`), exit: 2, message: 'lifeboat.yaml: /repositories/local/url uses ${LIFEBOAT_TEST_UNSET_VAR} but LIFEBOAT_TEST_UNSET_VAR is not set' },
  { name: 'YAML syntax error names its line', arrange: (c) => setGlobal(c, `repositories:\n  local: { provider: copy, url: /x\n`), exit: 2, message: /lifeboat\.yaml:\d+:\d+: invalid YAML/ },
  { name: 'duplicate YAML key', arrange: (c) => setGlobal(c, `repositories:\n  local: { provider: copy, url: /x }\n  local: { provider: copy, url: /y }\n`), exit: 2, message: /lifeboat\.yaml:3:3: invalid YAML: Map keys must be unique/ },
  { name: 'YAML alias without its anchor', arrange: (c) => setModule(c, 'folders: *nowhere\n'), exit: 2, message: 'modules/m/module.yaml: invalid YAML: Unresolved alias' },
  { name: 'YAML alias bomb', arrange: (c) => setModule(c, `a: &a [x, x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`).join('\n')}\n`), exit: 2, message: 'modules/m/module.yaml: invalid YAML: Excessive alias count' },
  { name: 'lifeboat.yaml and lifeboat.json both', arrange: (c) => c.t.write('lifeboat.json', '{}'), exit: 2, message: 'lifeboat.yaml and lifeboat.json both exist' },
  { name: 'invalid JSON in lifeboat.json', arrange: (c) => { rmSync(path.join(c.t.root, 'lifeboat.yaml')); c.t.write('lifeboat.json', '{"repositories": {'); }, exit: 2, message: 'lifeboat.json: invalid JSON' },
  { name: 'lifeboat.yaml is a list', arrange: (c) => setGlobal(c, '- local\n'), exit: 2, message: 'lifeboat.yaml: / must be an object' },
  { name: 'tar repository with a URL instead of a folder', arrange: (c) => setGlobal(c, 'repositories:\n  local: { provider: tar, url: "https://example.com/x" }\n'), exit: 2, message: 'repository "local" (tar): `url` must be a local folder' },
  { name: 'provider that does not exist', arrange: (c) => setGlobal(c, 'repositories:\n  local: { provider: nosuchprovider, url: /x }\n'), exit: 2, message: 'repository "local": provider "nosuchprovider" not found' },
  // module.yaml
  { name: 'folders is a string', arrange: (c) => setModule(c, `folders: ${c.data}\n`), exit: 2, message: 'modules/m/module.yaml: /folders must be an array' },
  { name: 'relative folder', arrange: (c) => setModule(c, 'folders: [var/lib/app]\n'), exit: 2, message: 'modules/m/module.yaml: /folders/0 must match ^/, got "var/lib/app" (use an absolute path such as /var/lib/app)' },
  { name: 'empty folder', arrange: (c) => setModule(c, 'folders: [""]\n'), exit: 2, message: 'modules/m/module.yaml: /folders/0' },
  { name: 'null folder', arrange: (c) => setModule(c, 'folders: [~]\n'), exit: 2, message: 'modules/m/module.yaml: /folders/0 must be a string' },
  { name: 'the same folder twice', arrange: (c) => setModule(c, `folders: [${c.data}, ${c.data}]\n`), exit: 2, message: 'modules/m/module.yaml: /folders must NOT have duplicate items' },
  { name: 'misspelled module key', arrange: (c) => setModule(c, `folder: [${c.data}]\n`), exit: 2, message: 'modules/m/module.yaml: /folder is not a known key; did you mean "folders"?' },
  { name: 'unknown repository', arrange: (c) => setModule(c, `folders: [${c.data}]\nrepositories: [nope]\n`), exit: 2, message: 'modules/m/module.yaml: /repositories/0 names unknown repository "nope"' },
  { name: 'bad cron expression', arrange: (c) => addModule(c, 'schedule: "every day"\n'), exit: 2, message: 'modules/m/module.yaml: /schedule' },
  { name: 'empty service', arrange: (c) => addModule(c, 'service: {}\n'), exit: 2, message: 'modules/m/module.yaml: /service needs one of systemd, container, or stop + start + isActive' },
  { name: 'service of two kinds', arrange: (c) => addModule(c, 'service: { systemd: a.service, stop: "true", start: "true", isActive: "true" }\n'), exit: 2, message: '/service mixes systemd and stop/start' },
  { name: 'stopDuringBackup as a string', arrange: (c) => addModule(c, 'service: { systemd: a.service, stopDuringBackup: "yes" }\n'), exit: 2, message: '/service/stopDuringBackup must be a boolean' },
  { name: 'postgres without a database', arrange: (c) => addModule(c, 'databases: [{ postgres: {} }]\n'), exit: 2, message: '/databases/0/postgres/database is required' },
  { name: 'unknown database engine', arrange: (c) => addModule(c, 'databases: [{ oracle: { database: x } }]\n'), exit: 2, message: '/databases/0/oracle is not a known key' },
  { name: 'enabled as a string', arrange: (c) => addModule(c, 'enabled: "no"\n'), exit: 2, message: 'modules/m/module.yaml: /enabled must be a boolean' },
  { name: 'empty retention', arrange: (c) => addModule(c, 'retention: {}\n'), exit: 2, message: '/retention must NOT have fewer than 1 properties' },
  { name: 'timeout as a string', arrange: (c) => addModule(c, 'timeouts: { part: "10" }\n'), exit: 2, message: '/timeouts/part must be a number' },
  { name: 'empty exclude pattern', arrange: (c) => addModule(c, 'exclude: [""]\n'), exit: 2, message: '/exclude/0' },
  { name: 'module file is a list', arrange: (c) => setModule(c, `- ${c.data}\n`), exit: 2, message: 'modules/m/module.yaml: / must be an object' },
  { name: 'module.yaml and module.json both', arrange: (c) => c.t.write('modules/m/module.json', '{}'), exit: 2, message: 'modules/m/module.yaml and module.json both exist' },
  { name: 'invalid JSON in module.json', arrange: (c) => { rmSync(path.join(c.t.root, 'modules/m/module.yaml')); c.t.write('modules/m/module.json', '{"folders": ['); }, exit: 2, message: 'modules/m/module.json: invalid JSON' },
  { name: 'a folder that does not exist', arrange: (c) => setModule(c, `folders: [${c.t.dir}/missing]\nrepositories: [local]\n`), exit: 1, message: (c) => `folder ${c.t.dir}/missing does not exist` },
  // Configuration a backup used to meet only in its parts, after the service was stopped: refused before
  // anything runs (exit 2, the service still running, no snapshot: the whole tree is compared).
  { name: 'restic repository without a password', arrange: (c) => lateConfig(c, 'restic'), exit: 2, message: (c) => `lifeboat: lifeboat.yaml: /repositories/local: the restic repository has no password; set passwordFile: (a file holding it, mode 600) or passwordCommand:, or RESTIC_PASSWORD under env:`, check: serviceStillRunning },
  { name: 'restic passwordFile that does not exist', arrange: (c) => lateConfig(c, 'restic', `, passwordFile: ${c.t.dir}/missing.pass`), exit: 2, message: (c) => `lifeboat: lifeboat.yaml: /repositories/local/passwordFile: ${c.t.dir}/missing.pass does not exist; create it (\`openssl rand -base64 32 > ${c.t.dir}/missing.pass && chmod 600 ${c.t.dir}/missing.pass\`) or point passwordFile: at the file that holds the password`, check: serviceStillRunning },
  {
    name: 'restic passwordFile that cannot be read',
    asNobody: true,
    arrange: (c) => {
      writeFileSync(path.join(c.t.dir, 'pass'), 'secret\n', { mode: 0o000 });
      lateConfig(c, 'restic', `, passwordFile: ${c.t.dir}/pass`);
    },
    exit: 2,
    message: (c) => `lifeboat: lifeboat.yaml: /repositories/local/passwordFile: ${c.t.dir}/pass cannot be read (EACCES); create it`,
    check: serviceStillRunning,
  },
  { name: 'borg repository without a passphrase', arrange: (c) => lateConfig(c, 'borg'), exit: 2, message: 'lifeboat: lifeboat.yaml: /repositories/local: the borg repository has no passphrase; set passwordFile: (a file holding it, mode 600) or passwordCommand:, or BORG_PASSPHRASE under env:', check: serviceStillRunning },
  { name: 'borg passwordFile that is a directory', arrange: (c) => { mkdirSync(path.join(c.t.dir, 'passdir')); lateConfig(c, 'borg', `, passwordFile: ${c.t.dir}/passdir`); }, exit: 2, message: (c) => `lifeboat: lifeboat.yaml: /repositories/local/passwordFile: ${c.t.dir}/passdir is not a regular file; create it`, check: serviceStillRunning },
  {
    name: 'negated exclude with borg',
    arrange: (c) => {
      writeFileSync(path.join(c.t.dir, 'pass'), 'secret\n', { mode: 0o600 });
      lateConfig(c, 'borg', `, passwordFile: ${c.t.dir}/pass`, 'exclude: ["*.tmp", "!keep.tmp"]\n');
    },
    exit: 2,
    message: 'lifeboat: modules/m/module.yaml: /exclude/1 "!keep.tmp": negated patterns are not supported by the borg provider; list the paths to exclude instead',
    check: serviceStillRunning,
  },
  { name: 'negated exclude with tar', arrange: (c) => lateConfig(c, 'tar', ', compression: none', 'exclude: ["!keep"]\n'), exit: 2, message: 'lifeboat: modules/m/module.yaml: /exclude/0 "!keep": negated patterns are not supported by the tar provider; list the paths to exclude instead', check: serviceStillRunning },
  {
    name: 'two databases dumped to one file',
    arrange: (c) => lateConfig(c, 'copy', '', `databases:\n  - sqlite: { path: ${c.t.dir}/a/db.sqlite3 }\n  - sqlite: { path: ${c.t.dir}/b/db.sqlite3 }\n`),
    exit: 2,
    message: (c) => `lifeboat: modules/m/module.yaml: /databases: SQLite database ${c.t.dir}/a/db.sqlite3 and SQLite database ${c.t.dir}/b/db.sqlite3 would both be dumped to databases/sqlite-db.sqlite3; give one of them a distinct \`name:\` in module.yaml`,
    check: serviceStillRunning,
  },
  // names and options
  { name: 'module name with path traversal', args: ['backup', '../etc'], exit: 2, message: 'module name "../etc" is invalid' },
  { name: 'module name with a space', args: ['backup', 'my module'], exit: 2, message: 'module name "my module" is invalid' },
  { name: 'module name in unicode', args: ['backup', 'modülé'], exit: 2, message: 'module name "modülé" is invalid' },
  { name: 'module name of 64 characters', args: ['backup', 'a'.repeat(64)], exit: 2, message: `module name "${'a'.repeat(64)}" is invalid` },
  { name: 'module name with upper case', args: ['restore', 'M'], exit: 2, message: 'module name "M" is invalid' },
  // Stray entries in modules/ are skipped with a warning (test/config/stray-modules.test.ts); named, they are bad input.
  { name: 'module folder with a space, named', arrange: (c) => c.t.write('modules/Bad Name/module.yaml', 'folders: []\n'), args: ['backup', 'Bad Name'], exit: 2, message: 'module name "Bad Name" is invalid' },
  { name: 'a file in modules/, named', arrange: (c) => c.t.write('modules/README.txt', 'hello\n'), args: ['backup', 'README.txt'], exit: 2, message: 'module name "README.txt" is invalid' },
  { name: 'unknown module', args: ['backup', 'nosuch'], exit: 2, message: 'module "nosuch" not found' },
  { name: 'unknown --repo', args: ['backup', 'm', '--repo', 'nosuch'], exit: 2, message: '--repo nosuch: no such repository in lifeboat.yaml' },
  { name: '--repo the module does not use', args: ['backup', 'm', '--repo', 'archive'], exit: 2, message: '--repo archive: module "m" does not use it' },
  { name: '--wait that is not a number', args: ['backup', 'm', '--wait', 'soon'], exit: 2, message: '--wait must be a whole number, got "soon"' },
  { name: '--parallel below zero', args: ['backup', 'm', '--parallel', '-1'], exit: 2, message: '--parallel must be a whole number' },
  { name: 'empty --target', arrange: twoSnapshots, args: ['restore', 'm', 'latest', '--target', ''], exit: 2, message: '--target' },
  { name: 'unknown option', args: ['backup', 'm', '--frobnicate'], exit: 2, message: "unknown option '--frobnicate'" },
  // environment files
  { name: 'root environment: a line that is not KEY=VALUE', arrange: (c) => c.t.write('environment', 'A=1\nthis is not an assignment\n'), exit: 2, message: 'environment:2: expected KEY=VALUE, got "this is not an assignment"' },
  { name: 'module environment: unclosed quote', arrange: (c) => c.t.write('modules/m/environment', 'TOKEN="abc\nOTHER=1\n'), exit: 2, message: 'modules/m/environment:1: quote " is never closed' },
  { name: 'environment: key starting with a digit', arrange: (c) => c.t.write('modules/m/environment', '1TOKEN=x\n'), exit: 2, message: 'modules/m/environment:1: expected KEY=VALUE' },
  { name: 'environment: binary with NUL bytes', arrange: (c) => writeFileSync(path.join(c.t.root, 'modules/m/environment'), Buffer.from([0x41, 0x3d, 0x00, 0x01, 0x02]), { mode: 0o600 }), exit: 2, message: 'modules/m/environment: contains NUL bytes' },
  { name: 'environment: binary without NUL bytes', arrange: (c) => writeFileSync(path.join(c.t.root, 'modules/m/environment'), Buffer.from([0xff, 0xfe, 0x80, 0x0a]), { mode: 0o600 }), exit: 2, message: 'modules/m/environment:1: expected KEY=VALUE' },
  { name: 'environment: backslash before the closing quote', arrange: (c) => c.t.write('modules/m/environment', "DIR='C:\\temp\\'\nTOKEN='abc'\n"), exit: 2, message: "modules/m/environment:1: the value ends with \\'" },
  { name: 'environment is a directory', arrange: (c) => mkdirSync(path.join(c.t.root, 'modules/m/environment'), { mode: 0o700 }), exit: 2, message: 'modules/m/environment: is a directory' },
  { name: 'environment is a FIFO (must not hang)', arrange: (c) => execaSync('mkfifo', ['-m', '600', path.join(c.t.root, 'environment')]), exit: 2, message: 'environment: is not a regular file' },
  { name: 'environment is a dangling symlink', arrange: (c) => symlinkSync(path.join(c.t.dir, 'nowhere'), path.join(c.t.root, 'modules/m/environment')), exit: 2, message: 'modules/m/environment: is a symlink to' },
  { name: 'environment is unreadable', asNobody: true, arrange: (c) => { c.t.write('modules/m/environment', 'A=1\n'); chmodSync(path.join(c.t.root, 'modules/m/environment'), 0o000); }, exit: 2, message: 'modules/m/environment: cannot be read (EACCES)' },
  // snapshot ids
  { name: 'unknown snapshot id', arrange: twoSnapshots, args: ['restore', 'm', 'deadbeef'], exit: 2, message: 'module m, repository local: snapshot "deadbeef" not found' },
  { name: 'ambiguous snapshot prefix', arrange: twoSnapshots, args: ['restore', 'm', '2024'], exit: 2, message: 'snapshot "2024" is ambiguous: it starts 2 ids' },
  { name: 'empty snapshot id', arrange: twoSnapshots, args: ['restore', 'm', ''], exit: 2, message: 'the snapshot id is empty' },
  { name: 'snapshot id with path traversal', arrange: twoSnapshots, args: ['restore', 'm', '../../../etc'], exit: 2, message: 'snapshot "../../../etc" not found' },
  { name: 'latest when there is no snapshot', args: ['restore', 'm'], exit: 2, message: 'module m, repository local: no snapshots yet' },
  // provider output
  { name: 'list prints something that is not JSON', arrange: (c) => weirdProvider(c, { list: 'echo "Snapshots: none"' }), args: ['snapshots', 'm'], exit: 1, message: (c) => `${c.t.root}/plugins/weird/list printed something that is not JSON` },
  { name: 'list prints a JSON object', arrange: (c) => weirdProvider(c, { list: 'echo \'{"name": "x"}\'' }), args: ['snapshots', 'm'], exit: 1, message: (c) => `${c.t.root}/plugins/weird/list must print a JSON array` },
  { name: 'list entry without a name', arrange: (c) => weirdProvider(c, { list: 'echo \'[{"time": "2024-01-01T00:00:00Z"}]\'' }), args: ['snapshots', 'm'], exit: 1, message: 'entry 0 has no "name" string' },
  { name: 'create exits 0 and writes nothing', arrange: (c) => weirdProvider(c, { create: 'exit 0' }), exit: 1, message: (c) => `${c.t.root}/plugins/weird/create exited 0 but ${c.t.root}/plugins/weird/list shows no new snapshot for module m` },
  { name: 'create prints a name it did not write', arrange: (c) => weirdProvider(c, { create: 'echo 20990101T000000' }), exit: 1, message: 'shows no new snapshot' },
  { name: 'restore exits 0 and writes nothing', arrange: (c) => { twoSnapshots(c); weirdProvider(c, { restore: 'exit 0' }); }, args: ['restore', 'm', '--no-safety-snapshot'], exit: 1, message: 'brought back none of' },
  // archives (tar provider) that try to leave the restore target
  {
    name: 'archive entry with ../',
    arrange: (c) => craftArchive(c, [{ header: { name: `${entry(c.adata)}/../../../../../../../../../${entry(c.outside)}/evil`, type: 'file' }, body: 'pwned\n' }]),
    args: (c) => ['restore', 'arch', c.vars.snapshot, '--target', path.join(c.t.dir, 'target')],
    exit: 1,
    message: 'refusing entry',
  },
  {
    name: 'archive symlink to an absolute path, then a file through it',
    arrange: (c) => craftArchive(c, [
      { header: { name: `${entry(c.adata)}/link`, type: 'symlink', linkname: c.outside } },
      { header: { name: `${entry(c.adata)}/link/evil`, type: 'file' }, body: 'pwned\n' },
    ]),
    args: (c) => ['restore', 'arch', c.vars.snapshot, '--target', path.join(c.t.dir, 'target')],
    exit: 1,
    message: 'it would be written through the symlink',
  },
  {
    name: 'archive symlink climbing out of the target',
    arrange: (c) => craftArchive(c, [{ header: { name: `${entry(c.adata)}/up`, type: 'symlink', linkname: '../'.repeat(12) + entry(c.outside) } }]),
    args: (c) => ['restore', 'arch', c.vars.snapshot, '--target', path.join(c.t.dir, 'target')],
    exit: 1,
    message: 'points outside the restore target',
  },
  {
    name: 'archive hard link to a file outside',
    arrange: (c) => craftArchive(c, [{ header: { name: `${entry(c.adata)}/hard`, type: 'link', linkname: '../'.repeat(12) + 'etc/passwd' } }]),
    args: (c) => ['restore', 'arch', c.vars.snapshot, '--target', path.join(c.t.dir, 'target')],
    exit: 1,
    message: 'hard link target',
  },
  {
    name: 'archive with ../ restored in place',
    arrange: (c) => craftArchive(c, [{ header: { name: `${entry(c.adata)}/../../../../../../../../${entry(c.outside)}/evil`, type: 'file' }, body: 'pwned\n' }]),
    args: (c) => ['restore', 'arch', c.vars.snapshot, '--no-safety-snapshot'],
    exit: 1,
    message: 'the live files were not changed',
  },
  {
    name: 'archive symlink escape restored in place',
    arrange: (c) => craftArchive(c, [
      { header: { name: `${entry(c.adata)}`, type: 'directory', mode: 0o755 } },
      { header: { name: `${entry(c.adata)}/link`, type: 'symlink', linkname: c.outside } },
      { header: { name: `${entry(c.adata)}/link/evil`, type: 'file' }, body: 'pwned\n' },
    ]),
    args: (c) => ['restore', 'arch', c.vars.snapshot, '--no-safety-snapshot'],
    exit: 1,
    message: 'it would be written through the symlink',
  },
];

// The same checks with real restic and borg repositories (the catalogue above runs on the copy script
// provider and tar): module m backs up into repository `local` of the tool, after one real backup.
const ENGINE_CASES = (tool: 'restic' | 'borg'): Case[] => {
  const repo = (c: Ctx, extra = '') => `repositories:\n  local: { provider: ${tool}, url: ${c.t.dir}/repo, passwordFile: ${c.t.dir}/pass${extra} }\n`;
  const backedUp = async (c: Ctx) => {
    writeFileSync(path.join(c.t.dir, 'pass'), 'bad-input-password\n', { mode: 0o600 });
    setGlobal(c, repo(c));
    const backup = await execa('node', [BIN, '--root', c.t.root, '--state-dir', c.t.stateDir, 'backup', 'm'], { reject: false });
    if (backup.exitCode !== 0) throw new Error(`backup m failed: ${backup.stderr}`);
  };
  return [
    { name: `${tool}: an unknown snapshot id`, arrange: backedUp, args: ['restore', 'm', 'nope'], exit: 2, message: 'snapshot "nope" not found; `lifeboat snapshots` lists them' },
    { name: `${tool}: --repo naming no repository`, arrange: backedUp, args: ['restore', 'm', '--repo', 'nosuch'], exit: 2, message: '--repo nosuch: no such repository in lifeboat.yaml; defined: local' },
    {
      name: `${tool}: an unknown key in its repository`,
      arrange: async (c) => {
        await backedUp(c);
        setGlobal(c, repo(c, ', pasword: x'));
      },
      exit: 2,
      message: /lifeboat\.yaml.*pasword/,
    },
  ];
};

// Runs Lifeboat on the case's root (as uid 65534 when asked), with a time limit: nothing may hang.
function run(c: Ctx, args: string[], asNobody: boolean) {
  const argv = [BIN, '--root', c.t.root, '--state-dir', c.t.stateDir, ...args];
  const env = { LIFEBOAT_TEST_UNSET_VAR: undefined };
  if (!asNobody) return execa('node', argv, { reject: false, timeout: 60_000, input: '', env });
  return execa('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', 'node', ...argv], { reject: false, timeout: 60_000, input: '', env });
}

describe.concurrent('bad input: exit 2 (or 1), a message naming the culprit, nothing changed', () => {
  it.for([...CASES, ...ENGINE_CASES('restic'), ...ENGINE_CASES('borg')])('$name', async (item, { expect, onTestFinished }) => {
    const t = makeRoot();
    onTestFinished(() => t.cleanup());
    const c: Ctx = { t, data: path.join(t.dir, 'data'), adata: path.join(t.dir, 'adata'), outside: path.join(t.dir, 'outside'), vars: {} };
    for (const dir of [c.data, c.adata, c.outside]) mkdirSync(dir);
    writeFileSync(path.join(c.data, 'file.txt'), 'live data\n');
    writeFileSync(path.join(c.adata, 'file.txt'), 'archived data\n');
    setGlobal(c, GOOD_GLOBAL(c));
    setModule(c, goodModule(c));
    t.write('modules/arch/module.yaml', `folders: [${c.adata}]\nrepositories: [archive]\n`);
    await item.arrange?.(c);
    if (item.asNobody) execaSync('chown', ['-R', '65534:65534', t.dir]);
    const journalBefore = journalRecords(t.stateDir).length;
    const before = describeTree(t.dir);
    const args = typeof item.args === 'function' ? item.args(c) : (item.args ?? ['backup', 'm']);
    const result = await run(c, args, !!item.asNobody);
    const message = typeof item.message === 'function' ? item.message(c) : item.message;
    expect(result.timedOut, 'must not hang').toBe(false);
    expect(result.exitCode, result.stderr).toBe(item.exit);
    if (typeof message === 'string') expect(result.stderr).toContain(message);
    else expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toContain('internal error');
    // Nothing changed; a runtime fault may only have journaled its failed run (and made the state dir).
    const after = describeTree(t.dir);
    if (item.exit === 2) expect(after).toEqual(before);
    else {
      const outsideState = (lines: string[]) => lines.filter((line) => !line.startsWith('state'));
      expect(outsideState(after)).toEqual(outsideState(before));
      const records = journalRecords(t.stateDir).slice(journalBefore);
      expect(records.filter((r) => r.type === 'end' && r.result !== 'failure')).toEqual([]);
    }
    expect(readdirSync(c.outside)).toEqual([]);
    item.check?.(c, result.stderr);
  });
});
