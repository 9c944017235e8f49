// Restore drills on a schedule: `verify: { schedule }` per module and in defaults, a verify job beside the
// backup job in `schedule --cron/--systemd`, an overdue or failed drill in status, Prometheus, the HTML
// report and `check` (journal records written through the journal's own API).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, PROJECT, type TestRoot } from '../helpers/root.js';
import { journalEnd, journalStart } from '../../src/state/journal.js';

let t: TestRoot;
const WEEKLY = '30 4 * * 0';

beforeEach(() => {
  t = makeRoot();
  t.dataModule('blog', { schedule: '0 3 * * *', verify: { schedule: WEEKLY } });
  t.dataModule('wiki', { schedule: '0 3 * * *' });
});
afterEach(() => t.cleanup());

// Polls until `ready()` holds (the machine is loaded: no fixed sleeps).
async function waitFor(ready: () => boolean): Promise<void> {
  while (!ready()) await new Promise((resolve) => setTimeout(resolve, 100));
}

// Records a finished run of `action` that ended `daysAgo` days ago.
function pastRun(module: string, action: 'backup' | 'verify', daysAgo: number, result: 'success' | 'failure'): void {
  const end = new Date(Date.now() - daysAgo * 86400_000);
  const runId = `past-${module}-${action}-${daysAgo}-${result}`;
  journalStart(t.stateDir, { runId, module, action, time: new Date(end.getTime() - 2000) });
  journalEnd(t.stateDir, { runId, module, action, result, durationMs: 2000, bytes: 10, time: end, error: result === 'failure' ? 'verify/20check_manifest: 1 file differs' : undefined, failedPart: result === 'failure' ? 'verify/20check_manifest' : undefined });
}

describe('verify.schedule in the configuration', () => {
  it('is checked like schedule:, naming file and key', async () => {
    t.module('blog', { folders: ['/srv'], verify: { schedule: 'every sunday' } });
    const run = await lifeboat(t, ['backup', 'blog', '--dry-run']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/^lifeboat: modules\/blog\/module\.yaml: \/verify\/schedule "every sunday" is not a cron expression/);
    t.module('blog', { folders: ['/srv'], verify: { shedule: WEEKLY } });
    expect((await lifeboat(t, ['backup', 'blog', '--dry-run'])).stderr).toContain('modules/blog/module.yaml: /verify/shedule is not a known key; did you mean "schedule"?');
  });
});

