// Configuration: schema errors name file, JSON path, what was found and the fix; every problem at once.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadModules, loadRoot } from '../../src/config/load.js';
import { parseEnvText } from '../../src/config/env-file.js';
import { LifeboatError } from '../../src/errors.js';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';

let t: TestRoot;
afterEach(() => t?.cleanup());

// Loads the root and all modules, returning the problem lines of the error (or [] when valid).
function problems(root: TestRoot): string[] {
  try {
    loadModules(loadRoot({ root: root.root, stateDir: root.stateDir }));
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(LifeboatError);
    expect((error as LifeboatError).exitCode).toBe(2);
    return (error as LifeboatError).problems;
  }
}

describe('module.yaml validation', () => {
  it('reports a wrong type with file, path, found value', () => {
    t = makeRoot();
    t.module('web', { folders: ['/srv/web'], service: { systemd: 42 } });
    expect(problems(t)).toEqual(['modules/web/module.yaml: /service/systemd must be a string, got 42']);
  });

  it('reports unknown keys with a suggestion, and every problem at once', () => {
    t = makeRoot();
    t.module('web', { folder: ['/srv/web'], retention: { keepLast: 'three' }, enabled: 'yes' });
    const found = problems(t);
    expect(found).toContain('modules/web/module.yaml: /folder is not a known key; did you mean "folders"?');
    expect(found).toContain('modules/web/module.yaml: /retention/keepLast must be an integer, got "three"');
    expect(found).toContain('modules/web/module.yaml: /enabled must be a boolean, got "yes"');
    expect(found).toHaveLength(3);
  });

  it('rejects relative folders with the fix', () => {
    t = makeRoot();
    t.module('web', { folders: ['srv/web'] });
    expect(problems(t)).toEqual(['modules/web/module.yaml: /folders/0 must match ^/, got "srv/web" (use an absolute path such as /var/lib/app)']);
  });

  it('rejects a module naming an unknown repository', () => {
    t = makeRoot();
    t.module('web', { folders: ['/srv'], repositories: ['offsite'] });
    expect(problems(t)).toEqual(['modules/web/module.yaml: /repositories/0 names unknown repository "offsite"; lifeboat.yaml defines: local']);
  });

  it('skips bad module folder names and files in modules/ with warnings, not errors', () => {
    t = makeRoot();
    t.module('ok', { folders: ['/srv'] });
    t.write('modules/A B/module.yaml', 'folders: [/srv]\n');
    writeFileSync(path.join(t.root, 'modules', 'stray.yaml'), 'x: 1');
    const root = loadRoot({ root: t.root, stateDir: t.stateDir });
    expect(root.moduleNames).toEqual(['ok']);
    expect(root.warnings).toEqual([
      "'modules/A B/' is not a module name (^[a-z0-9][a-z0-9_-]{0,62}$): skipped; rename the folder if it is a module, or move it out of modules/",
      'modules/stray.yaml is not a directory: skipped; a module is a folder modules/<name>/ holding module.yaml (move the file elsewhere to silence this)',
    ]);
  });

  it('rejects a name like ../x given on the command line', () => {
    t = makeRoot();
    const root = loadRoot({ root: t.root, stateDir: t.stateDir });
    expect(() => loadModules(root, ['../x'])).toThrow(/module name "..\/x" is invalid/);
  });

  it('interpolates ${VAR} and ${VAR:-default} from process, root and module environment', () => {
    t = makeRoot();
    t.write('environment', 'DATA=/srv/data\nNAME=root\n');
    t.write('modules/web/environment', 'NAME=module\n');
    t.module('web', { folders: ['${DATA}/${NAME}', '/srv/${UNSET_LIFEBOAT_VAR:-fallback}'] });
    const [module] = loadModules(loadRoot({ root: t.root, stateDir: t.stateDir }));
    expect(module.folders).toEqual(['/srv/data/module', '/srv/fallback']);
    expect(module.env).toEqual({ NAME: 'module' });
  });

  it('names a missing variable and its key', () => {
    t = makeRoot();
    t.module('web', { folders: ['/srv/${LIFEBOAT_TEST_NOT_SET}'] });
    expect(problems(t)).toEqual([
      'modules/web/module.yaml: /folders/0 uses ${LIFEBOAT_TEST_NOT_SET} but LIFEBOAT_TEST_NOT_SET is not set; set it in the environment file or write ${LIFEBOAT_TEST_NOT_SET:-default}',
    ]);
  });

  it('accepts module.json', () => {
    t = makeRoot();
    t.write('modules/api/module.json', JSON.stringify({ folders: ['/srv/api'], schedule: '5 4 * * *' }));
    const [module] = loadModules(loadRoot({ root: t.root, stateDir: t.stateDir }));
    expect(module.schedule).toBe('5 4 * * *');
    expect(module.stateDir).toBe(path.join(t.stateDir, 'modules', 'api', 'state'));
  });
});

