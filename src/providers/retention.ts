// Retention rules (keepLast, keepHourly ... keepYearly) computed the way restic's forget does, for
// providers that have no policy of their own (tar, scripts).
import type { Retention } from '../config/types.js';
import type { ProviderSnapshot } from './types.js';

const BUCKETS: Array<[keyof Retention, (date: Date) => string]> = [
  ['keepHourly', (d) => d.toISOString().slice(0, 13)],
  ['keepDaily', (d) => d.toISOString().slice(0, 10)],
  ['keepWeekly', (d) => isoWeek(d)],
  ['keepMonthly', (d) => d.toISOString().slice(0, 7)],
  ['keepYearly', (d) => d.toISOString().slice(0, 4)],
];

// Splits snapshots into kept and removed; newest first per bucket, as restic does. No rule keeps all.
export function applyRetention(snapshots: ProviderSnapshot[], retention: Retention): { kept: ProviderSnapshot[]; removed: ProviderSnapshot[] } {
  if (Object.keys(retention).length === 0) return { kept: [...snapshots], removed: [] };
  const newestFirst = [...snapshots].sort((a, b) => b.time.localeCompare(a.time));
  const keep = new Set<ProviderSnapshot>();
  newestFirst.slice(0, retention.keepLast ?? 0).forEach((snapshot) => keep.add(snapshot));
  for (const [rule, bucketOf] of BUCKETS) {
    let remaining = retention[rule] ?? 0;
    let lastBucket: string | undefined;
    for (const snapshot of newestFirst) {
      if (remaining <= 0) break;
      const bucket = bucketOf(new Date(snapshot.time));
      if (bucket === lastBucket) continue;
      lastBucket = bucket;
      keep.add(snapshot);
      remaining--;
    }
  }
  const byAge = (a: ProviderSnapshot, b: ProviderSnapshot) => a.time.localeCompare(b.time);
  return {
    kept: snapshots.filter((s) => keep.has(s)).sort(byAge),
    removed: snapshots.filter((s) => !keep.has(s)).sort(byAge),
  };
}

// ISO 8601 week label (YYYY-Www) of a UTC date.
function isoWeek(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((d.getTime() - yearStart) / 86400000 + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}
