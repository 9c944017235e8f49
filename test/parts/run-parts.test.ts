// Differential tests: `lifeboat run-parts` against Debian's /usr/bin/run-parts on the same
// directories and arguments; stdout, stderr and exit status must be byte-identical.
// Needs dist/ built (npm test runs tsc first). Fails, never skips, without /usr/bin/run-parts.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareBytes, selectNames, sortNames, isLsbName, DEFAULT_NAME_RE } from '../../src/parts/names.js';

const REAL = '/usr/bin/run-parts';
const LIFEBOAT = fileURLToPath(new URL('../../bin/lifeboat', import.meta.url));

interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const env = { ...process.env };
delete env.POSIXLY_CORRECT;

function runReal(args: string[], input = ''): Result {
  // argv0 'run-parts' so getopt's messages say "run-parts:", as `run-parts` from PATH would.
  const r = spawnSync(REAL, args, { argv0: 'run-parts', input, env, encoding: 'latin1', timeout: 10_000 });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}
function runLifeboat(args: string[], input = ''): Result {
  const r = spawnSync(process.execPath, [LIFEBOAT, 'run-parts', ...args], { input, env, encoding: 'latin1', timeout: 10_000 });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}
/** Both programs, with stdout and stderr going to one file (shows stdio buffering order). */
function merged(cmd: string, args: string[]): { out: string; status: number | null } {
  const file = join(root, 'merged.out');
  const fd = openSync(file, 'w');
  try {
    const r = spawnSync(cmd, args, { stdio: ['ignore', fd, fd], env, argv0: cmd === REAL ? 'run-parts' : undefined });
    if (r.error) throw r.error;
    return { out: readFileSync(file, 'latin1'), status: r.status };
  } finally {
    closeSync(fd);
  }
}

/** Runs both, asserts identical results, returns the real one (for extra sanity checks). */
function same(args: string[], input = ''): Result {
  const real = runReal(args, input);
  const ours = runLifeboat(args, input);
  expect(ours).toEqual(real);
  return real;
}

let root: string;
let D: string; // the matrix: names x file kinds
let N: string; // names only (plain readable files) for the name rules
let S: string; // --stdin
let Q: string; // --exit-on-error quirk
let T: string; // signals

const script = (body: string) => `#!/bin/sh\n${body}\n`;
const ECHO = script('echo "ran $(basename "$0") args:[$*] umask:$(umask)"');