describe('schedule emits a verify job per module beside the backup job', () => {
  it('--cron: a verify line for modules with verify.schedule, defaults.verify for the others', async () => {
    const prefix = `${process.execPath} ${path.join(PROJECT, 'bin', 'lifeboat')} --root ${t.root} --state-dir ${t.stateDir}`;
    let run = await lifeboat(t, ['schedule', '--cron']);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual([`0 3 * * * ${prefix} -q backup blog`, `${WEEKLY} ${prefix} -q verify --wait 21600 blog`, `0 3 * * * ${prefix} -q backup wiki`]);
    t.write('lifeboat.yaml', stringify({ repositories: { local: { provider: 'copy', url: path.join(t.dir, 'repo') } }, defaults: { verify: { schedule: '0 5 1 * *' } } }));
    run = await lifeboat(t, ['schedule', '--cron']);
    expect(run.stdout.trim().split('\n')).toEqual([`0 3 * * * ${prefix} -q backup blog`, `${WEEKLY} ${prefix} -q verify --wait 21600 blog`, `0 3 * * * ${prefix} -q backup wiki`, `0 5 1 * * ${prefix} -q verify --wait 21600 wiki`]);
  });

  it('--systemd: a lifeboat-verify@.service template and a timer per module', async () => {
    const run = await lifeboat(t, ['schedule', '--systemd']);
    expect(run.exitCode, run.stderr).toBe(0);
    const units = run.stdout.match(/^# lifeboat-\S+$/gm);
    expect(units).toEqual(['# lifeboat-backup@.service', '# lifeboat-verify@.service', '# lifeboat-backup@blog.timer', '# lifeboat-verify@blog.timer', '# lifeboat-backup@wiki.timer']);
    const service = run.stdout.split('# lifeboat-verify@.service\n')[1].split('\n# lifeboat-')[0];
    expect(service).toContain('Description=Lifeboat restore drill of module %i');
    expect(service).toMatch(/^ExecStart=\S+ \S+ --root \S+ --state-dir \S+ verify --wait 21600 %i$/m);
    const timer = run.stdout.split('# lifeboat-verify@blog.timer\n')[1].split('\n# ')[0];
    expect(timer).toContain('Description=Lifeboat restore drill of module blog (cron "30 4 * * 0")');
    expect(timer).toContain('OnCalendar=Sun *-*-* 04:30:00');
  });

  it('the generated drill job waits for a backup that holds the module, then drills that backup', async () => {
    // A backup that holds the module's lock until the test lets it go.
    const gate = path.join(t.dir, 'gate');
    t.part('pre-backup', '10hold', `#!/bin/sh\ntouch '${gate}.held'\nwhile [ ! -e '${gate}' ]; do sleep 0.1; done\n`, 'blog');
    const line = (await lifeboat(t, ['schedule', '--cron'])).stdout.split('\n').find((l) => l.startsWith(`${WEEKLY} `))!;
    const backup = lifeboat(t, ['backup', 'blog']);
    await waitFor(() => existsSync(`${gate}.held`));
    // Without the job's -q, so the drill says that it waits.
    expect(line).toContain(' -q verify --wait 21600 blog');
    const drill = execa('/bin/sh', ['-c', line.slice(WEEKLY.length + 1).replace(' -q verify ', ' verify ')], { reject: false });
    let said = '';
    drill.stderr!.on('data', (chunk: Buffer) => (said += chunk.toString()));
    // The drill waits for the lock and says so, instead of failing with exit 3.
    let ended = false;
    void drill.then(() => (ended = true));
    await waitFor(() => /waiting up to 21600s for module "blog", locked by /.test(said) || ended);
    expect(ended, said).toBe(false);
    writeFileSync(gate, '');
    expect((await backup).exitCode).toBe(0);
    const run = await drill;
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^verify blog: ok/m);
  }, 120_000);

  it('--install writes the verify timer and removes it when the schedule is gone', async () => {
    const dest = path.join(t.dir, 'units');
    expect((await lifeboat(t, ['schedule', '--systemd', '--install', '--dest', dest])).stdout).toContain('enable --now lifeboat-backup@blog.timer lifeboat-verify@blog.timer lifeboat-backup@wiki.timer');
    t.module('blog', { folders: [path.join(t.dir, 'data', 'blog')], schedule: '0 3 * * *' });
    const run = await lifeboat(t, ['schedule', '--systemd', '--install', '--dest', dest]);
    expect(run.stdout).toContain('disable --now lifeboat-verify@blog.timer\n');
    // The last drill timer gone, its service template goes too.
    expect(run.stdout).toContain(': lifeboat-backup@.service, lifeboat-backup@blog.timer, lifeboat-backup@wiki.timer; removed lifeboat-verify@blog.timer, lifeboat-verify@.service.\n');
    expect(readdirSync(dest).sort()).toEqual(['lifeboat-backup@.service', 'lifeboat-backup@blog.timer', 'lifeboat-backup@wiki.timer']);
  });
});

