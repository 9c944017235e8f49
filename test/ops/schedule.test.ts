// `lifeboat schedule` for three different schedules: crontab lines, systemd units whose OnCalendar= values
// systemd-analyze accepts and whose next elapses are cron's next runs, --install, and bad schedules.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { lifeboat, makeRoot, PROJECT, type TestRoot } from '../helpers/root.js';
import { cronToOnCalendar } from '../../src/schedule/systemd.js';
import { parseSchedule } from '../../src/config/cron.js';
import { requireTool } from './tools.js';

const SCHEDULES: Record<string, string> = {
  blog: '15 2 * * *',
  chat: '*/15 8-18 * * 1-5',
  wiki: '30 4 1,15 * sun',
};
const EXPECTED_CALENDARS: Record<string, string[]> = {
  blog: ['*-*-* 02:15:00'],
  chat: ['Mon..Fri *-*-* 08..18:00,15,30,45:00'],
  wiki: ['*-*-01,15 04:30:00', 'Sun *-*-* 04:30:00'],
};

let t: TestRoot;
beforeEach(() => {
  t = makeRoot();
  for (const [name, schedule] of Object.entries(SCHEDULES)) {
    const data = path.join(t.dir, 'data', name);
    mkdirSync(data, { recursive: true });
    t.module(name, { folders: [data], schedule });
  }
});
afterEach(() => t.cleanup());

