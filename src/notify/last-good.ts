// The notify: entries of the last run that loaded lifeboat.yaml, kept in the state dir
// (<state>/notify-last-good.json, 0600). When lifeboat.yaml later cannot even be parsed (a YAML syntax
// error made during the day), a scheduled run still knows where to send its failure ping.
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { NotifyConfig } from '../config/types.js';
import { unsafeReason } from '../files/permissions.js';
import { writeFileAtomic } from '../files/write-atomic.js';

const FILE = 'notify-last-good.json';

// Remembers the entries (with ${VAR} resolved, so the file is private); best effort: a read-only state
// dir or a full disk never fails the run for it.
export function rememberNotifyEntries(stateDir: string, entries: NotifyConfig[]): void {
  const file = path.join(stateDir, FILE);
  const text = `${JSON.stringify(entries)}\n`;
  try {
    if (readFileSync(file, 'utf8') === text) return;
  } catch {
    // not written yet
  }
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o711 });
    writeFileAtomic(file, text, 0o600);
  } catch {
    // best effort
  }
}

// The remembered entries and when they were written, or none (never written, unreadable, or the file is
// not one only this user could have written).
export function lastGoodNotifyEntries(stateDir: string): { entries: NotifyConfig[]; written: Date } | undefined {
  const file = path.join(stateDir, FILE);
  try {
    const stats = statSync(file);
    if (unsafeReason(stats) || (stats.mode & 0o077) !== 0) return undefined;
    const entries = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return Array.isArray(entries) ? { entries: entries as NotifyConfig[], written: stats.mtime } : undefined;
  } catch {
    return undefined;
  }
}
