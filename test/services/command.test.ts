// The command service against a real long-running process: stop really ends it, start really runs it again.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Logger } from '../../src/log/logger.js';
import { openService } from '../../src/services/index.js';
import { createFakeService, isPidRunning, killIfCommand, type FakeService } from '../helpers/service.js';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';

const services: FakeService[] = [];
const roots: TestRoot[] = [];
const extraPids: number[] = [];

// For promises that must reject: fails the test when they resolve.
const unexpected = (): never => {
  throw new Error('expected a rejection');
};

// A logger that keeps its lines for assertions.
function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger({ level: 'debug', sink: { write: (line) => lines.push(line) } }), lines };
}

// A fake service that is cleaned up after the file's tests.
async function newService(running = true): Promise<FakeService> {
  const service = await createFakeService({ running });
  services.push(service);
  return service;
}

const env = (): Record<string, string> => ({ PATH: process.env.PATH ?? '/usr/bin:/bin' });

afterAll(() => {
  for (const service of services) service.cleanup();
  for (const root of roots) root.cleanup();
  for (const pid of extraPids) killIfCommand(pid, ['sleep', '60']);
});

describe('command service', () => {
  it('stops the real process and starts a new one that outlives the shell', async () => {
    const fake = await newService();
    const { log } = captureLog();
    const service = openService(fake.config, { env: env(), log, module: 'demo' });
    const first = fake.pid();
    expect(first).toBeDefined();
    expect(await service.isActive()).toBe(true);

    await service.stop();
    expect(isPidRunning(first)).toBe(false);
    expect(fake.isRunning()).toBe(false);
    expect(await service.isActive()).toBe(false);

    await service.start();
    const second = fake.pid();
    expect(second).not.toBe(first);
    expect(isPidRunning(second)).toBe(true);
    expect(readFileSync(`/proc/${second}/cmdline`, 'utf8')).toContain('sleep');
    expect(await service.isActive()).toBe(true);
  });

  it('describes itself by its module, and says so when a stop leaves it running', async () => {
    const fake = await newService();
    for (const module of ['demo', 'wiki']) {
      const { log } = captureLog();
      const service = openService({ ...fake.config, stop: 'true' }, { env: env(), log, module, settleSeconds: 1 });
      expect(service.describe()).toBe(`service of module "${module}"`);
      await expect(service.stop()).rejects.toThrow(`service of module "${module}" is still running 1s after it was stopped`);
    }
    expect(fake.isRunning()).toBe(true);
  });

  it('fails a stop command that exits non-zero, naming the module, the exit status and its output', async () => {
    const fake = await newService();
    const { log } = captureLog();
    const service = openService({ ...fake.config, stop: 'echo "cannot stop: permission denied" >&2; exit 7' }, { env: env(), log, module: 'demo' });
    const error = await service.stop().then(unexpected, (caught: unknown) => caught as Error & { hint: string });
    expect(error).toMatchObject({ code: 'MODULE_FAILED' });
    expect((error as Error).message).toBe('the stop command of module "demo" failed (exit 7): cannot stop: permission denied');
    expect(error.hint).toContain('service.stop');
    expect(fake.isRunning()).toBe(true);
  });

  it('fails a stop that leaves the service running, naming the service', async () => {
    const fake = await newService();
    const { log } = captureLog();
    const service = openService({ ...fake.config, stop: 'true' }, { env: env(), log, module: 'demo', settleSeconds: 1 });
    await expect(service.stop()).rejects.toThrow('service of module "demo" is still running 1s after it was stopped');
    expect(fake.isRunning()).toBe(true);
  });

  it('fails a start that leaves the service stopped, naming the service', async () => {
    const fake = await newService(false);
    const { log } = captureLog();
    const service = openService({ ...fake.config, start: 'true' }, { env: env(), log, module: 'demo', settleSeconds: 1 });
    await expect(service.start()).rejects.toThrow('service of module "demo" is still not running 1s after it was started');
  });

  it('runs nothing in a dry run', async () => {
    const fake = await newService();
    const marker = path.join(fake.dir, 'ran');
    const { log, lines } = captureLog();
    const touch = `touch '${marker}'`;
    const service = openService({ stop: touch, start: touch, isActive: touch }, { env: env(), log, module: 'demo', dryRun: true });
    expect(await service.isActive()).toBe(true);
    await service.stop();
    await service.start();
    expect(existsSync(marker)).toBe(false);
    expect(fake.isRunning()).toBe(true);
    expect(lines).toContain(`dry run: would run the stop command: ${touch}\n`);
    expect(lines).toContain(`dry run: would run the start command: ${touch}\n`);
  });

  it('runs the commands with the module environment and working directory, masking secrets in output', async () => {
    const fake = await newService(false);
    const { log, lines } = captureLog();
    log.masker.add('s3cr3t-value');
    const ctx = { env: { ...env(), SERVICE_FLAG: 'yes', TOKEN: 's3cr3t-value' }, log, module: 'demo', cwd: fake.dir, settleSeconds: 1 };
    const service = openService({ stop: 'echo "token=$TOKEN"; pwd', start: 'true', isActive: 'test "$SERVICE_FLAG" = yes' }, ctx);
    expect(await service.isActive()).toBe(true);
    const error = await service.stop().then(unexpected, (caught: unknown) => caught as Error);
    // The stop "succeeded" but isActive still answers yes: the settle check fails after its time.
    expect(error.message).toContain('is still running');
    expect(lines.join('')).toContain(`stop: ${fake.dir}`);
    expect(lines.join('')).toContain('stop: token=***');
    expect(lines.join('')).not.toContain('s3cr3t-value');
  });

  it('terminates a command when its signal aborts', async () => {
    const fake = await newService(false);
    const pidFile = path.join(fake.dir, 'slow.pid');
    const { log } = captureLog();
    const controller = new AbortController();
    const service = openService({ stop: `echo $$ > '${pidFile}'; sleep 30`, start: 'true', isActive: 'true' }, { env: env(), log, module: 'demo', signal: controller.signal });
    setTimeout(() => controller.abort('SIGTERM'), 300);
    const began = Date.now();
    await expect(service.stop()).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(Date.now() - began).toBeLessThan(8000);
    expect(isPidRunning(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
  });

  it('does not hang when a start command leaves a background process holding its output', async () => {
    const fake = await newService(false);
    const bg = path.join(fake.dir, 'bg.pid');
    const { log, lines } = captureLog();
    const service = openService({ stop: 'true', start: `sleep 60 & echo $! > '${bg}'`, isActive: 'true' }, { env: env(), log, module: 'demo' });
    await service.start();
    extraPids.push(Number(readFileSync(bg, 'utf8')));
    expect(lines.join('')).toContain('left a background process holding its output');
  });
});

const mode = (file: string) => (statSync(file).mode & 0o777).toString(8).padStart(4, '0');

describe('service commands run with the module umask (umask: in module.yaml), as its parts do', () => {
  for (const { umask, expected } of [
    { umask: '027', expected: '0640' },
    { umask: '077', expected: '0600' },
    { umask: undefined, expected: '0644' },
  ]) {
    it(`umask: ${umask ?? '(none, 022)'}: files made by stop, start and isActive are ${expected}, like a part's`, async () => {
      const t = makeRoot();
      roots.push(t);
      const data = path.join(t.dir, 'data');
      mkdirSync(data);
      writeFileSync(path.join(data, 'f.txt'), 'x\n');
      const out = path.join(t.dir, 'out');
      mkdirSync(out, { mode: 0o755 });
      const service = await newService();
      t.module('m', {
        folders: [data],
        ...(umask ? { umask } : {}),
        service: { stop: `touch ${out}/stopped; ${service.stop}`, start: `touch ${out}/started; ${service.start}`, isActive: `touch ${out}/checked; ${service.isActive}`, stopDuringBackup: true },
      });
      t.part('pre-backup', '10touch', `#!/bin/sh\ntouch ${out}/part\n`, 'm');
      const run = await lifeboat(t, ['backup', 'm']);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(service.isRunning()).toBe(true);
      expect({ part: mode(`${out}/part`), stopped: mode(`${out}/stopped`), started: mode(`${out}/started`), checked: mode(`${out}/checked`) }).toEqual({ part: expected, stopped: expected, started: expected, checked: expected });
      // `lifeboat service` typed by hand uses the module's umask too
      for (const file of ['stopped', 'started', 'checked']) rmSync(`${out}/${file}`);
      for (const operation of ['stop', 'start', 'is-active']) expect((await lifeboat(t, ['service', operation, 'm'])).exitCode).toBe(0);
      expect({ stopped: mode(`${out}/stopped`), started: mode(`${out}/started`), checked: mode(`${out}/checked`) }).toEqual({ stopped: expected, started: expected, checked: expected });
    });
  }
});
