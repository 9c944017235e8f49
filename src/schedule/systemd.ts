// systemd units from cron schedules: a template oneshot service (lifeboat-backup@.service) and one timer
// per module whose OnCalendar= lines are translated from the module's cron expression.
import { parseSchedule, scheduleInterval } from '../config/cron.js';
import { quoteArg } from '../process/exec.js';
import { jobArgs, rootMark } from './crontab.js';

export const SERVICE_TEMPLATE = 'lifeboat-backup@.service';
export const VERIFY_TEMPLATE = 'lifeboat-verify@.service';
type JobAction = 'backup' | 'verify';
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
// croner marks a plain weekday with every "nth" bit set; other values are MON#2-style selections.
const ANY_OCCURRENCE = 0b111111;

export interface UnitFile {
  name: string;
  text: string;
}

// Translates a cron expression into OnCalendar= values (two when both day fields are restricted:
// cron runs when either matches, systemd needs one line for each).
export function cronToOnCalendar(expression: string): string[] {
  const { pattern } = parseSchedule(expression);
  if (pattern.lastWeekday || pattern.nearestWeekdays.some(Boolean)) throw untranslatable(expression, 'W (nearest weekday)');
  if (pattern.dayOfWeek.some((value) => value !== 0 && value !== ANY_OCCURRENCE)) throw untranslatable(expression, '# (nth weekday of the month)');
  const minutes = listOf(pattern.minute, 0, 59);
  const hours = listOf(pattern.hour, 0, 23);
  const months = listOf(pattern.month, 1, 12);
  const time = `${hours}:${minutes}:00`;
  const days: string[] = [];
  if (!pattern.starDOM || pattern.starDOW) {
    const dom = pattern.day.some(Boolean) ? listOf(pattern.day, 1, 31) : undefined;
    if (dom) days.push(`*-${months}-${dom}`);
    if (pattern.lastDayOfMonth) days.push(`*-${months}~01`);
  }
  const weekdays = weekdayList(pattern.dayOfWeek);
  const values = days.map((date) => `${date} ${time}`);
  if (!pattern.starDOW) values.push(`${weekdays} *-${months}-* ${time}`);
  return values;
}

// The template service: one oneshot run of `lifeboat backup <module>` (or verify) at low CPU and I/O priority.
export function serviceUnit(command: string[], root: string, action: JobAction = 'backup'): UnitFile {
  const text = `# Written by \`lifeboat schedule --systemd --install\`; regenerate rather than edit.
${rootMark(root)}
[Unit]
Description=Lifeboat ${action === 'verify' ? 'restore drill' : 'backup'} of module %i
Documentation=man:systemd.timer(5)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=${[...command.map((arg) => arg.replace(/%/g, '%%')), ...jobArgs(action, '%i')].map(quoteArg).join(' ')}
Nice=19
IOSchedulingClass=best-effort
IOSchedulingPriority=7
CPUSchedulingPolicy=batch
`;
  return { name: action === 'verify' ? VERIFY_TEMPLATE : SERVICE_TEMPLATE, text };
}

// One module's timer: its OnCalendar= lines, catch-up after downtime, a random delay against thundering herds.
export function timerUnit(module: string, expression: string, action: JobAction = 'backup'): UnitFile {
  const calendars = cronToOnCalendar(expression);
  const delay = randomizedDelay(expression);
  const text = `# Written by \`lifeboat schedule --systemd --install\`; regenerate rather than edit.
[Unit]
Description=Lifeboat ${action === 'verify' ? 'restore drill' : 'backup'} of module ${module} (cron "${expression}")

[Timer]
${calendars.map((value) => `OnCalendar=${value}`).join('\n')}
Persistent=true
RandomizedDelaySec=${delay}

[Install]
WantedBy=timers.target
`;
  return { name: timerName(module, action), text };
}

export function timerName(module: string, action: JobAction = 'backup'): string {
  return `lifeboat-${action}@${module}.timer`;
}

// Up to five minutes of random delay, never more than a tenth of the schedule's interval.
export function randomizedDelay(expression: string): number {
  const interval = scheduleInterval(expression) / 1000;
  return Math.max(0, Math.min(300, Math.floor(interval / 10)));
}

// Renders the set flags of a croner field as systemd's list syntax: `*`, `05`, `01..05`, `00,15,30,45`.
function listOf(flags: number[], min: number, max: number): string {
  const values: number[] = [];
  for (let value = min; value <= max; value++) if (flags[value - (min === 1 ? 1 : 0)]) values.push(value);
  if (values.length === max - min + 1) return '*';
  return ranges(values).map(([from, to]) => (from === to ? pad(from) : to === from + 1 ? `${pad(from)},${pad(to)}` : `${pad(from)}..${pad(to)}`)).join(',');
}

// Weekdays as systemd names: Mon..Fri, Sat,Sun.
function weekdayList(flags: number[]): string {
  const days = [1, 2, 3, 4, 5, 6, 0].filter((day) => flags[day]);
  return ranges(days.map((day) => (day === 0 ? 7 : day)))
    .map(([from, to]) => {
      const name = (day: number) => WEEKDAYS[day % 7];
      return from === to ? name(from) : to === from + 1 ? `${name(from)},${name(to)}` : `${name(from)}..${name(to)}`;
    })
    .join(',');
}

// Groups sorted numbers into [from, to] runs of consecutive values.
function ranges(values: number[]): Array<[number, number]> {
  const result: Array<[number, number]> = [];
  for (const value of values) {
    const last = result.at(-1);
    if (last && value === last[1] + 1) last[1] = value;
    else result.push([value, value]);
  }
  return result;
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

// A reason: `schedule --systemd` gathers them per module into one CONFIG_INVALID error.
function untranslatable(expression: string, what: string): Error {
  return new Error(`cron expression "${expression}" uses ${what}, which systemd's OnCalendar= cannot express; use \`lifeboat schedule --cron\` or a simpler expression`);
}
