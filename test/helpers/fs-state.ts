// Describes a directory tree exactly (type, mode, size, sha256, symlink target, mtime, hard links) so
// tests can compare a restore with the original.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

// One line per entry, sorted; mtimes in whole milliseconds; directories' mtimes optional. FIFOs, sockets
// and devices are listed as `special` and never opened (reading a FIFO would block the test).
export function describeTree(root: string, options: { dirMtimes?: boolean } = {}): string[] {
  const lines: string[] = [];
  const inodes = new Map<number, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      const rel = path.relative(root, file);
      const st = lstatSync(file);
      const mode = (st.mode & 0o7777).toString(8);
      const mtime = Math.floor(st.mtimeMs);
      if (st.isSymbolicLink()) lines.push(`${rel} link -> ${readlinkSync(file)}`);
      else if (st.isDirectory()) {
        lines.push(`${rel} dir ${mode}${options.dirMtimes ? ` ${mtime}` : ''}`);
        walk(file);
      } else if (!st.isFile()) lines.push(`${rel} special ${mode}`);
      else {
        const hash = createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16);
        const link = st.nlink > 1 ? (inodes.get(st.ino) ? ` hardlink-of ${inodes.get(st.ino)}` : ' hardlinked') : '';
        if (st.nlink > 1 && !inodes.has(st.ino)) inodes.set(st.ino, rel);
        lines.push(`${rel} file ${mode} ${st.size} ${hash} ${mtime}${link}`);
      }
    }
  };
  walk(root);
  return lines;
}
