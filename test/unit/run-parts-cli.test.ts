// `lifeboat run-parts` in-process, compared byte for byte with Debian's /usr/bin/run-parts on the same
// arguments and folders: stdout, stderr and exit code. The writes to fds 1 and 2 are captured by
// replacing fs.writeSync for those two fds only.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tmpDir } from '../helpers/tmp.js';
import { captured } from '../helpers/captured-fds.js';

vi.mock('node:fs', async (importOriginal) => (await import('../helpers/captured-fds.js')).fsCapturingStdio(await importOriginal<typeof import('node:fs')>()));

const { runPartsCommand } = await import('../../src/cli/run-parts.js');
const { parseUmask } = await import('../../src/parts/run-parts/options.js');
const { describeErrno, BufferedStdout } = await import('../../src/parts/run-parts/output.js');
const { isExecFormatError } = await import('../../src/parts/run-parts/exec-format.js');
const { SignalForwarder, toSignalNumber } = await import('../../src/parts/run-parts/signals.js');
// Loaded lazily by run-parts; imported here so their module-level code runs at import (Stryker's static coverage).
await import('../../src/parts/run-parts/regex.js');
await import('../../src/parts/run-parts/run-part.js');
await import('../../src/parts/run-parts/stdin.js');

const RUN_PARTS = '/usr/bin/run-parts';
const startUmask = process.umask();
afterEach(() => {
  process.umask(startUmask);
  delete process.env.POSIXLY_CORRECT;
});

interface Result {
  code: number;
  out: string;
  err: string;
}

async function ours(argv: string[]): Promise<Result> {
  captured[1] = [];
  captured[2] = [];
  const code = await runPartsCommand(argv);
  return { code, out: Buffer.concat(captured[1]).toString('latin1'), err: Buffer.concat(captured[2]).toString('latin1') };
}

function debian(argv: string[], env: NodeJS.ProcessEnv = {}): Result {
  const r = spawnSync(RUN_PARTS, argv, { argv0: 'run-parts', env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status ?? -1, out: r.stdout.toString('latin1'), err: r.stderr.toString('latin1') };
}

// Both must agree, and the expected result is spelled out too (so a shared mistake would still show).
async function agree(argv: string[], expected: Partial<Result>, env: NodeJS.ProcessEnv = {}): Promise<void> {
  Object.assign(process.env, env);
  const mine = await ours(argv);
  process.umask(startUmask);
  expect(mine).toEqual(debian(argv, env));
  expect(mine).toMatchObject(expected);
}

function script(dir: string, name: string, body: string, mode = 0o755): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, mode);
  return file;
}

const TRY = "Try `run-parts --help' for more information.\n";

beforeAll(() => {
  expect(spawnSync(RUN_PARTS, ['--version']).status).toBe(0);
});

