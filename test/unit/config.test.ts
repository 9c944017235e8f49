// Configuration in-process: interpolation, trust rules, paths, environment files, schema messages and
// loading of the root and its modules (every problem at once, exact texts).
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { interpolate, type Unresolved } from '../../src/config/interpolate.js';
import { unsafeReason } from '../../src/files/permissions.js';
import { MODULE_NAME_RE, PROJECT_DIR, SCHEMA_DIR, resolveRoot, resolveStateDir, stateLayout } from '../../src/config/paths.js';
import { IGNORED_KEY_REASON, describeIgnoredKey, ignoredEnvKeys, isRedirectingKey, mergeEnvFiles, parseEnvText, readEnvFile } from '../../src/config/env-file.js';
import { compileValidators, validateDocument } from '../../src/config/validate.js';
import { DEFAULT_KILL_AFTER, DEFAULT_PART_TIMEOUT, loadModules, loadRoot, notifyProblems } from '../../src/config/load.js';
import { renderReference } from '../../src/config/example.js';
import { LifeboatError } from '../../src/errors.js';
import type { Stats } from 'node:fs';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tmp(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-unit-'));
  chmodSync(dir, 0o755);
  dirs.push(dir);
  return dir;
}
function write(file: string, text: string, mode = 0o600): string {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}
function thrown(fn: () => unknown): LifeboatError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(LifeboatError);
    return error as LifeboatError;
  }
  throw new Error('did not throw');
}

describe('interpolate', () => {
  it('resolves ${VAR} and ${VAR:-default} in nested values and collects what is missing', () => {
    const missing: Unresolved[] = [];
    const env = { A: 'a', EMPTY: '' };
    const out = interpolate({ s: 'x${A}y', d: '${NOPE:-dflt}', e: '${EMPTY:-fallback}', n: 3, b: true, z: null, list: ['${A}', '${GONE}'], deep: { k: '${EMPTY}' } }, env, missing);
    expect(out).toEqual({ s: 'xay', d: 'dflt', e: 'fallback', n: 3, b: true, z: null, list: ['a', ''], deep: { k: '' } });
    expect(missing).toEqual([{ path: '/list/1', variable: 'GONE' }]);
    const top: Unresolved[] = [];
    expect(interpolate('${X1_y}', {}, top)).toBe('');
    expect(top).toEqual([{ path: '/', variable: 'X1_y' }]);
    expect(interpolate('$A ${1A} ${A', env, [])).toBe('$A ${1A} ${A');
    expect(interpolate('${A:-}', { A: '' }, [])).toBe('');
  });

  it('leaves kept paths as written', () => {
    const missing: Unresolved[] = [];
    const keep = (at: string) => at === '/service/stop';
    expect(interpolate({ service: { stop: 'kill ${PID}', start: '${A}' } }, { A: 'a' }, missing, '', keep)).toEqual({ service: { stop: 'kill ${PID}', start: 'a' } });
    expect(missing).toEqual([]);
    expect(interpolate('${A}', { A: 'a' }, [], '', (at) => at === '/')).toBe('${A}');
  });
});

