// The end-of-run summary of `backup`, like `borgmatic --stats`: one line per module and repository with
// the files and bytes in the snapshot (from its manifest), the bytes the repository grew by (`stored`), the snapshots retention
// removed when known, and how long the module took. Printed unless -q, --json or --dry-run.
import type { ModuleConfig } from '../config/types.js';
import type { ModuleResult } from '../lifecycle/action.js';
import { loadManifest } from '../lifecycle/manifest.js';
import { formatBytes } from '../log/format.js';

// The summary lines of a backup run.
// `only`: the repositories given with --repo (default: each module's own).
export function summaryLines(results: ModuleResult[], modules: ModuleConfig[], only?: string[]): string[] {
  const lines: string[] = [];
  for (const result of results) {
    const module = modules.find((m) => m.name === result.module);
    const took = result.durationMs === undefined ? '' : `, ${(result.durationMs / 1000).toFixed(1)}s`;
    // Another run holds the module (the same cron line ran twice, a drill overlaps): expected, not a failure.
    if (result.locked) {
      lines.push(`summary ${result.module}: skipped: locked by ${result.lockedBy ?? 'another run'}${took}`);
      continue;
    }
    if (result.snapshots.length === 0) {
      lines.push(`summary ${result.module}: no snapshot (${result.ok ? (result.skipped ? 'skipped' : 'nothing written') : 'failed'})${took}`);
      continue;
    }
    for (const snapshot of result.snapshots) {
      const manifest = module ? loadManifest(module, snapshot.repository, snapshot.id)?.header : undefined;
      // What 60retention removed in this repository (none when it did not run: --no-retention, no retention).
      const removed = result.removed?.filter((gone) => gone.repository === snapshot.repository).length ?? 0;
      const pruned = result.pruned?.includes(snapshot.repository) ? ', pruned' : '';
      const removedText = `${removed ? `, ${removed} snapshot(s) removed` : ''}${pruned}`;
      const contents = manifest ? `${manifest.files} files, ${formatBytes(manifest.bytes)} total` : 'files and total unknown (no manifest)';
      lines.push(`summary ${result.module} ${snapshot.repository}: ${contents}, ${snapshot.bytes === undefined ? 'stored bytes unknown' : `${formatBytes(snapshot.bytes)} stored`}${removedText}${took}`);
    }
    // A run that wrote to some repositories and failed in others: a line for each of those too.
    if (!result.ok && module) {
      const wanted = only && only.length > 0 ? only : module.repositories;
      for (const repository of wanted.filter((name) => !result.snapshots.some((s) => s.repository === name))) lines.push(`summary ${result.module} ${repository}: no snapshot (failed)${took}`);
    }
  }
  return lines;
}