describe('options, as getopt_long parses them', () => {
  it.each([
    [['--re', 'd'], `run-parts: option '--re' is ambiguous; possibilities: '--report' '--reverse' '--regex'\n${TRY}`],
    [['--re=x', 'd'], `run-parts: option '--re=x' is ambiguous; possibilities: '--report' '--reverse' '--regex'\n${TRY}`],
    [['--x', 'd'], `run-parts: unrecognized option '--x'\n${TRY}`],
    [['--x=1', 'd'], `run-parts: unrecognized option '--x=1'\n${TRY}`],
    [['--test=1', 'd'], `run-parts: option '--test' doesn't allow an argument\n${TRY}`],
    [['--umask'], `run-parts: option '--umask' requires an argument\n${TRY}`],
    [['-x', 'd'], `run-parts: invalid option -- 'x'\n${TRY}`],
    [['-u'], `run-parts: option requires an argument -- 'u'\n${TRY}`],
    [['d', 'e'], `run-parts: missing operand\n${TRY}`],
    [[], `run-parts: missing operand\n${TRY}`],
    [['--list', '--test', 'd'], `run-parts: --list and --test can not be used together\n${TRY}`],
    [['-u', '9', 'd'], 'run-parts: bad umask value\n'],
    [['--umask=0x', 'd', 'e'], `run-parts: missing operand\n${TRY}`],
  ])('%j', async (argv, err) => {
    await agree(argv, { code: 1, out: '', err });
  });

  // getopt corners on a real folder (DIR): permutation and POSIXLY_CORRECT, "-" and "--", bundled short
  // options and their arguments, unique abbreviations; Debian's output is the expectation.
  it.each([
    [['--test', 'DIR'], 0, {}],
    [['DIR', '--test'], 0, {}],
    [['DIR', '--test'], 1, { POSIXLY_CORRECT: '1' }],
    [['--test', 'DIR'], 0, { POSIXLY_CORRECT: '1' }],
    [['--test', '-'], 1, {}],
    [['--test', '--', 'DIR'], 0, {}],
    [['--', '--test', 'DIR'], 1, {}],
    [['--test', 'DIR', '--'], 0, {}],
    [['-vu', '077', '--test', 'DIR'], 0, {}],
    [['-u077', '--test', 'DIR'], 0, {}],
    [['-u', '7', '-a', '-x', '--test', 'DIR'], 0, {}],
    [['-vx', 'DIR'], 1, {}],
    [['-va'], 1, {}],
    [['-vh', 'DIR'], 0, {}],
    [['--arg=', '--te', 'DIR'], 0, {}],
    [['--li', 'DIR'], 0, {}],
    [['--rev', '--te', 'DIR'], 0, {}],
    [['--r', 'DIR'], 1, {}],
    [['--um=022', '--test', 'DIR'], 0, {}],
    [['--help=1', 'DIR'], 1, {}],
    [['--test', 'DIR', '--regex'], 1, {}],
    [['--exit', '--list', 'DIR'], 0, {}],
    [['--=x', 'DIR'], 1, {}],
    [['-v', '--test', 'DIR'], 0, {}],
    [['-ufoo', '--test', 'DIR'], 1, {}],
    [['-u', 'foo', '--test', 'DIR'], 1, {}],
  ] as Array<[string[], number, NodeJS.ProcessEnv]>)('%j (exit %i) %j', async (argv, code, env) => {
    const dir = await tmpDir();
    script(dir, 'b', 'exit 0');
    script(dir, 'a', 'exit 0');
    await agree(argv.map((a) => (a === 'DIR' ? dir : a)), { code }, env);
  });

  it('--help and --version', async () => {
    const help = await ours(['-h']);
    expect(help.code).toBe(0);
    expect(help.err.startsWith('Usage: run-parts [OPTION]... DIRECTORY\n')).toBe(true);
    expect(help).toEqual(debian(['-h']));
    const version = await ours(['-vV']);
    expect(version).toEqual(debian(['-vV']));
    expect(version.out.startsWith('Debian run-parts program, version 5.7\n')).toBe(true);
    expect(await ours(['--vers'])).toEqual(debian(['--vers']));
  });

  it('parses the umask as sscanf %o does, then range-checks it', () => {
    expect(parseUmask('022')).toBe(0o22);
    expect(parseUmask(' \t7x')).toBe(7);
    expect(parseUmask('+7')).toBe(7);
    expect(parseUmask('-0')).toBe(0);
    expect(parseUmask('-1')).toBeNull();
    expect(parseUmask('8')).toBeNull();
    expect(parseUmask('')).toBeNull();
    expect(parseUmask('07777')).toBe(0o7777);
    expect(parseUmask('010000')).toBeNull();
    expect(parseUmask('37777777777')).toBeNull();
    expect(parseUmask('40000000007')).toBe(7);
    expect(parseUmask('1777777777777777777777')).toBeNull();
    expect(parseUmask('2000000000000000000007')).toBeNull();
    expect(parseUmask('-1777777777777777777777')).toBe(1);
    expect(parseUmask('0x1')).toBe(0);
    expect(parseUmask('x7')).toBeNull();
    expect(parseUmask('\v\f\r\n7')).toBe(7);
  });
});