describe('trust and paths', () => {
  const stats = (mode: number, uid = 0) => ({ mode, uid }) as Stats;
  it('unsafeReason', () => {
    expect(unsafeReason(stats(0o100755))).toBeUndefined();
    expect(unsafeReason(stats(0o100775))).toBe('writable by group (mode 0775)');
    expect(unsafeReason(stats(0o100757))).toBe('writable by others (mode 0757)');
    expect(unsafeReason(stats(0o104777))).toBe('writable by group (mode 4777)');
    expect(unsafeReason(stats(0o100600, 4242))).toBe('owned by another user (uid 4242)');
    expect(unsafeReason(stats(0o100600, process.getuid!()))).toBeUndefined();
  });

  it('resolves the root and state dir: flag, environment, then the default', () => {
    expect(resolveRoot({ root: 'rel' }, { LIFEBOAT_ROOT: '/env' })).toBe(path.resolve('rel'));
    expect(resolveRoot({}, { LIFEBOAT_ROOT: 'envrel' })).toBe(path.resolve('envrel'));
    expect(resolveStateDir({ stateDir: 's' }, { LIFEBOAT_STATE_DIR: '/x' })).toBe(path.resolve('s'));
    expect(resolveStateDir({}, { LIFEBOAT_STATE_DIR: 'sr' })).toBe(path.resolve('sr'));
    const isRoot = process.getuid?.() === 0;
    expect(resolveRoot({}, {})).toBe(isRoot ? '/etc/lifeboat' : path.join(os.homedir(), '.config', 'lifeboat'));
    expect(resolveStateDir({}, {})).toBe(isRoot ? '/var/lib/lifeboat' : path.join(os.homedir(), '.local', 'state', 'lifeboat'));
  });

  it('the state dir layout and the project dir', () => {
    expect(stateLayout('/s')).toMatchObject({ locks: '/s/locks', journal: '/s/journal.jsonl', runs: '/s/runs', repositories: '/s/repositories' });
    expect(stateLayout('/s').moduleState('web')).toBe('/s/modules/web/state');
    expect(PROJECT_DIR).toBe(path.resolve(import.meta.dirname, '..', '..'));
    expect(SCHEMA_DIR).toBe(path.join(PROJECT_DIR, 'src', 'config', 'schema'));
    expect(MODULE_NAME_RE.test('a')).toBe(true);
    expect(MODULE_NAME_RE.test('a'.repeat(63))).toBe(true);
    expect(MODULE_NAME_RE.test('a'.repeat(64))).toBe(false);
    expect(MODULE_NAME_RE.test('_a')).toBe(false);
    expect(MODULE_NAME_RE.test('aB')).toBe(false);
  });
});

