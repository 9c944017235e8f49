// Progress bars: on a pseudo-terminal (`script` from util-linux) a backup and a verify draw bars with
// bytes, rate and ETA; without a terminal, or with --json, not a single control sequence appears.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { execa } from 'execa';
import { BIN, lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { renderBar } from '../../src/log/progress.js';
import { requireTool } from './tools.js';

let t: TestRoot;
const ESC = '\x1b';

beforeAll(() => {
  t = makeRoot();
  const data = path.join(t.dir, 'data');
  mkdirSync(data, { recursive: true });
  writeFileSync(path.join(data, 'big.bin'), randomBytes(24 * 1024 * 1024));
  writeFileSync(path.join(data, 'small.txt'), 'hello\n');
  t.module('blog', { folders: [data] });
});
afterAll(() => t.cleanup());

// Runs the CLI inside `script`, which gives it a pseudo-terminal; returns everything the terminal got.
async function onTerminal(args: string[]): Promise<{ exitCode: number; output: string }> {
  const script = requireTool('script');
  const command = ['node', BIN, '--root', t.root, '--state-dir', t.stateDir, ...args].map((a) => `'${a}'`).join(' ');
  const result = await execa(script, ['-q', '-e', '-c', command, '/dev/null'], { reject: false, input: '', env: { TERM: 'xterm', COLUMNS: '160', LINES: '40' } });
  return { exitCode: result.exitCode ?? 1, output: String(result.stdout) };
}

describe('progress', () => {
  it('draws bars with bytes, rate and ETA on a terminal', async () => {
    const backup = await onTerminal(['backup', 'blog']);
    expect(backup.exitCode, backup.output).toBe(0);
    expect(backup.output).toContain(`${ESC}[2K`);
    // a first backup has no total for the manifest yet (it is streamed): bytes and rate, or the time
    expect(backup.output).toMatch(/blog: manifest  ([\d.]+ (B|KiB|MiB)  [\d.]+ (B|KiB|MiB|GiB)\/s|\d+:\d\d)/);
    expect(backup.output).toContain('blog: snapshot local');
    expect(backup.output).toContain('backup blog: ok');
    // the next one takes the total from the previous manifest
    writeFileSync(path.join(t.dir, 'data', 'big.bin'), randomBytes(24 * 1024 * 1024));
    const next = await onTerminal(['backup', 'blog']);
    expect(next.exitCode, next.output).toBe(0);
    expect(next.output).toMatch(/blog: manifest \[[#.]{20}\] +\d+%  [\d.]+ (B|KiB|MiB) \/ 24 MiB  [\d.]+ (B|KiB|MiB|GiB)\/s  ETA/);
    const verify = await onTerminal(['verify', 'blog']);
    expect(verify.exitCode, verify.output).toBe(0);
    expect(verify.output).toMatch(/blog: compare local \[[#.]{20}\]/);
    expect(verify.output).toContain('blog: restore local');
  });

  it('draws nothing without a terminal, nor with --json on one', async () => {
    const piped = await lifeboat(t, ['backup', 'blog']);
    expect(piped.exitCode).toBe(0);
    expect(piped.stderr + piped.stdout).not.toContain(ESC);
    expect(piped.stderr).not.toContain('blog: manifest');
    const json = await onTerminal(['backup', 'blog', '--json']);
    expect(json.exitCode).toBe(0);
    expect(json.output).not.toContain(ESC);
    expect(json.output).not.toContain('blog: manifest');
    expect(JSON.parse(json.output.slice(json.output.indexOf('{'), json.output.lastIndexOf('}') + 1)).ok).toBe(true);
  });

  it('renders rate and ETA from bytes and elapsed time', () => {
    const started = 0;
    expect(renderBar({ label: 'x: restore', done: 50 * 1024 * 1024, total: 100 * 1024 * 1024, started }, 10_000)).toBe('x: restore [##########..........]  50%  50 MiB / 100 MiB  5.0 MiB/s  ETA 0:10');
    expect(renderBar({ label: 'x: upload', done: 3 * 1024 * 1024, started }, 1000)).toBe('x: upload  3.0 MiB  3.0 MiB/s');
    expect(renderBar({ label: 'x: snapshot', done: 0, started }, 75_000)).toBe('x: snapshot  1:15');
  });
});
