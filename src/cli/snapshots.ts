// `lifeboat snapshots [MODULE]`: every snapshot of the module(s) in every repository they use, newest last.
import { createLogger, loadForCommand, printJson, renderTable, type GlobalOptions } from './common.js';
import { repositoriesFor } from '../lifecycle/repositories.js';
import { openProvider } from '../providers/registry.js';
import { kindOf } from '../providers/kinds.js';
import { shortId } from '../log/format.js';
import type { SnapshotKind } from '../providers/types.js';

interface SnapshotsOptions extends GlobalOptions {
  repo?: string[];
  host?: string;
}

// Lists snapshots as a table (with a KIND column: backup or safety) or as the JSON array the README shows.
export async function snapshotsCommand([name]: unknown[], options: SnapshotsOptions): Promise<number> {
  const log = createLogger(options);
  const { root, modules, broken } = loadForCommand(options, name ? [name as string] : [], log);
  // A module whose module.yaml cannot be loaded has snapshots nobody can list now: the listing is
  // incomplete, so it ends with exit 1 (what it shows of the other modules still stands).
  const code = broken.length > 0 ? 1 : 0;
  const rows: Array<{ id: string; time: string; module: string; repository: string; host: string | null; kind: SnapshotKind; tags: string[] }> = [];
  for (const module of modules) {
    for (const repository of repositoriesFor(root, module, options.repo)) {
      const provider = await openProvider(repository, root, (...v) => log.masker.add(...v));
      // Asked fresh (never a cache): a listing is how an operator sees the repository opens with its password.
      for (const s of await provider.list(module.name, { log, fresh: true })) {
        if (options.host && s.host !== options.host) continue;
        rows.push({ id: s.id, time: s.time, module: module.name, repository, host: s.host ?? null, kind: kindOf(s), tags: s.tags.filter((t) => !t.startsWith('module:')) });
      }
    }
  }
  rows.sort((a, b) => a.time.localeCompare(b.time));
  if (options.json) {
    printJson(rows.map(({ id, time, module, repository, host, kind }) => ({ id, time, module, repository, host, kind })));
    return code;
  }
  if (rows.length === 0) {
    process.stdout.write(broken.length > 0 ? `no snapshots of the modules that could be loaded (${broken.map((b) => b.name).join(', ')} cannot)\n` : 'no snapshots\n');
    return code;
  }
  const header = ['ID', 'TIME (UTC)', 'KIND', 'MODULE', 'REPOSITORY', 'HOST', 'TAGS'];
  process.stdout.write(renderTable(header, rows.map((r) => [shortId(r.id, 16), (r.time ? r.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : 'unknown'), r.kind, r.module, r.repository, r.host ?? '', r.tags.join(',')])));
  return code;
}
