// Retention rules as pure functions: each keep rule's buckets, their order, safety snapshots, protect.
import { describe, expect, it } from 'vitest';
import { SAFETY_RETENTION, applyRetention, applySafetyRetention, forgetByRetention, planRetention } from '../../src/providers/retention.js';
import { SAFETY_TAG } from '../../src/providers/kinds.js';
import type { Provider, ProviderSnapshot } from '../../src/providers/types.js';

const snap = (id: string, time: string, safety = false): ProviderSnapshot => ({ id, time, module: 'm', repository: 'r', tags: safety ? ['module:m', SAFETY_TAG] : ['module:m'] });
const ids = (list: ProviderSnapshot[]) => list.map((s) => s.id);

describe('applyRetention', () => {
  it('no rule keeps everything, in the given order', () => {
    const all = [snap('b', '2026-01-02T00:00:00Z'), snap('a', '2026-01-01T00:00:00Z')];
    expect(ids(applyRetention(all, {}).kept)).toEqual(['b', 'a']);
    expect(applyRetention(all, {}).removed).toEqual([]);
  });

  it('keepLast keeps the newest N, results oldest first', () => {
    const all = [snap('c', '2026-01-03T00:00:00Z'), snap('a', '2026-01-01T00:00:00Z'), snap('b', '2026-01-02T00:00:00Z')];
    const { kept, removed } = applyRetention(all, { keepLast: 2 });
    expect(ids(kept)).toEqual(['b', 'c']);
    expect(ids(removed)).toEqual(['a']);
  });

  it('keepHourly keeps the newest of each of the last N hours', () => {
    const all = [snap('h1a', '2026-01-01T01:10:00Z'), snap('h1b', '2026-01-01T01:50:00Z'), snap('h2a', '2026-01-01T02:05:00Z'), snap('h2b', '2026-01-01T02:45:00Z'), snap('h3', '2026-01-01T03:00:00Z')];
    expect(ids(applyRetention(all, { keepHourly: 2 }).kept)).toEqual(['h2b', 'h3']);
    expect(ids(applyRetention(all, { keepHourly: 3 }).removed)).toEqual(['h1a', 'h2a']);
  });

  it('keepDaily keeps the newest of each day', () => {
    const all = [snap('d1a', '2026-01-01T01:00:00Z'), snap('d1b', '2026-01-01T23:00:00Z'), snap('d2a', '2026-01-02T00:30:00Z'), snap('d2b', '2026-01-02T05:00:00Z')];
    expect(ids(applyRetention(all, { keepDaily: 2 }).kept)).toEqual(['d1b', 'd2b']);
    expect(ids(applyRetention(all, { keepDaily: 1 }).kept)).toEqual(['d2b']);
  });

  it('keepWeekly counts ISO weeks (Monday to Sunday, the year of the Thursday)', () => {
    // 2025-12-29 (Mon) .. 2026-01-04 (Sun) is 2026-W01; 2025-12-28 (Sun) is 2025-W52; 2026-01-05 (Mon) W02.
    const all = [snap('w52', '2025-12-28T12:00:00Z'), snap('w01a', '2025-12-29T12:00:00Z'), snap('w01b', '2026-01-04T12:00:00Z'), snap('w02', '2026-01-05T12:00:00Z')];
    expect(ids(applyRetention(all, { keepWeekly: 3 }).kept)).toEqual(['w52', 'w01b', 'w02']);
    expect(ids(applyRetention(all, { keepWeekly: 2 }).removed)).toEqual(['w52', 'w01a']);
  });

  it('keepWeekly: a Sunday belongs to the week before the Monday after it', () => {
    const all = [snap('sun', '2026-03-08T10:00:00Z'), snap('sat', '2026-03-07T10:00:00Z'), snap('mon', '2026-03-09T10:00:00Z')];
    expect(ids(applyRetention(all, { keepWeekly: 5 }).kept)).toEqual(['sun', 'mon']);
  });

  it('keepWeekly: week numbers late in a year and a Thursday-started year', () => {
    // 2026-12-31 is a Thursday: W53 of 2026; 2027-01-01 (Fri) still W53 of 2026; 2027-01-04 (Mon) W01 of 2027.
    const all = [snap('a', '2026-12-31T08:00:00Z'), snap('b', '2027-01-01T08:00:00Z'), snap('c', '2027-01-04T08:00:00Z'), snap('d', '2026-12-27T08:00:00Z')];
    expect(ids(applyRetention(all, { keepWeekly: 9 }).kept)).toEqual(['d', 'b', 'c']);
  });

  it('keepMonthly and keepYearly keep the newest of each month and year', () => {
    const all = [snap('j1', '2025-01-05T00:00:00Z'), snap('j2', '2025-01-25T00:00:00Z'), snap('f1', '2025-02-03T00:00:00Z'), snap('y26', '2026-02-03T00:00:00Z')];
    expect(ids(applyRetention(all, { keepMonthly: 3 }).kept)).toEqual(['j2', 'f1', 'y26']);
    expect(ids(applyRetention(all, { keepYearly: 2 }).kept)).toEqual(['f1', 'y26']);
    expect(ids(applyRetention(all, { keepYearly: 1 }).removed)).toEqual(['j1', 'j2', 'f1']);
  });

  it('keepYearly groups by the year only', () => {
    const all = [snap('y25', '2025-06-01T00:00:00Z'), snap('y26a', '2026-01-01T00:00:00Z'), snap('y26b', '2026-12-01T00:00:00Z')];
    expect(ids(applyRetention(all, { keepYearly: 2 }).kept)).toEqual(['y25', 'y26b']);
  });

  it('kept and removed come back oldest first whatever the input order', () => {
    const all = [snap('b', '2026-01-02T00:00:00Z'), snap('d', '2026-01-04T00:00:00Z'), snap('a', '2026-01-01T00:00:00Z'), snap('c', '2026-01-03T00:00:00Z'), snap('e', '2026-01-05T00:00:00Z')];
    const { kept, removed } = applyRetention(all, { keepLast: 2 });
    expect(ids(kept)).toEqual(['d', 'e']);
    expect(ids(removed)).toEqual(['a', 'b', 'c']);
  });

  it('rules add up: keepLast and keepMonthly together', () => {
    const all = [snap('a', '2025-01-01T00:00:00Z'), snap('b', '2025-01-02T00:00:00Z'), snap('c', '2025-02-01T00:00:00Z'), snap('d', '2025-02-02T00:00:00Z')];
    expect(ids(applyRetention(all, { keepLast: 1, keepMonthly: 2 }).kept)).toEqual(['b', 'd']);
    expect(ids(applyRetention(all, { keepLast: 3, keepYearly: 1 }).kept)).toEqual(['b', 'c', 'd']);
  });

  it('a rule of 0 keeps nothing by itself', () => {
    const all = [snap('a', '2025-01-01T00:00:00Z'), snap('b', '2025-01-02T00:00:00Z')];
    expect(ids(applyRetention(all, { keepDaily: 0 }).kept)).toEqual([]);
  });
});

