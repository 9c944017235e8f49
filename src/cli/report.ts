// `lifeboat report --html FILE [--days N]`: writes the self-contained HTML report of every module.
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { createLogger, parseCount, type GlobalOptions } from './common.js';
import { loadModules, loadRoot, type BrokenModule } from '../config/load.js';
import { journalRuns } from '../state/journal.js';
import { brokenStatuses, moduleStatuses } from '../report/status.js';
import { renderReport } from '../report/html.js';
import { writeFileAtomic } from '../files/write-atomic.js';

interface ReportOptions extends GlobalOptions {
  html: string;
  days?: string;
}

// Renders the journal of the last --days days (default 90) into one HTML file.
export async function reportCommand(_args: unknown[], options: ReportOptions): Promise<number> {
  const log = createLogger(options);
  const root = loadRoot(options);
  // A module whose module.yaml cannot be loaded is shown too, as BROKEN with its problems: it cannot run.
  const broken: BrokenModule[] = [];
  const modules = loadModules(root, [], broken);
  const days = Math.max(1, parseCount('--days', options.days, 90));
  const generated = new Date();
  const from = new Date(generated.getTime() - days * 86_400_000);
  const runs = journalRuns(root.stateDir).filter((run) => Date.parse(run.started) >= from.getTime());
  // The time axis starts a little before the first run shown, so a young history fills the width.
  const earliest = runs.length ? Math.min(...runs.map((run) => Date.parse(run.started))) : from.getTime();
  const axisFrom = new Date(Math.max(from.getTime(), earliest - Math.max(60_000, (generated.getTime() - earliest) * 0.05)));
  const html = renderReport({ host: root.host, generated, from: axisFrom, statuses: [...moduleStatuses(root.stateDir, modules, generated), ...brokenStatuses(root.stateDir, broken, generated)].sort((a, b) => a.module.localeCompare(b.module)), runs });
  const file = path.resolve(options.html);
  mkdirSync(path.dirname(file), { recursive: true });
  // The page shows error messages (masked when journalled) and module names: readable by its owner only.
  writeFileAtomic(file, html, 0o600);
  log.info(`wrote the report of ${modules.length + broken.length} module(s), ${runs.length} run(s) in ${days} day(s), to ${file}`);
  return 0;
}
