// Restore drills on a schedule must keep happening and keep passing: `check` fails when the last drill
// failed or the last successful one is older than twice the drill schedule's interval.
import type { ModuleStatus } from '../report/status.js';
import { formatDuration, formatTime } from '../log/format.js';
import { fail, ok, warn, type Finding } from './findings.js';
import { datedInFuture } from './repositories.js';

// One finding per enabled module with verify.schedule.
export function checkDrills(statuses: ModuleStatus[]): Finding[] {
  const findings: Finding[] = [];
  for (const s of statuses) {
    const v = s.verify;
    if (!s.enabled || !v.schedule) continue;
    const subject = `module ${s.module} (restore drill)`;
    if (v.result === 'failure' || v.result === 'interrupted') findings.push(fail(subject, `the last drill ${v.result === 'failure' ? 'FAILED' : 'was interrupted'} (${formatTime(v.last)}): ${v.error ?? 'no reason recorded'}; run \`lifeboat verify ${s.module}\` to see why`));
    else if (v.overdue && !v.lastSuccess) findings.push(fail(subject, `OVERDUE: no drill has run yet, and the first backup (${formatTime(v.firstBackup)}) is more than twice its schedule interval (${formatDuration(v.overdueAfterSeconds)}) ago; run \`lifeboat verify ${s.module}\` now, and is the verify job installed (\`lifeboat schedule --install\`)?`));
    else if (v.overdue) findings.push(fail(subject, `OVERDUE: the last successful drill ended ${formatTime(v.lastSuccess)}, more than twice its schedule interval (${formatDuration(v.overdueAfterSeconds)}) ago; is the verify job installed (\`lifeboat schedule --install\`)?`));
    else if (v.lastSuccess && datedInFuture([{ time: v.lastSuccess }]).length > 0) {
      findings.push(warn(subject, `the last drill is dated ${formatTime(v.lastSuccess)}, after this host's clock: the clock was wrong when it ran (or is wrong now), and it counts as recent until then; run \`lifeboat verify ${s.module}\` once the clock is right`));
    } else if (!v.lastSuccess) findings.push(warn(subject, `never run yet (schedule "${v.schedule}", next ${formatTime(v.nextRun)})`));
    else findings.push(ok(subject, `last drill passed ${formatTime(v.lastSuccess)}`));
  }
  return findings;
}
