// The container service: the docker/podman command lines (dry run), engine choice, and output parsing through
// a tiny fake engine on PATH. Not tested against a real docker or podman engine: none runs in CI.
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

// A fake engine named `engine` that records its arguments and keeps one container's state in a file.
function fakeEngine(engine: 'docker' | 'podman', running: boolean | 'missing'): { env: Record<string, string>; calls: () => string[] } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-engine-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'state'), String(running));
  const script = `#!/bin/sh
echo "$*" >> '${dir}/calls'
state=$(cat '${dir}/state')
if [ "$state" = missing ]; then echo "Error: No such container: $(eval echo \\\${$#})" >&2; exit 1; fi
case "$1 $2" in
  "container inspect") echo "$state" ;;
  "stop "*) echo false > '${dir}/state'; echo "$2" ;;
  "start "*) echo true > '${dir}/state'; echo "$2" ;;
esac
`;
  writeFileSync(path.join(dir, engine), script);
  chmodSync(path.join(dir, engine), 0o755);
  return { env: { PATH: `${dir}:/usr/bin:/bin` }, calls: () => readFileSync(path.join(dir, 'calls'), 'utf8').trim().split('\n') };
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('container service', () => {
  it.each(['docker', 'podman'] as const)('prints the %s command lines in a dry run', async (engine) => {
    const { log, lines } = captureLog();
    const service = openService({ container: 'linkding', engine }, { env: { PATH: '/nonexistent' }, log, dryRun: true });
    expect(service.describe()).toBe(`container linkding (${engine})`);
    expect(await service.isActive()).toBe(true);
    await service.stop();
    await service.start();
    expect(lines).toEqual([
      `dry run: would run ${engine} container inspect -f '{{.State.Running}}' linkding\n`,
      `dry run: would run ${engine} stop linkding\n`,
      `dry run: would run ${engine} start linkding\n`,
    ]);
  });

  it('uses whichever engine is on PATH when none is configured', async () => {
    const fake = fakeEngine('podman', true);
    const { log } = captureLog();
    const service = openService({ container: 'linkding' }, { env: fake.env, log });
    expect(service.describe()).toBe('container linkding (podman)');
    expect(await service.isActive()).toBe(true);
    await service.stop();
    expect(await service.isActive()).toBe(false);
    await service.start();
    expect(fake.calls()).toEqual([
      'container inspect -f {{.State.Running}} linkding',
      'stop linkding',
      'container inspect -f {{.State.Running}} linkding',
      'container inspect -f {{.State.Running}} linkding',
      'start linkding',
      'container inspect -f {{.State.Running}} linkding',
    ]);
  });

  it('refuses a container that does not exist, naming it and the key to fix', async () => {
    const fake = fakeEngine('docker', 'missing');
    const { log } = captureLog();
    const service = openService({ container: 'linkdng' }, { env: fake.env, log });
    const error = await service.isActive().then(unexpected, (caught: unknown) => caught as Error & { hint: string });
    expect(error.message).toBe('container linkdng (docker) does not exist: Error: No such container: linkdng');
    expect(error.hint).toContain('service.container');
  });

  it('says how to fix a host with neither docker nor podman', async () => {
    const { log } = captureLog();
    const service = openService({ container: 'linkding' }, { env: { PATH: '/nonexistent' }, log });
    expect(service.describe()).toBe('container linkding (docker or podman)');
    await expect(service.stop()).rejects.toThrow('neither docker nor podman is on PATH');
  });
});
