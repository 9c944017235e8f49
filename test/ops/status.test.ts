// `status` (table, JSON, Prometheus textfile) after a success and after a failure, and `check` on stale
// and disabled modules (old journal records written through the journal's own API).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { journalEnd, journalStart } from '../../src/state/journal.js';

let t: TestRoot;
beforeEach(() => {
  t = makeRoot();
  for (const name of ['blog', 'wiki']) t.dataModule(name, { schedule: '0 * * * *' });
});
afterEach(() => t.cleanup());

// Records a finished backup that ended `hoursAgo` hours ago.
function pastRun(module: string, hoursAgo: number, result: 'success' | 'failure', runId = `past-${module}-${hoursAgo}`): void {
  const end = new Date(Date.now() - hoursAgo * 3600_000);
  journalStart(t.stateDir, { runId, module, action: 'backup', time: new Date(end.getTime() - 2000) });
  journalEnd(t.stateDir, { runId, module, action: 'backup', result, durationMs: 2000, bytes: 1234, time: end, error: result === 'failure' ? 'pre-backup/40x exited 1' : undefined, failedPart: result === 'failure' ? 'pre-backup/40x' : undefined });
}

describe('status', () => {
  it('shows success and failure in JSON, an aligned table and a Prometheus textfile', async () => {
    expect((await lifeboat(t, ['backup', 'blog'])).exitCode).toBe(0);
    t.part('pre-backup', '40fail', '#!/bin/sh\necho broken >&2\nexit 1\n', 'wiki');
    expect((await lifeboat(t, ['backup', 'wiki'])).exitCode).toBe(1);

    const json = JSON.parse((await lifeboat(t, ['status', '--json'])).stdout);
    const [blog, wiki] = json.modules;
    expect(blog).toMatchObject({ module: 'blog', state: 'ok', lastResult: 'success', lastFailure: null, stale: false, schedule: '0 * * * *', staleAfterSeconds: 7200 });
    expect(Date.parse(blog.lastSuccess)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(blog.nextRun)).toBeGreaterThan(Date.now());
    expect(blog.durationMs).toBeGreaterThan(0);
    expect(wiki).toMatchObject({ module: 'wiki', state: 'stale', lastResult: 'failure', lastSuccess: null, lastFailedPart: 'pre-backup/40fail', stale: true });
    expect(wiki.lastError).toContain('exited with status 1');

    const table = (await lifeboat(t, ['status'])).stdout.split('\n');
    expect(table[0]).toMatch(/^MODULE\s+STATE\s+LAST SUCCESS\s+AGE\s+SIZE\s+DURATION\s+LAST FAILURE\s+NEXT RUN\s+VERIFIED$/);
    expect(table[1]).toMatch(/^blog\s+ok\s+\d{4}-\d\d-\d\d \d\d:\d\dZ/);
    expect(table[2]).toMatch(/^wiki\s+STALE\s+-\s+/);
    const column = table[0].indexOf('LAST FAILURE');
    expect(table[2].slice(column)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\dZ/);

    const prom = path.join(t.dir, 'textfile', 'lifeboat.prom');
    const written = await lifeboat(t, ['status', '--prometheus', prom]);
    expect(written.exitCode, written.stderr).toBe(0);
    expect(written.stdout).toBe('');
    const text = readFileSync(prom, 'utf8');
    expect(statSync(prom).mode & 0o777).toBe(0o644);
    expect(readdirSync(path.dirname(prom))).toEqual(['lifeboat.prom']); // the temporary file was renamed
    expect(text).toMatch(/^# TYPE lifeboat_last_success_timestamp_seconds gauge$/m);
    expect(text).toMatch(/^lifeboat_last_success_timestamp_seconds\{module="blog"\} \d{10}\.\d{3}$/m);
    expect(text).not.toMatch(/^lifeboat_last_success_timestamp_seconds\{module="wiki"\}/m);
    expect(text).toMatch(/^lifeboat_last_result\{module="blog"\} 1$/m);
    expect(text).toMatch(/^lifeboat_last_result\{module="wiki"\} 0$/m);
    expect(text).toMatch(/^lifeboat_last_failure_timestamp_seconds\{module="wiki"\} \d+/m);
    expect(text).toMatch(/^lifeboat_last_duration_seconds\{module="wiki"\} [\d.]+$/m);
    expect(text).toMatch(/^lifeboat_last_size_bytes\{module="blog"\} \d+$/m);
    expect(text).toMatch(/^lifeboat_stale\{module="wiki"\} 1$/m);
    expect(text).toMatch(/^lifeboat_next_run_timestamp_seconds\{module="blog"\} \d+$/m);
    for (const line of text.trim().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) lifeboat_\w+ .+|lifeboat_\w+(\{module="[a-z0-9_-]+"\})? -?[\d.]+)$/);
  });
});

