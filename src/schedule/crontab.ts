// crontab lines from cron schedules: one `lifeboat backup <module>` line per module (and one
// `lifeboat verify <module>` line for a module with a drill schedule), in a marked block
// so an install replaces only Lifeboat's own lines of a user's crontab.
import { quoteArg } from '../process/exec.js';

export const BEGIN_MARK = '# BEGIN lifeboat (written by `lifeboat schedule --cron --install`)';
export const END_MARK = '# END lifeboat';
// cron's own PATH is /usr/bin:/bin; restic, borg and the database tools may live in sbin or local.
const CRON_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface ScheduledModule {
  module: string;
  schedule: string;
  // What the job runs: the backup (default) or the restore drill.
  action?: 'backup' | 'verify';
}

// The lines of a user's crontab (no user column); with `user`, the /etc/cron.d format.
export function crontabLines(modules: ScheduledModule[], command: string[], user?: string): string[] {
  const run = command.map(quoteArg).join(' ');
  return modules.map(({ module, schedule, action }) => `${schedule} ${user ? `${user} ` : ''}${run} ${action ?? 'backup'} ${quoteArg(module)}`);
}

// A whole /etc/cron.d file: environment lines, then the jobs.
export function cronDFile(modules: ScheduledModule[], command: string[]): string {
  return [BEGIN_MARK, 'SHELL=/bin/sh', CRON_PATH, ...crontabLines(modules, command, 'root'), END_MARK, ''].join('\n');
}

// A user's crontab with Lifeboat's block replaced (or appended); everything else is kept as it was.
export function mergeCrontab(existing: string, modules: ScheduledModule[], command: string[]): string {
  // No PATH= line here: in a user's crontab it would change the lines that follow the block too.
  const block = [BEGIN_MARK, ...crontabLines(modules, command), END_MARK];
  const lines = existing.split('\n');
  const begin = lines.indexOf(BEGIN_MARK);
  const end = lines.indexOf(END_MARK, begin);
  const kept = begin >= 0 && end > begin ? [...lines.slice(0, begin), ...block, ...lines.slice(end + 1)] : [...lines.filter((line, i) => line !== '' || i < lines.length - 1), ...block];
  return `${kept.join('\n').replace(/\n+$/, '')}\n`;
}
