// The systemd service: its exact systemctl command lines (dry run), and how exit statuses are read, through a
// tiny fake `systemctl` on PATH (no systemd runs in CI; the real one is only used when it can answer).
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Logger } from '../../src/log/logger.js';
import { openService } from '../../src/services/index.js';

const dirs: string[] = [];

// For promises that must reject: fails the test when they resolve.
const unexpected = (): never => {
  throw new Error('expected a rejection');
};

// A logger that keeps its lines for assertions.
function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger({ level: 'debug', sink: { write: (line) => lines.push(line) } }), lines };
}

// A fake systemctl that records its arguments and keeps the unit's state in a file; `broken` fails like a
// host without systemd.
function fakeSystemctl(state: 'active' | 'inactive' | 'broken'): { env: Record<string, string>; calls: () => string[]; state: () => string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-systemctl-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'state'), state);
  const script = `#!/bin/sh
echo "$*" >> '${dir}/calls'
state=$(cat '${dir}/state')
if [ "$state" = broken ]; then echo "System has not been booted with systemd as init system (PID 1). Can't operate." >&2; exit 1; fi
case "$1" in
  is-active) [ "$state" = active ] && exit 0; exit 3 ;;
  stop) echo inactive > '${dir}/state' ;;
  start) echo active > '${dir}/state' ;;
esac
`;
  writeFileSync(path.join(dir, 'systemctl'), script);
  chmodSync(path.join(dir, 'systemctl'), 0o755);
  return {
    env: { PATH: `${dir}:/usr/bin:/bin` },
    calls: () => readFileSync(path.join(dir, 'calls'), 'utf8').trim().split('\n'),
    state: () => readFileSync(path.join(dir, 'state'), 'utf8').trim(),
  };
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('systemd service', () => {
  it('prints the systemctl command lines in a dry run', async () => {
    const { log, lines } = captureLog();
    const service = openService({ systemd: 'linkding.service' }, { env: { PATH: '/nonexistent' }, log, dryRun: true });
    expect(service.describe()).toBe('systemd unit linkding.service');
    expect(await service.isActive()).toBe(true);
    await service.stop();
    await service.start();
    expect(lines).toEqual([
      'dry run: would run systemctl is-active --quiet linkding.service\n',
      'dry run: would run systemctl stop linkding.service\n',
      'dry run: would run systemctl start linkding.service\n',
    ]);
  });

  it('reads is-active exit 0 as running and 3 as stopped, and checks stop and start took effect', async () => {
    const fake = fakeSystemctl('active');
    const { log } = captureLog();
    const service = openService({ systemd: 'linkding.service' }, { env: fake.env, log });
    expect(await service.isActive()).toBe(true);
    await service.stop();
    expect(fake.state()).toBe('inactive');
    expect(await service.isActive()).toBe(false);
    await service.start();
    expect(fake.state()).toBe('active');
    expect(fake.calls()).toEqual([
      'is-active --quiet linkding.service',
      'stop linkding.service',
      'is-active --quiet linkding.service',
      'is-active --quiet linkding.service',
      'start linkding.service',
      'is-active --quiet linkding.service',
    ]);
  });

  it('turns a systemctl that cannot talk to systemd into an error naming the unit', async () => {
    const fake = fakeSystemctl('broken');
    const { log } = captureLog();
    const service = openService({ systemd: 'linkding.service' }, { env: fake.env, log });
    const error = await service.isActive().then(unexpected, (caught: unknown) => caught as Error);
    expect(error.message).toMatch(/^systemd unit linkding.service: `systemctl is-active --quiet linkding.service` failed: .*has not been booted with systemd/);
  });

  it('says so when systemctl is not installed', async () => {
    const { log } = captureLog();
    const service = openService({ systemd: 'linkding.service' }, { env: { PATH: '/nonexistent' }, log });
    await expect(service.stop()).rejects.toThrow('systemd unit linkding.service: `systemctl stop linkding.service` failed: systemctl is not installed');
  });
});
