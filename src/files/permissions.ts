// Trust rules for files Lifeboat executes or reads secrets from (README "How it works").
import type { Stats } from 'node:fs';

// Why a file may not be trusted: writable by group/others, or owned by another non-root user.
export function unsafeReason(stats: Stats): string | undefined {
  if (stats.mode & 0o022) return `writable by ${stats.mode & 0o020 ? 'group' : 'others'} (mode ${(stats.mode & 0o7777).toString(8).padStart(4, '0')})`;
  const me = process.getuid?.() ?? 0;
  if (stats.uid !== 0 && stats.uid !== me) return `owned by another user (uid ${stats.uid})`;
  return undefined;
}