function file(dir: string, name: string, content: string, mode = 0o755): void {
  writeFileSync(join(dir, name), content);
  chmodSync(join(dir, name), mode);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'lifeboat-run-parts-'));
  D = join(root, 'd');
  N = join(root, 'n');
  S = join(root, 's');
  Q = join(root, 'q');
  T = join(root, 't');
  for (const d of [D, N, S, Q, T]) mkdirSync(d);

  const names = [
    '2b', '25x', '10.sh', '.hidden', 'x.dpkg-old', 'x.dpkg-dist', '_a-b', 'UPPER', 'a.b', 'foo~', '10-net',
    '-dash', 'é', '日本', 'z', '1', '01', '001', 'x.rpmnew', 'foo_bar', 'foo-bar', 'foo-bar.dpkg-old',
    'a-b.sh', 'README', 'Foo-bar', '_x', 'x-y.dpkg-new', 'cron-Daily',
  ];
  for (const n of names) file(D, n, ECHO);
  file(D, 'notexec', ECHO, 0o644);
  mkdirSync(join(D, 'subdir'));
  symlinkSync('z', join(D, 'linkz'));
  symlinkSync('subdir', join(D, 'linkdir'));
  symlinkSync('nowhere', join(D, 'dangling'));
  symlinkSync('loop2', join(D, 'loop1'));
  symlinkSync('loop1', join(D, 'loop2'));
  file(D, 'noshebang', 'echo ran noshebang\n');
  file(D, 'empty', '');
  file(D, 'fail3', script('echo "fail3 says bye" >&2; exit 3'));
  file(D, 'sig', script('kill -TERM $$'));
  file(D, 'badinterp', '#!/nonexistent/interpreter\n');
  file(D, 'mixed', script('echo mixed-out; sleep 0.05; echo mixed-err >&2; echo mixed-out2'));
  file(D, 'errfirst', script('echo errfirst-err >&2; sleep 0.05; echo errfirst-out'));
  file(D, 'silent', script(':'));
  execFileSync('mkfifo', [join(D, 'fifo')]);

  // Every name from the LSB/default rule exploration, as plain (non-executable) files.
  const lsb = [
    'foo', 'foo-bar', '_foo-bar', '_foo', 'foo.bar', 'foo.bar-baz', 'foo_x-y', 'a-b.sh-c', 'x-y.dpkg-old',
    'x-y.dpkg-dist', 'x-y.dpkg-new', 'x-y.dpkg-tmp', 'x-y.dpkg-bak', 'x-ydpkg-old', '-x-y.dpkg-old',
    '_x-y.dpkg-old', '.x-y.dpkg-old', '1-a.dpkg-old', 'foo-Bar', 'foo-', '-foo', 'foo--bar', 'a..b-c', 'a.b-c.d',
    'x-y.rpmnew', 'x-y.rpmsave', 'x-y.swp', 'x-y~', '_', '_-', '__a-b', '_a', 'a_', '0', '9a', 'a-9', 'a-_',
    'a_-b', 'abc-def.dpkg-olds', 'abc-dpkg-old', 'abc-d.dpkg-old.x', 'B', 'b', 'Ä', 'ä', 'e', 'a b', 'a{1}',
    '(a)', 'a|b', '[a]', 'a\\b', 'x)', '}', '{', ',', '+', '?', 'aaa', 'abab', 'naïve', 'tab\tx', 'x^y', 'x$y',
  ];
  for (const n of lsb) file(N, n, 'x\n', 0o644);

  file(S, '10-cat', script('echo "10 read [$(cat)]"'));
  file(S, '20-cat', script('echo "20 read [$(cat)]"'));

  execFileSync('mkfifo', [join(Q, '0fifo')]);
  file(Q, '1ok', script('echo 1ok'));
  file(Q, '2ok', script('echo 2ok'));

  file(T, '1trap', script(`trap 'echo got-TERM > "${join(root, 'marker')}"; exit 7' TERM\necho started\nwhile :; do sleep 0.02; done`));
  file(T, '2next', script(`echo ran > "${join(root, 'next-ran')}"`));
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('prerequisites', () => {
  it('has the real Debian run-parts to compare with', () => {
    expect(existsSync(REAL)).toBe(true);
    expect(runReal(['--version']).stdout).toMatch(/^Debian run-parts program, version 5\./);
  });
});

