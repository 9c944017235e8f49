// The total a tar backup's progress bar counts towards: the bytes of every regular file the archive will
// hold (hard links once), from a walk with lstat only, run beside the backup while a bar is shown. The
// bar shows bytes and rate until the walk is done, then a percentage and an ETA.
import { lstat, readdir } from 'node:fs/promises';
import { fromBuffer, fromText, toBuffer, toText } from './names.js';
import { outermostPaths } from '../../src/files/outermost.js';

// Sums file sizes below the roots, skipping what isExcluded says; unreadable entries count as 0.
export async function walkTotal(roots: string[], isExcluded: (absolutePath: string) => boolean, signal?: AbortSignal): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  async function visit(absolute: string): Promise<void> {
    signal?.throwIfAborted();
    if (isExcluded(toText(absolute))) return;
    const stat = await lstat(toBuffer(absolute), { bigint: true }).catch(() => undefined);
    if (!stat) return;
    if (stat.isDirectory()) {
      const children = await readdir(toBuffer(absolute), { encoding: 'buffer' }).catch(() => [] as Buffer[]);
      for (const child of children) await visit(`${absolute === '/' ? '' : absolute}/${fromBuffer(child)}`);
    } else if (stat.isFile()) {
      if (stat.nlink > 1n) {
        const key = `${stat.dev}:${stat.ino}`;
        if (seen.has(key)) return;
        seen.add(key);
      }
      total += Number(stat.size);
    }
  }
  for (const root of outermostPaths(roots)) await visit(fromText(root));
  return total;
}
