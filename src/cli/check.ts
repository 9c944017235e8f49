// `lifeboat check`: the preflight (tools, files, hooks, folders, repositories, databases), stray entries
// and broken modules, then each module's history (stale backups, overdue or failed drills).
import path from 'node:path';
import { createLogger, printJson, renderTable, type GlobalOptions } from './common.js';
import { loadModules, loadRoot, type BrokenModule } from '../config/load.js';
import { moduleStatuses } from '../report/status.js';
import { formatDuration } from '../log/format.js';
import type { ModuleConfig, RootConfig } from '../config/types.js';
import { fail, ok, warn, type Finding } from '../check/findings.js';
import { preflight } from '../check/preflight.js';
import { checkDrills } from '../check/drills.js';
import { checkNotify } from '../check/notify.js';

// Runs every check and prints each finding once, in a table (or JSON); exit 1 when anything failed.
export async function checkCommand(_args: unknown[], options: GlobalOptions): Promise<number> {
  const log = createLogger(options);
  const root = loadRoot(options);
  const broken: BrokenModule[] = [];
  const all = loadModules(root, [], broken);
  const modules = all.filter((m) => m.enabled);
  const findings: Finding[] = [ok(root.file ?? path.join(root.root, 'lifeboat.yaml'), `configuration valid (${modules.length} enabled module(s))`)];
  for (const warning of root.warnings ?? []) findings.push(strayFinding(warning));
  for (const module of broken) for (const problem of module.problems) findings.push(fail(`module ${module.name}`, `cannot run: ${problem}`));
  findings.push(...(await preflight(root, modules, log)));
  findings.push(...(await checkNotify(root)));
  for (const module of all) if (!module.enabled) findings.push(warn(`module ${module.name}`, 'DISABLED (enabled: false): it is never backed up'));
  findings.push(...checkStaleness(root, modules));
  findings.push(...checkDrills(moduleStatuses(root.stateDir, modules)));
  const failed = findings.some((f) => f.level === 'fail');
  if (options.json) printJson({ ok: !failed, findings });
  else process.stdout.write(renderFindings(findings));
  return failed ? 1 : 0;
}

// The findings as a table: RESULT, WHAT, DETAILS.
export function renderFindings(findings: Finding[]): string {
  return renderTable(['RESULT', 'WHAT', 'DETAILS'], findings.map((f) => [f.level.toUpperCase(), f.subject, f.message]));
}

// A stray-entry warning ("modules/m.bak/ is not ...") as a finding about its path.
function strayFinding(warning: string): Finding {
  // the subject is the entry's name, shell-quoted when it holds a space
  const [, subject, message] = /^('(?:[^']|'\\'')*'|\S+) ([\s\S]*)$/.exec(warning) ?? [warning, warning, ''];
  return warn(subject, message);
}

// Modules whose last success is older than twice their schedule's interval (or that never succeeded
// but failed) fail the check; a scheduled module that never ran is a warning.
function checkStaleness(root: RootConfig, modules: ModuleConfig[]): Finding[] {
  const findings: Finding[] = [];
  for (const s of moduleStatuses(root.stateDir, modules)) {
    const subject = `module ${s.module}`;
    if (!s.schedule) findings.push(warn(subject, 'no schedule (schedule: in module.yaml or defaults.schedule in lifeboat.yaml): never backed up on its own'));
    else if (s.stale && s.lastSuccess) findings.push(fail(subject, `STALE: last success ${formatDuration(s.ageSeconds)} ago, older than twice its schedule interval (${formatDuration(s.staleAfterSeconds)}); last failure: ${s.lastError ?? 'none recorded'}`));
    else if (s.stale) findings.push(fail(subject, `STALE: never backed up successfully; last failure: ${s.lastError ?? 'unknown'}`));
    else if (s.state === 'never-run') findings.push(warn(subject, 'never backed up yet'));
    else findings.push(ok(subject, `last success ${formatDuration(s.ageSeconds)} ago`));
  }
  return findings;
}
