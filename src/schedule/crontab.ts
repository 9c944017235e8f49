// crontab lines from cron schedules: one `lifeboat backup <module>` line per module (and one
// `lifeboat verify --wait N <module>` line for a module with a drill schedule), in a marked block
// so an install replaces only Lifeboat's own lines of a user's crontab.
import { quoteArg } from '../process/exec.js';

export const BEGIN_MARK = '# BEGIN lifeboat (written by `lifeboat schedule --cron --install`)';
export const END_MARK = '# END lifeboat';
// cron's own PATH is /usr/bin:/bin; restic, borg and the database tools may live in sbin or local.
// The PATH a scheduled run has: this line in /etc/cron.d, and systemd's default for services.
export const SCHEDULED_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const CRON_PATH = `PATH=${SCHEDULED_PATH}`;

export interface ScheduledModule {
  module: string;
  schedule: string;
  // What the job runs: the backup (default) or the restore drill.
  action?: 'backup' | 'verify';
}

// How long a scheduled restore drill waits for the module's lock (a backup or another run holding it)
// before it gives up with exit 3: six hours, longer than a nightly backup takes. Backup jobs do not wait:
// a backup still running when the next one is due has the fresh data already, and waiting backups would
// pile up behind a slow one.
export const DRILL_WAIT_SECONDS = 21600;

// The arguments after Lifeboat's command for one job: `backup MODULE`, `verify --wait N MODULE`.
export function jobArgs(action: 'backup' | 'verify' | undefined, module: string): string[] {
  return action === 'verify' ? ['verify', '--wait', String(DRILL_WAIT_SECONDS), module] : ['backup', module];
}

// The lines of a user's crontab (no user column); with `user`, the /etc/cron.d format. Each job runs with
// -q: cron mails whatever a job prints, and a quiet run prints nothing unless something failed (errors on
// stderr, the failed module's line), so the mail comes on failure only.
// cron turns an unescaped % of the command into a newline (the rest is the job's stdin): each % of a
// path is written \% (crontab(5)), which cron gives the shell as a plain %.
export function crontabLines(modules: ScheduledModule[], command: string[], user?: string): string[] {
  const run = [...command.map(quoteArg), '-q'].join(' ');
  return modules.map(({ module, schedule, action }) => `${schedule} ${user ? `${user} ` : ''}${`${run} ${jobArgs(action, module).map(quoteArg).join(' ')}`.replace(/%/g, '\\%')}`);
}

// Syntax croner accepts but Debian's cron (Vixie cron) does not: L, W and # (and ?). Such a line is
// accepted by crontab and never runs. The syntax named, or undefined for a plain expression.
export function cronOnlySyntax(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) return undefined;
  const [, , dayOfMonth, , dayOfWeek] = fields;
  if (/L/i.test(dayOfMonth)) return 'L (last day)';
  if (/W/i.test(dayOfMonth)) return 'W (nearest weekday)';
  if (dayOfWeek.includes('#')) return '# (nth weekday of the month)';
  if (/L/i.test(dayOfWeek)) return 'L (last weekday of the month)';
  if (fields.some((field) => field.includes('?'))) return '? (no specific value)';
  return undefined;
}

// The line naming the root an installed file (cron.d file, crontab block, service template) was written
// for, so an install from another root refuses to replace it.
export function rootMark(root: string): string {
  return `# root: ${JSON.stringify(root)}`;
}

// The root named in an installed file's text (between Lifeboat's marks, when it has them), or undefined
// for a file without one (an older Lifeboat's, or not Lifeboat's).
export function writtenForRoot(text: string): string | undefined {
  const begin = text.indexOf(BEGIN_MARK);
  const end = begin >= 0 ? text.indexOf(END_MARK, begin) : -1;
  const own = begin >= 0 && end > begin ? text.slice(begin, end) : text;
  const found = /^# root: (".*")$/m.exec(own);
  if (!found) return undefined;
  try {
    return JSON.parse(found[1]) as string;
  } catch {
    return undefined;
  }
}

// A whole /etc/cron.d file: the root it schedules, environment lines, then the jobs.
export function cronDFile(modules: ScheduledModule[], command: string[], root: string): string {
  return [BEGIN_MARK, rootMark(root), 'SHELL=/bin/sh', CRON_PATH, ...crontabLines(modules, command, 'root'), END_MARK, ''].join('\n');
}

// A user's crontab with Lifeboat's block replaced (or appended); everything else is kept as it was.
export function mergeCrontab(existing: string, modules: ScheduledModule[], command: string[], root: string): string {
  // No PATH= line here: in a user's crontab it would change the lines that follow the block too.
  const block = [BEGIN_MARK, rootMark(root), ...crontabLines(modules, command), END_MARK];
  const lines = existing.split('\n');
  const begin = lines.indexOf(BEGIN_MARK);
  const end = lines.indexOf(END_MARK, begin);
  const kept = begin >= 0 && end > begin ? [...lines.slice(0, begin), ...block, ...lines.slice(end + 1)] : [...lines.filter((line, i) => line !== '' || i < lines.length - 1), ...block];
  return `${kept.join('\n').replace(/\n+$/, '')}\n`;
}