describe('environment files', () => {
  it('parses dotenv text and names the file and line of each problem', () => {
    expect(parseEnvText('# c\n\nA=1\nexport B = two\nC="x\ny"\nD=\'q\'\n', 'env')).toEqual({ A: '1', B: 'two', C: 'x\ny', D: 'q' });
    const bad = thrown(() => parseEnvText('A=1\nnot a line\n1X=2\nE="unterminated\n', 'environment'));
    expect(bad.problems).toEqual(['environment:2: expected KEY=VALUE, got "not a line"', 'environment:3: expected KEY=VALUE, got "1X=2"', 'environment:4: quote " is never closed']);
    expect(bad.message).toBe(bad.problems.join('\n'));
    expect(thrown(() => parseEnvText('A=1\0', 'e')).code).toBe('ENV_SYNTAX');
    expect(bad.code).toBe('ENV_SYNTAX');
    expect(bad.hint).toBe('each line is KEY=VALUE (KEY of letters, digits and _), a comment starting with #, or empty');
    expect(thrown(() => parseEnvText('A=1\0', 'e')).message).toBe('e: contains NUL bytes; an environment file must be text (KEY=VALUE lines)');
    expect(thrown(() => parseEnvText(`X=${'y'.repeat(80)} z\nbad ${'q'.repeat(80)}`, 'e')).problems).toEqual([`e:2: expected KEY=VALUE, got ${JSON.stringify(`bad ${'q'.repeat(80)}`.slice(0, 60))}`]);
    expect(thrown(() => parseEnvText('A="x\\"\nB=2"', 'e')).problems).toEqual(['e:1: the value ends with \\", which dotenv may read as an escaped quote (taking the following lines into the value); remove the backslash, or leave the value unquoted']);
    expect(thrown(() => parseEnvText("A='x", 'e')).problems).toEqual(["e:1: quote ' is never closed"]);
    expect(thrown(() => parseEnvText('A=`x', 'e')).problems).toEqual(['e:1: quote ` is never closed']);
    expect(parseEnvText('A="a\\"b"\nB=2', 'e')).toEqual({ A: 'a\\"b', B: '2' });
    expect(thrown(() => parseEnvText("A='a\\'\nB=1", 'e')).problems[0]).toMatch(/^e:1: the value ends with \\', which dotenv/);
    expect(parseEnvText('A="x\nstill\n"\nB=1', 'e')).toEqual({ A: 'x\nstill\n', B: '1' });
    expect(parseEnvText('A=""\nB=1', 'e')).toEqual({ A: '', B: '1' });
    expect(parseEnvText('  # indented comment\nA=1\r\nB=2\r\n', 'e')).toEqual({ A: '1', B: '2' });
  });

  it('refuses the keys that redirect programs, keeping a list of them', () => {
    expect(['PATH', 'LD_PRELOAD', 'DYLD_X', 'BASH_FUNC_f%%', 'HOME', 'NODE_OPTIONS'].every(isRedirectingKey)).toBe(true);
    expect(['PATHS', 'MY_LD_X', 'A'].some(isRedirectingKey)).toBe(false);
    const dir = tmp();
    const file = write(path.join(dir, 'environment'), 'A=1\nPATH=/evil\nLD_PRELOAD=x.so\n');
    const env = readEnvFile(file, 'environment');
    expect(env).toEqual({ A: '1' });
    expect(ignoredEnvKeys(env)).toEqual(['PATH', 'LD_PRELOAD']);
    expect(ignoredEnvKeys({})).toEqual([]);
    const other = readEnvFile(write(path.join(dir, 'e2'), 'B=2\nPATH=/x\nHOME=/h\n'), 'e2');
    const merged = mergeEnvFiles(env, other, { C: '3' });
    expect(merged).toEqual({ A: '1', B: '2', C: '3' });
    expect(ignoredEnvKeys(merged)).toEqual(['PATH', 'LD_PRELOAD', 'HOME']);
    expect(describeIgnoredKey('modules/web/environment', 'PATH')).toBe(`modules/web/environment: PATH is ignored: ${IGNORED_KEY_REASON}`);
    expect(IGNORED_KEY_REASON).toBe("an environment file may not change which programs Lifeboat and its parts run or what they load (PATH, LD_*, BASH_ENV, NODE_OPTIONS, ...); remove the line (tools are found with Lifeboat's own PATH)");
  });

  it('a missing file is empty; unsafe, special, dangling and unreadable files are errors', () => {
    const dir = tmp();
    expect(readEnvFile(path.join(dir, 'none'), 'environment')).toEqual({});
    const open = write(path.join(dir, 'open'), 'A=1\n', 0o666);
    const e1 = thrown(() => readEnvFile(open, 'environment'));
    expect([e1.code, e1.message]).toEqual(['UNSAFE_PERMISSIONS', 'environment: refused: writable by group (mode 0666); it holds secrets: chmod 600 and chown it to root or to you']);
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    const e2 = thrown(() => readEnvFile(path.join(dir, 'fifo'), 'environment'));
    expect([e2.code, e2.message]).toEqual(['ENV_SYNTAX', 'environment: is not a regular file; an environment file holds KEY=VALUE lines']);
    symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'link'));
    const e3 = thrown(() => readEnvFile(path.join(dir, 'link'), 'environment'));
    expect([e3.code, e3.message, e3.hint]).toEqual(['ENV_SYNTAX', `environment: is a symlink to ${path.join(dir, 'nowhere')}, which does not exist`, 'point it at the real file, or remove it']);
    mkdirSync(path.join(dir, 'sub'));
    const e4 = thrown(() => readEnvFile(path.join(dir, 'sub'), 'environment'));
    expect([e4.code, e4.message]).toEqual(['ENV_SYNTAX', 'environment: is a directory, expected a dotenv file']);
    const e5 = thrown(() => readEnvFile(path.join(open, 'below'), 'environment'));
    expect([e5.code, e5.message, e5.hint]).toEqual(['ENV_SYNTAX', 'environment: cannot be read (ENOTDIR)', 'make it readable by the user running lifeboat']);
  });
});

