// A service command that ignores SIGTERM (a stop that goes on after its time ran out) is SIGKILLed after
// the module's killAfter, and the start in `finally` waits for it: the service is running at the end,
// never taken down again by a stop that finished after the start.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { isPidRunning } from '../helpers/service.js';

let t: TestRoot;
afterEach(() => t.cleanup());

describe('a service command that ignores SIGTERM', () => {
  it('is killed after killAfter, and the service is started after it ended', async () => {
    t = makeRoot();
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'f'), 'x\n');
    const up = path.join(t.dir, 'svc.up');
    const log = path.join(t.dir, 'commands.log');
    const pidFile = path.join(t.dir, 'stop.pid');
    t.module('m', {
      folders: [data],
      timeouts: { part: 2, killAfter: 1 },
      service: {
        stopDuringBackup: true,
        isActive: `test -e '${up}'`,
        start: `touch '${up}'; echo start >> '${log}'`,
        // ignores SIGTERM and would take the service down 6 s later, long after its time ran out
        stop: `trap '' TERM; echo $$ > '${pidFile}'; echo stop-began >> '${log}'; sleep 6; rm -f '${up}'; echo stop-finished >> '${log}'`,
      },
    });
    writeFileSync(up, '');
    const run = await lifeboat(t, ['backup', 'm']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain('[m/40stop_service] error: timed out after 2s (timeouts.part): the stop command of module "m" was stopped (it ran out of time)');
    expect(run.stderr).toContain("hint: make `service.stop` finish within timeouts.part, or raise timeouts.part in the module's module.yaml");
    // the stop was killed (it is gone and never finished), then the service started: it runs at the end
    expect(isPidRunning(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
    expect(readFileSync(log, 'utf8')).toBe('stop-began\nstart\n');
    expect(existsSync(up)).toBe(true);
  });
});
