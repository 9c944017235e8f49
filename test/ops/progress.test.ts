// Progress bars: on a pseudo-terminal (`script` from util-linux) a backup and a verify draw bars with
// bytes, rate and ETA, and a restore (--target or in place) one with the percentage of the manifest's
// bytes and files; without a terminal, or with --json, -q, TERM=dumb or LIFEBOAT_PROGRESS=0, not a single
// control sequence appears.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { execa } from 'execa';
import { BIN, COPY_PROVIDER, lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
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

// A provider that restores a module's first.bin, then waits for a gate file before the rest: the bar
// can be read half way, whatever the machine's speed.
describe('restore progress', () => {
  let r: TestRoot;
  let data: string;
  let gate: string;
  beforeAll(async () => {
    r = makeRoot({ repositories: { local: { provider: 'gated', url: '' } } });
    gate = path.join(r.dir, 'gate');
    const plugin = path.join(r.root, 'plugins', 'gated');
    cpSync(COPY_PROVIDER, plugin, { recursive: true });
    writeFileSync(
      path.join(plugin, 'restore'),
      [
        '#!/bin/sh',
        'set -eu',
        'src="$LIFEBOAT_REPOSITORY_URL/$LIFEBOAT_MODULE/$NAME"',
        'IFS=:',
        'for folder in $FOLDERS; do',
        '  [ -e "$src$folder" ] || continue',
        '  mkdir -p "$LIFEBOAT_TARGET$folder"',
        '  if [ -e "$src$folder/first.bin" ]; then',
        '    cp "$src$folder/first.bin" "$LIFEBOAT_TARGET$folder/"',
        `    while [ ! -e '${gate}' ]; do sleep 0.1; done`,
        '  fi',
        '  cp -a "$src$folder/." "$LIFEBOAT_TARGET$folder/"',
        'done',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    r.write('lifeboat.yaml', `repositories:\n  local: { provider: gated, url: ${path.join(r.dir, 'repo')} }\n`);
    data = path.join(r.dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'first.bin'), randomBytes(8 * 1024 * 1024));
    writeFileSync(path.join(data, 'second.bin'), randomBytes(8 * 1024 * 1024));
    r.module('blog', { folders: [data] });
    const backup = await lifeboat(r, ['backup', 'blog']);
    expect(backup.exitCode, backup.stderr).toBe(0);
  });
  afterAll(() => r.cleanup());

  // Starts the CLI in a 200-column pseudo-terminal; output collects as it comes.
  function startOnTerminal(args: string[], env: Record<string, string> = {}) {
    const command = ['node', BIN, '--root', r.root, '--state-dir', r.stateDir, ...args].map((a) => `'${a}'`).join(' ');
    const child = execa(requireTool('script'), ['-q', '-e', '-c', `stty cols 200; ${command}`, '/dev/null'], { reject: false, input: '', env: { TERM: 'xterm', ...env } });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const waitFor = async (pattern: RegExp) => {
      for (let waited = 0; waited < 90_000 && !pattern.test(output); waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(output).toMatch(pattern);
    };
    return { child, waitFor, output: () => output };
  }

  it('--target: a bar with the percentage of bytes and files, half way and at the end', async () => {
    rmSync(gate, { force: true });
    const target = path.join(r.dir, 'copy');
    const run = startOnTerminal(['restore', 'blog', '--target', target]);
    // first.bin is restored, second.bin waits for the gate: half the manifest's bytes, one file of two
    await run.waitFor(/blog: restore local \[#{10}\.{10}\]  50%  8\.0 MiB \/ 16 MiB  [\d.]+ (B|KiB|MiB|GiB)\/s  ETA [\d:]+  1\/2 files/);
    writeFileSync(gate, '');
    const result = await run.child;
    expect(result.exitCode, run.output()).toBe(0);
    expect(run.output()).toContain(`restored snapshot`);
    for (const name of ['first.bin', 'second.bin']) expect(readFileSync(path.join(target, data, name)).equals(readFileSync(path.join(data, name))), name).toBe(true);
  });

  it('in place: a bar per restore run, naming the folders it brings back (folders on one file system share one run)', async () => {
    writeFileSync(gate, '');
    const run = startOnTerminal(['restore', 'blog', '--no-safety-snapshot']);
    const result = await run.child;
    expect(result.exitCode, run.output()).toBe(0);
    expect(run.output()).toMatch(new RegExp(`blog: restore local ${data.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(, \\S+)* \\[[#.]{20}\\] +\\d+%  [\\d.]+ (B|KiB|MiB) / 16 MiB`));
  });

  it('no bar with -q, TERM=dumb, LIFEBOAT_PROGRESS=0, nor without a terminal', async () => {
    writeFileSync(gate, '');
    const target = path.join(r.dir, 'quiet');
    for (const [args, env] of [[['-q'], {}], [[], { TERM: 'dumb' }], [[], { LIFEBOAT_PROGRESS: '0' }]] as Array<[string[], Record<string, string>]>) {
      const run = startOnTerminal(['restore', 'blog', '--target', target, ...args], env);
      const result = await run.child;
      expect(result.exitCode, run.output()).toBe(0);
      expect(run.output(), JSON.stringify({ args, env })).not.toContain('blog: restore local');
      expect(run.output()).not.toContain(ESC);
    }
    const piped = await lifeboat(r, ['restore', 'blog', '--target', target]);
    expect(piped.exitCode).toBe(0);
    expect(piped.stderr).not.toContain('blog: restore local');
    expect(existsSync(path.join(target, data, 'second.bin'))).toBe(true);
  });
});
