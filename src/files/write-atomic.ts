// Writes a whole file or nothing: a temporary name in the same folder, then rename(2), so a reader
// (cron, systemd, node_exporter, a browser) never sees half a file.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// Replaces `file` atomically with `text` (mode applies to the new file).
export function writeFileAtomic(file: string, text: string | Uint8Array, mode = 0o644): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  try {
    writeFileSync(temp, text, { mode });
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
