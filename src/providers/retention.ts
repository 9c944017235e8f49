// Retention: which snapshots of a module a `forget` removes. Computed here once for every provider, over
// backups and safety snapshots apart, so a safety snapshot never pushes a backup out; providers only
// delete the snapshots they are given. Backups follow the module's rules (keepLast, keepHourly ...
// keepYearly, counted the way restic's forget counts them); safety snapshots follow SAFETY_RETENTION.
import type { Retention } from '../config/types.js';
import { kindOf } from './kinds.js';
import type { CommonOptions, ForgetResult, Provider, ProviderSnapshot } from './types.js';

// Safety snapshots are kept while younger than `days`, and the newest `keepLast` always.
export const SAFETY_RETENTION = { days: 14, keepLast: 3 };

const BUCKETS: Array<[keyof Retention, (date: Date) => string]> = [
  ['keepHourly', (d) => d.toISOString().slice(0, 13)],
  ['keepDaily', (d) => d.toISOString().slice(0, 10)],
  ['keepWeekly', (d) => isoWeek(d)],
  ['keepMonthly', (d) => d.toISOString().slice(0, 7)],
  ['keepYearly', (d) => d.toISOString().slice(0, 4)],
];

// Splits backups into kept and removed by the keep rules; newest first per bucket, as restic does. No rule keeps all.
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

// Splits safety snapshots by SAFETY_RETENTION: the newest few always stay, the rest until they are old.
export function applySafetyRetention(snapshots: ProviderSnapshot[], now: Date): { kept: ProviderSnapshot[]; removed: ProviderSnapshot[] } {
  const newest = new Set([...snapshots].sort((a, b) => b.time.localeCompare(a.time)).slice(0, SAFETY_RETENTION.keepLast));
  const cutoff = now.getTime() - SAFETY_RETENTION.days * 86_400_000;
  const keep = (s: ProviderSnapshot) => newest.has(s) || Date.parse(s.time) >= cutoff;
  return { kept: snapshots.filter(keep), removed: snapshots.filter((s) => !keep(s)) };
}

// What a forget keeps and removes: backups by the module's retention, safety snapshots by their own;
// `protect` ids are never removed (the snapshots an unfinished restore's commands name, the ones a
// backup just made). A module without retention keeps everything.
export function planRetention(snapshots: ProviderSnapshot[], retention: Retention, options: { now?: Date; protect?: string[] } = {}): ForgetResult {
  if (Object.keys(retention).length === 0) return { kept: sortByTime(snapshots), removed: [] };
  const backups = applyRetention(snapshots.filter((s) => kindOf(s) === 'backup'), retention);
  const safety = applySafetyRetention(snapshots.filter((s) => kindOf(s) === 'safety'), options.now ?? new Date());
  const protect = new Set(options.protect ?? []);
  const removed = [...backups.removed, ...safety.removed].filter((s) => !protect.has(s.id));
  const gone = new Set(removed);
  return { kept: sortByTime(snapshots.filter((s) => !gone.has(s))), removed: sortByTime(removed) };
}

// Applies a module's retention in one repository: lists, plans (planRetention), and has the provider
// delete what goes (nothing on a dry run). The caller checks that the provider can forget.
// Only this host's snapshots count (`host`, as restic forget groups by host): another host writing the same
// module into the same repository keeps its own; a snapshot that records no host counts as this host's.
// `sweep`: when nothing is to go, the provider's sweep (if it has one) still removes what only it knows is
// left over (restic: the dump snapshots of a run killed before its module snapshot).
export async function forgetByRetention(provider: Provider, module: string, retention: Retention, options: CommonOptions & { now?: Date; protect?: string[]; host?: string; sweep?: boolean }): Promise<ForgetResult> {
  const mine = (await provider.list(module, options)).filter((snapshot) => !options.host || snapshot.host === undefined || snapshot.host === options.host);
  const result = planRetention(mine, retention, options);
  if (options.dryRun) return result;
  if (result.removed.length > 0) await provider.forget!(module, result.removed, options);
  else if (options.sweep) await provider.sweep?.(module, options);
  return result;
}

// Oldest first.
function sortByTime(snapshots: ProviderSnapshot[]): ProviderSnapshot[] {
  return [...snapshots].sort((a, b) => a.time.localeCompare(b.time));
}
