// The fault matrix: every built-in part of backup, restore and verify that does something (20dump_databases and
// 30restore_databases through a SQLite database and a sqlite3 shim), and module parts,
// each made to fail, to hang past its timeout, and to be running when Lifeboat gets SIGTERM or SIGINT.
// After each: exit 1, the service runs again (unless starting it was the fault), the journal says failure
// naming the part, no snapshot that looks complete was added, and an in-place restore left the live files
// either as they were or exactly the snapshot, saying how to finish or undo it.
import { describe, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { parse } from 'yaml';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { createFakeService, type FakeService } from '../helpers/service.js';
import { describeTree } from '../helpers/fs-state.js';
import { armFault, faultSnippet, installFaultyProvider, journalRecords, waitForFile, type FaultKind } from '../helpers/faults.js';

type Fault = 'fail' | 'hang' | 'SIGTERM' | 'SIGINT';
const FAULTS: Fault[] = ['fail', 'hang', 'SIGTERM', 'SIGINT'];

interface Target {
  action: 'backup' | 'restore' | 'verify';
  // phase/part as the journal names it
  part: string;
  // the fault switch (see faultSnippet) that this part runs
  step: string;
  // in an always-phase: a signal does not stop it, so it is made slow instead of hanging
  always?: boolean;
  // backup: the snapshot was complete before the fault (finally)
  snapshotBefore?: boolean;
  // restore: the safety snapshot exists / the live files were replaced before the fault
  safetyBefore?: boolean;
  swappedBefore?: boolean;
  // the fault is in starting the service: it cannot be running afterwards (unless only slowed)
  startsService?: boolean;
}

const TARGETS: Target[] = [
  { action: 'backup', part: 'pre-backup/40stop_service', step: 'service-stop' },
  { action: 'backup', part: 'pre-backup/20dump_databases', step: 'sqlite-dump' },
  { action: 'backup', part: 'pre-backup/30module_dump_state', step: 'dump-state' },
  { action: 'backup', part: 'pre-backup/40part', step: 'part-pre-backup' },
  { action: 'backup', part: 'backup/50snapshot', step: 'provider-create' },
  { action: 'backup', part: 'finally/70module_cleanup_state', step: 'cleanup-state', always: true, snapshotBefore: true },
  { action: 'backup', part: 'finally/90start_service', step: 'service-start', always: true, snapshotBefore: true, startsService: true },
  { action: 'restore', part: 'pre-restore/05safety_snapshot', step: 'provider-create' },
  { action: 'restore', part: 'pre-restore/10stop_service', step: 'service-stop', safetyBefore: true },
  { action: 'restore', part: 'pre-restore/40part', step: 'part-pre-restore', safetyBefore: true },
  { action: 'restore', part: 'restore/10restore_module', step: 'provider-restore', safetyBefore: true },
  { action: 'restore', part: 'restore/20part', step: 'part-restore', safetyBefore: true, swappedBefore: true },
  { action: 'restore', part: 'restore/30restore_databases', step: 'sqlite-load', safetyBefore: true, swappedBefore: true },
  { action: 'verify', part: 'verify/10restore_scratch', step: 'provider-restore' },
  { action: 'verify', part: 'verify/30check_databases', step: 'sqlite-check' },
  { action: 'verify', part: 'verify/40part', step: 'part-verify' },
  { action: 'restore', part: 'finally/90start_service', step: 'service-start', always: true, safetyBefore: true, swappedBefore: true, startsService: true },
];

interface Setup {
  t: TestRoot;
  service: FakeService;
  faults: string;
  data: string;
  // PATH with a sqlite3 shim that runs the sqlite-dump / sqlite-load fault switches first
  path: string;
}

// A root with the faulty provider, a real process as the service, and every fault switch wired in.
async function setup(onFinished: (fn: () => void) => void): Promise<Setup> {
  const t = makeRoot();
  const faults = path.join(t.dir, 'faults');
  mkdirSync(faults);
  installFaultyProvider(t.root, faults);
  t.write('lifeboat.yaml', `repositories:\n  local: { provider: faulty, url: ${path.join(t.dir, 'repo')} }\n`);
  const service = await createFakeService();
  onFinished(() => {
    service.cleanup();
    t.cleanup();
  });
  const data = path.join(t.dir, 'data');
  mkdirSync(path.join(data, 'sub'), { recursive: true });
  writeFileSync(path.join(data, 'a.txt'), 'version 1\n');
  writeFileSync(path.join(data, 'sub', 'b.txt'), 'kept\n');
  const snippet = (step: string) => faultSnippet(faults, step);
  t.module('m', {
    folders: [data],
    service: { stop: `${snippet('service-stop')}\n${service.stop}`, start: `${snippet('service-start')}\n${service.start}`, isActive: service.isActive, stopDuringBackup: true },
    timeouts: { part: 5, killAfter: 1 },
  });
  t.write('modules/m/bin/module-dump-state', `#!/bin/sh\n${snippet('dump-state')}\necho dumped > "$LIFEBOAT_STATE_DIR/dump.txt"\n`, 0o755);
  t.write('modules/m/bin/module-cleanup-state', `#!/bin/sh\n${snippet('cleanup-state')}\nrm -f "$LIFEBOAT_STATE_DIR/dump.txt"\n`, 0o755);
  t.part('pre-backup', '40part', `#!/bin/sh\n${snippet('part-pre-backup')}\n`, 'm');
  t.part('pre-restore', '40part', `#!/bin/sh\n${snippet('part-pre-restore')}\n`, 'm');
  t.part('restore', '20part', `#!/bin/sh\n${snippet('part-restore')}\n`, 'm');
  t.part('verify', '40part', `#!/bin/sh\n${snippet('part-verify')}\n`, 'm');
  // A database outside the folders, dumped by 20dump_databases and loaded by 30restore_databases through
  // a sqlite3 shim: `-bail` starts the dump, a `.lifeboat-restore` file is the load's check.
  const db = path.join(t.dir, 'db', 'app.sqlite3');
  mkdirSync(path.dirname(db));
  execFileSync('sqlite3', [db, 'CREATE TABLE t (x); INSERT INTO t VALUES (1);']);
  const shims = path.join(t.dir, 'shims');
  mkdirSync(shims);
  writeFileSync(
    path.join(shims, 'sqlite3'),
    `#!/bin/sh\ncase "$1 $*" in\n  "-bail "*) ${snippet('sqlite-dump').replace(/\n/g, '\n    ')};;\n  *.lifeboat-restore*) ${snippet('sqlite-load').replace(/\n/g, '\n    ')};;\n  *integrity_check*) ${snippet('sqlite-check').replace(/\n/g, '\n    ')};;\nesac\nexec ${realSqlite3()} "$@"\n`,
    { mode: 0o755 },
  );
  t.module('m', { ...parse(readFileSync(path.join(t.root, 'modules/m/module.yaml'), 'utf8')), databases: [{ sqlite: { path: db } }] });
  return { t, service, faults, data, path: `${shims}:${process.env.PATH}` };
}

// Snapshot ids of module m, oldest first, as the copy provider's `list` sees them (no .partial ones).
function snapshotIds(t: TestRoot): string[] {
  const dir = path.join(t.dir, 'repo', 'm');
  return existsSync(dir) ? readdirSync(dir).filter((name) => !name.endsWith('.partial')).sort() : [];
}

// Runs the action with the fault armed (signals need the part running: hanging, or in always-phases
// slowed), sending the signal once the faulty step has started; disarms everything afterwards.
async function runFaulty(s: Setup, target: Target, fault: Fault, args: string[]) {
  const kind: FaultKind = fault === 'fail' ? 'fail' : fault === 'hang' ? 'hang' : target.always ? 'slow' : 'hang';
  armFault(s.faults, target.step, kind);
  const child = lifeboat(s.t, args, { env: { PATH: s.path } });
  if (fault === 'SIGTERM' || fault === 'SIGINT') {
    await waitForFile(path.join(s.faults, 'started'));
    child.kill(fault);
  }
  const result = await child;
  rmSync(s.faults, { recursive: true, force: true });
  mkdirSync(s.faults);
  return result;
}

// The end record of the latest run.
function lastEnd(t: TestRoot): Record<string, unknown> {
  const ends = journalRecords(t.stateDir).filter((r) => r.type === 'end');
  return ends[ends.length - 1];
}

describe.concurrent.each(TARGETS.filter((x) => x.action === 'backup'))('backup, fault in $part', (target) => {
  it.for(FAULTS)('%s', async (fault, { expect, onTestFinished }) => {
    const s = await setup(onTestFinished);
    const { t, service, data } = s;
    const result = await runFaulty(s, target, fault, ['backup', 'm', '--json']);
    expect(result.exitCode, result.stderr).toBe(1);
    expect(JSON.parse(result.stdout).ok).toBe(false);
    const end = lastEnd(t);
    expect(end).toMatchObject({ result: 'failure', failedPart: target.part });
    if (fault === 'SIGTERM' || fault === 'SIGINT') expect(end.error).toBe(`interrupted by ${fault}`);
    if (fault === 'hang') expect(String(end.error)).toMatch(/timed out after 5s|was stopped/);
    const ids = snapshotIds(t);
    if (target.snapshotBefore) {
      // The snapshot was taken before the fault: it is complete (its copy equals the data) and journaled.
      expect(ids).toHaveLength(1);
      expect((end.snapshots as Array<{ id: string }>).map((x) => x.id)).toEqual(ids);
      expect(describeTree(path.join(t.dir, 'repo', 'm', ids[0], data))).toEqual(describeTree(data));
    } else {
      expect(ids).toEqual([]);
      expect(end.snapshots).toEqual([]);
    }
    if (target.startsService && (fault === 'fail' || fault === 'hang')) {
      expect(service.isRunning()).toBe(false);
      expect(result.stderr).toContain('start command of module "m"');
      // The next run knows the service was left stopped and starts it again.
      const next = await lifeboat(t, ['backup', 'm']);
      expect(next.exitCode, next.stderr).toBe(0);
      expect(next.stderr).toContain('did not start it again');
    }
    expect(service.isRunning()).toBe(true);
  });
});

describe.concurrent.each(TARGETS.filter((x) => x.action === 'restore'))('in-place restore, fault in $part', (target) => {
  it.for(FAULTS)('%s', async (fault, { expect, onTestFinished }) => {
    const s = await setup(onTestFinished);
    const { t, service, data } = s;
    const backup = await lifeboat(t, ['backup', 'm'], { env: { PATH: s.path } });
    expect(backup.exitCode, backup.stderr).toBe(0);
    const [snapshot] = snapshotIds(t);
    const snapshotTree = describeTree(data);
    // the live state the restore is about to replace
    writeFileSync(path.join(data, 'a.txt'), 'version 2\n');
    rmSync(path.join(data, 'sub', 'b.txt'));
    writeFileSync(path.join(data, 'new.txt'), 'added after the backup\n');
    const liveTree = describeTree(data);

    const result = await runFaulty(s, target, fault, ['restore', 'm', snapshot]);
    expect(result.exitCode, result.stderr).toBe(1);
    const end = lastEnd(t);
    expect(end).toMatchObject({ action: 'restore', result: 'failure', failedPart: target.part });
    if (fault === 'SIGTERM' || fault === 'SIGINT') expect(end.error).toBe(`interrupted by ${fault}`);

    const ids = snapshotIds(t);
    expect(ids[0]).toBe(snapshot);
    // Only a complete safety snapshot may have been added, and only if its part finished.
    expect(ids).toHaveLength(target.safetyBefore ? 2 : 1);
    const safety = ids[1];
    expect(describeTree(data)).toEqual(target.swappedBefore ? snapshotTree : liveTree);
    if (!target.swappedBefore) expect(result.stderr).toContain('the live files were not changed');
    if (target.swappedBefore && !target.part.startsWith('restore/')) expect(result.stderr).toContain('were restored completely');
    if (target.swappedBefore && target.part.startsWith('restore/')) {
      // Files replaced but the restore phase did not finish: say how to finish or roll back, and refuse
      // to back up the mix until then.
      expect(result.stderr).toContain(`to finish it: lifeboat restore m ${snapshot} --repo local`);
      expect(result.stderr).toContain(`to roll back to the state before it: lifeboat restore m ${safety} --repo local --no-safety-snapshot`);
      const refused = await lifeboat(t, ['backup', 'm']);
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain('unfinished in-place restore');
      const rollback = await lifeboat(t, ['restore', 'm', safety, '--repo', 'local', '--no-safety-snapshot']);
      expect(rollback.exitCode, rollback.stderr).toBe(0);
      expect(describeTree(data)).toEqual(liveTree);
      const again = await lifeboat(t, ['backup', 'm']);
      expect(again.exitCode, again.stderr).toBe(0);
    }
    if (target.startsService && (fault === 'fail' || fault === 'hang')) {
      expect(service.isRunning()).toBe(false);
      const next = await lifeboat(t, ['backup', 'm']);
      expect(next.exitCode, next.stderr).toBe(0);
    }
    expect(service.isRunning()).toBe(true);
    expect(readdirSync(data).filter((name) => name.startsWith('.lifeboat-restore-'))).toEqual([]);
  });
});

// The sqlite3 binary the shim runs.
function realSqlite3(): string {
  return execFileSync('sh', ['-c', 'command -v sqlite3'], { encoding: 'utf8' }).trim();
}

describe.concurrent.each(TARGETS.filter((x) => x.action === 'verify'))('verify (the restore drill), fault in $part', (target) => {
  it.for(FAULTS)('%s', async (fault, { expect, onTestFinished }) => {
    const s = await setup(onTestFinished);
    const { t, service, data } = s;
    const backup = await lifeboat(t, ['backup', 'm'], { env: { PATH: s.path } });
    expect(backup.exitCode, backup.stderr).toBe(0);
    const ids = snapshotIds(t);
    const live = describeTree(data);
    const pid = service.pid();
    const result = await runFaulty(s, target, fault, ['verify', 'm', '--json']);
    expect(result.exitCode, result.stderr).toBe(1);
    expect(JSON.parse(result.stdout).ok).toBe(false);
    expect(lastEnd(t)).toMatchObject({ action: 'verify', result: 'failure', failedPart: target.part });
    if (fault === 'SIGTERM' || fault === 'SIGINT') expect(lastEnd(t).error).toBe(`interrupted by ${fault}`);
    // A drill changes nothing: no snapshot, the live files and the service untouched, no scratch left.
    expect(snapshotIds(t)).toEqual(ids);
    expect(describeTree(data)).toEqual(live);
    expect(service.pid()).toBe(pid);
    expect(service.isRunning()).toBe(true);
    expect(existsSync(path.join(t.stateDir, 'scratch', 'verify', 'm'))).toBe(false);
  });
});
