// A journal of multipart uploads in progress, one small file per upload under <state>/s3-uploads/:
// written when an upload starts, removed when it completes or is aborted. A run killed with SIGKILL, or
// one that could not reach S3 to abort, leaves its file; the next backup aborts those uploads first.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface PendingUpload {
  endpoint: string;
  bucket: string;
  key: string;
  uploadId: string;
  time: string;
}

export class PendingUploads {
  private readonly dir: string;

  // The journal under a state dir (created on the first record).
  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 's3-uploads');
  }

  // Notes an upload that has started.
  record(entry: Omit<PendingUpload, 'time'>): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileSync(this.file(entry.uploadId), JSON.stringify({ ...entry, time: new Date().toISOString() }), { mode: 0o600 });
  }

  // Forgets an upload that was completed or aborted.
  clear(uploadId: string): void {
    rmSync(this.file(uploadId), { force: true });
  }

  // Every upload still noted (unreadable files are skipped).
  entries(): PendingUpload[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const entries: PendingUpload[] = [];
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      try {
        entries.push(JSON.parse(readFileSync(path.join(this.dir, name), 'utf8')) as PendingUpload);
      } catch {
        // a half-written file of a run killed at that instant: nothing to abort by it
      }
    }
    return entries;
  }

  // One file per upload id (ids are opaque: keep only safe characters in the name).
  private file(uploadId: string): string {
    return path.join(this.dir, `${uploadId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
  }
}
