// `schedule --install` says what it wrote in one message (stdout; nothing on stderr), and only a folder
// systemd reads gets `systemctl daemon-reload`: --dest DIR does not.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { cronInstallMessage, systemdInstallMessage } from '../../src/cli/schedule.js';

let t: TestRoot;
beforeEach(() => {
  t = makeRoot();
  for (const name of ['blog', 'wiki']) t.dataModule(name, { schedule: '15 2 * * *' }, null);
});
afterEach(() => t.cleanup());

describe('schedule --install messages', () => {
  it('--systemd --dest DIR: one message, no daemon-reload, where the units belong', async () => {
    const dir = path.join(t.dir, 'units');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'lifeboat-backup@old.timer'), '[Timer]\n');
    const run = await lifeboat(t, ['schedule', '--systemd', '--install', '--dest', dir]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(
      [
        `Wrote 3 unit(s) to ${dir}: lifeboat-backup@.service, lifeboat-backup@blog.timer, lifeboat-backup@wiki.timer; removed lifeboat-backup@old.timer.`,
        `systemd does not read ${dir} (its folder is /etc/systemd/system), so nothing is enabled yet; once the units are there:`,
        '  systemctl disable --now lifeboat-backup@old.timer',
        '  systemctl enable --now lifeboat-backup@blog.timer lifeboat-backup@wiki.timer',
      ].join('\n'), // (execa drops the final newline)
    );
  });

  it('--cron --dest FILE: one message saying cron does not read it there', async () => {
    const file = path.join(t.dir, 'jobs', 'lifeboat');
    const run = await lifeboat(t, ['schedule', '--cron', '--install', '--dest', file]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(`Wrote 2 job(s) to ${file}; cron does not read it there: copy it into /etc/cron.d (a name without dots) to run the jobs.`);
  });

  it('an install into the folder systemd reads says daemon-reload, enable and list-timers', () => {
    const units = ['lifeboat-backup@.service', 'lifeboat-backup@blog.timer'];
    expect(systemdInstallMessage({ dir: '/etc/systemd/system', unitDir: '/etc/systemd/system', units, stale: [], system: true })).toBe(
      [
        'Wrote 2 unit(s) to /etc/systemd/system: lifeboat-backup@.service, lifeboat-backup@blog.timer.',
        'To enable them, run:',
        '  systemctl daemon-reload',
        '  systemctl enable --now lifeboat-backup@blog.timer',
        "Then `systemctl list-timers 'lifeboat-*'` shows the next runs.",
        '',
      ].join('\n'),
    );
    expect(systemdInstallMessage({ dir: '/home/u/.config/systemd/user', unitDir: '/home/u/.config/systemd/user/', units, stale: ['lifeboat-backup@old.timer'], system: false })).toBe(
      [
        'Wrote 2 unit(s) to /home/u/.config/systemd/user: lifeboat-backup@.service, lifeboat-backup@blog.timer; removed lifeboat-backup@old.timer.',
        'To enable them, run:',
        '  systemctl --user daemon-reload',
        '  systemctl --user disable --now lifeboat-backup@old.timer',
        '  systemctl --user enable --now lifeboat-backup@blog.timer',
        "Then `systemctl --user list-timers 'lifeboat-*'` shows the next runs.",
        '',
      ].join('\n'),
    );
    expect(cronInstallMessage('/etc/cron.d/lifeboat', 2)).toBe('Wrote 2 job(s) to /etc/cron.d/lifeboat; cron reads /etc/cron.d by itself (no reload needed). `lifeboat status` shows the next runs.\n');
  });
});
