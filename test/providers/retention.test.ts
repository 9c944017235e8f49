// Retention and `latest` over backups and safety snapshots, as pure functions (the providers' deletes
// are tested in suite.ts and through the CLI in test/lifecycle/kinds.test.ts).
import { describe, expect, it } from 'vitest';
import { planRetention } from '../../src/providers/retention.js';
import { resolveSnapshot } from '../../src/providers/snapshot-ref.js';
import { SAFETY_TAG } from '../../src/providers/kinds.js';
import { LifeboatError } from '../../src/errors.js';
import type { ProviderSnapshot } from '../../src/providers/types.js';

const NOW = new Date('2026-11-29T12:00:00Z');

// A snapshot made `days` before NOW.
function snap(id: string, days: number, kind: 'backup' | 'safety' = 'backup'): ProviderSnapshot {
  return { id, time: new Date(NOW.getTime() - days * 86_400_000).toISOString(), module: 'm', repository: 'r', tags: kind === 'safety' ? ['module:m', SAFETY_TAG] : ['module:m'] };
}

describe('retention counts backups only', () => {
  it('keepLast 2 with two newer safety snapshots keeps both backups', () => {
    const all = [snap('b1', 3), snap('b2', 2), snap('s1', 1, 'safety'), snap('s2', 0, 'safety')];
    const { kept, removed } = planRetention(all, { keepLast: 2 }, { now: NOW });
    expect(removed).toEqual([]);
    expect(kept.map((s) => s.id)).toEqual(['b1', 'b2', 's1', 's2']);
  });

  it('safety snapshots older than 14 days go, except the newest 3', () => {
    const all = [snap('s1', 40, 'safety'), snap('s2', 30, 'safety'), snap('s3', 20, 'safety'), snap('s4', 16, 'safety'), snap('s5', 15, 'safety'), snap('s6', 13, 'safety'), snap('b1', 1)];
    const { kept, removed } = planRetention(all, { keepLast: 1 }, { now: NOW });
    expect(removed.map((s) => s.id)).toEqual(['s1', 's2', 's3']);
    expect(kept.map((s) => s.id)).toEqual(['s4', 's5', 's6', 'b1']);
  });

  it('never removes a protected snapshot (the ones an unfinished restore names)', () => {
    const all = [snap('b1', 5), snap('b2', 4), snap('b3', 3), snap('s1', 60, 'safety'), snap('s2', 50, 'safety'), snap('s3', 40, 'safety'), snap('s4', 30, 'safety')];
    const { removed } = planRetention(all, { keepLast: 1 }, { now: NOW, protect: ['b1', 's1'] });
    expect(removed.map((s) => s.id).sort()).toEqual(['b2']);
  });

  it('a module without retention keeps everything, safety snapshots too', () => {
    const all = [snap('s1', 90, 'safety'), snap('s2', 80, 'safety'), snap('s3', 70, 'safety'), snap('s4', 60, 'safety'), snap('b1', 1)];
    expect(planRetention(all, {}, { now: NOW }).removed).toEqual([]);
  });
});

describe('latest', () => {
  it('is the newest backup, never a newer safety snapshot; an id still picks a safety snapshot', () => {
    const all = [snap('b1', 3), snap('b2', 2), snap('s1', 1, 'safety'), snap('s2', 0, 'safety')];
    expect(resolveSnapshot(all, 'latest', 'here').id).toBe('b2');
    expect(resolveSnapshot(all, undefined, 'here').id).toBe('b2');
    expect(resolveSnapshot(all, 's1', 'here').id).toBe('s1');
  });

  it('with only safety snapshots is an error that says how to restore one', () => {
    const error = (() => {
      try {
        return resolveSnapshot([snap('s1', 1, 'safety')], 'latest', 'module m, repository r');
      } catch (e) {
        return e;
      }
    })() as LifeboatError;
    expect(error).toBeInstanceOf(LifeboatError);
    expect(error.message).toBe('module m, repository r: no backups yet, only 1 safety snapshot(s), so there is no latest backup to restore');
    expect(error.hint).toContain('give the id of a safety snapshot');
  });
});