describe('lifeboat.yaml validation', () => {
  it('reports YAML syntax errors with the line', () => {
    t = makeRoot();
    t.write('lifeboat.yaml', 'repositories:\n  local: { provider: restic\n');
    expect(problems(t)[0]).toMatch(/^lifeboat\.yaml:\d+:\d+: invalid YAML: /);
  });

  it('reports an unknown repository key', () => {
    t = makeRoot({ repositories: { local: { provider: 'restic', url: '/x', pasword: 'x' } } });
    expect(problems(t)).toEqual(['lifeboat.yaml: /repositories/local/pasword is not a known key; did you mean "passwordFile"?']);
  });
});

describe('environment files', () => {
  it('reports a syntax error with file and line', () => {
    expect(() => parseEnvText('A=1\nthis is wrong\nB=2\n', 'modules/web/environment')).toThrow('modules/web/environment:2: expected KEY=VALUE, got "this is wrong"');
  });

  it('parses quotes, export and comments', () => {
    expect(parseEnvText('# c\nexport A=1\nB="two words"\nC=\'x y\'\n', 'env')).toEqual({ A: '1', B: 'two words', C: 'x y' });
  });

  it('refuses an environment file writable by others', () => {
    t = makeRoot();
    t.write('modules/web/environment', 'A=1\n', 0o666);
    t.module('web', { folders: ['/srv'] });
    expect(problems(t)).toEqual(['modules/web/environment: refused: writable by group (mode 0666); it holds secrets: chmod 600 and chown it to root or to you']);
  });
});