describe('listing and testing', () => {
  it('--test and --list over names, kinds and the name rules', async () => {
    const dir = await tmpDir();
    script(dir, 'b', 'exit 0');
    script(dir, 'a', 'exit 0');
    script(dir, 'C', 'exit 0');
    script(dir, 'noexec', 'exit 0', 0o644);
    script(dir, 'unreadable', 'exit 0', 0o311);
    script(dir, 'x.sh', 'exit 0');
    script(dir, 'foo-bar', 'exit 0');
    script(dir, 'foo-bar.dpkg-old', 'exit 0');
    mkdirSync(path.join(dir, 'sub'));
    symlinkSync('nowhere', path.join(dir, 'dangling'));
    await agree(['--test', dir], { code: 0, out: ['C', 'a', 'b', 'foo-bar', 'noexec', 'unreadable'].filter((n) => n !== 'noexec').map((n) => `${dir}/${n}\n`).join('') });
    await agree(['--test', '--reverse', dir], { code: 0 });
    await agree(['--list', dir], { code: 0 });
    await agree(['--list', '--lsbsysinit', dir], { code: 0 });
    await agree(['--test', '--lsbsysinit', dir], { code: 0 });
    await agree(['--test', '--regex=^[a-c]', dir], { code: 0, out: `${dir}/a\n${dir}/b\n` });
    await agree(['--test', '--regex', '.*', dir], { code: 0 });
    await agree(['--list', '--regex=(', dir], { code: 1, out: '', err: 'Unable to build regexp: Unmatched ( or \\(\n' });
    await agree(['--list', '--regex=^[a-c]', '--lsbsysinit', dir], { code: 0 });
    await agree(['--list', '--lsbsysinit', '--regex=^[a-c]', dir], { code: 0, out: `${dir}/a\n${dir}/b\n` });
  });

  // Bracket expressions of --regex against Debian's (glibc regcomp): ranges whose ends are classes,
  // equivalence classes or collating symbols, ] and - in odd places, names cut off at the pattern's end,
  // and the 32-character limit of a [:name:]. Names in the folder cover letters, digits and punctuation.
  it.each([
    '^[[:alpha:]-z]$', '^[a-[.z.]]$', '^[[.a.]-z]$', '^[[.ab.]-z]$', '^[a-[.ab.]]$', '^[[=a=]-z]$', '^[a-[=z=]]$', '^[a-[:alpha:]]$',
    '^[a-]$', '^[]a]$', '^[^]a]$', '^[]-a]$', '^[^]-a]$', '^[[:alpha:]$', '^[[.', '^[[:', '^[[=', '^[[.a', '^[[:alpha', '^[[.a.', '^[[:alpha:',
    `^[[:${'a'.repeat(30)}:]]$`, `^[[:${'a'.repeat(31)}:]]$`, `^[[:${'a'.repeat(32)}:]]$`, `^[[:${'a'.repeat(33)}:]]$`,
    '^[[.-.]]$', '^[[.].]]$', '^[[.^.]]$', '^[a-a]$', '^[z-a]$', '^[--z]$', '^[!--]$', '^[[.-.]-z]$', '^[a-z-9]$', '^[%--]$',
    '^[[:digit:]]$', '^[[:nope:]]$', '^[[=ab=]]$', '^[[=a=]]$', '^[[.a.]]$', '^[', '^[]', '^[^]', '^[a', '^[\\]]$', '^[a-\\]$', '^[[:alpha:][:digit:]]$',
    '^[^[:alpha:]]$', '^[.[]$', '^[[]$', '^[[a]$', '^[a[]$', '^[a-c-e]$', '^[[.a.]-[.c.]]$', '^[[.a.]-]$', '^[-[.c.]]$',
  ])('--regex=%s', async (pattern) => {
    const dir = await tmpDir();
    for (const name of ['a', 'b', 'c', 'm', 'z', 'A', 'Z', '0', '9', '-', ']', '^', '_', '[', ':', '%', '!', 'ab']) script(dir, name, 'exit 0');
    await agree(['--test', `--regex=${pattern}`, dir], {});
  });

  it('--debug says which rule decided for each name (with . and .. first)', async () => {
    const dir = await tmpDir();
    script(dir, 'a', 'exit 0');
    script(dir, 'x.sh', 'exit 0');
    script(dir, 'foo-bar', 'exit 0');
    script(dir, 'foo-bar.dpkg-new', 'exit 0');
    for (const rule of [[], ['--lsbsysinit'], ['--regex=^a']]) {
      const mine = await ours(['--test', '--debug', ...rule, dir]);
      process.umask(startUmask);
      const theirs = debian(['--test', '--debug', ...rule, dir]);
      expect(mine.out).toBe(theirs.out);
      expect(mine.code).toBe(theirs.code);
      expect(mine.err.split('\n').sort()).toEqual(theirs.err.split('\n').sort());
    }
    const lsb = await ours(['--test', '--debug', '--lsbsysinit', dir]);
    expect(lsb.err).toContain('"foo-bar": hierre pass, excsre pass\n');
    expect(lsb.err).toContain('"foo-bar.dpkg-new": hierre pass, excsre fail\n');
    expect(lsb.err).toContain('"x.sh": tradre fail\n');
    expect(lsb.err.startsWith('".": tradre fail\n"..": tradre fail\n')).toBe(true);
    expect((await ours(['--test', '--debug', dir])).err).toContain('"a": classicalre pass\n');
    expect((await ours(['--test', '--debug', '--regex=^a', dir])).err).toContain('"x.sh": customre fail\n');
  });

  it('a folder that cannot be opened', async () => {
    const dir = await tmpDir();
    await agree(['--test', path.join(dir, 'missing')], { code: 1, out: '', err: `run-parts: failed to open directory ${dir}/missing: No such file or directory\n` });
    await agree(['--test', '--debug', path.join(dir, 'missing')], { code: 1 });
    const file = script(dir, 'f', '');
    await agree(['--list', file], { code: 1, err: `run-parts: failed to open directory ${file}: Not a directory\n` });
  });
});

