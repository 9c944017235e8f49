// A stray entry in modules/ never stops every module; a broken module.yaml fails only its own module when
// all modules run (exit 2 when it is named); a run that cannot start still sends its failure ping.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { startHttpSink, type HttpSink } from '../helpers/http-sink.js';

let t: TestRoot;
let sink: HttpSink | undefined;

beforeEach(() => {
  t = makeRoot();
  for (const name of ['blog', 'wiki']) t.dataModule(name);
});
afterEach(async () => {
  await sink?.close();
  sink = undefined;
  t.cleanup();
});

describe('stray entries in modules/', () => {
  it('skips .git/, m.bak/, a file and a folder without module.yaml with one warning each', async () => {
    t.write('modules/.git/HEAD', 'ref: refs/heads/main\n');
    t.write('modules/m.bak/module.yaml', stringify({ folders: ['/srv'] }));
    t.write('modules/notes.txt', 'x\n');
    mkdirSync(path.join(t.root, 'modules', 'empty'));
    const run = await lifeboat(t, ['backup', '--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).modules.map((m: { module: string; ok: boolean }) => `${m.module}:${m.ok}`)).toEqual(['blog:true', 'wiki:true']);
    const warnings = run.stderr.split('\n').filter((line) => line.startsWith('warn: modules/'));
    expect(warnings).toEqual([
      'warn: modules/.git/ is not a module name (^[a-z0-9][a-z0-9_-]{0,62}$): skipped; rename the folder if it is a module, or move it out of modules/',
      'warn: modules/empty/ has no module.yaml: skipped; create modules/empty/module.yaml if it is a module, or move it out of modules/',
      'warn: modules/m.bak/ is not a module name (^[a-z0-9][a-z0-9_-]{0,62}$): skipped; rename the folder if it is a module, or move it out of modules/',
      'warn: modules/notes.txt is not a directory: skipped; a module is a folder modules/<name>/ holding module.yaml (move the file elsewhere to silence this)',
    ]);
  });

  it('check shows each stray entry once, as a warning, and passes', async () => {
    mkdirSync(path.join(t.root, 'modules', 'm.bak'));
    const run = await lifeboat(t, ['check']);
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/^WARN +modules\/m\.bak\/ +is not a module name \(.*\): skipped; rename the folder if it is a module, or move it out of modules\/$/m);
    expect((run.stdout + run.stderr).split('modules/m.bak/').length).toBe(2);
  });
});

describe('odd names in modules/', () => {
  it('check shows a name with a space quoted and a newline escaped, each as one row', async () => {
    mkdirSync(path.join(t.root, 'modules', 'we ird'));
    mkdirSync(path.join(t.root, 'modules', 'new\nline'));
    const run = await lifeboat(t, ['check']);
    expect(run.exitCode, run.stdout).toBe(0);
    const rows = run.stdout.split('\n').filter((line) => line.startsWith('WARN')).map((line) => line.split(/ {2,}/).join('|'));
    expect(rows).toContain("WARN|'modules/new\\nline/'|is not a module name (^[a-z0-9][a-z0-9_-]{0,62}$): skipped; rename the folder if it is a module, or move it out of modules/");
    expect(rows).toContain("WARN|'modules/we ird/'|is not a module name (^[a-z0-9][a-z0-9_-]{0,62}$): skipped; rename the folder if it is a module, or move it out of modules/");
    expect(run.stdout).not.toMatch(/^line/m);
  });
});

describe('a broken module.yaml', () => {
  it('fails only that module when every module runs (exit 1, the others backed up)', async () => {
    t.write('modules/wiki/module.yaml', 'folders: [/srv\n');
    const run = await lifeboat(t, ['backup', '--json']);
    expect(run.exitCode, run.stderr).toBe(1);
    const modules = JSON.parse(run.stdout).modules;
    expect(modules[0]).toMatchObject({ module: 'blog', ok: true });
    expect(modules[1]).toMatchObject({ module: 'wiki', ok: false, failedPart: 'configuration' });
    expect(modules[1].error).toMatch(/^modules\/wiki\/module\.yaml:\d+:\d+: invalid YAML: /);
    expect(run.stderr).toMatch(/error: module wiki cannot run: modules\/wiki\/module\.yaml:\d+:\d+: invalid YAML: /);
  });

  it('status and check show the other modules and name the broken one', async () => {
    t.write('modules/wiki/module.yaml', stringify({ folders: ['/srv'], enabled: 'yes' }));
    const status = await lifeboat(t, ['status', '--json']);
    expect(status.exitCode).toBe(0);
    expect(JSON.parse(status.stdout).modules.map((m: { module: string; state: string }) => `${m.module} ${m.state}`)).toEqual(['blog never-run', 'wiki broken']);
    expect(status.stderr).toContain('error: module wiki is BROKEN (it cannot run): modules/wiki/module.yaml: /enabled must be a boolean, got "yes"');
    const check = await lifeboat(t, ['check']);
    expect(check.exitCode).toBe(1);
    expect(check.stdout).toMatch(/^FAIL +module wiki +cannot run: modules\/wiki\/module\.yaml: \/enabled must be a boolean, got "yes"$/m);
  });

  it('shows the YAML error once when every module runs', async () => {
    t.write('modules/wiki/module.yaml', 'folders: [/srv\n');
    const run = await lifeboat(t, ['backup']);
    expect(run.exitCode, run.stderr).toBe(1);
    expect((run.stdout + run.stderr).split('invalid YAML').length).toBe(2);
    expect(run.stdout.split('\n')).toContain('backup wiki: FAILED (configuration: modules/wiki/module.yaml, shown above)');
  });

  it('is a configuration error (exit 2) when the module is named', async () => {
    t.write('modules/wiki/module.yaml', stringify({ folders: ['/srv'], enabled: 'yes' }));
    const run = await lifeboat(t, ['backup', 'wiki']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toBe('lifeboat: modules/wiki/module.yaml: /enabled must be a boolean, got "yes"');
  });

  it('pings the failure of every module when it fails alone among others', async () => {
    sink = await startHttpSink();
    t.write('lifeboat.yaml', stringify({ repositories: { local: { provider: 'copy', url: path.join(t.dir, 'repo') } }, notify: [{ webhook: `${sink.url}/ping/abc` }] }));
    t.write('modules/wiki/module.yaml', stringify({ folders: ['/srv'], enabled: 'yes' }));
    const run = await lifeboat(t, ['backup']);
    expect(run.exitCode).toBe(1);
    expect(sink.received.map((r) => r.url.split('?')[0])).toEqual(['/ping/abc/start', '/ping/abc/fail']);
    expect(sink.received[1].body).toContain('blog: ok');
    expect(sink.received[1].body).toContain('wiki: failed (configuration: modules/wiki/module.yaml: /enabled must be a boolean, got "yes")');
  });
});

describe('a scheduled run that cannot start', () => {
  it('still sends its failure ping when lifeboat.yaml is invalid elsewhere', async () => {
    sink = await startHttpSink();
    t.write('lifeboat.yaml', stringify({ repositories: { local: { provider: 'copy', url: path.join(t.dir, 'repo'), pasword: 'x' } }, notify: [{ webhook: `${sink.url}/ping/abc` }] }));
    const run = await lifeboat(t, ['backup', 'blog']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('lifeboat.yaml: /repositories/local/pasword is not a known key');
    expect(sink.received.map((r) => r.url.split('?')[0])).toEqual(['/ping/abc/start', '/ping/abc/fail']);
    expect(sink.received[1].body).toContain('blog: failed (configuration: the configuration is invalid, nothing ran: lifeboat.yaml: /repositories/local/pasword is not a known key');
  });

  it('pings the entries of the last good run when lifeboat.yaml is no longer valid YAML', async () => {
    sink = await startHttpSink();
    const good = stringify({ repositories: { local: { provider: 'copy', url: path.join(t.dir, 'repo') } }, notify: [{ webhook: `${sink.url}/ping/abc` }] });
    t.write('lifeboat.yaml', good);
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    expect(statSync(path.join(t.stateDir, 'notify-last-good.json')).mode & 0o777).toBe(0o600);
    // a typo during the day: the file is not YAML any more, its notify: entry cannot be read from it
    t.write('lifeboat.yaml', `${good}repositories: [\n`);
    const run = await lifeboat(t, ['backup', 'blog']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('cannot be parsed; the failure ping goes to the notify entries of the last run that loaded it');
    expect(sink.received.map((r) => r.url.split('?')[0])).toEqual(['/ping/abc/start', '/ping/abc', '/ping/abc/start', '/ping/abc/fail']);
    expect(sink.received[3].body).toContain('blog: failed (configuration: the configuration is invalid, nothing ran: ');
  });

  it('sends nothing for a file that was never valid: no run remembered where to', async () => {
    sink = await startHttpSink();
    t.write('lifeboat.yaml', `notify: [{ webhook: "${sink.url}/ping/abc" }]\nrepositories: [\n`);
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(2);
    expect(sink.received).toEqual([]);
  });

  it('does not ping for a dry run', async () => {
    sink = await startHttpSink();
    t.write('lifeboat.yaml', stringify({ repositories: { local: { provider: 'copy', url: path.join(t.dir, 'repo'), pasword: 'x' } }, notify: [{ webhook: `${sink.url}/ping/abc` }] }));
    expect((await lifeboat(t, ['backup', '--dry-run'])).exitCode).toBe(2);
    expect(sink.received).toEqual([]);
  });
});