describe('status with a broken module.yaml', () => {
  it('shows the module as BROKEN, naming the file, in the table, JSON and Prometheus', async () => {
    expect((await lifeboat(t, ['backup', 'wiki'])).exitCode).toBe(0);
    t.write('modules/wiki/module.yaml', 'folders: [/srv\nschedule: "0 * * * *"\n');
    const table = await lifeboat(t, ['status']);
    expect(table.exitCode, table.stderr).toBe(0);
    const rows = table.stdout.trim().split('\n').map((line) => line.split(/ {2,}/));
    expect(rows.map((r) => r.slice(0, 2))).toEqual([['MODULE', 'STATE'], ['blog', 'NEVER-RUN'], ['wiki', 'BROKEN (modules/wiki/module.yaml)']]);
    // Its last success is still shown: the journal is not in the broken file.
    expect(rows[2][2]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\dZ$/);
    expect(table.stderr).toMatch(/error: module wiki is BROKEN \(it cannot run\): modules\/wiki\/module\.yaml:\d+:\d+: invalid YAML: /);

    const json = JSON.parse((await lifeboat(t, ['status', '--json'])).stdout);
    expect(json.modules[1]).toMatchObject({ module: 'wiki', state: 'broken', lastResult: 'success' });
    expect(json.modules[1].configProblems[0]).toMatch(/^modules\/wiki\/module\.yaml:\d+:\d+: invalid YAML: /);

    const file = path.join(t.dir, 'metrics', 'lifeboat.prom');
    expect((await lifeboat(t, ['status', '--prometheus', file])).exitCode).toBe(0);
    const metrics = readFileSync(file, 'utf8');
    expect(metrics).toContain('# TYPE lifeboat_module_config_ok gauge\nlifeboat_module_config_ok{module="blog"} 1\nlifeboat_module_config_ok{module="wiki"} 0\n');
    expect(metrics).toMatch(/^lifeboat_last_success_timestamp_seconds\{module="wiki"\} \d+/m);
  });
});

describe('check', () => {
  it('passes while the last success is within twice the schedule interval', async () => {
    pastRun('blog', 1.5, 'success');
    pastRun('wiki', 0.5, 'success');
    const run = await lifeboat(t, ['check']);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/OK\s+module blog\s+last success 1h 30m ago/);
  });

  it('fails loudly when a module is stale or never succeeded, and warns about disabled ones', async () => {
    pastRun('blog', 3, 'success');
    pastRun('blog', 1, 'failure');
    pastRun('wiki', 1, 'failure');
    t.module('old', { folders: [path.join(t.dir, 'data', 'blog')], enabled: false });
    const run = await lifeboat(t, ['check', '--json']);
    expect(run.exitCode).toBe(1);
    const findings = JSON.parse(run.stdout).findings as Array<{ level: string; subject: string; message: string }>;
    expect(findings).toContainEqual({ level: 'fail', subject: 'module blog', message: expect.stringMatching(/^STALE: last success 3h 00m ago, older than twice its schedule interval \(2h 00m\); last failure: pre-backup\/40x exited 1/) });
    expect(findings).toContainEqual({ level: 'fail', subject: 'module wiki', message: expect.stringMatching(/^STALE: never backed up successfully/) });
    expect(findings).toContainEqual({ level: 'warn', subject: 'module old', message: expect.stringContaining('DISABLED') });
    // Each finding once: in the document, not again on stderr.
    expect(run.stderr).not.toContain('STALE');
    expect(run.stderr).not.toContain('DISABLED');
  });
});