describe('schema messages', () => {
  it('says where, what was found and the fix', () => {
    expect(validateDocument('module', { folders: ['/a'] }, 'm.yaml')).toEqual([]);
    expect(validateDocument('module', { folders: 'x' }, 'm.yaml')).toEqual(['m.yaml: /folders must be an array, got "x"']);
    expect(validateDocument('module', { folders: ['rel'] }, 'm.yaml')).toEqual(['m.yaml: /folders/0 must match ^/, got "rel" (use an absolute path such as /var/lib/app)']);
    expect(validateDocument('module', { foldrs: [] }, 'm.yaml')).toEqual(['m.yaml: /foldrs is not a known key; did you mean "folders"?']);
    expect(validateDocument('module', { zzzzzzzz: 1 }, 'm.yaml')[0]).toBe('m.yaml: /zzzzzzzz is not a known key; allowed keys: folders, exclude, service, databases, repositories, schedule, verify, retention, timeouts, enabled, umask');
    expect(validateDocument('module', { retention: { keepLst: 1 } }, 'm.yaml')).toEqual(['m.yaml: /retention/keepLst is not a known key; did you mean "keepLast"?']);
    expect(validateDocument('module', { service: { engine: 'lxc', container: 'c' } }, 'm.yaml')).toEqual(['m.yaml: /service/engine must be one of "docker", "podman", got "lxc"']);
    for (const umask of ['022', '0027', '177', '0177']) expect(validateDocument('module', { umask }, 'm.yaml'), umask).toEqual([]);
    expect(validateDocument('module', { umask: '99' }, 'm.yaml')).toEqual(['m.yaml: /umask must match ^0?[01][0-7]{2}$, got "99" (an octal umask in quotes such as "022" or "027"; its first digit 0 or 1, as one that takes the owner\'s read or write away leaves parts unable to read or write their own files)']);
    expect(validateDocument('module', { folders: {} }, 'm.yaml')).toEqual(['m.yaml: /folders must be an array, got an object']);
    expect(validateDocument('module', { enabled: [] }, 'm.yaml')).toEqual(['m.yaml: /enabled must be a boolean, got an empty list']);
    expect(validateDocument('module', { enabled: [1] }, 'm.yaml')).toEqual(['m.yaml: /enabled must be a boolean, got a list']);
    expect(validateDocument('module', { enabled: 'x'.repeat(70) }, 'm.yaml')).toEqual([`m.yaml: /enabled must be a boolean, got "${'x'.repeat(56)}...`]);
    expect(validateDocument('module', [], 'm.yaml')).toEqual(['m.yaml: / must be an object, got an empty list']);
    expect(validateDocument('module', { timeouts: { part: 0 } }, 'm.yaml')).toEqual(['m.yaml: /timeouts/part must be > 0, got 0']);
  });

  it('turns true/false/1/0 text into booleans at the boolean keys only', () => {
    const doc = { enabled: 'false', service: { systemd: 'a.service', stopDuringBackup: '1' }, folders: ['/a'] };
    expect(validateDocument('module', doc, 'm.yaml')).toEqual([]);
    expect(doc).toEqual({ enabled: false, service: { systemd: 'a.service', stopDuringBackup: true }, folders: ['/a'] });
    const other = { enabled: '0' };
    validateDocument('module', other, 'm.yaml');
    expect(other.enabled).toBe(false);
    const yes = { enabled: 'true' };
    validateDocument('module', yes, 'm.yaml');
    expect(yes.enabled).toBe(true);
    expect(validateDocument('module', { enabled: 'yes' }, 'm.yaml')).toEqual(['m.yaml: /enabled must be a boolean, got "yes"']);
    expect(validateDocument('module', { schedule: 'true' }, 'm.yaml')).toEqual([]);
    const root = { repositories: { a: { provider: 'restic', url: '/r' } } };
    expect(validateDocument('lifeboat', root, 'lifeboat.yaml')).toEqual([]);
  });

  it('names a key with / or ~ escaped, and a required key', () => {
    expect(validateDocument('lifeboat', { repositories: { 'a/b~c': { provider: 'restic', url: '/r' } } }, 'l.yaml')).toContain('l.yaml: /repositories has an invalid key "a/b~c": names match ^[a-z0-9][a-z0-9_-]{0,62}$');
    expect(validateDocument('lifeboat', { repositories: { a: { url: '/r' } } }, 'l.yaml')).toContain('l.yaml: /repositories/a/provider is required but missing');
    expect(validateDocument('lifeboat', { 'x/y': 1 }, 'l.yaml')[0]).toMatch(/^l\.yaml: \/x~1y is not a known key/);
  });

  it('compiles the same validators from the schemas', () => {
    const { module } = compileValidators();
    expect(module({ folders: ['/a'] })).toBe(true);
    expect(module({ folders: 'x' })).toBe(false);
  });
});

