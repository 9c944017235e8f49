// The values `lifeboat init --example` suggests, read as a newcomer would copy them: the notify block
// uncommented is a valid list (one target per entry), the repository block of a restic repository is
// valid with the values shown, and keys that mean different things under different parents get values
// that fit there (MySQL's port, an S3 timeout, a host name, a quoted umask, a prune cadence).
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { lifeboat } from '../helpers/root.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

// The block under `# key:` at `indent`, uncommented (its ## lines dropped), as a YAML text.
function uncommentBlock(text: string, key: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf(`# ${key}:`);
  expect(start, `# ${key}: in the reference`).toBeGreaterThan(-1);
  const block = [lines[start].slice(2)];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('##')) continue;
    if (!line.startsWith('#  ')) break;
    block.push(line.slice(2));
  }
  return `${block.join('\n')}\n`;
}

async function init(): Promise<{ root: string; stateDir: string; lifeboatYaml: string; moduleYaml: string }> {
  dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-example-'));
  const t = { root: path.join(dir, 'root'), stateDir: path.join(dir, 'state') };
  const run = await lifeboat(t, ['init', '--example']);
  expect(run.exitCode, run.stderr).toBe(0);
  return {
    ...t,
    lifeboatYaml: readFileSync(path.join(t.root, 'lifeboat.yaml'), 'utf8'),
    moduleYaml: readFileSync(path.join(t.root, 'modules', 'example', 'module.yaml'), 'utf8'),
  };
}

describe('init --example: values a newcomer can copy', () => {
  it('the notify block, uncommented, is a list of entries with one target each, and check accepts it', async () => {
    const t = await init();
    const block = uncommentBlock(t.lifeboatYaml, 'notify');
    const entries = (parse(block) as { notify: Array<Record<string, unknown>> }).notify;
    expect(entries.map((entry) => Object.keys(entry))).toEqual([['webhook', 'format'], ['ntfy', 'priority'], ['sendmail'], ['command', 'timeout', 'modules', 'actions']]);
    expect(entries[1].priority).toBe('high');
    // The uncommented block replaces nothing: lifeboat.yaml had no notify: key.
    writeFileSync(path.join(t.root, 'lifeboat.yaml'), `${t.lifeboatYaml}${block.replace('modules: [ app ]', 'modules: [ example ]')}`);
    const check = await lifeboat(t, ['check']);
    // check tries each target without sending: the example's sendmail and notify-chat are not on this
    // machine (those are its only failures), and its URLs' hosts need not answer (warnings).
    const failures = check.stdout.split('\n').filter((line) => line.startsWith('FAIL'));
    for (const line of failures) expect(line).toMatch(/^FAIL +\S+lifeboat\.yaml: \/notify\/[23]\/(sendmail|command) +\S+ does not exist: /);
    expect(check.exitCode, check.stdout + check.stderr).toBe(failures.length > 0 ? 1 : 0);
  });

  it('keys that mean different things in different places get values that fit there', async () => {
    const t = await init();
    const lines = (text: string) => text.split('\n').filter((line) => line.startsWith('#') && !line.startsWith('##'));
    const root = lines(t.lifeboatYaml);
    const module = lines(t.moduleYaml);
    expect(root).toContain('# host: backup01.example.org');
    // The S3 request timeout (default 60 s) and part size (default 8 MiB) of a repository.
    expect(root).toContain('#     timeout: 60');
    expect(root).toContain('#     partSize: 8388608');
    expect(root).toContain('#       every: 7d');
    // A notify entry's timeout is seconds per ping.
    expect(root).toContain('#     timeout: 5');
    const mysql = module.slice(module.indexOf('#   - mysql:'), module.indexOf('#   - redis:'));
    expect(mysql).toContain('#       port: 3306');
    expect(mysql).toContain('#       options: [ --skip-comments ]');
    expect(mysql.join('\n')).not.toContain('--no-owner');
    expect(module).toContain('# umask: "027"');
    expect(module).not.toContain('#       passwordFile: /etc/lifeboat/repository.pass');
  });

  it('the module reference, uncommented where keys do not exclude each other, validates', async () => {
    const t = await init();
    const moduleFile = path.join(t.root, 'modules', 'example', 'module.yaml');
    const umask = t.moduleYaml.split('\n').find((line) => line.startsWith('# umask: '))!.slice(2);
    const extra = `${['verify', 'timeouts'].map((key) => uncommentBlock(t.moduleYaml, key)).join('')}${umask}\n`;
    writeFileSync(moduleFile, `${t.moduleYaml}${extra}`);
    const check = await lifeboat(t, ['check']);
    expect(check.exitCode, check.stdout + check.stderr).toBe(0);
    const status = JSON.parse((await lifeboat(t, ['status', '--json'])).stdout);
    expect(status.modules[0].verify.schedule).toBe('30 4 * * 0');
    expect(umask).toBe('umask: "027"');
  });
});