describe('applySafetyRetention', () => {
  const now = new Date('2026-06-30T00:00:00Z');
  const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000).toISOString();

  it('is 14 days and 3 newest', () => {
    expect(SAFETY_RETENTION).toEqual({ days: 14, keepLast: 3 });
  });

  it('keeps the newest three whatever their age, and anything younger than 14 days', () => {
    const all = [snap('old1', daysAgo(50), true), snap('old2', daysAgo(40), true), snap('old3', daysAgo(30), true), snap('old4', daysAgo(20), true), snap('old5', daysAgo(19), true)];
    const { kept, removed } = applySafetyRetention(all, now);
    expect(ids(kept)).toEqual(['old3', 'old4', 'old5']);
    expect(ids(removed)).toEqual(['old1', 'old2']);
  });

  it('exactly 14 days old is still kept; a second more is not', () => {
    const all = [snap('x', new Date(now.getTime() - 14 * 86_400_000).toISOString(), true), snap('y', new Date(now.getTime() - 14 * 86_400_000 - 1000).toISOString(), true), ...[1, 2, 3].map((i) => snap(`n${i}`, daysAgo(i), true))];
    expect(ids(applySafetyRetention(all, now).removed)).toEqual(['y']);
  });
});

describe('planRetention and forgetByRetention', () => {
  const now = new Date('2026-06-30T00:00:00Z');
  const all = [snap('b1', '2026-06-01T00:00:00Z'), snap('b2', '2026-06-02T00:00:00Z'), snap('s1', '2026-01-01T00:00:00Z', true), snap('s2', '2026-01-02T00:00:00Z', true), snap('s3', '2026-01-03T00:00:00Z', true), snap('s4', '2026-01-04T00:00:00Z', true)];

  it('sorts kept and removed oldest first and honours protect', () => {
    const plan = planRetention([...all].reverse(), { keepLast: 1 }, { now, protect: ['s1'] });
    expect(ids(plan.removed)).toEqual(['b1']);
    expect(ids(plan.kept)).toEqual(['s1', 's2', 's3', 's4', 'b2']);
    expect(ids(planRetention(all, { keepLast: 1 }, { now }).removed)).toEqual(['s1', 'b1']);
  });

  it('defaults now to the current time', () => {
    const fresh = [1, 2, 3, 4].map((i) => snap(`f${i}`, new Date(Date.now() - i * 60_000).toISOString(), true));
    expect(planRetention(fresh, { keepLast: 1 }).removed).toEqual([]);
  });

  it('no retention keeps all, sorted', () => {
    expect(ids(planRetention([...all].reverse(), {}, { now }).kept)).toEqual(['s1', 's2', 's3', 's4', 'b1', 'b2']);
  });

  function fakeProvider(list: ProviderSnapshot[]) {
    const forgotten: string[][] = [];
    const provider = {
      kind: 'fake',
      list: async () => list,
      forget: async (_m: string, snaps: ProviderSnapshot[]) => {
        forgotten.push(ids(snaps));
      },
    } as unknown as Provider;
    return { provider, forgotten };
  }

  it('has the provider forget what goes, not on a dry run, not when nothing goes', async () => {
    const real = fakeProvider(all);
    const result = await forgetByRetention(real.provider, 'm', { keepLast: 1 }, { now } as never);
    expect(ids(result.removed)).toEqual(['s1', 'b1']);
    expect(real.forgotten).toEqual([['s1', 'b1']]);
    const dry = fakeProvider(all);
    await forgetByRetention(dry.provider, 'm', { keepLast: 1 }, { now, dryRun: true } as never);
    expect(dry.forgotten).toEqual([]);
    const none = fakeProvider(all);
    await forgetByRetention(none.provider, 'm', { keepLast: 9 }, { now, protect: ['s1'] } as never);
    expect(none.forgotten).toEqual([]);
  });
});
