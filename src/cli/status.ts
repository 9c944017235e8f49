// `lifeboat status [--json] [--prometheus FILE]`: per module the last success and failure, age, size,
// duration, next scheduled run and last restore drill; a table, JSON, or a node_exporter textfile.
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { createLogger, printJson, renderTable, type GlobalOptions } from './common.js';
import { loadModules, loadRoot, type BrokenModule } from '../config/load.js';
import { brokenStatuses, moduleStatuses, type ModuleStatus } from '../report/status.js';
import { renderPrometheus } from '../report/prometheus.js';
import { writeFileAtomic } from '../files/write-atomic.js';
import { formatBytes, formatDuration, formatTime } from '../log/format.js';

interface StatusOptions extends GlobalOptions {
  prometheus?: string;
}

// Prints the status of every module (disabled ones too); exit 0 unless the configuration is bad.
export async function statusCommand(_args: unknown[], options: StatusOptions): Promise<number> {
  const log = createLogger(options);
  const root = loadRoot(options);
  const broken: BrokenModule[] = [];
  const loaded = loadModules(root, [], broken);
  // A module whose module.yaml is invalid is a BROKEN row (and lifeboat_module_config_ok 0), its problems
  // on stderr: it cannot run, which is what the operator must see first.
  const statuses = [...moduleStatuses(root.stateDir, loaded), ...brokenStatuses(root.stateDir, broken)].sort((a, b) => a.module.localeCompare(b.module));
  for (const module of broken) for (const problem of module.problems) log.error(`module ${module.name} is BROKEN (it cannot run): ${problem}`);
  if (options.prometheus) {
    const file = path.resolve(options.prometheus);
    mkdirSync(path.dirname(file), { recursive: true });
    // node_exporter runs as another user: the textfile is world-readable (it holds no secrets).
    writeFileAtomic(file, renderPrometheus(statuses), 0o644);
    log.info(`wrote metrics of ${statuses.length} module(s) to ${file}`);
    if (!options.json) return 0;
  }
  if (options.json) {
    printJson({ modules: statuses });
    return 0;
  }
  if (statuses.length === 0) {
    process.stdout.write('no modules\n');
    return 0;
  }
  process.stdout.write(renderTable(['MODULE', 'STATE', 'LAST SUCCESS', 'AGE', 'SIZE', 'DURATION', 'LAST FAILURE', 'NEXT RUN', 'VERIFIED'], statuses.map(row)));
  return 0;
}

// One table row; STATE in capitals when something needs attention.
function row(s: ModuleStatus): string[] {
  const state = s.state === 'ok' || s.state === 'running' ? s.state : s.state === 'broken' ? `BROKEN (${brokenFile(s)})` : s.state.toUpperCase();
  const last = s.verify.result ? `${s.verify.result === 'success' ? 'ok' : s.verify.result.toUpperCase()} ${formatTime(s.verify.last)}` : s.verify.schedule ? 'never' : '-';
  const verified = s.verify.overdue ? `OVERDUE (${last})` : last;
  return [s.module, state, formatTime(s.lastSuccess), formatDuration(s.ageSeconds), formatBytes(s.bytes), formatDuration(s.durationMs === null ? null : s.durationMs / 1000), formatTime(s.lastFailure), formatTime(s.nextRun), verified];
}

// The file a broken module's first problem names (modules/<m>/module.yaml), for the STATE column.
function brokenFile(s: ModuleStatus): string {
  return /^(\S+\.(?:ya?ml|json)):/.exec(s.configProblems?.[0] ?? '')?.[1] ?? `modules/${s.module}/module.yaml`;
}