describe('names.ts', () => {
  it('compareBytes orders like strcmp on UTF-8 bytes', () => {
    const words = ['a', 'B', '_', '-', 'é', 'z', '日本', '\u{1F600}', '\uFFFD', '\uE000', 'ab', '', 'a\u{10000}', 'a\uFFFF'];
    for (const a of words)
      for (const b of words) {
        expect(Math.sign(compareBytes(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
      }
  });
  it('selectNames / sortNames apply the default, LSB and custom rules', () => {
    const all = ['10-net', '2b', '.hidden', 'a.b', 'foo_bar', 'x-y.dpkg-old', 'Foo', 'foo-bar', '-x', '.', '..'];
    expect(sortNames(selectNames(all))).toEqual(['-x', '10-net', '2b', 'Foo', 'foo-bar', 'foo_bar']);
    expect(sortNames(selectNames(all, { lsbsysinit: true }), true)).toEqual(['foo-bar', '2b', '10-net']);
    expect(selectNames(all, { regex: /\./ })).toEqual(['.hidden', 'a.b', 'x-y.dpkg-old']);
    expect(DEFAULT_NAME_RE.test('a-b_C')).toBe(true);
    expect(isLsbName('_x-y.dpkg-old')).toBe(true);
  });
});

describe('listing (--test / --list) matches Debian', () => {
  it('--test', () => {
    const r = same(['--test', D]);
    expect(r.stdout).toContain(`${D}/001\n${D}/01\n${D}/1\n${D}/10-net\n${D}/25x\n${D}/2b\n`);
    expect(r.stderr).toContain(`run-parts: failed to stat component ${D}/dangling: No such file or directory\n`);
    expect(r.status).toBe(1);
  });
  it('--list (includes non-executables)', () => same(['--list', D]));
  it('--reverse --test / --reverse --list', () => {
    same(['--reverse', '--test', D]);
    same(['--list', '--reverse', D]);
  });
  it('--lsbsysinit', () => {
    same(['--lsbsysinit', '--test', D]);
    same(['--lsbsysinit', '--list', N]);
    same(['--list', N]);
  });
  it('--regex (POSIX ERE on bytes, C locale)', () => {
    for (const re of ['^[0-9]+$', '\\.', '^..$', '^.{3,}$', '[[:upper:]]', '^(a|b)+$', '[]a]', '\\<f', '^x-y\\.dpkg-(old|new)$', '']) {
      same(['--list', `--regex=${re}`, N]);
    }
    same(['--test', '--regex', '^[a-z]+$', D]);
    same(['--regex=^1', '--lsbsysinit', '--test', D]);
    same(['--lsbsysinit', '--regex=^1', '--test', D]);
  });
  it('invalid --regex reports regerror text', () => {
    for (const re of ['(', '*a', 'a{1', 'a{2,1}', '[z-a]', '[[:foo:]]', '\\', '\\1', '[']) same(['--list', `--regex=${re}`, N]);
  });
  it('stdout is block-buffered like stdio when not a tty', () => {
    const real = merged(REAL, ['--test', D]);
    const ours = merged(process.execPath, [LIFEBOAT, 'run-parts', '--test', D]);
    expect(ours).toEqual(real);
  });
  it('--exit-on-error stops listing at a failed stat', () => same(['--exit-on-error', '--test', D]));
});

describe('execution matches Debian', () => {
  it('runs executables in byte order; failures, signals, ENOEXEC, non-regular files', () => {
    const r = same([D]);
    expect(r.stderr).toContain(`run-parts: failed to exec ${D}/noshebang: Exec format error\n`);
    expect(r.stderr).toContain(`run-parts: ${D}/fail3 exited with return code 3\n`);
    expect(r.stderr).toContain(`run-parts: ${D}/sig exited because of uncaught signal 15\n`);
    expect(r.stdout).not.toContain('ran noshebang');
  });
  it('--arg / -a', () => same(['--arg=one', '-a', 'two words', '--arg', '', D]));
  it('--verbose', () => same(['-v', '--arg=x', D]));
  it('--report', () => {
    same(['--report', D]);
    same(['--report', '--verbose', '-a', 'r', D]);
  });
  it('--exit-on-error', () => {
    same(['--exit-on-error', D]);
    same(['--exit-on-error', '--reverse', D]);
    same(['--exit-on-error', Q]); // an earlier non-regular file also stops it after the next script
  });
  it('--umask', () => {
    same(['--umask=077', D]);
    same(['-u', '7', '--regex=^z$', D]);
    same(['-u0', '--regex=^z$', D]);
    for (const u of ['8', '', '-1', '10000', '0x7', '40000000022']) same([`--umask=${u}`, '--regex=^z$', D]);
  });
  it('--new-session', () => same(['--new-session', '--regex=^[0-9]', D]));
  it('--stdin copies stdin to every script; without it the first one eats it', () => {
    const r = same(['--stdin', S], 'hello\nworld\n');
    expect(r.stdout).toBe('10 read [hello\nworld]\n20 read [hello\nworld]\n');
    same([S], 'hello\n');
    same(['--stdin', '--report', S], 'x');
  });
});

describe('usage errors match Debian', () => {
  const cases: string[][] = [
    [], ['a', 'b'], ['--test', '--list', 'x'], ['--foo', 'x'], ['--foo=bar', 'x'], ['-x', 'x'], ['--re', 'x'],
    ['--ver'], ['--test=1', 'x'], ['--umask'], ['-u'], ['--arg'], ['--help'], ['-h'], ['--he', '--foo'], ['--version'],
    ['-vV'], ['-d', 'x'], ['--', '--test'],
  ];
  for (const c of cases) it(JSON.stringify(c), () => same(c));
  it('missing or non-directory DIRECTORY', () => {
    same([join(root, 'missing')]);
    same(['--test', join(D, 'z')]);
  });
  it('options after the directory are permuted like getopt', () => same([D, '--test', '--reverse']));
});

describe('signals', () => {
  it('SIGTERM is forwarded to the running script, then run-parts stops and dies of it', async () => {
    const child = spawn(process.execPath, [LIFEBOAT, 'run-parts', T], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d) => {
        stdout += d;
        if (stdout.includes('started')) resolve();
      }),
    );
    child.kill('SIGTERM');
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('close', (c, s) => resolve([c, s])),
    );
    expect(readFileSync(join(root, 'marker'), 'utf8')).toBe('got-TERM\n');
    expect(stderr).toBe(`run-parts: ${T}/1trap exited with return code 7\n`);
    expect(existsSync(join(root, 'next-ran'))).toBe(false);
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
  });
});
