// The README's first command line, taken from README.md itself (so the two cannot drift) and run as
// written with bash in a clean copy of the project (its tracked and new files: no node_modules, no dist):
// it updates the package lists, installs restic and zstd, runs `npm ci` (which builds) and the demo.
// apt-get needs root: as another user the test fails, or is skipped with a note outside CI.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { PROJECT } from '../helpers/root.js';

// The first line of the README's first ```sh block that is not a comment.
function firstCommandLine(readme: string): string {
  const block = /^```sh\n([\s\S]*?)^```/m.exec(readme);
  if (!block) throw new Error('README.md has no ```sh block');
  const line = block[1].split('\n').find((text) => text.trim() !== '' && !text.trim().startsWith('#'));
  if (!line) throw new Error("README.md's first ```sh block has no command line");
  return line.trim();
}

const copy = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-readme-'));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

describe("the README's first command", () => {
  const line = firstCommandLine(readFileSync(path.join(PROJECT, 'README.md'), 'utf8'));

  it('updates the package lists before it installs anything', () => {
    const steps = line.split('&&').map((step) => step.trim());
    expect(steps[0]).toBe('apt-get update');
    expect(steps.findIndex((step) => step.startsWith('apt-get install'))).toBeGreaterThan(0);
    expect(steps.at(-1)).toBe('npm run demo');
  });

  it('runs as written in a clean copy of the project and the demo restores the damaged tree', async (ctx) => {
    if (process.getuid?.() !== 0) {
      if (process.env.LIFEBOAT_STRICT_TESTS === '1') expect.fail('the README command runs apt-get: run the tests as root (.ci/run does)');
      ctx.skip('apt-get needs root');
    }
    const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: PROJECT, encoding: 'buffer', maxBuffer: 64 << 20 });
    const present = files.toString('utf8').split('\0').filter((name) => name && existsSync(path.join(PROJECT, name)));
    await execa('sh', ['-c', 'tar -c --null -T - -f - | tar -x -C "$1"', 'sh', copy], { cwd: PROJECT, input: present.join('\0') });
    expect(existsSync(path.join(copy, 'node_modules'))).toBe(false);
    expect(existsSync(path.join(copy, 'dist'))).toBe(false);
    // The environment of a shell, not of the test runner (npm's own variables would steer the inner npm).
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_|LIFEBOAT_|VITEST|NODE_OPTIONS$)/i.test(key)));
    const run = await execa('bash', ['-c', line], { cwd: copy, env: { ...env, DEBIAN_FRONTEND: 'noninteractive' }, extendEnv: false, reject: false, all: true, timeout: 30 * 60_000 });
    expect(run.exitCode, run.all?.slice(-4000)).toBe(0);
    expect(run.stdout).toMatch(/^restored tree is identical: \d+ files, content, modes and symlinks match$/m);
    expect(existsSync(path.join(copy, 'dist', 'bundle'))).toBe(true);
  }, 40 * 60_000);
});
