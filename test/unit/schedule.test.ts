// Cron schedules: validation messages, next runs, the staleness interval, systemd and crontab output.
import { describe, expect, it } from 'vitest';
import { nextRun, parseSchedule, scheduleInterval, scheduleProblem } from '../../src/config/cron.js';
import { SERVICE_TEMPLATE, VERIFY_TEMPLATE, cronToOnCalendar, randomizedDelay, serviceUnit, timerName, timerUnit } from '../../src/schedule/systemd.js';
import { BEGIN_MARK, END_MARK, cronDFile, crontabLines, mergeCrontab } from '../../src/schedule/crontab.js';

const HINT = 'use five fields: minute hour day-of-month month day-of-week, e.g. "15 3 * * *"';

describe('cron expressions', () => {
  it('parses a trimmed five-field expression', () => {
    expect(parseSchedule('  15 3 * * *  ').expression).toBe('15 3 * * *');
    expect(nextRun(' 0 3 * * * ', new Date('2026-06-30T12:00:00Z'))?.toISOString()).toBe('2026-07-01T03:00:00.000Z');
  });

  it('says why an expression is not a schedule', () => {
    expect(scheduleProblem('0 3 * * *')).toBeUndefined();
    expect(scheduleProblem('@daily')).toBeUndefined();
    expect(scheduleProblem('0 0 30 2 *')).toBe('cron expression "0 0 30 2 *" never runs');
    expect(scheduleProblem('1 2 3 4 5 6')).toBe(`"1 2 3 4 5 6" is not a cron expression (mode '5-part' requires exactly 5 parts, but pattern '1 2 3 4 5 6' has 6 parts.); ${HINT}`);
    expect(scheduleProblem('nope')).toMatch(/^"nope" is not a cron expression \(invalid configuration format/);
    expect(scheduleProblem('nope')).not.toContain('CronPattern:');
    expect(scheduleProblem('nope')!.endsWith(`); ${HINT}`)).toBe(true);
  });

  it('the interval is the largest gap among the last runs (weekends count for weekdays)', () => {
    const at = new Date('2026-06-30T12:00:00Z');
    expect(scheduleInterval('0 3 * * 1-5', at)).toBe(3 * 86_400_000);
    expect(scheduleInterval('0 3 * * *', at)).toBe(86_400_000);
    expect(scheduleInterval('*/10 * * * *', at)).toBe(600_000);
    expect(scheduleInterval('0 0 1 * *', new Date('2026-04-15T00:00:00Z'))).toBe(31 * 86_400_000);
  });

  it('uses the current time by default', () => {
    expect(scheduleInterval('0 * * * *')).toBe(3_600_000);
    const next = nextRun('* * * * *')!;
    expect(next.getTime()).toBeGreaterThan(Date.now() - 1000);
    expect(next.getTime()).toBeLessThanOrEqual(Date.now() + 61_000);
  });
});

describe('systemd OnCalendar= translation', () => {
  it.each([
    ['15 3 * * *', ['*-*-* 03:15:00']],
    ['0 */6 * * *', ['*-*-* 00,06,12,18:00:00']],
    ['0,15,30,45 1-5 * 1,2 *', ['*-01,02-* 01..05:00,15,30,45:00']],
    ['0 3 1,15 * 1-5', ['*-*-01,15 03:00:00', 'Mon..Fri *-*-* 03:00:00']],
    ['0 3 * * 6,0', ['Sat,Sun *-*-* 03:00:00']],
    ['0 3 L * *', ['*-*~01 03:00:00']],
    ['0 3 * * MON-FRI', ['Mon..Fri *-*-* 03:00:00']],
    ['5 4 * * 1,2,3,5', ['Mon..Wed,Fri *-*-* 04:05:00']],
    ['5 4 * * 0', ['Sun *-*-* 04:05:00']],
    ['5 4 * * 5,6,0', ['Fri..Sun *-*-* 04:05:00']],
    ['5 4 * * 0,1', ['Mon,Sun *-*-* 04:05:00']],
    ['5 4 * * 1,3', ['Mon,Wed *-*-* 04:05:00']],
    ['0 0 1 * *', ['*-*-01 00:00:00']],
    ['@daily', ['*-*-* 00:00:00']],
    ['@weekly', ['Sun *-*-* 00:00:00']],
    ['0 3 1-3 * *', ['*-*-01..03 03:00:00']],
    ['0 3 30,31 12 *', ['*-12-30,31 03:00:00']],
    ['59 23 * 11-12 *', ['*-11,12-* 23:59:00']],
    ['0 3 * * *', ['*-*-* 03:00:00']],
    ['0 0-23 * * *', ['*-*-* *:00:00']],
    ['* * * * *', ['*-*-* *:*:00']],
    ['0 3 * 1-12 *', ['*-*-* 03:00:00']],
    ['0 3 1-31 * *', ['*-*-* 03:00:00']],
  ])('%s', (expression, expected) => {
    expect(cronToOnCalendar(expression)).toEqual(expected);
  });

  it.each([
    ['0 3 * * MON#2', '# (nth weekday of the month)'],
    ['0 3 * * 5L', '# (nth weekday of the month)'],
    ['0 3 15W * *', 'W (nearest weekday)'],
  ])('refuses %s', (expression, what) => {
    let error: unknown;
    try {
      cronToOnCalendar(expression);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect(() => cronToOnCalendar(expression)).toThrow(`cron expression "${expression}" uses ${what}, which systemd's OnCalendar= cannot express; use \`lifeboat schedule --cron\` or a simpler expression`);
  });

  it('the random delay is a tenth of the interval, at most five minutes', () => {
    expect(randomizedDelay('* * * * *')).toBe(6);
    expect(randomizedDelay('*/10 * * * *')).toBe(60);
    expect(randomizedDelay('@daily')).toBe(300);
  });

  it('writes the template service with escaped % and quoted arguments', () => {
    const unit = serviceUnit(['/usr/bin/lifeboat', '--root', '/e t%c'], '/e t%c');
    expect(unit.name).toBe(SERVICE_TEMPLATE);
    expect(unit.name).toBe('lifeboat-backup@.service');
    expect(unit.text).toBe(`# Written by \`lifeboat schedule --systemd --install\`; regenerate rather than edit.
# root: "/e t%c"
[Unit]
Description=Lifeboat backup of module %i
Documentation=man:systemd.timer(5)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/bin/lifeboat --root '/e t%%c' backup %i
Nice=19
IOSchedulingClass=best-effort
IOSchedulingPriority=7
CPUSchedulingPolicy=batch
`);
    const verify = serviceUnit(['lifeboat'], '/r', 'verify');
    expect(verify.name).toBe(VERIFY_TEMPLATE);
    expect(verify.name).toBe('lifeboat-verify@.service');
    expect(verify.text).toContain('Description=Lifeboat restore drill of module %i\n');
    expect(verify.text).toContain('ExecStart=lifeboat verify --wait 21600 %i\n');
  });

  it('writes a timer per module', () => {
    const unit = timerUnit('web', '0 3 1,15 * 1-5');
    expect(unit.name).toBe('lifeboat-backup@web.timer');
    expect(unit.text).toBe(`# Written by \`lifeboat schedule --systemd --install\`; regenerate rather than edit.
[Unit]
Description=Lifeboat backup of module web (cron "0 3 1,15 * 1-5")

[Timer]
OnCalendar=*-*-01,15 03:00:00
OnCalendar=Mon..Fri *-*-* 03:00:00
Persistent=true
RandomizedDelaySec=300

[Install]
WantedBy=timers.target
`);
    const verify = timerUnit('db', '*/10 * * * *', 'verify');
    expect(verify.name).toBe('lifeboat-verify@db.timer');
    expect(verify.text).toContain('Description=Lifeboat restore drill of module db (cron "*/10 * * * *")\n');
    expect(verify.text).toContain('RandomizedDelaySec=60\n');
    expect(timerName('a')).toBe('lifeboat-backup@a.timer');
    expect(timerName('a', 'verify')).toBe('lifeboat-verify@a.timer');
  });
});

describe('crontab', () => {
  const modules = [{ module: 'web', schedule: '15 3 * * *' }, { module: 'db', schedule: '0 4 * * *', action: 'verify' as const }];

  it('writes one line per module, with a user column for cron.d', () => {
    expect(crontabLines(modules, ['/usr/bin/lifeboat', '--root', '/a b'])).toEqual(["15 3 * * * /usr/bin/lifeboat --root '/a b' -q backup web", "0 4 * * * /usr/bin/lifeboat --root '/a b' -q verify --wait 21600 db"]);
    expect(crontabLines(modules.slice(0, 1), ['lifeboat'], 'root')).toEqual(['15 3 * * * root lifeboat -q backup web']);
  });

  it('writes a cron.d file with SHELL and PATH inside the marks', () => {
    expect(cronDFile(modules.slice(0, 1), ['lifeboat'], '/r')).toBe(
      `${BEGIN_MARK}\n# root: "/r"\nSHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n15 3 * * * root lifeboat -q backup web\n${END_MARK}\n`,
    );
    expect(BEGIN_MARK).toBe('# BEGIN lifeboat (written by `lifeboat schedule --cron --install`)');
    expect(END_MARK).toBe('# END lifeboat');
  });

  it('appends the block to a crontab without one, keeping its lines', () => {
    expect(mergeCrontab('', modules.slice(0, 1), ['lifeboat'], '/r')).toBe(`${BEGIN_MARK}\n# root: "/r"\n15 3 * * * lifeboat -q backup web\n${END_MARK}\n`);
    expect(mergeCrontab('MAILTO=a\n\n0 1 * * * x\n', modules.slice(0, 1), ['lifeboat'], '/r')).toBe(`MAILTO=a\n\n0 1 * * * x\n${BEGIN_MARK}\n# root: "/r"\n15 3 * * * lifeboat -q backup web\n${END_MARK}\n`);
  });

  it('replaces only its own block', () => {
    const existing = `A=1\n${BEGIN_MARK}\nold line\n${END_MARK}\n0 1 * * * x\n\n\n`;
    expect(mergeCrontab(existing, modules.slice(0, 1), ['lifeboat'], '/r')).toBe(`A=1\n${BEGIN_MARK}\n# root: "/r"\n15 3 * * * lifeboat -q backup web\n${END_MARK}\n0 1 * * * x\n`);
    const atStart = `${BEGIN_MARK}\nold\n${END_MARK}`;
    expect(mergeCrontab(atStart, [], ['lifeboat'], '/r')).toBe(`${BEGIN_MARK}\n# root: "/r"\n${END_MARK}\n`);
  });

  it('an END mark before the BEGIN mark does not count', () => {
    const existing = `${END_MARK}\n${BEGIN_MARK}\nold`;
    expect(mergeCrontab(existing, [], ['l'], '/r')).toBe(`${END_MARK}\n${BEGIN_MARK}\nold\n${BEGIN_MARK}\n# root: "/r"\n${END_MARK}\n`);
    expect(mergeCrontab(`${END_MARK}\nx\ny`, [], ['l'], '/r')).toBe(`${END_MARK}\nx\ny\n${BEGIN_MARK}\n# root: "/r"\n${END_MARK}\n`);
    // Without a BEGIN mark, an END mark as the very last line is kept as a user's line too.
    expect(mergeCrontab(`x\n${END_MARK}`, [], ['l'], '/r')).toBe(`x\n${END_MARK}\n${BEGIN_MARK}\n# root: "/r"\n${END_MARK}\n`);
    const onlyEnd = `x\n${END_MARK}\n`;
    expect(mergeCrontab(onlyEnd, [], ['l'], '/r')).toBe(`x\n${END_MARK}\n${BEGIN_MARK}\n# root: "/r"\n${END_MARK}\n`);
  });
});
