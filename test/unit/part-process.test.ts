// One part file run as a process: output lines (bounded), environment limits, exit statuses, timeouts,
// interrupts, umask and the messages for files that cannot be executed.
import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MAX_LINE_BYTES, readLines } from '../../src/process/lines.js';
import { MAX_ARG_STRLEN, fitEnvironment } from '../../src/parts/env-limit.js';
import { runProcessPart } from '../../src/parts/run.js';
import type { Logger } from '../../src/log/logger.js';
import { tmpDir } from '../helpers/tmp.js';

function lines(chunks: Array<string | Buffer>, max?: number): Promise<string[]> {
  const stream = new PassThrough();
  const out: string[] = [];
  readLines(stream, (line) => out.push(line), max);
  return new Promise((resolve) => {
    stream.on('end', () => resolve(out));
    for (const chunk of chunks) stream.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    stream.end();
  });
}

describe('readLines', () => {
  it('splits on newlines across chunks, keeps a last line without newline, and empty lines', async () => {
    expect(await lines(['a\nb', 'c\n\nd'])).toEqual(['a', 'bc', '', 'd']);
    expect(await lines(['x\n'])).toEqual(['x']);
    expect(await lines([])).toEqual([]);
    expect(await lines(['\n'])).toEqual(['']);
  });

  it('cuts an over-long line and counts what it dropped', async () => {
    expect(MAX_LINE_BYTES).toBe(65536);
    expect(await lines(['abcdefgh\nxy\n'], 5)).toEqual(['abcde [… line cut: 3 more bytes dropped; a line is kept up to 5 bytes]', 'xy']);
    expect(await lines(['abc', 'defg', 'hij\nz'], 5)).toEqual(['abcde [… line cut: 5 more bytes dropped; a line is kept up to 5 bytes]', 'z']);
    expect(await lines(['abcde', 'f'], 5)).toEqual(['abcde [… line cut: 1 more bytes dropped; a line is kept up to 5 bytes]']);
    expect(await lines(['abcde\n'], 5)).toEqual(['abcde']);
    expect(await lines(['abcde'], 5)).toEqual(['abcde']);
  });

  it('does not split a UTF-8 character across chunks', async () => {
    const euro = Buffer.from('€\n');
    expect(await lines([euro.subarray(0, 1), euro.subarray(1)])).toEqual(['€']);
  });
});

describe('fitEnvironment', () => {
  it('passes an environment within the limit unchanged', () => {
    const reports: string[] = [];
    const value = 'x'.repeat(MAX_ARG_STRLEN - 'A='.length - 1);
    expect(fitEnvironment({ A: value }, (m) => reports.push(m))).toEqual({ env: { A: value } });
    expect(reports).toEqual([]);
  });

  it('drops a too-long FOLDERS, naming FOLDERS_FILE', () => {
    const reports: string[] = [];
    const folders = 'y'.repeat(MAX_ARG_STRLEN);
    const result = fitEnvironment({ FOLDERS: folders, FOLDERS_FILE: '/s/folders', B: 'b' }, (m) => reports.push(m));
    expect(result).toEqual({ env: { FOLDERS_FILE: '/s/folders', B: 'b' } });
    expect(reports).toEqual([
      `FOLDERS is not set for this part: it is ${MAX_ARG_STRLEN + 9} bytes, longer than the kernel's limit of 131072 bytes for one environment variable (MAX_ARG_STRLEN); read the folders from FOLDERS_FILE (/s/folders) instead`,
    ]);
    const without: string[] = [];
    fitEnvironment({ FOLDERS: folders }, (m) => without.push(m));
    expect(without[0]).toContain('read the folders from FOLDERS_FILE (a file with one path per line) instead');
  });

  it('refuses any other too-long variable, counting bytes', () => {
    const value = 'é'.repeat(MAX_ARG_STRLEN / 2);
    expect(fitEnvironment({ OK: 'o', BIG: value }, () => {}).error).toBe(
      `cannot start the part: the environment variable BIG is ${MAX_ARG_STRLEN + 5} bytes, longer than the kernel's limit of 131072 bytes for one environment variable (MAX_ARG_STRLEN); pass it in a file instead`,
    );
    expect(fitEnvironment({ A: 'x'.repeat(MAX_ARG_STRLEN - 2) }, () => {}).error).toContain('A is 131073 bytes');
  });
});

