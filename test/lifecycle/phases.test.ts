// The phase table is the one source of truth: hooks.d/ in the project mirrors its built-ins exactly.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ACTIONS, BUILTINS, PHASES } from '../../src/lifecycle/phases.js';
import { PROJECT } from '../helpers/root.js';

describe('the phase table', () => {
  it('has one executable file in hooks.d/<phase>/ per built-in part, and nothing else', () => {
    const onDisk = PHASES.flatMap((phase) => readdirSync(path.join(PROJECT, 'hooks.d', phase)).filter((n) => !n.startsWith('.')).map((n) => `${phase}/${n}`));
    expect(onDisk.sort()).toEqual(BUILTINS.map((b) => `${b.phase}/${b.name}`).sort());
    for (const part of BUILTINS) {
      const file = path.join(PROJECT, 'hooks.d', part.phase, part.name);
      expect(statSync(file).mode & 0o111).not.toBe(0);
      expect(readFileSync(file, 'utf8')).toContain(part.does);
    }
  });

  it('matches the phase table of the README: backup, restore and verify phases with their always-phases', () => {
    expect(ACTIONS.backup.map((s) => `${s.phase}:${s.runs}`)).toEqual(['pre-backup:ok', 'backup:ok', 'post-backup:ok', 'finally:always', 'on-success:success', 'on-failure:failure']);
    expect(ACTIONS.restore.map((s) => `${s.phase}:${s.runs}`)).toEqual(['pre-restore:ok', 'restore:ok', 'post-restore:ok', 'finally:always', 'on-success:success', 'on-failure:failure']);
    expect(ACTIONS.verify.map((s) => `${s.phase}:${s.runs}`)).toEqual(['verify:ok', 'finally:always', 'on-success:success', 'on-failure:failure']);
  });

  it('loads a distinct implementation for every built-in (only stopping the service is shared)', async () => {
    const loaded = await Promise.all(BUILTINS.map(async (part) => ({ part: `${part.phase}/${part.name}`, fn: await part.load() })));
    for (const { part, fn } of loaded) expect(typeof fn, part).toBe('function');
    const byFunction = new Map<unknown, string[]>();
    for (const { part, fn } of loaded) byFunction.set(fn, [...(byFunction.get(fn) ?? []), part]);
    expect([...byFunction.values()].filter((parts) => parts.length > 1)).toEqual([['pre-backup/40stop_service', 'pre-restore/10stop_service']]);
  });
});
