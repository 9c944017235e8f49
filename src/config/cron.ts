// Cron expressions (five fields, as crontab(5), plus @daily and friends) through croner: validation,
// next runs, and the interval that `check` uses to call a module stale.
import { Cron, CronPattern } from 'croner';

// Only five-field expressions: a crontab line and a systemd timer both work in whole minutes.
const MODE = '5-part' as const;

export interface ParsedSchedule {
  expression: string;
  pattern: CronPattern;
  cron: Cron;
}

// Parses a cron expression or throws an Error whose message says what is wrong.
export function parseSchedule(expression: string): ParsedSchedule {
  const trimmed = expression.trim();
  const pattern = new CronPattern(trimmed, undefined, { mode: MODE });
  const cron = new Cron(trimmed, { paused: true, mode: MODE });
  return { expression: trimmed, pattern, cron };
}

// Why an expression is not a usable schedule, or undefined when it is; for config validation.
export function scheduleProblem(expression: string): string | undefined {
  try {
    const parsed = parseSchedule(expression);
    if (!parsed.cron.nextRun()) return `cron expression ${JSON.stringify(expression)} never runs`;
    return undefined;
  } catch (error) {
    const reason = (error as Error).message.replace(/^CronPattern: /, '');
    return `${JSON.stringify(expression)} is not a cron expression (${reason}); use five fields: minute hour day-of-month month day-of-week, e.g. "15 3 * * *"`;
  }
}

// The next time the schedule fires after `from`, or undefined.
export function nextRun(expression: string, from = new Date()): Date | undefined {
  return parseSchedule(expression).cron.nextRun(from) ?? undefined;
}

// How long the schedule may leave between two runs: the largest gap among its last eight runs
// before `at` (so a weekdays-only schedule counts the weekend, a monthly one the longest month).
export function scheduleInterval(expression: string, at = new Date()): number {
  const runs = parseSchedule(expression).cron.previousRuns(9, at).map((date) => date.getTime());
  let largest = 0;
  for (let i = 1; i < runs.length; i++) largest = Math.max(largest, runs[i - 1] - runs[i]);
  return largest;
}