describe('an overdue or failed drill', () => {
  it('status, Prometheus and the HTML report show OVERDUE; check fails', async () => {
    pastRun('blog', 'backup', 0.5, 'success');
    pastRun('wiki', 'backup', 0.5, 'success');
    pastRun('blog', 'verify', 15, 'success');
    const json = JSON.parse((await lifeboat(t, ['status', '--json'])).stdout);
    expect(json.modules[0].verify).toMatchObject({ schedule: WEEKLY, overdue: true, overdueAfterSeconds: 14 * 86400, result: 'success' });
    expect(json.modules[1].verify).toMatchObject({ schedule: null, overdue: false });
    const table = (await lifeboat(t, ['status'])).stdout.split('\n');
    expect(table[1]).toMatch(/^blog\s+ok\s+.*OVERDUE \(ok \d{4}-\d\d-\d\d \d\d:\d\dZ\)$/);
    expect(table[2]).toMatch(/\s-$/);

    const prom = path.join(t.dir, 'lifeboat.prom');
    await lifeboat(t, ['status', '--prometheus', prom]);
    const text = readFileSync(prom, 'utf8');
    expect(text).toMatch(/^lifeboat_verify_overdue\{module="blog"\} 1$/m);
    expect(text).not.toMatch(/^lifeboat_verify_overdue\{module="wiki"\}/m);
    expect(text).toMatch(/^lifeboat_verify_next_run_timestamp_seconds\{module="blog"\} \d+$/m);

    const html = path.join(t.dir, 'report.html');
    expect((await lifeboat(t, ['report', '--html', html])).exitCode).toBe(0);
    expect(readFileSync(html, 'utf8')).toContain('<strong class="error overdue">OVERDUE</strong>: no successful drill for more than 14d');

    const check = await lifeboat(t, ['check', '--json']);
    expect(check.exitCode).toBe(1);
    const findings = JSON.parse(check.stdout).findings;
    expect(findings).toContainEqual({
      level: 'fail',
      subject: 'module blog (restore drill)',
      message: expect.stringMatching(/^OVERDUE: the last successful drill ended \d{4}-\d\d-\d\d \d\d:\d\dZ, more than twice its schedule interval \(14d.*\) ago; is the verify job installed \(`lifeboat schedule --install`\)\?$/),
    });
  });

  it('a scheduled drill that never ran is overdue once the first backup is older than twice its interval', async () => {
    pastRun('blog', 'backup', 10, 'success');
    pastRun('blog', 'backup', 0.5, 'success');
    let check = await lifeboat(t, ['check', '--json']);
    expect(JSON.parse(check.stdout).findings).toContainEqual({ level: 'warn', subject: 'module blog (restore drill)', message: expect.stringMatching(/^never run yet \(schedule "30 4 \* \* 0", next /) });
    expect(JSON.parse((await lifeboat(t, ['status', '--json'])).stdout).modules[0].verify).toMatchObject({ overdue: false, result: null });
    pastRun('blog', 'backup', 15, 'success');
    const json = JSON.parse((await lifeboat(t, ['status', '--json'])).stdout);
    expect(json.modules[0].verify).toMatchObject({ schedule: WEEKLY, overdue: true, result: null, lastSuccess: null });
    expect((await lifeboat(t, ['status'])).stdout.split('\n')[1]).toMatch(/^blog\s+\S+\s+.*OVERDUE \(never\)$/);
    const prom = path.join(t.dir, 'lifeboat.prom');
    await lifeboat(t, ['status', '--prometheus', prom]);
    expect(readFileSync(prom, 'utf8')).toMatch(/^lifeboat_verify_overdue\{module="blog"\} 1$/m);
    check = await lifeboat(t, ['check', '--json']);
    expect(check.exitCode).toBe(1);
    expect(JSON.parse(check.stdout).findings).toContainEqual({
      level: 'fail',
      subject: 'module blog (restore drill)',
      message: expect.stringMatching(/^OVERDUE: no drill has run yet, and the first backup \(\d{4}-\d\d-\d\d \d\d:\d\dZ\) is more than twice its schedule interval \(14d.*\) ago; run `lifeboat verify blog` now, and is the verify job installed \(`lifeboat schedule --install`\)\?$/),
    });
  });

  it('check fails when the last drill failed, and passes after a recent good one', async () => {
    pastRun('blog', 'backup', 0.5, 'success');
    pastRun('wiki', 'backup', 0.5, 'success');
    pastRun('blog', 'verify', 3, 'success');
    let check = await lifeboat(t, ['check', '--json']);
    expect(check.exitCode, check.stdout).toBe(0);
    expect(JSON.parse(check.stdout).findings).toContainEqual({ level: 'ok', subject: 'module blog (restore drill)', message: expect.stringMatching(/^last drill passed /) });
    pastRun('blog', 'verify', 1, 'failure');
    check = await lifeboat(t, ['check', '--json']);
    expect(check.exitCode).toBe(1);
    expect(JSON.parse(check.stdout).findings).toContainEqual({
      level: 'fail',
      subject: 'module blog (restore drill)',
      message: expect.stringMatching(/^the last drill FAILED \(\d{4}-\d\d-\d\d \d\d:\d\dZ\): verify\/20check_manifest: 1 file differs; run `lifeboat verify blog` to see why$/),
    });
  });
});
