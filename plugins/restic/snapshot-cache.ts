// What a local restic repository's snapshots are (id, time, host, tags, paths), remembered in the state dir
// so that choosing the snapshot of a restore (`latest`, an id, a run's dump snapshots) costs no restic run:
// every restic run derives the repository key first (~0.5 s on a small machine), which is most of a small
// restore's time. A snapshot's metadata never changes (its id is the hash of its content), and the local
// repository's snapshots/ folder says which snapshots exist: the cache answers only when it knows every id
// in that folder (and leaves out the ids gone from it); otherwise the caller lists with restic and replaces
// the cache. Snapshots Lifeboat makes are added as it makes them. Remote repositories have no cache.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// One snapshot as `restic snapshots --json` prints it (the fields Lifeboat reads).
export interface RawSnapshot {
  id: string;
  time: string;
  hostname?: string;
  tags?: string[] | null;
  paths?: string[];
}

export interface SnapshotCache {
  // Every snapshot of the repository, when the cache knows each one in its snapshots/ folder.
  read(): RawSnapshot[] | undefined;
  // Replaces the cache with a complete listing.
  replace(snapshots: RawSnapshot[]): void;
  // Adds a snapshot just made (given by its short id; the full one is read from the folder).
  add(shortId: string, snapshot: Omit<RawSnapshot, 'id'>): void;
}

const ID = /^[0-9a-f]{64}$/;

// The cache of the repository at `repository` (a local folder), kept under `cacheDir`.
export function snapshotCache(repository: string, cacheDir: string): SnapshotCache {
  const file = path.join(cacheDir, `${createHash('sha256').update(repository).digest('hex').slice(0, 32)}.json`);
  // The ids in the repository's snapshots/ folder; undefined when it cannot be read (restic then says why).
  const present = (): string[] | undefined => {
    try {
      return readdirSync(path.join(repository, 'snapshots')).filter((name) => ID.test(name));
    } catch {
      return undefined;
    }
  };
  const load = (): Map<string, RawSnapshot> => {
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { repository?: string; snapshots?: RawSnapshot[] };
      if (parsed.repository !== repository || !Array.isArray(parsed.snapshots)) return new Map();
      return new Map(parsed.snapshots.filter((s) => typeof s?.id === 'string' && typeof s.time === 'string').map((s) => [s.id, s]));
    } catch {
      return new Map();
    }
  };
  const save = (snapshots: Iterable<RawSnapshot>) => {
    try {
      mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
      const temporary = `${file}.${process.pid}.tmp`;
      writeFileSync(temporary, JSON.stringify({ repository, snapshots: [...snapshots] }), { mode: 0o600 });
      renameSync(temporary, file);
    } catch {
      // only a cache: the next read lists with restic
    }
  };
  return {
    read() {
      const ids = present();
      if (!ids) return undefined;
      const known = load();
      if (!ids.every((id) => known.has(id))) return undefined;
      return ids.map((id) => known.get(id)!);
    },
    replace(snapshots) {
      save(snapshots.filter((s) => ID.test(s.id)));
    },
    add(shortId, snapshot) {
      const ids = present() ?? [];
      const full = ids.filter((id) => id.startsWith(shortId));
      if (full.length !== 1) return;
      const known = load();
      known.set(full[0], { ...snapshot, id: full[0] });
      save(ids.filter((id) => known.has(id)).map((id) => known.get(id)!));
    },
  };
}