describe('loading a root and its modules', () => {
  function root(yaml = 'repositories:\n  local:\n    provider: restic\n    url: /var/backups\n') {
    const dir = tmp();
    const r = path.join(dir, 'root');
    const stateDir = path.join(dir, 'state');
    mkdirSync(path.join(r, 'modules'), { recursive: true });
    if (yaml) write(path.join(r, 'lifeboat.yaml'), yaml);
    const mod = (name: string, text: string, file = 'module.yaml') => write(path.join(r, 'modules', name, file), text);
    const load = (names?: string[]) => loadModules(loadRoot({ root: r, stateDir }), names);
    const problems = (names?: string[]) => thrown(() => load(names)).problems;
    return { r, stateDir, mod, load, problems, dir };
  }

  it('fills a module with the defaults', () => {
    const t = root('repositories:\n  local: { provider: restic, url: /r }\n  off: { provider: borg, url: /b }\ndefaults:\n  schedule: "0 3 * * *"\n  retention: { keepLast: 2 }\n  timeouts: { part: 30 }\n  verify: { schedule: "0 5 * * 0" }\nhost: h1\n');
    t.mod('web', 'folders: [/srv/web, /srv/../srv/x]\n');
    const [web] = t.load();
    expect(web).toEqual({
      name: 'web',
      dir: path.join(t.r, 'modules', 'web'),
      file: path.join(t.r, 'modules', 'web', 'module.yaml'),
      folders: ['/srv/web', '/srv/x'],
      exclude: [],
      service: undefined,
      databases: [],
      repositories: ['local', 'off'],
      schedule: '0 3 * * *',
      verify: { schedule: '0 5 * * 0' },
      retention: { keepLast: 2 },
      timeouts: { part: 30, killAfter: DEFAULT_KILL_AFTER },
      enabled: true,
      umask: 0o22,
      env: {},
      envFile: path.join(t.r, 'modules', 'web', 'environment'),
      stateDir: path.join(t.stateDir, 'modules', 'web', 'state'),
    });
    expect(loadRoot({ root: t.r, stateDir: t.stateDir })).toMatchObject({ host: 'h1', moduleNames: ['web'], warnings: [], file: path.join(t.r, 'lifeboat.yaml') });
    expect([DEFAULT_PART_TIMEOUT, DEFAULT_KILL_AFTER]).toEqual([3600, 10]);
  });

  it('a module\'s own settings win; its environment files feed ${VAR}', () => {
    const t = root();
    write(path.join(t.r, 'environment'), 'ROOTV=/from-root\nSHARED=root\n');
    write(path.join(t.r, 'modules', 'db', 'environment'), 'SHARED=module\nSTOP=0\n');
    write(path.join(t.stateDir, 'modules', 'db', 'state', 'environment'), 'STATEV=/from-state\n');
    t.mod('db', 'folders: ["${ROOTV}", "${STATEV}", "/${SHARED}"]\nexclude: ["*.tmp"]\nrepositories: [local]\nschedule: "1 2 * * *"\nverify: { schedule: "3 4 * * *" }\nretention: { keepDaily: 3 }\ntimeouts: { part: 5, killAfter: 2 }\nenabled: false\numask: "027"\nservice:\n  stop: "kill ${PID}"\n  start: "start ${PID}"\n  isActive: "true"\n  stopDuringBackup: ${STOP}\n');
    const [db] = t.load(['db']);
    expect(db).toMatchObject({
      folders: ['/from-root', '/from-state', '/module'],
      exclude: ['*.tmp'],
      repositories: ['local'],
      schedule: '1 2 * * *',
      verify: { schedule: '3 4 * * *' },
      retention: { keepDaily: 3 },
      timeouts: { part: 5, killAfter: 2 },
      enabled: false,
      umask: 0o27,
      env: { SHARED: 'module', STOP: '0', STATEV: '/from-state' },
      service: { stop: 'kill ${PID}', start: 'start ${PID}', isActive: 'true', stopDuringBackup: false },
    });
  });

  it('lists every problem of the modules at once, with exact texts', () => {
    const t = root();
    t.mod('a', 'folders: ["${MISSING}"]\nrepositories: [nope]\n');
    t.mod('b', 'schedule: "bad"\nverify: { schedule: "0 0 30 2 *" }\n');
    t.mod('c', 'service: {}\n');
    t.mod('d', 'service: { systemd: a, container: b }\n');
    t.mod('e', 'service: { stop: x }\n');
    t.mod('f', 'service: { systemd: a, engine: docker }\n');
    t.mod('g', 'folders: [/a]\n');
    t.mod('g', '{}', 'module.json');
    t.mod('h', 'folders: [/a\n');
    t.mod('i', '{"folders": [', 'module.json');
    t.mod('j', 'a: 1\na: 2\n');
    t.mod('k', 'folders: *nope\n');
    t.mod('l', 'folders: [/a]\n', 'module.yml');
    t.mod('m', '', 'module.yaml');
    const found = t.problems(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'zz', 'Bad Name']);
    expect(found).toEqual([
      'modules/a/module.yaml: /folders/0 uses ${MISSING} but MISSING is not set; set it in the environment file or write ${MISSING:-default}',
      'modules/a/module.yaml: /folders/0 must NOT have fewer than 1 characters, got "" (use an absolute path such as /var/lib/app)',
      'modules/a/module.yaml: /folders/0 must match ^/, got "" (use an absolute path such as /var/lib/app)',
      'modules/b/module.yaml: /schedule "bad" is not a cron expression (invalid configuration format (\'bad\'), exactly five, six, or seven space separated parts are required.); use five fields: minute hour day-of-month month day-of-week, e.g. "15 3 * * *"',
      'modules/b/module.yaml: /verify/schedule cron expression "0 0 30 2 *" never runs',
      'modules/c/module.yaml: /service needs one of systemd, container, or stop + start + isActive',
      'modules/d/module.yaml: /service mixes systemd and container; choose one',
      'modules/e/module.yaml: /service/start is required with stop/start commands (isActive exits 0 when the service runs)',
      'modules/e/module.yaml: /service/isActive is required with stop/start commands (isActive exits 0 when the service runs)',
      'modules/f/module.yaml: /service/engine only applies with /service/container',
      'modules/g/module.yaml and module.json both exist; keep one',
      'modules/h/module.yaml:1:13: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]\n  1 | folders: [/a\n    |             ^\n  likely cause: a [, { or quote that is opened but not closed (close it)',
      'modules/i/module.json: invalid JSON: Unexpected end of JSON input',
      'modules/j/module.yaml:2:1: invalid YAML: Map keys must be unique\n  2 | a: 2\n    | ^\n  likely cause: the same key twice in one mapping (keep one of them)',
      'modules/k/module.yaml: invalid YAML: Unresolved alias (the anchor must be set before the alias): nope',
      'module "zz" not found: no modules/zz/module.yaml in ' + t.r + '; known modules: a, b, c, d, e, f, g, h, i, j, k, l, m',
      'module name "Bad Name" is invalid: names match ^[a-z0-9][a-z0-9_-]{0,62}$ (lower case letters, digits, _ and -)',
    ]);
    t.mod('n', 'repositories: [nope]\n');
    expect(t.problems(['n'])).toEqual(['modules/n/module.yaml: /repositories/0 names unknown repository "nope"; lifeboat.yaml defines: local']);
    expect(t.load(['l', 'm']).map((m) => [m.name, m.file])).toEqual([['l', path.join(t.r, 'modules', 'l', 'module.yml')], ['m', path.join(t.r, 'modules', 'm', 'module.yaml')]]);
  });

  it('with `broken`, a bad module is set aside and the others load', () => {
    const t = root();
    t.mod('good', 'folders: [/a]\n');
    t.mod('bad', 'folders: 1\n');
    const broken: Array<{ name: string; problems: string[] }> = [];
    const loaded = loadModules(loadRoot({ root: t.r, stateDir: t.stateDir }), undefined, broken);
    expect(loaded.map((m) => m.name)).toEqual(['good']);
    expect(broken).toEqual([{ name: 'bad', problems: ['modules/bad/module.yaml: /folders must be an array, got 1'] }]);
    expect(thrown(() => loadModules(loadRoot({ root: t.r, stateDir: t.stateDir }), [])).problems).toEqual(['modules/bad/module.yaml: /folders must be an array, got 1']);
  });

  it('no repositories and no modules', () => {
    const t = root('{}\n');
    t.mod('a', 'repositories: [x]\n');
    expect(t.problems()).toEqual(['modules/a/module.yaml: /repositories/0 names unknown repository "x"; lifeboat.yaml defines: none are defined']);
    const empty = root('');
    const r = loadRoot({ root: empty.r, stateDir: empty.stateDir });
    expect(r).toMatchObject({ file: undefined, global: { repositories: {}, defaults: {}, notify: [] }, host: os.hostname(), moduleNames: [] });
    expect(thrown(() => loadModules(r, ['x'])).problems).toEqual([`module "x" not found: no modules/x/module.yaml in ${empty.r}; no modules are defined yet`]);
    rmSync(path.join(empty.r, 'modules'), { recursive: true });
    expect(loadRoot({ root: empty.r, stateDir: empty.stateDir }).moduleNames).toEqual([]);
  });

  it('the root: missing, unsafe, invalid, bad schedules and notify entries', () => {
    const missing = thrown(() => loadRoot({ root: '/nonexistent/lifeboat-root', stateDir: '/tmp/x' }));
    expect([missing.code, missing.message, missing.hint]).toEqual(['CONFIG_MISSING', 'config root /nonexistent/lifeboat-root does not exist', 'run `lifeboat init --root DIR` to create one, or pass --root / set LIFEBOAT_ROOT']);
    const t = root('repositories: {}\ndefaults:\n  schedule: "nope nope"\n  verify: { schedule: "0 0 31 2 *" }\nnotify:\n  - { webhook: "https://x", ntfy: "https://y" }\n  - { ntfy: "https://y", format: json }\n  - { webhook: "https://x", priority: high }\n');
    write(path.join(t.r, 'environment'), 'bad line\n');
    const e = thrown(() => loadRoot({ root: t.r, stateDir: t.stateDir }));
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.problems).toEqual([
      'environment:1: expected KEY=VALUE, got "bad line"',
      'lifeboat.yaml: /defaults/schedule "nope nope" is not a cron expression (invalid configuration format (\'nope nope\'), exactly five, six, or seven space separated parts are required.); use five fields: minute hour day-of-month month day-of-week, e.g. "15 3 * * *"',
      'lifeboat.yaml: /defaults/verify/schedule cron expression "0 0 31 2 *" never runs',
      'lifeboat.yaml: /notify/0 has webhook and ntfy; one target per entry (add another entry for the other)',
      'lifeboat.yaml: /notify/1/format only applies to webhook',
      'lifeboat.yaml: /notify/2/priority only applies to ntfy',
    ]);
    const unsafe = root();
    chmodSync(path.join(unsafe.r, 'lifeboat.yaml'), 0o666);
    expect(thrown(() => loadRoot({ root: unsafe.r, stateDir: unsafe.stateDir })).problems).toEqual([
      `lifeboat.yaml: refused: writable by group (mode 0666); it names commands Lifeboat runs (service stop/start, passwordCommand): chmod go-w ${path.join(unsafe.r, 'lifeboat.yaml')} and chown it to root or to you`,
    ]);
    const invalid = root('repositories: 3\n');
    expect(thrown(() => loadRoot({ root: invalid.r, stateDir: invalid.stateDir })).problems).toEqual(['lifeboat.yaml: /repositories must be an object, got 3']);
    const json = root('');
    write(path.join(json.r, 'lifeboat.json'), '{"host": "j"}');
    expect(loadRoot({ root: json.r, stateDir: json.stateDir }).host).toBe('j');
    const unreadable = root('');
    mkdirSync(path.join(unreadable.r, 'lifeboat.yaml'));
    expect(thrown(() => loadRoot({ root: unreadable.r, stateDir: unreadable.stateDir })).problems).toEqual(['lifeboat.yaml: cannot be read (EISDIR: illegal operation on a directory, read)']);
    expect(notifyProblems({} as never, 'at')).toEqual(['at needs one of webhook, ntfy, sendmail, command']);
    expect(notifyProblems({ sendmail: { to: 'a' } } as never, 'at')).toEqual([]);
    expect(notifyProblems({ command: '/x', format: 'json' } as never, 'at')).toEqual(['at/format only applies to webhook']);
    expect(notifyProblems({ webhook: 'https://x', format: 'json' } as never, 'at')).toEqual([]);
    expect(notifyProblems({ ntfy: 'https://x', priority: 'high' } as never, 'at')).toEqual([]);
  });

  it('skips stray entries of modules/ with one warning each', () => {
    const t = root();
    t.mod('ok', 'folders: [/a]\n');
    write(path.join(t.r, 'modules', 'file.yaml'), 'x');
    mkdirSync(path.join(t.r, 'modules', 'Bad'));
    mkdirSync(path.join(t.r, 'modules', 'empty'));
    symlinkSync('/nonexistent', path.join(t.r, 'modules', 'dangling'));
    write(path.join(t.r, 'modules', 'json', 'module.json'), '{}');
    const r = loadRoot({ root: t.r, stateDir: t.stateDir });
    expect(r.moduleNames).toEqual(['json', 'ok']);
    expect(r.warnings).toEqual([
      'modules/Bad/ is not a module name (^[a-z0-9][a-z0-9_-]{0,62}$): skipped; rename the folder if it is a module, or move it out of modules/',
      'modules/dangling is not a directory: skipped; a module is a folder modules/<name>/ holding module.yaml (move the file elsewhere to silence this)',
      'modules/empty/ has no module.yaml: skipped; create modules/empty/module.yaml if it is a module, or move it out of modules/',
      'modules/file.yaml is not a directory: skipped; a module is a folder modules/<name>/ holding module.yaml (move the file elsewhere to silence this)',
    ]);
    // A module folder that lost its file between listing and loading.
    rmSync(path.join(t.r, 'modules', 'ok', 'module.yaml'));
    expect(thrown(() => loadModules(r, ['ok'])).problems).toEqual(['modules/ok: no module.yaml or module.json; create modules/ok/module.yaml']);
  });
});

