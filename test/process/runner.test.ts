// The one process runner (src/process/runner.ts): what a started process sees (umask, stdin, extra fds,
// its own process group) and how it is stopped (timeout or abort: SIGTERM, then SIGKILL to the group).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Masker } from '../../src/log/mask.js';
import { describeFailure, runToEnd, shellOutput, start, tail } from '../../src/process/runner.js';
import { tmpDir } from '../helpers/tmp.js';
import { isPidRunning, killIfCommand } from '../helpers/service.js';

const sh = (script: string) => ['-c', script];

describe('process runner', () => {
  it('starts with the umask it is given and sends a JSON document on stdin', async () => {
    const result = await runToEnd('/bin/sh', { args: sh('umask; cat'), umask: 0o027, json: { action: 'backup', n: 1 } });
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe('0027\n{"action":"backup","n":1}');
  });

  it('writes extra file descriptors and closes them', async () => {
    const result = await runToEnd('/bin/sh', { args: sh('cat <&3; echo; cat <&4'), extraFds: ['secret-one', Buffer.from('two')] });
    expect(result.stdout.toString()).toBe('secret-one\ntwo');
  });

  it('on timeout sends SIGTERM to the whole group, then SIGKILL to what ignores it', async () => {
    const dir = await tmpDir();
    const grandchild = path.join(dir, 'grandchild.pid');
    let warned = false;
    const started = start('/bin/sh', {
      args: sh(`trap '' TERM; sh -c 'trap "" TERM; echo $$ > ${grandchild}; exec sleep 60' & wait`),
      group: true,
      stdio: ['ignore', 'ignore', 'ignore'],
      timeoutMs: 300,
      killAfterMs: 300,
      onTimeout: () => (warned = true),
    });
    const ended = await started.exited;
    expect(warned).toBe(true);
    expect(started.timedOut).toBe(true);
    expect(ended.signal).toBe('SIGKILL');
    const pid = Number(readFileSync(grandchild, 'utf8'));
    // The grandchild got the SIGKILL too (it is gone, or a zombie about to be reaped by init).
    await expect.poll(() => !existsSync(`/proc/${pid}`) || /State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'))).toBe(true);
  });

  it('an abort sends the signal its reason names, and one that already happened too', async () => {
    const controller = new AbortController();
    const started = start('/bin/sh', { args: sh('exec sleep 60'), group: true, signal: controller.signal, abortSignalOf: (reason) => reason as NodeJS.Signals });
    controller.abort('SIGINT');
    expect((await started.exited).signal).toBe('SIGINT');
    expect(started.aborted).toBe('SIGINT');
    const early = await runToEnd('/bin/sh', { args: sh('exec sleep 60'), signal: AbortSignal.abort() });
    expect(early.signal).toBe('SIGTERM');
    expect(describeFailure(early)).toBe('stopped (SIGTERM)');
  });

  it('a passwordCommand that hangs is stopped at its limit with everything it started, and nothing holds the run', async () => {
    const dir = await tmpDir();
    const pidFile = path.join(dir, 'child.pid');
    // the child (not the shell) holds the output: it must be stopped too, or the read never ends
    const error = await shellOutput(`sleep 1000 & echo $! > '${pidFile}'; wait`, {}, 500).then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    expect(error?.message).toBe('timed out after 0.5 s');
    expect(isPidRunning(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
  });

  it('does not wait for a stopped process\'s output held by a child outside its group', async () => {
    const dir = await tmpDir();
    const pidFile = path.join(dir, 'escaped.pid');
    const result = await runToEnd('/bin/sh', { args: sh(`setsid sleep 1000 & echo $! > '${pidFile}'; wait`), timeoutMs: 300, killAfterMs: 300, group: true });
    expect(result.timedOut).toBe(true);
    killIfCommand(Number(readFileSync(pidFile, 'utf8')), ['sleep', '1000']);
  });

  it('stops a process whose stdout goes beyond the limit and keeps the first bytes', async () => {
    const result = await runToEnd('/bin/sh', { args: sh('exec yes'), maxStdout: 1000 });
    expect(result.overflow).toBe(true);
    expect(result.stdout.length).toBe(1000);
    expect(describeFailure(result)).toBe('printed more than it may (output cut)');
  });

  it('dieWithParent starts the tool with SIGKILL as its parent-death signal (setpriv), the tool keeping its pid', async () => {
    // prctl(PR_GET_PDEATHSIG) of the tool itself, and whether its parent is this process.
    const probe = ['-c', `import ctypes, os; s = ctypes.c_int(); ctypes.CDLL(None).prctl(2, ctypes.byref(s)); print(s.value, os.getppid() == ${process.pid}, os.getpid())`];
    const started = start('python3', { args: probe, dieWithParent: true });
    let out = '';
    started.child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    expect((await started.closed).code).toBe(0);
    expect(out).toBe(`9 True ${started.child.pid}\n`);
    const plain = await runToEnd('python3', { args: probe });
    expect(plain.stdout.toString()).toMatch(/^0 True \d+\n$/);
  });

  it('dieWithParent with a tool that is not installed fails to start as a plain spawn does (ENOENT)', async () => {
    const result = await runToEnd('lifeboat-no-such-tool', { dieWithParent: true });
    expect(result.error?.code).toBe('ENOENT');
    expect(describeFailure(result)).toBe('could not start (ENOENT)');
  });

  it('says why a process could not start, and what a failing shell said first', async () => {
    const missing = await runToEnd('/nonexistent/tool');
    expect(describeFailure(missing)).toBe('could not start (ENOENT)');
    await expect(shellOutput('echo first >&2; echo second >&2; exit 3', {}, 5000)).rejects.toThrow(/^exit 3: first$/);
    await expect(shellOutput('printf pass', {}, 5000)).resolves.toBe('pass');
  });

  it('masks what leaves it through the masker it is given', async () => {
    const masker = new Masker();
    masker.add('hunter2-secret');
    const started = start('/bin/sh', { args: sh('echo "password is hunter2-secret" >&2') });
    const stderr = tail(started.child.stderr!, 100);
    await started.closed;
    expect(stderr.text(masker)).toBe('password is ***\n');
  });
});
