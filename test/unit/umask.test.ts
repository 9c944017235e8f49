// The umask a part runs with, seen by the part itself. Not part of `npm run mutation`: Stryker runs tests
// in worker threads, where process.umask() cannot be set (vitest.mutation.config.ts).
import { describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runProcessPart } from '../../src/parts/run.js';
import type { Logger } from '../../src/log/logger.js';
import { tmpDir } from '../helpers/tmp.js';
import { captured } from '../helpers/captured-fds.js';

vi.mock('node:fs', async (importOriginal) => (await import('../helpers/captured-fds.js')).fsCapturingStdio(await importOriginal<typeof import('node:fs')>()));
const { runPartsCommand } = await import('../../src/cli/run-parts.js');

async function umaskScript(): Promise<{ file: string; dir: string }> {
  const dir = await tmpDir();
  const file = path.join(dir, '10umask');
  writeFileSync(file, '#!/bin/sh\numask\n');
  chmodSync(file, 0o755);
  return { file, dir };
}

describe('umask', () => {
  it('a part runs with the module\'s umask (022 by default); Lifeboat\'s own is unchanged', async () => {
    const { file, dir } = await umaskScript();
    const before = process.umask();
    for (const [umask, expected] of [[0o027, '0027'], [undefined, '0022'], [0o077, '0077']] as const) {
      const lines: string[] = [];
      const log = { info: (m: string) => lines.push(m), warn() {}, error() {}, debug() {} } as unknown as Logger;
      const result = await runProcessPart({ file, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdin: '', cwd: dir, log, timeoutSeconds: 60, killAfterSeconds: 5, umask });
      expect(result.exitCode).toBe(0);
      expect(lines).toEqual([expected]);
      expect(process.umask()).toBe(before);
    }
  });

  it('run-parts --umask, as Debian\'s run-parts', async () => {
    const { dir } = await umaskScript();
    const before = process.umask();
    for (const args of [['--umask=027'], ['-u', '0007'], []]) {
      captured[1] = [];
      captured[2] = [];
      const code = await runPartsCommand(['--report', ...args, dir]);
      process.umask(before);
      const debian = spawnSync('/usr/bin/run-parts', ['--report', ...args, dir], { argv0: 'run-parts' });
      expect({ code, out: Buffer.concat(captured[1]).toString() }).toEqual({ code: debian.status, out: debian.stdout.toString() });
    }
    expect(Buffer.concat(captured[1]).toString()).toBe(`${dir}/10umask:\n0022\n`);
  });
});