describe('the reference of every key', () => {
  it('is generated from the schemas', () => {
    const module = renderReference('module').split('\n');
    expect(module.slice(0, 2)).toEqual([
      '## Every key of module.yaml, generated from module.schema.json by `lifeboat init --example`.',
      '## "##" lines explain; "#" lines are settings: uncomment one (and its parents) to use it.',
    ]);
    expect(module).toContain('# folders: [ /var/lib/app ]');
    expect(module).toContain('# umask: "022"'.replace('"022"', module.find((l) => l.startsWith('# umask: '))!.slice(9)));
    expect(module).toContain('# schedule: 0 3 * * *');
    expect(module).toContain('#   schedule: 30 4 * * 0');
    expect(module).toContain('# service:');
    expect(module).toContain('#   systemd: app.service');
    expect(module).toContain('#   stopDuringBackup: false');
    expect(module).toContain('#   part: 3600');
    expect(module).toContain('#   engine: docker');
    expect(module.at(-1)).toBe('');
    const lifeboat = renderReference('lifeboat').split('\n');
    expect(lifeboat[0]).toBe('## Every key of lifeboat.yaml, generated from lifeboat.schema.json by `lifeboat init --example`.');
    expect(lifeboat).toContain('# repositories:');
    expect(lifeboat).toContain('#   local:');
    expect(lifeboat.some((l) => l.startsWith('#     provider: '))).toBe(true);
    expect(lifeboat).toContain('# notify:');
    expect(lifeboat).toContain('#   - webhook: https://hc-ping.com/your-uuid');
  });
});
