// Resolves a SNAPSHOT argument (full id, unique prefix, or `latest`) against a list.
import { LifeboatError } from '../errors.js';
import { shortId } from '../log/format.js';
import { kindOf } from './kinds.js';
import type { ProviderSnapshot } from './types.js';

// Picks the snapshot a user meant; unknown and ambiguous references are usage errors naming the choices.
// `latest` is the newest backup, never a safety snapshot; an id or prefix may name either kind. With `host`,
// `latest` is this host's newest backup (another host writing the same module into the repository is not
// this one's latest); an id or prefix may still name another host's snapshot.
export function resolveSnapshot(snapshots: ProviderSnapshot[], ref: string | undefined, where: string, host?: string): ProviderSnapshot {
  const wanted = ref ?? 'latest';
  if (wanted.trim() === '') throw new LifeboatError('USAGE', `${where}: the snapshot id is empty; give an id, a unique prefix of one, or latest`);
  if (snapshots.length === 0) {
    throw new LifeboatError('UNKNOWN_SNAPSHOT', `${where}: no snapshots yet, so there is nothing to restore`, { hint: 'run `lifeboat backup` first, or pick another --repo' });
  }
  if (wanted === 'latest') return latestBackup(host ? snapshots.filter((s) => isOwnHost(s, host)) : snapshots, where, host);
  const exact = snapshots.find((s) => s.id === wanted);
  if (exact) return exact;
  const matches = snapshots.filter((s) => s.id.startsWith(wanted));
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) {
    // Short hex ids when they still tell the matches apart; whole ids otherwise (e.g. all-digit names).
    const shown = matches.slice(0, 5).map((s) => shortId(s.id));
    const ids = (new Set(shown).size === shown.length ? shown : matches.slice(0, 5).map((s) => s.id)).join(', ');
    throw new LifeboatError('AMBIGUOUS_SNAPSHOT', `${where}: snapshot "${wanted}" is ambiguous: it starts ${matches.length} ids (${ids}); give more characters`);
  }
  throw new LifeboatError('UNKNOWN_SNAPSHOT', `${where}: snapshot "${wanted}" not found; \`lifeboat snapshots\` lists them`);
}

// The newest backup; only safety snapshots is an error that says how to restore one of them.
function latestBackup(snapshots: ProviderSnapshot[], where: string, host?: string): ProviderSnapshot {
  if (snapshots.length === 0) {
    throw new LifeboatError('UNKNOWN_SNAPSHOT', `${where}: no snapshots of this host (${host}) yet; only other hosts' snapshots`, { hint: 'give the id of another host\'s snapshot to restore it (`lifeboat snapshots` lists them, column HOST), set `host:` in lifeboat.yaml when this host replaces that one, or run `lifeboat backup` first' });
  }
  const backups = snapshots.filter((s) => kindOf(s) === 'backup').sort((a, b) => a.time.localeCompare(b.time));
  if (backups.length > 0) return backups.at(-1)!;
  throw new LifeboatError('UNKNOWN_SNAPSHOT', `${where}: no backups yet, only ${snapshots.length} safety snapshot(s), so there is no latest backup to restore`, {
    hint: 'give the id of a safety snapshot (`lifeboat snapshots` lists them, KIND safety) to restore it, or run `lifeboat backup` first',
  });
}

// Whether a snapshot was made by `host` (one that records no host counts as this host's).
export function isOwnHost(snapshot: ProviderSnapshot, host: string): boolean {
  return snapshot.host === undefined || snapshot.host === host;
}
