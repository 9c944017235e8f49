// Module locks against real processes: a held lock refuses, a SIGKILLed holder does not block, --wait
// waits, and of ten processes racing for one lock exactly one wins.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLock, isProcessAlive, processStartTime, readLockHolder } from '../../src/state/lock.js';
import { Logger } from '../../src/log/logger.js';

const SRC = path.resolve(import.meta.dirname, '../../src');
let work: string;
let lockModule: string;
const children: ChildProcess[] = [];

// Compiles lock.ts and the files it imports into plain ESM, so child processes can take real locks.
function transpileForChildren(entry: string, outDir: string): string {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    const output = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    const target = path.join(outDir, path.relative(SRC, file)).replace(/\.ts$/, '.js');
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, output);
    for (const match of output.matchAll(/from '(\.\.?\/[^']+)\.js'/g)) visit(path.resolve(path.dirname(file), `${match[1]}.ts`));
  };
  visit(entry);
  writeFileSync(path.join(outDir, 'package.json'), '{"type":"module"}');
  return path.join(outDir, path.relative(SRC, entry)).replace(/\.ts$/, '.js');
}

// For promises that must reject: fails the test when they resolve.
const unexpected = (): never => {
  throw new Error('expected a rejection');
};

// A logger that keeps its lines for assertions.
function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger({ level: 'debug', sink: { write: (line) => lines.push(line) } }), lines };
}