function recorder() {
  const lines: string[] = [];
  const log = {
    info: (m: string) => lines.push(`info ${m}`),
    warn: (m: string) => lines.push(`warn ${m}`),
    error: (m: string) => lines.push(`error ${m}`),
    debug: () => {},
  } as unknown as Logger;
  return { lines, log };
}

async function partFile(body: string, mode = 0o755): Promise<{ file: string; dir: string }> {
  const dir = await tmpDir();
  const file = path.join(dir, 'part');
  writeFileSync(file, body);
  chmodSync(file, mode);
  return { file, dir };
}

describe('runProcessPart', () => {
  const base = { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdin: '', timeoutSeconds: 60, killAfterSeconds: 5 };

  it('runs a script with its stdin, cwd and environment, logging each line (umask: umask.test.ts)', async () => {
    const { file, dir } = await partFile('#!/bin/sh\nread line; echo "got $line"; echo "in $(pwd) as $X"; echo err >&2\n');
    const { lines, log } = recorder();
    const before = process.umask();
    const result = await runProcessPart({ ...base, env: { ...base.env, X: 'x1' }, file, stdin: 'hello\n', cwd: dir, log, umask: 0o027 });
    expect(process.umask()).toBe(before);
    expect(result).toEqual({ exitCode: 0, signal: null, timedOut: false, interrupted: null, error: undefined });
    expect(lines.filter((l) => l !== 'info err')).toEqual(['info got hello', `info in ${dir} as x1`]);
    expect(lines).toContain('info err');
  });

  it('reports the exit status and a death by signal', async () => {
    const { file, dir } = await partFile('#!/bin/sh\nexit 7\n');
    expect(await runProcessPart({ ...base, file, cwd: dir, log: recorder().log })).toMatchObject({ exitCode: 7, signal: null, timedOut: false });
    const killed = await partFile('#!/bin/sh\nkill -KILL $$\n');
    expect(await runProcessPart({ ...base, file: killed.file, cwd: killed.dir, log: recorder().log })).toMatchObject({ exitCode: null, signal: 'SIGKILL' });
  });

  it('times out: SIGTERM to the group, then SIGKILL after killAfter for a part that ignores it', async () => {
    const { file, dir } = await partFile('#!/bin/sh\ntrap "echo ignoring" TERM\necho started\nwhile :; do sleep 0.1; done\n');
    const { lines, log } = recorder();
    const result = await runProcessPart({ ...base, file, cwd: dir, log, timeoutSeconds: 1, killAfterSeconds: 1 });
    expect(result).toMatchObject({ timedOut: true, signal: 'SIGKILL', interrupted: null });
    expect(lines).toContain('warn timed out after 1s; sending SIGTERM to its process group');
  }, 60_000);

  it('an interrupt forwards the signal to the group; an interrupt that already happened too', async () => {
    const { file, dir } = await partFile('#!/bin/sh\necho started\nexec sleep 30\n');
    const controller = new AbortController();
    const { log } = { log: { info: (m: string) => m === 'started' && controller.abort('SIGINT'), warn() {}, error() {}, debug() {} } as unknown as Logger };
    const result = await runProcessPart({ ...base, file, cwd: dir, log, interrupt: controller.signal });
    expect(result).toMatchObject({ interrupted: 'SIGINT', signal: 'SIGINT', timedOut: false });
    const early = new AbortController();
    early.abort();
    const second = await runProcessPart({ ...base, file, cwd: dir, log: recorder().log, interrupt: early.signal });
    expect(second.interrupted).not.toBeNull();
    expect(second.signal).not.toBeNull();
  }, 60_000);

  it('stops waiting for output held open by a background process', async () => {
    const { file, dir } = await partFile('#!/bin/sh\necho main\nsleep 30 &\nexit 0\n');
    const { lines, log } = recorder();
    const result = await runProcessPart({ ...base, file, cwd: dir, log });
    expect(result.exitCode).toBe(0);
    expect(lines).toEqual(['info main', 'warn exited, but a background process it started still holds its output open; what it writes from now on is discarded (redirect the output of daemons a part starts, e.g. >/dev/null 2>&1, or to a log file)']);
  }, 60_000);

  it('explains files that cannot be executed', async () => {
    const noShebang = await partFile('echo hi\n');
    expect((await runProcessPart({ ...base, file: noShebang.file, cwd: noShebang.dir, log: recorder().log })).error).toBe(
      `cannot execute ${noShebang.file}: Exec format error (ENOEXEC): it has no #! line and is not a binary; add a first line such as #!/bin/sh`,
    );
    const oneByte = await partFile('#');
    expect((await runProcessPart({ ...base, file: oneByte.file, cwd: oneByte.dir, log: recorder().log })).error).toContain('Exec format error (ENOEXEC): it has no #! line');
    const missing = path.join(noShebang.dir, 'missing');
    expect(await runProcessPart({ ...base, file: missing, cwd: noShebang.dir, log: recorder().log })).toEqual({
      exitCode: null,
      signal: null,
      timedOut: false,
      interrupted: null,
      error: `cannot execute ${missing}: it or its interpreter (the #! line) does not exist (ENOENT)`,
    });
    const badInterpreter = await partFile('#!/nonexistent/sh\n');
    expect((await runProcessPart({ ...base, file: badInterpreter.file, cwd: badInterpreter.dir, log: recorder().log })).error).toBe(
      `cannot execute ${badInterpreter.file}: it or its interpreter (the #! line) does not exist (ENOENT)`,
    );
    const notExecutable = await partFile('#!/bin/sh\n', 0o644);
    expect((await runProcessPart({ ...base, file: notExecutable.file, cwd: notExecutable.dir, log: recorder().log })).error).toBe(
      `cannot execute ${notExecutable.file}: permission denied (EACCES); check its mode (chmod +x) and the mount options (noexec)`,
    );
    const dir = await tmpDir();
    expect((await runProcessPart({ ...base, file: dir, cwd: dir, log: recorder().log })).error).toBe(`cannot execute ${dir}: EISDIR: illegal operation on a directory, read`);
    const elf = await runProcessPart({ ...base, file: '/bin/true', cwd: dir, log: recorder().log });
    expect(elf).toMatchObject({ exitCode: 0, error: undefined });
  });

  it('refuses files whose first bytes are close to #! or ELF; exactly "#!" is left to the kernel', async () => {
    const enoexec = (file: string) => `cannot execute ${file}: Exec format error (ENOEXEC): it has no #! line and is not a binary; add a first line such as #!/bin/sh`;
    for (const head of [Buffer.from('!#/bin/sh\n'), Buffer.from('#x/bin/sh\n'), Buffer.from('x!/bin/sh\n'), Buffer.from([0x7f, 0x45, 0x4c, 0x47]), Buffer.from([0x7f, 0x45, 0x4c]), Buffer.from([0x00, 0x7f, 0x45, 0x4c, 0x46])]) {
      const { file, dir } = await partFile('');
      writeFileSync(file, head);
      expect(await runProcessPart({ ...base, file, cwd: dir, log: recorder().log }), head.toString('hex')).toEqual({ exitCode: null, signal: null, timedOut: false, interrupted: null, error: enoexec(file) });
    }
    // exactly "#!": a script to this check; the kernel finds no interpreter in it and says EACCES
    const bare = await partFile('#!');
    expect((await runProcessPart({ ...base, file: bare.file, cwd: bare.dir, log: recorder().log })).error).toBe(`cannot execute ${bare.file}: permission denied (EACCES); check its mode (chmod +x) and the mount options (noexec)`);
  });

  it('refuses an environment variable over the kernel limit before starting', async () => {
    const { file, dir } = await partFile('#!/bin/sh\necho ran\n');
    const { lines, log } = recorder();
    const result = await runProcessPart({ ...base, env: { ...base.env, BIG: 'x'.repeat(MAX_ARG_STRLEN) }, file, cwd: dir, log });
    expect(result.exitCode).toBeNull();
    expect(result.error).toContain('the environment variable BIG is');
    expect(lines).toEqual([]);
    const folders = recorder();
    const ok = await runProcessPart({ ...base, env: { ...base.env, FOLDERS: 'x'.repeat(MAX_ARG_STRLEN) }, file, cwd: dir, log: folders.log });
    expect(ok.exitCode).toBe(0);
    expect(folders.lines[0]).toMatch(/^warn FOLDERS is not set for this part/);
    expect(folders.lines[1]).toBe('info ran');
  });
});
