// Shell completion: the bash script completes commands, options and the root's module names (running
// the real function in bash); the zsh script loads in zsh through bashcompinit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { BIN, lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { requireTool } from './tools.js';

let t: TestRoot;
let script: string;

beforeAll(async () => {
  t = makeRoot();
  for (const name of ['blog', 'wiki']) t.module(name, { folders: [path.join(t.dir, 'data', name)] });
  const run = await lifeboat(t, ['completion', 'bash']);
  expect(run.exitCode, run.stderr).toBe(0);
  script = path.join(t.dir, 'lifeboat.bash');
  writeFileSync(script, run.stdout);
  // the function calls COMP_WORDS[0] for module names: a wrapper named like the real command
  mkdirSync(path.join(t.dir, 'bin'));
  writeFileSync(path.join(t.dir, 'bin', 'lifeboat'), `#!/bin/sh\nexec node ${BIN} "$@"\n`, { mode: 0o755 });
});
afterAll(() => t.cleanup());

// Completes the last word of `line` the way bash would, returning the candidates.
async function complete(line: string): Promise<string[]> {
  const words = line.split(' ');
  const program = `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _lifeboat; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const result = await execa('bash', ['-c', program], { env: { PATH: `${path.join(t.dir, 'bin')}:${process.env.PATH}` } });
  return result.stdout.split('\n').filter(Boolean);
}

describe('completion', () => {
  it('completes commands, their options and option values', async () => {
    expect(await complete('lifeboat ba')).toEqual(['backup']);
    expect(await complete('lifeboat s')).toEqual(expect.arrayContaining(['snapshots', 'service', 'status', 'schedule']));
    expect(await complete('lifeboat status --p')).toEqual(['--prometheus']);
    expect(await complete('lifeboat schedule --')).toEqual(expect.arrayContaining(['--cron', '--systemd', '--install', '--root']));
    expect(await complete('lifeboat completion ')).toEqual(['bash', 'zsh']);
    expect(await complete('lifeboat backup --repo ')).toEqual([]);
  });

  it("completes module names from the root given on the line", async () => {
    expect(await complete(`lifeboat --root ${t.root} backup `)).toEqual(['blog', 'wiki']);
    expect(await complete(`lifeboat --root ${t.root} verify --json w`)).toEqual(['wiki']);
    expect(await complete(`lifeboat --root ${path.join(t.dir, 'nowhere')} backup `)).toEqual([]);
  });

  it('loads in zsh', async () => {
    const zsh = requireTool('zsh');
    const run = await lifeboat(t, ['completion', 'zsh']);
    expect(run.stdout.startsWith('#compdef lifeboat')).toBe(true);
    const file = path.join(t.dir, '_lifeboat');
    writeFileSync(file, run.stdout);
    const loaded = await execa(zsh, ['-f', '-c', `source ${file} && whence -w _lifeboat && complete -p lifeboat`], { reject: false, env: { HOME: t.dir, PATH: process.env.PATH ?? '' } });
    expect(loaded.exitCode, loaded.stderr).toBe(0);
    expect(loaded.stdout).toContain('_lifeboat: function');
  });

  it('refuses an unknown shell', async () => {
    const run = await lifeboat(t, ['completion', 'fish']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain('use bash or zsh');
  });
});
