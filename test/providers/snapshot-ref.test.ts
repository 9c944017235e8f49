// The ambiguity error names the matching snapshots so that they can be told apart.
import { describe, expect, it } from 'vitest';
import { resolveSnapshot } from '../../src/providers/snapshot-ref.js';
import type { ProviderSnapshot } from '../../src/providers/types.js';

const snapshot = (id: string, time: string): ProviderSnapshot => ({ id, time, module: 'm', repository: 'r', tags: [] });

describe('resolveSnapshot: an ambiguous prefix', () => {
  it('lists whole ids when the shortened ones would look the same (all-digit names)', () => {
    const list = [snapshot('20261130013000123456', '2026-11-30T01:30:00Z'), snapshot('20261130013000123457', '2026-11-30T01:31:00Z')];
    expect(() => resolveSnapshot(list, '2026', 'repository "r"')).toThrow('repository "r": snapshot "2026" is ambiguous: it starts 2 ids (20261130013000123456, 20261130013000123457); give more characters');
  });
  it('lists Clan-style names whole and restic ids short', () => {
    const clan = [snapshot('clan-2026-11-30T01-00-00', '2026-11-30T01:00:00Z'), snapshot('clan-2026-11-30T02-00-00', '2026-11-30T02:00:00Z')];
    expect(() => resolveSnapshot(clan, 'clan-2026', 'r')).toThrow('it starts 2 ids (clan-2026-11-30T01-00-00, clan-2026-11-30T02-00-00);');
    const restic = [snapshot('a1b2c3d4e5f60718293a4b5c6d7e8f90', '2026-11-30T01:00:00Z'), snapshot('a1b2c3d4e5f7aaaa293a4b5c6d7e8f90', '2026-11-30T02:00:00Z')];
    expect(() => resolveSnapshot(restic, 'a1b2', 'r')).toThrow('it starts 2 ids (a1b2c3d4e5f6, a1b2c3d4e5f7);');
  });
});