describe('the CLI on bad input', () => {
  it('exits 2 with one line per problem and nothing on stdout', async () => {
    t = makeRoot();
    t.module('web', { folders: ['/srv'], service: { systemd: 42 }, enabled: 'no' });
    const result = await lifeboat(t, ['backup', 'web']);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      'lifeboat: modules/web/module.yaml: /service/systemd must be a string, got 42\nlifeboat: modules/web/module.yaml: /enabled must be a boolean, got "no"',
    );
  });

  it('--json: a configuration error before the run still prints one JSON document on stdout (exit 2)', async () => {
    t = makeRoot();
    t.module('web', { folders: ['/srv'], retension: { keepLast: 3 } });
    const result = await lifeboat(t, ['backup', 'web', '--json']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe('lifeboat: modules/web/module.yaml: /retension is not a known key; did you mean "retention"?');
    expect(JSON.parse(result.stdout)).toEqual({ ok: false, error: 'modules/web/module.yaml: /retension is not a known key; did you mean "retention"?', code: 'CONFIG_INVALID', exitCode: 2 });
    // Several problems: each one is listed; an unknown option is a USAGE error.
    t.module('web', { folders: ['/srv'], service: { systemd: 42 }, enabled: 'no' });
    const several = JSON.parse((await lifeboat(t, ['verify', 'web', '--json'])).stdout) as Record<string, unknown>;
    expect(several).toMatchObject({ ok: false, code: 'CONFIG_INVALID', exitCode: 2, problems: ['modules/web/module.yaml: /service/systemd must be a string, got 42', 'modules/web/module.yaml: /enabled must be a boolean, got "no"'] });
    const usage = await lifeboat(t, ['restore', 'web', '--frobnicate', '--json']);
    expect(usage.exitCode).toBe(2);
    expect(JSON.parse(usage.stdout)).toEqual({ ok: false, error: "unknown option '--frobnicate'", code: 'USAGE', exitCode: 2 });
  });

  it('exits 2 on an unknown command or option', async () => {
    t = makeRoot();
    expect((await lifeboat(t, ['bakup'])).exitCode).toBe(2);
    const result = await lifeboat(t, ['backup', '--frobnicate']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("unknown option '--frobnicate'");
  });
});

describe('YAML syntax errors', () => {
  // Runs `lifeboat backup web` on a module.yaml (or lifeboat.yaml) with a syntax error: exit 2, nothing on
  // stdout, and on stderr the file, line and column, the line with a caret under the column and the likely cause.
  async function syntaxError(file: string, text: string): Promise<string> {
    t = makeRoot();
    t.module('web', { folders: ['/srv'] });
    t.write(file, text);
    const result = await lifeboat(t, ['backup', 'web']);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stdout).toBe('');
    return result.stderr;
  }

  it('points at a line indented differently from its siblings', async () => {
    expect(await syntaxError('modules/web/module.yaml', 'folders:\n  - /srv\n retention:\n  keepLast: 3\n')).toBe(
      [
        'lifeboat: modules/web/module.yaml:3:1: invalid YAML: All mapping items must start at the same column',
        '  3 |  retention:',
        '    | ^',
        '  likely cause: indentation (keys of one mapping start in the same column, keys nested under one start further right; spaces only)',
      ].join('\n'),
    );
  });

  it('names a tab in the indentation, shown as \\t with the caret under it', async () => {
    expect(await syntaxError('modules/web/module.yaml', 'folders:\n\t- /srv\n')).toBe(
      [
        'lifeboat: modules/web/module.yaml:2:1: invalid YAML: Tabs are not allowed as indentation',
        '  2 | \\t- /srv',
        '    | ^',
        '  likely cause: a tab in the indentation (YAML indents with spaces only: replace the tab with spaces)',
      ].join('\n'),
    );
  });

  it('names a missing space after a colon and shows the fixed line', async () => {
    expect(await syntaxError('modules/web/module.yaml', 'folders: [/srv]\nretention:\n  keepLast:3\n  keepDaily: 7\n')).toBe(
      [
        'lifeboat: modules/web/module.yaml:3:3: invalid YAML: Implicit keys need to be on a single line',
        '  3 |   keepLast:3',
        '    |   ^',
        '  likely cause: a missing space after a colon (write `keepLast: 3`)',
      ].join('\n'),
    );
  });

  it('names a missing space after a colon that still parses: a key holding a colon, a key alone as text', async () => {
    expect(await syntaxError('modules/web/module.yaml', 'folders: [/srv]\nservice:{ systemd: web.service }\n')).toBe(
      [
        'lifeboat: modules/web/module.yaml:2:1: invalid YAML: the key "service:{ systemd" holds a colon',
        '  2 | service:{ systemd: web.service }',
        '    | ^',
        '  likely cause: a missing space after a colon (write `service: { systemd: web.service }`)',
      ].join('\n'),
    );
    expect(await syntaxError('modules/web/module.yaml', 'folders: [/srv]\nretention:\n  keepLast:3\n')).toBe(
      [
        'lifeboat: modules/web/module.yaml:3:3: invalid YAML: "keepLast:3" is read as text, not as a key and its value',
        '  3 |   keepLast:3',
        '    |   ^',
        '  likely cause: a missing space after a colon (write `keepLast: 3`)',
      ].join('\n'),
    );
  });

  it('points an unclosed bracket at the end of the line that opened it', async () => {
    expect(await syntaxError('modules/web/module.yaml', 'folders: [/srv\n')).toBe(
      [
        'lifeboat: modules/web/module.yaml:1:15: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
        '  1 | folders: [/srv',
        '    |               ^',
        '  likely cause: a [, { or quote that is opened but not closed (close it)',
      ].join('\n'),
    );
  });

  it('reports a mistake the parser sees twice once, in lifeboat.yaml too', async () => {
    // the misplaced `compression:` makes the parser report two errors (a compact mapping, a multi-line key)
    expect(await syntaxError('lifeboat.yaml', 'repositories:\n  local:\n    provider: tar\n    url: /x\n     compression: none\n')).toBe(
      [
        'lifeboat: lifeboat.yaml:5:6: invalid YAML: Nested mappings are not allowed in compact mappings',
        '  5 |      compression: none',
        '    |      ^',
        '  likely cause: indentation (keys of one mapping start in the same column, keys nested under one start further right; spaces only)',
      ].join('\n'),
    );
  });
});

describe('a YAML alias inside its own anchor', () => {
  it('is a configuration error naming the file and key, and only its module fails', async () => {
    t = makeRoot();
    t.module('ok', { folders: ['/srv'] });
    t.module('web', { folders: ['/srv'] });
    t.write('modules/web/module.yaml', 'folders: &f [/x, *f]\n');
    const one = await lifeboat(t, ['backup', 'web']);
    expect(one.exitCode, one.stderr).toBe(2);
    expect(one.stderr).toBe(
      'lifeboat: modules/web/module.yaml: /folders/1 is an alias of /folders, which contains it (a YAML alias inside its own anchor never ends); remove the alias or move it out of the anchored value',
    );
    const all = await lifeboat(t, ['check']);
    expect(all.stdout + all.stderr).toContain('modules/web/module.yaml: /folders/1 is an alias of /folders, which contains it');
    expect(all.stdout + all.stderr).not.toContain('internal error');
    expect(all.exitCode).not.toBe(70);
  });

  it('in lifeboat.yaml too', async () => {
    t = makeRoot();
    t.write('lifeboat.yaml', 'repositories:\n  local: { provider: tar, url: /tmp/x }\nx: &a [*a]\n');
    const run = await lifeboat(t, ['status']);
    expect(run.exitCode, run.stderr).toBe(2);
    expect(run.stderr).toBe(
      'lifeboat: lifeboat.yaml: /x/0 is an alias of /x, which contains it (a YAML alias inside its own anchor never ends); remove the alias or move it out of the anchored value',
    );
  });
});