describe('running scripts', () => {
  it('exit codes, signals, --report headers, --verbose, arguments (umask: umask.test.ts)', async () => {
    const dir = await tmpDir();
    script(dir, '10ok', 'echo "out $1 $2"; echo err >&2');
    script(dir, '20quiet', 'exit 0');
    script(dir, '30fail', 'echo failing; exit 3');
    script(dir, '40signal', 'kill -TERM $$');
    writeFileSync(path.join(dir, '50noshebang'), 'echo hi\n');
    chmodSync(path.join(dir, '50noshebang'), 0o755);
    script(dir, '60missing', '').toString();
    writeFileSync(path.join(dir, '60missing'), '#!/nonexistent/interpreter\n');
    execFifo(path.join(dir, '70fifo'));
    const args = ['--report', '-a', 'one', '--arg=two', dir];
    await agree(args, { code: 1 });
    const mine = await ours(args);
    expect(mine.out).toBe(`${dir}/10ok:\nout one two\n${dir}/30fail:\nfailing\n`);
    expect(mine.err).toBe(
      [
        'err',
        `run-parts: ${dir}/30fail exited with return code 3`,
        `run-parts: ${dir}/40signal exited because of uncaught signal 15`,
        `${dir}/50noshebang:`,
        `run-parts: failed to exec ${dir}/50noshebang: Exec format error`,
        `run-parts: ${dir}/50noshebang exited with return code 1`,
        `${dir}/60missing:`,
        `run-parts: failed to exec ${dir}/60missing: No such file or directory`,
        `run-parts: ${dir}/60missing exited with return code 1`,
        `run-parts: run-parts: component ${dir}/70fifo is not an executable plain file`,
        '',
        '',
      ].join('\n'),
    );
    await agree(['--exit-on-error', '--report', dir], { code: 1 });
    const stopped = await ours(['--exit-on-error', '--report', dir]);
    expect(stopped.err).toBe(`err\nrun-parts: ${dir}/30fail exited with return code 3\n`);
    await agree(['--verbose', '--report', '--new-session', '-a', 'x', dir], { code: 1 });
    expect((await ours(['--verbose', '--report', '-a', 'x', dir])).err.startsWith(`run-parts: executing ${dir}/10ok x\nerr\n`)).toBe(true);
  });

  it('without --report a failure is reported without headers', async () => {
    const dir = await tmpDir();
    writeFileSync(path.join(dir, '50noshebang'), 'echo hi\n');
    chmodSync(path.join(dir, '50noshebang'), 0o755);
    script(dir, '60code', 'exit 4');
    await agree([dir], { code: 1, out: '', err: `run-parts: failed to exec ${dir}/50noshebang: Exec format error\nrun-parts: ${dir}/50noshebang exited with return code 1\nrun-parts: ${dir}/60code exited with return code 4\n` });
    await agree(['--exit-on-error', dir], { code: 1, err: `run-parts: failed to exec ${dir}/50noshebang: Exec format error\nrun-parts: ${dir}/50noshebang exited with return code 1\n` });
  });

  it('a script leaving a background process holding its output does not hold up the run', async () => {
    const dir = await tmpDir();
    script(dir, '10daemon', 'echo started; sleep 30 &');
    script(dir, '20next', 'echo next');
    const mine = await ours(['--report', dir]);
    expect(mine).toEqual({ code: 0, out: `${dir}/10daemon:\nstarted\n${dir}/20next:\nnext\n`, err: '' });
  });
});