// A child process that takes the lock when it reads "go" and reports "won" or "locked" on stdout;
// it holds the lock until its stdin closes (or `exitAfterMs`), then exits without calling release().
function lockChild(locksDir: string, module: string, options: { waitSeconds?: number; exitAfterMs?: number } = {}): { child: ChildProcess; lines: string[]; line: (text: string) => Promise<void> } {
  const script = `
    import { acquireLock } from ${JSON.stringify(lockModule)};
    const log = { info() {}, warn() {}, debug() {}, masker: { mask: (s) => s } };
    process.stdout.write('ready\\n');
    process.stdin.once('data', async () => {
      try {
        await acquireLock(${JSON.stringify(locksDir)}, ${JSON.stringify(module)}, { log, command: 'lock-child', waitSeconds: ${options.waitSeconds ?? 0} });
        process.stdout.write('won\\n');
        ${options.exitAfterMs === undefined ? '' : `setTimeout(() => process.exit(0), ${options.exitAfterMs});`}
      } catch (error) {
        process.stdout.write((error.code === 'LOCKED' ? 'locked ' : 'error ') + error.message + '\\n');
        process.exit(0);
      }
    });
    process.stdin.on('end', () => process.exit(0));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const parts = (pending + chunk.toString()).split('\n');
    pending = parts.pop() ?? '';
    lines.push(...parts);
    for (const wake of waiters.splice(0)) wake();
  });
  // Resolves once a line starting with `text` has been printed.
  const line = async (text: string) => {
    while (!lines.some((seen) => seen.startsWith(text))) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { child, lines, line };
}

// Resolves when a child process has exited and been reaped.
function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-lock-'));
  lockModule = transpileForChildren(path.join(SRC, 'state/lock.ts'), path.join(work, 'compiled'));
});

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

// A fresh locks dir per test.
function locksDir(): string {
  return mkdtempSync(path.join(work, 'locks-'));
}

describe('acquireLock', () => {
  it('writes a 0600 lock file naming this process, and a second acquire fails with LOCKED (exit 3)', async () => {
    const dir = locksDir();
    const { log } = captureLog();
    const lock = await acquireLock(dir, 'demo', { log, command: 'lifeboat backup demo' });
    const file = path.join(dir, 'demo.lock');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const holder = JSON.parse(readFileSync(file, 'utf8'));
    expect(holder).toMatchObject({ pid: process.pid, startTime: processStartTime(process.pid), host: os.hostname(), command: 'lifeboat backup demo' });
    expect(readLockHolder(dir, 'demo')?.pid).toBe(process.pid);

    const error = await acquireLock(dir, 'demo', { log }).then(unexpected, (caught: unknown) => caught as Error & { code: string; exitCode: number; hint: string });
    expect(error.code).toBe('LOCKED');
    expect(error.exitCode).toBe(3);
    expect(error.message).toBe(`module "demo" is locked by pid ${process.pid} (lifeboat backup demo, started ${holder.started}); wait for it or pass --wait SECONDS`);
    expect(error.hint).toContain(file);

    lock.release();
    expect(existsSync(file)).toBe(false);
    lock.release();
    (await acquireLock(dir, 'demo', { log })).release();
  });

  it('locks each module on its own', async () => {
    const dir = locksDir();
    const { log } = captureLog();
    const one = await acquireLock(dir, 'one', { log });
    // module two is free while one is held, and one stays held while two is
    const two = await acquireLock(dir, 'two', { log });
    expect(readLockHolder(dir, 'one')).toMatchObject({ pid: process.pid });
    expect(readLockHolder(dir, 'two')).toMatchObject({ pid: process.pid });
    const again = await acquireLock(dir, 'one', { log }).then(unexpected, (caught: unknown) => caught as Error & { code: string });
    expect(again.code).toBe('LOCKED');
    expect(again.message).toContain('module "one" is locked by pid');
    // releasing one frees one only
    one.release();
    expect(existsSync(path.join(dir, 'one.lock'))).toBe(false);
    expect(existsSync(path.join(dir, 'two.lock'))).toBe(true);
    const three = await acquireLock(dir, 'one', { log });
    three.release();
    two.release();
    expect(existsSync(path.join(dir, 'two.lock'))).toBe(false);
  });

  it('is not blocked by a holder that was killed with SIGKILL', async () => {
    const dir = locksDir();
    const holder = lockChild(dir, 'demo');
    await holder.line('ready');
    holder.child.stdin!.write('go\n');
    await holder.line('won');
    const { log, lines } = captureLog();
    await expect(acquireLock(dir, 'demo', { log })).rejects.toMatchObject({ code: 'LOCKED' });

    holder.child.kill('SIGKILL');
    await exited(holder.child);
    expect(readLockHolder(dir, 'demo')?.pid).toBe(holder.child.pid);
    const lock = await acquireLock(dir, 'demo', { log });
    expect(readLockHolder(dir, 'demo')?.pid).toBe(process.pid);
    expect(lines.join('')).toContain(`removed the stale lock of module "demo": pid ${holder.child.pid}`);
    lock.release();
  });

  it('treats a live pid with another start time as a reused pid, so the lock is stale', async () => {
    const dir = locksDir();
    mkdirSync(dir, { recursive: true });
    const stale = { pid: process.pid, startTime: '1', bootId: null, host: os.hostname(), started: '2020-01-01T00:00:00.000Z', command: 'lifeboat backup demo' };
    writeFileSync(path.join(dir, 'demo.lock'), JSON.stringify(stale), { mode: 0o600 });
    expect(isProcessAlive(process.pid, '1')).toBe(false);
    expect(isProcessAlive(process.pid, processStartTime(process.pid))).toBe(true);
    const { log } = captureLog();
    (await acquireLock(dir, 'demo', { log })).release();
  });

  it('never takes over a lock from another host, and says where it is held', async () => {
    const dir = locksDir();
    const other = { pid: 999999, startTime: '1', bootId: null, host: 'elsewhere.example', started: '2020-01-01T00:00:00.000Z', command: 'lifeboat backup demo' };
    writeFileSync(path.join(dir, 'demo.lock'), JSON.stringify(other), { mode: 0o600 });
    const { log } = captureLog();
    const error = await acquireLock(dir, 'demo', { log }).then(unexpected, (caught: unknown) => caught as Error & { hint: string });
    expect(error.message).toBe('module "demo" is locked by pid 999999 on host elsewhere.example (lifeboat backup demo, started 2020-01-01T00:00:00.000Z); wait for it or pass --wait SECONDS');
    expect(error.hint).toContain('taken on host elsewhere.example');
  });

  it('waits for a half-written lock file, but takes over one left unreadable long ago', async () => {
    const dir = locksDir();
    const file = path.join(dir, 'demo.lock');
    writeFileSync(file, '', { mode: 0o600 });
    const { log } = captureLog();
    await expect(acquireLock(dir, 'demo', { log })).rejects.toThrow(/locked by another run that is just starting/);
    const old = new Date(Date.now() - 60_000);
    utimesSync(file, old, old);
    (await acquireLock(dir, 'demo', { log })).release();
  });

  it('with --wait, acquires once the holder releases', async () => {
    const dir = locksDir();
    const { log, lines } = captureLog();
    const first = await acquireLock(dir, 'demo', { log });
    setTimeout(() => first.release(), 400);
    const second = await acquireLock(dir, 'demo', { log, waitSeconds: 10 });
    expect(lines.join('')).toContain('waiting up to 10s for module "demo", locked by pid');
    second.release();
  });

  it('with --wait, acquires once a holder process exits (its exit handler releases the lock)', async () => {
    const dir = locksDir();
    const holder = lockChild(dir, 'demo', { exitAfterMs: 500 });
    await holder.line('ready');
    holder.child.stdin!.write('go\n');
    await holder.line('won');
    const { log } = captureLog();
    const lock = await acquireLock(dir, 'demo', { log, waitSeconds: 10 });
    await exited(holder.child);
    expect(holder.child.exitCode).toBe(0);
    lock.release();
  });

  it('with --wait, fails with LOCKED when the time is up', async () => {
    const dir = locksDir();
    const { log } = captureLog();
    const first = await acquireLock(dir, 'demo', { log });
    await expect(acquireLock(dir, 'demo', { log, waitSeconds: 0.5 })).rejects.toThrow(/is still locked by pid \d+ .* after waiting 0.5s; wait for it or pass a longer --wait SECONDS/);
    first.release();
  });

  it('stops waiting when its signal aborts', async () => {
    const dir = locksDir();
    const { log } = captureLog();
    const first = await acquireLock(dir, 'demo', { log });
    const controller = new AbortController();
    setTimeout(() => controller.abort('SIGINT'), 200);
    await expect(acquireLock(dir, 'demo', { log, waitSeconds: 30, signal: controller.signal })).rejects.toMatchObject({ code: 'INTERRUPTED' });
    first.release();
  });

  it('release() leaves a lock file alone that is no longer ours', async () => {
    const dir = locksDir();
    const { log } = captureLog();
    const lock = await acquireLock(dir, 'demo', { log });
    writeFileSync(lock.file, '{"pid":1,"host":"x"}');
    lock.release();
    expect(existsSync(lock.file)).toBe(true);
  });

  it('refuses a module name that could escape the locks dir', async () => {
    const { log } = captureLog();
    await expect(acquireLock(locksDir(), '../etc', { log })).rejects.toThrow('not a valid module name');
  });

  // Ten processes wait at a barrier (all printed "ready"), then all try at once; winners hold until the end.
  async function race(dir: string): Promise<string[]> {
    const contenders = Array.from({ length: 10 }, () => lockChild(dir, 'demo'));
    await Promise.all(contenders.map((contender) => contender.line('ready')));
    for (const contender of contenders) contender.child.stdin!.write('go\n');
    await Promise.all(contenders.map((contender) => Promise.race([contender.line('won'), contender.line('locked'), contender.line('error')])));
    const outcomes = contenders.map((contender) => contender.lines.find((line) => line !== 'ready') ?? '');
    if (outcomes.filter((outcome) => outcome === 'won').length !== 1) console.error(outcomes);
    for (const contender of contenders) contender.child.stdin!.end();
    await Promise.all(contenders.map((contender) => exited(contender.child)));
    return outcomes;
  }

  it('lets exactly one of ten racing processes win', async () => {
    const dir = locksDir();
    const outcomes = await race(dir);
    expect(outcomes.filter((outcome) => outcome === 'won')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.startsWith('locked module "demo" is locked by '))).toHaveLength(9);
    expect(existsSync(path.join(dir, 'demo.lock'))).toBe(false);
  }, 30_000);

  it('lets exactly one of ten racing processes take over a stale lock', async () => {
    for (let round = 0; round < 3; round += 1) {
      const dir = locksDir();
      const holder = lockChild(dir, 'demo');
      await holder.line('ready');
      holder.child.stdin!.write('go\n');
      await holder.line('won');
      holder.child.kill('SIGKILL');
      await exited(holder.child);
      const outcomes = await race(dir);
      expect(outcomes.filter((outcome) => outcome === 'won')).toHaveLength(1);
      expect(outcomes.filter((outcome) => outcome.startsWith('locked '))).toHaveLength(9);
    }
  }, 60_000);
});
