// The progress bar of a restore into a folder. Providers say nothing while they restore (restic 0.14,
// borg, tar, scripts), so the folder itself is measured: bytes and count of the regular files written
// there, every second or so, against the totals of the snapshot's manifest when this host has it (else
// bytes and rate without a percentage). restic sets each file to its full size before writing it, so
// its bar moves a file at a time. Only on a terminal (src/log/progress.ts); otherwise nothing is measured.
import { lstat, readdir } from 'node:fs/promises';
import { progressEnabled, startProgress, type FileCount } from '../log/progress.js';
import { loadManifest, manifestEntries } from './manifest.js';
import { fromPathKey, toBytes, withinBytes } from '../files/byte-path.js';
import type { ModuleConfig } from '../config/types.js';

export interface RestoreTotals {
  bytes: number;
  files: number;
}

// The regular files of a snapshot's manifest (those at or below `within`, when given); undefined when
// this host has no manifest of it. The whole snapshot's totals are in the manifest's header; those below
// a path come from one pass over the entries (a stream: memory stays flat).
export async function manifestTotals(module: Pick<ModuleConfig, 'stateDir'>, repository: string, snapshotId: string, within?: string | Buffer): Promise<RestoreTotals | undefined> {
  const manifest = loadManifest(module, repository, snapshotId);
  if (!manifest) return undefined;
  if (within === undefined) return { bytes: manifest.header.bytes, files: manifest.header.files };
  const root = toBytes(within);
  const totals: RestoreTotals = { bytes: 0, files: 0 };
  for await (const entry of manifestEntries(manifest.file)) {
    if (entry.type !== 'file' || !withinBytes(fromPathKey(entry.path), root)) continue;
    totals.bytes += entry.size ?? 0;
    totals.files += 1;
  }
  return totals;
}

// Runs a restore into `dir` with a bar labelled `label` that follows what lands in `dir`; `totals` is
// asked only when a bar is shown (a manifest that cannot be read only costs the percentage).
export async function withRestoreProgress<T>(label: string, dir: string | Buffer, getTotals: () => Promise<RestoreTotals | undefined>, restore: () => Promise<T>): Promise<T> {
  if (!progressEnabled()) return restore();
  let totals: RestoreTotals | undefined;
  try {
    totals = await getTotals();
  } catch {
    totals = undefined;
  }
  const bar = startProgress(label, totals?.bytes);
  let running = true;
  const follow = async () => {
    while (running) {
      const started = Date.now();
      const seen = await measure(toBytes(dir));
      if (!running) return;
      // More than the manifest holds (streamed dumps are not in it): the total grows with it.
      const files: FileCount = { done: seen.files, total: totals && Math.max(totals.files, seen.files) };
      bar.update(seen.bytes, totals && Math.max(totals.bytes, seen.bytes), files);
      // A walk that took long (many files) is repeated less often.
      await new Promise((resolve) => setTimeout(resolve, Math.max(1000, 2 * (Date.now() - started))).unref());
    }
  };
  void follow();
  try {
    return await restore();
  } finally {
    running = false;
    bar.done();
  }
}

// Bytes and count of the regular files below `dir` (what vanished or cannot be read meanwhile is skipped).
async function measure(dir: Buffer): Promise<RestoreTotals> {
  const seen: RestoreTotals = { bytes: 0, files: 0 };
  const walk = async (folder: Buffer): Promise<void> => {
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true, encoding: 'buffer' });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = Buffer.concat([folder, Buffer.from('/'), entry.name]);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        try {
          seen.bytes += (await lstat(full)).size;
          seen.files += 1;
        } catch {
          // gone again (a provider's temporary file)
        }
      }
    }
  };
  await walk(dir);
  return seen;
}