describe('pieces', () => {
  it('describeErrno gives glibc texts, else libuv\'s capitalised', () => {
    expect(describeErrno({ code: 'ENOENT' })).toBe('No such file or directory');
    expect(describeErrno({ code: 'EACCES' })).toBe('Permission denied');
    expect(describeErrno({ code: 'EWHATEVER', message: 'EWHATEVER: something odd, open x' })).toBe('Something odd');
    expect(describeErrno({ code: 'EODD', message: 'no prefix here' })).toBe('EODD');
    expect(describeErrno('plain')).toBe('Plain');
  });

  it('BufferedStdout writes whole 4096-byte blocks, the rest on flush', () => {
    captured[1] = [];
    const out = new BufferedStdout();
    out.write('x'.repeat(4000));
    expect(captured[1]).toEqual([]);
    out.write('y'.repeat(200));
    expect(captured[1].map((b) => b.length)).toEqual([4096]);
    out.write('z'.repeat(3992));
    expect(captured[1].map((b) => b.length)).toEqual([4096, 4096]);
    out.flush();
    expect(captured[1].map((b) => b.length)).toEqual([4096, 4096]);
    out.write('end');
    out.flush();
    out.flush();
    expect(Buffer.concat(captured[1]).toString()).toBe(`${'x'.repeat(4000)}${'y'.repeat(200)}${'z'.repeat(3992)}end`);
  });

  it('isExecFormatError: #! and ELF run, unreadable files are left to the kernel', async () => {
    const dir = await tmpDir();
    const shebang = script(dir, 's', '');
    writeFileSync(path.join(dir, 'plain'), 'echo\n');
    writeFileSync(path.join(dir, 'one'), '#');
    writeFileSync(path.join(dir, 'elfish'), Buffer.from([0x7f, 0x45, 0x4c]));
    expect(isExecFormatError(Buffer.from(shebang))).toBe(false);
    expect(isExecFormatError(Buffer.from(process.execPath))).toBe(false);
    expect(isExecFormatError(Buffer.from(path.join(dir, 'plain')))).toBe(true);
    expect(isExecFormatError(Buffer.from(path.join(dir, 'one')))).toBe(true);
    expect(isExecFormatError(Buffer.from(path.join(dir, 'elfish')))).toBe(true);
    expect(isExecFormatError(Buffer.from(path.join(dir, 'missing')))).toBe(false);
  });

  it('SignalForwarder remembers the first signal and passes it on to the live script', () => {
    expect(toSignalNumber('SIGTERM')).toBe(15);
    expect(toSignalNumber('SIGINT')).toBe(2);
    expect(toSignalNumber('NOPE')).toBe(0);
    const forwarder = new SignalForwarder();
    const kills: string[] = [];
    forwarder.current = { exitCode: null, signalCode: null, kill: (s: string) => kills.push(s) } as never;
    const before = process.listenerCount('SIGTERM');
    forwarder.install();
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    process.emit('SIGINT', 'SIGINT');
    process.emit('SIGTERM', 'SIGTERM');
    forwarder.current = { exitCode: 0, signalCode: null, kill: (s: string) => kills.push(`late ${s}`) } as never;
    process.emit('SIGTERM', 'SIGTERM');
    forwarder.current = { exitCode: null, signalCode: 'SIGKILL', kill: (s: string) => kills.push(`dead ${s}`) } as never;
    process.emit('SIGTERM', 'SIGTERM');
    forwarder.remove();
    expect(process.listenerCount('SIGTERM')).toBe(before);
    expect(process.listenerCount('SIGINT')).toBe(before === 0 ? 0 : process.listenerCount('SIGINT'));
    expect(forwarder.pending).toBe('SIGINT');
    expect(kills).toEqual(['SIGINT', 'SIGTERM']);
  });
});

function execFifo(file: string): void {
  expect(spawnSync('mkfifo', [file]).status).toBe(0);
}
