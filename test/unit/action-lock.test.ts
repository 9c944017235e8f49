// runModuleAction in-process: the module's lock is released when the run ends, whatever its outcome. (The
// CLI's exit hook also removes held locks, which would hide a lock kept after a failure; a long-lived
// process, e.g. one running several modules or the scheduler, would then find its own module locked.)
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { runModuleAction } from '../../src/lifecycle/action.js';
import { loadModules, loadRoot } from '../../src/config/load.js';
import { stateLayout } from '../../src/config/paths.js';
import { acquireLock, readLockHolder } from '../../src/state/lock.js';
import { Logger } from '../../src/log/logger.js';
import { makeRoot, type TestRoot } from '../helpers/root.js';

let t: TestRoot | undefined;
afterEach(() => t?.cleanup());

describe('runModuleAction and the module lock', () => {
  it.for([
    ['fails (a part exits 1)', 'exit 1', false],
    ['succeeds', 'exit 0', true],
  ] as const)('the lock is released when the run %s, before the process exits', { timeout: 60_000 }, async ([, body, ok]) => {
    t = makeRoot();
    t.dataModule('m');
    t.part('pre-backup', '10gate', `#!/bin/sh\n${body}\n`, 'm');
    const root = loadRoot({ root: t.root, stateDir: t.stateDir });
    const [module] = loadModules(root, ['m']);
    const lines: string[] = [];
    const log = new Logger({ level: 'error', sink: { write: (line) => lines.push(line) } });
    const result = await runModuleAction({ root, module, action: 'backup', options: { dryRun: false, safetySnapshot: false }, log, signal: new AbortController().signal });
    expect(result.ok, lines.join('')).toBe(ok);
    if (!ok) expect(result).toMatchObject({ failedPart: 'pre-backup/10gate', error: 'exited with status 1', locked: false });
    const locks = stateLayout(t.stateDir).locks;
    expect(readLockHolder(locks, 'm')).toBeUndefined();
    expect(existsSync(path.join(locks, 'm.lock'))).toBe(false);
    // this same process can take it again at once (without waiting)
    mkdirSync(locks, { recursive: true });
    const again = await acquireLock(locks, 'm', { log });
    again.release();
    // and run the module again
    const second = await runModuleAction({ root, module, action: 'backup', options: { dryRun: false, safetySnapshot: false }, log, signal: new AbortController().signal });
    expect(second.locked).toBe(false);
  });
});
