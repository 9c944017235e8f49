// `lifeboat service stop|start|is-active MODULE` through the built CLI, before the module's first run:
// its state dir does not exist yet, and the commands still run (a missing working directory used to fail
// the start of the tool, reported as "sh is not installed").
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it, onTestFinished } from 'vitest';
import { lifeboat, makeRoot } from '../helpers/root.js';

it('service stop, is-active and start work before the module has a state dir, and create none', async () => {
  const t = makeRoot();
  onTestFinished(() => t.cleanup());
  const running = path.join(t.dir, 'running');
  writeFileSync(running, '');
  t.module('m', { folders: [t.dir], service: { stop: `rm ${running}`, start: `touch ${running}`, isActive: `test -f ${running}` } });
  const moduleState = path.join(t.stateDir, 'modules', 'm');
  const active = await lifeboat(t, ['service', 'is-active', 'm']);
  expect([active.exitCode, active.stdout, active.stderr]).toEqual([0, 'active', '']);
  const stop = await lifeboat(t, ['service', 'stop', 'm']);
  expect([stop.exitCode, stop.stderr]).toEqual([0, '']);
  expect(existsSync(running)).toBe(false);
  const inactive = await lifeboat(t, ['service', 'is-active', 'm']);
  expect([inactive.exitCode, inactive.stdout]).toEqual([3, 'inactive']);
  const start = await lifeboat(t, ['service', 'start', 'm']);
  expect([start.exitCode, start.stderr]).toEqual([0, '']);
  expect(existsSync(running)).toBe(true);
  expect(existsSync(moduleState)).toBe(false);
});