describe('schedule', () => {
  it('prints one crontab line per module with absolute node, launcher, root and state dir', async () => {
    const run = await lifeboat(t, ['schedule', '--cron']);
    expect(run.exitCode, run.stderr).toBe(0);
    const prefix = `${process.execPath} ${path.join(PROJECT, 'bin', 'lifeboat')} --root ${t.root} --state-dir ${t.stateDir}`;
    expect(run.stdout.split('\n')).toEqual(Object.entries(SCHEDULES).map(([name, schedule]) => `${schedule} ${prefix} -q backup ${name}`));
    // Which crontab they are for, on stderr (stdout can go straight into `crontab -`).
    expect(run.stderr).toBe("these lines are for a user's crontab (`crontab -e`, no user field); a file in /etc/cron.d needs the user after the time fields: `lifeboat schedule --cron --install` as root writes /etc/cron.d/lifeboat with it");
  });

  it('prints a low-priority oneshot service and a persistent, randomized timer per module', async () => {
    // every 15 minutes around the clock: the largest gap between its recent runs is 15 minutes whatever
    // the time of day (chat's runs on weekdays 8-18 have a night or a weekend between them)
    const feed = path.join(t.dir, 'data', 'feed');
    mkdirSync(feed, { recursive: true });
    t.module('feed', { folders: [feed], schedule: '*/15 * * * *' });
    const run = await lifeboat(t, ['schedule', '--systemd']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toContain('# lifeboat-backup@.service');
    expect(run.stdout).toMatch(/Type=oneshot\nExecStart=\S+ \S+ --root \S+ --state-dir \S+ backup %i\nNice=19\nIOSchedulingClass=best-effort\nIOSchedulingPriority=7/);
    for (const [name, calendars] of Object.entries(EXPECTED_CALENDARS)) {
      const timer = run.stdout.split(`# lifeboat-backup@${name}.timer\n`)[1].split('\n# ')[0];
      expect(timer.match(/^OnCalendar=.*$/gm)).toEqual(calendars.map((c) => `OnCalendar=${c}`));
      expect(timer).toContain('Persistent=true');
      expect(timer).toMatch(/RandomizedDelaySec=\d+/);
      expect(timer).toContain('WantedBy=timers.target');
    }
    const timerOf = (name: string) => run.stdout.split(`# lifeboat-backup@${name}.timer\n`)[1].split('\n# ')[0];
    expect(timerOf('feed')).toContain('RandomizedDelaySec=90\n'); // a tenth of the 15-minute interval
    expect(timerOf('blog')).toContain('RandomizedDelaySec=300\n'); // daily: a tenth, at most 5 minutes
  });

  it('translates cron into OnCalendar values that systemd-analyze accepts and that elapse when cron runs', () => {
    const analyze = requireTool('systemd-analyze');
    const from = new Date();
    for (const [name, schedule] of Object.entries(SCHEDULES)) {
      const calendars = cronToOnCalendar(schedule);
      expect(calendars).toEqual(EXPECTED_CALENDARS[name]);
      const elapses = calendars.flatMap((value) => {
        const out = execFileSync(analyze, ['calendar', '--iterations=6', value], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC', SYSTEMD_COLORS: '0' } });
        expect(out).toContain('Normalized form:');
        return [...out.matchAll(/(?:Next elapse|Iter\. #\d+):\s+\w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC/g)].map((m) => `${m[1].replace(' ', 'T')}.000Z`);
      });
      const cron = parseSchedule(schedule).cron.nextRuns(6, from).map((date) => date.toISOString());
      expect([...new Set(elapses)].sort().slice(0, 6), `${name}: ${schedule}`).toEqual(cron);
    }
  });

  it('refuses a schedule systemd cannot express, and a cron expression that is not one', async () => {
    t.module('odd', { folders: [path.join(t.dir, 'data', 'blog')], schedule: '0 5 * * mon#2' });
    const systemd = await lifeboat(t, ['schedule', '--systemd']);
    expect(systemd.exitCode).toBe(2);
    expect(systemd.stderr).toContain('module odd: cron expression "0 5 * * mon#2" uses # (nth weekday of the month)');
    const cron = await lifeboat(t, ['schedule', '--cron']);
    expect(cron.exitCode).toBe(2);
    expect(cron.stderr).toContain(`${path.join(t.root, 'modules/odd/module.yaml')}: /schedule "0 5 * * mon#2" uses # (nth weekday of the month); Debian's cron does not support it`);
    t.module('odd', { folders: [path.join(t.dir, 'data', 'blog')], schedule: '0 25 * * *' });
    const bad = await lifeboat(t, ['schedule']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('modules/odd/module.yaml: /schedule "0 25 * * *" is not a cron expression');
  });

  it('installs the units, removes timers of modules that are gone, and says how to enable them', async () => {
    const dir = path.join(t.dir, 'units');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'lifeboat-backup@old.timer'), '[Timer]\n');
    writeFileSync(path.join(dir, 'unrelated.timer'), '[Timer]\n');
    const run = await lifeboat(t, ['schedule', '--systemd', '--install', '--dest', dir]);
    expect(run.exitCode, run.stderr).toBe(0);
    for (const name of ['lifeboat-backup@.service', 'lifeboat-backup@blog.timer', 'lifeboat-backup@chat.timer', 'lifeboat-backup@wiki.timer', 'unrelated.timer']) expect(existsSync(path.join(dir, name)), name).toBe(true);
    expect(existsSync(path.join(dir, 'lifeboat-backup@old.timer'))).toBe(false);
    expect(run.stdout).not.toContain('daemon-reload'); // --dest: systemd does not read that folder
    expect(run.stdout).toContain('disable --now lifeboat-backup@old.timer');
    expect(run.stdout).toContain('enable --now lifeboat-backup@blog.timer lifeboat-backup@chat.timer lifeboat-backup@wiki.timer');
    const verify = requireTool('systemd-analyze');
    const checked = execFileSync(verify, ['verify', '--man=no', path.join(dir, 'lifeboat-backup@blog.timer')], { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_LEVEL: 'err' } }).trim();
    expect(checked).toBe('');
  });

  it('installs a cron.d file with the user column', async () => {
    const file = path.join(t.dir, 'cron.d', 'lifeboat');
    const run = await lifeboat(t, ['schedule', '--cron', '--install', '--dest', file]);
    expect(run.exitCode, run.stderr).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('SHELL=/bin/sh\nPATH=');
    expect(text).toMatch(/^15 2 \* \* \* root \S+ \S+ --root .* backup blog$/m);
    expect(text.trim().split("\n")).toHaveLength(8); // BEGIN, root, SHELL, PATH, three jobs, END
  });

  it('--cron --install --dest DIR writes DIR/lifeboat; a second root refuses to replace the first one\'s jobs', async () => {
    const dir = path.join(t.dir, 'cron.d');
    mkdirSync(dir);
    const first = await lifeboat(t, ['schedule', '--cron', '--install', '--dest', dir]);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toBe(`Wrote 3 job(s) to ${path.join(dir, 'lifeboat')}; cron does not read it there: copy it into /etc/cron.d (a name without dots) to run the jobs.`);
    const written = readFileSync(path.join(dir, 'lifeboat'), 'utf8');
    expect(written).toContain(`# root: ${JSON.stringify(t.root)}\n`);
    const other = makeRoot();
    try {
      other.module('mail', { folders: [path.join(t.dir, 'data', 'blog')], schedule: '0 3 * * *' });
      const second = await lifeboat(other, ['schedule', '--cron', '--install', '--dest', dir]);
      expect(second.exitCode).toBe(2);
      expect(second.stderr.split('\n')[0]).toBe(
        `lifeboat: ${path.join(dir, 'lifeboat')} holds the scheduled jobs of the root ${t.root}, not of this root (${other.root}); installing would replace them, so nothing was written`,
      );
      expect(readFileSync(path.join(dir, 'lifeboat'), 'utf8')).toBe(written);
      const beside = await lifeboat(other, ['schedule', '--cron', '--install', '--dest', path.join(dir, 'lifeboat-mail')]);
      expect(beside.exitCode, beside.stderr).toBe(0);
      expect(readFileSync(path.join(dir, 'lifeboat-mail'), 'utf8')).toMatch(/ backup mail\n/);
      // the same root installs again over its own file
      expect((await lifeboat(t, ['schedule', '--cron', '--install', '--dest', dir])).exitCode).toBe(0);
    } finally {
      other.cleanup();
    }
  });

  it('--systemd: a second root refuses to replace the first root\'s service template and timers', async () => {
    const dir = path.join(t.dir, 'units');
    expect((await lifeboat(t, ['schedule', '--systemd', '--install', '--dest', dir])).exitCode).toBe(0);
    const template = readFileSync(path.join(dir, 'lifeboat-backup@.service'), 'utf8');
    expect(template).toContain(`--root ${t.root} `);
    const other = makeRoot();
    try {
      other.module('mail', { folders: [path.join(t.dir, 'data', 'blog')], schedule: '0 3 * * *' });
      const second = await lifeboat(other, ['schedule', '--systemd', '--install', '--dest', dir]);
      expect(second.exitCode).toBe(2);
      expect(second.stderr.split('\n')[0]).toBe(
        `lifeboat: ${path.join(dir, 'lifeboat-backup@.service')} holds the scheduled timers of the root ${t.root}, not of this root (${other.root}); installing would replace them, so nothing was written`,
      );
      expect(readFileSync(path.join(dir, 'lifeboat-backup@.service'), 'utf8')).toBe(template);
      for (const name of ['blog', 'chat', 'wiki']) expect(existsSync(path.join(dir, `lifeboat-backup@${name}.timer`)), name).toBe(true);
      expect(existsSync(path.join(dir, 'lifeboat-backup@mail.timer'))).toBe(false);
    } finally {
      other.cleanup();
    }
  });
});
