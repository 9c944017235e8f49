// The fault matrix: every built-in part of backup, restore and verify that does something (20dump_databases and
// 30restore_databases through a SQLite database and a sqlite3 shim), and module parts,
// each made to fail, to hang past its timeout, and to be running when Lifeboat gets SIGTERM or SIGINT.
// After each: exit 1, the service runs again (unless starting it was the fault), the journal says failure
// naming the part, no snapshot that looks complete was added, and an in-place restore left the live files
// either as they were or exactly the snapshot, saying how to finish or undo it.
// The matrix runs over providers: the `copy` script provider (every target, every fault), and real
// restic and borg (the targets where the provider does the work or holds the result, with fail, hang and
// SIGTERM: see ENGINE_TARGETS), their snapshots read with restic and borg themselves. restic and borg are
// faulted through a shim on PATH that runs the fault switch before the real tool.
// Only the hang fault depends on a clock (a hang is defined by timeouts.part); the other faults run with
// a timeout no loaded machine reaches, and signals are sent once the faulty step has started.
import { describe, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { parse } from 'yaml';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { createFakeService, type FakeService } from '../helpers/service.js';
import { describeTree } from '../helpers/fs-state.js';
import { armFault, faultSnippet, installFaultyProvider, journalRecords, waitForFile } from '../helpers/faults.js';

type Fault = 'fail' | 'hang' | 'SIGTERM' | 'SIGINT';
const FAULTS: Fault[] = ['fail', 'hang', 'SIGTERM', 'SIGINT'];

interface Target {
  action: 'backup' | 'restore' | 'verify';
  // phase/part as the journal names it
  part: string;
  // the fault switch (see faultSnippet) that this part runs
  step: string;
  // in an always-phase: a signal does not stop it, so it is held (until the signal was received) instead of hanging
  always?: boolean;
  // backup: the snapshot was complete before the fault (finally)
  snapshotBefore?: boolean;
  // restore: the safety snapshot exists / the live files were replaced before the fault
  safetyBefore?: boolean;
  swappedBefore?: boolean;
  // the fault is in starting the service: it cannot be running afterwards (unless only held)
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

// A repository provider of the matrix: how its repository is configured, how its tool is faulted, how
// long a hang may take before timeouts.part stops it, and its snapshots as the provider's own tool lists
// them (oldest first) with a way to read one snapshot's copy of the data.
interface ProviderCase {
  name: 'copy' | 'restic' | 'borg';
  hangTimeout: number;
  repository(dir: string): string;
  // tool name -> shim body (the fault switches, then the real tool)
  shims(snippet: (step: string) => string): Record<string, string>;
  ids(t: TestRoot): string[];
  // the snapshot's copy of folder `data`, as describeTree sees it
  treeOf(t: TestRoot, id: string, data: string): string[];
}

const PASSWORD = 'fault-matrix-password';
// Before a restore's parts run, Lifeboat reads the module's environment files from the snapshot (restic
// restore / borg extract into scratch/request-env): those calls are not the step under test, so the
// shims pass them straight to the tool (restic names the target in its arguments, borg runs in it).
const NOT_REQUEST_ENV = (tool: string) => `case "$PWD $*" in *scratch/request-env*) exec ${toolPath(tool)} "$@";; esac\n`;
const toolPath = (tool: string) => execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
const resticEnv = (t: TestRoot) => ({ ...process.env, RESTIC_REPOSITORY: path.join(t.dir, 'repo', 'm'), RESTIC_PASSWORD: PASSWORD });
const borgEnv = (t: TestRoot) => ({ ...process.env, BORG_PASSPHRASE: PASSWORD, BORG_BASE_DIR: path.join(t.stateDir, 'borg') });
// Reads one snapshot's copy of `data` with the tool, into a scratch folder of the test.
function extracted(t: TestRoot, data: string, extract: (target: string) => void): string[] {
  const target = mkdtempSync(path.join(t.dir, 'extracted-'));
  try {
    extract(target);
    return describeTree(path.join(target, data));
  } finally {
    rmSync(target, { recursive: true, force: true });
  }
}

const PROVIDERS: Record<ProviderCase['name'], ProviderCase> = {
  copy: {
    name: 'copy',
    hangTimeout: 5,
    // A restore into a target runs in a namespace where all but the target is read-only: the fault
    // switches (the test's `faults` folder, where a faulted step says it started) are made writable there.
    repository: (dir) => `{ provider: faulty, url: ${path.join(dir, 'repo')}, options: { writable: [${path.join(dir, 'faults')}] } }`,
    shims: () => ({}),
    // the copy provider's `list`: one folder per snapshot (no .partial ones)
    ids: (t) => {
      const dir = path.join(t.dir, 'repo', 'm');
      return existsSync(dir) ? readdirSync(dir).filter((name) => !name.endsWith('.partial')).sort() : [];
    },
    treeOf: (t, id, data) => describeTree(path.join(t.dir, 'repo', 'm', id, data)),
  },
  restic: {
    name: 'restic',
    hangTimeout: 40,
    repository: (dir) => `{ provider: restic, url: ${path.join(dir, 'repo')}, passwordFile: ${path.join(dir, 'pass')} }`,
    shims: (snippet) => ({
      restic: `${NOT_REQUEST_ENV('restic')}case " $* " in\n  *" backup "*) ${snippet('provider-create').replace(/\n/g, '\n    ')};;\n  *" restore "*) ${snippet('provider-restore').replace(/\n/g, '\n    ')};;\nesac\nexec ${toolPath('restic')} "$@"`,
    }),
    ids: (t) => {
      if (!existsSync(path.join(t.dir, 'repo', 'm'))) return [];
      const listed = JSON.parse(execFileSync('restic', ['--no-lock', 'snapshots', '--json'], { env: resticEnv(t), encoding: 'utf8' })) as Array<{ id: string; time: string }>;
      return listed.sort((a, b) => a.time.localeCompare(b.time)).map((snapshot) => snapshot.id);
    },
    treeOf: (t, id, data) => extracted(t, data, (target) => execFileSync('restic', ['--no-lock', 'restore', id, '--target', target, '--include', data], { env: resticEnv(t), stdio: 'ignore' })),
  },
  borg: {
    name: 'borg',
    hangTimeout: 40,
    repository: (dir) => `{ provider: borg, url: ${path.join(dir, 'repo')}, passwordFile: ${path.join(dir, 'pass')} }`,
    shims: (snippet) => ({
      borg: `${NOT_REQUEST_ENV('borg')}case " $* " in\n  *" create "*) ${snippet('provider-create').replace(/\n/g, '\n    ')};;\n  *" extract "*) ${snippet('provider-restore').replace(/\n/g, '\n    ')};;\nesac\nexec ${toolPath('borg')} "$@"`,
    }),
    // checkpoint archives count too: a killed create must not leave one
    ids: (t) => {
      const repo = path.join(t.dir, 'repo', 'm');
      if (!existsSync(repo)) return [];
      return execFileSync('borg', ['list', '--consider-checkpoints', '--short', repo], { env: borgEnv(t), encoding: 'utf8' }).split('\n').filter(Boolean);
    },
    treeOf: (t, id, data) => extracted(t, data, (target) => execFileSync('borg', ['extract', `${path.join(t.dir, 'repo', 'm')}::${id}`, data.slice(1)], { env: borgEnv(t), cwd: target, stdio: 'ignore' })),
  },
};

// The targets restic and borg run (every fault of the copy provider's matrix would cost about four times
// as long): where the provider writes the snapshot (backup, the safety snapshot), reads it (restore, the
// drill), holds it while a later part fails (finally), and a restore whose files were already swapped.
const ENGINE_TARGETS = ['backup/50snapshot', 'finally/90start_service', 'pre-restore/05safety_snapshot', 'restore/10restore_module', 'restore/20part', 'verify/10restore_scratch'];
const ENGINE_FAULTS: Fault[] = ['fail', 'hang', 'SIGTERM'];

interface Setup {
  provider: ProviderCase;
  t: TestRoot;
  service: FakeService;
  faults: string;
  data: string;
  // PATH with a sqlite3 shim that runs the sqlite-dump / sqlite-load fault switches first
  path: string;
}

// A root with the faulty provider, a real process as the service, and every fault switch wired in.
// timeouts.part is the provider's hang timeout for the hang fault, and out of reach for the others.
async function setup(provider: ProviderCase, fault: Fault, onFinished: (fn: () => void) => void): Promise<Setup> {
  const t = makeRoot();
  const faults = path.join(t.dir, 'faults');
  mkdirSync(faults);
  installFaultyProvider(t.root, faults);
  writeFileSync(path.join(t.dir, 'pass'), `${PASSWORD}\n`, { mode: 0o600 });
  t.write('lifeboat.yaml', `repositories:\n  local: ${provider.repository(t.dir)}\n`);
  const service = await createFakeService();
  onFinished(() => {
    service.cleanup();
    t.cleanup();
  });
  const data = path.join(t.dir, 'data');
  mkdirSync(path.join(data, 'sub'), { recursive: true });
  writeFileSync(path.join(data, 'a.txt'), 'version 1\n');
  writeFileSync(path.join(data, 'sub', 'b.txt'), 'kept\n');
  // faultSnippet's switches, and `held`: touch `started`, then wait until the test says the signal was
  // received (for signals in the always-phases, which a signal does not stop: no clock decides whether
  // the signal arrives while the step runs)
  const snippet = (step: string) =>
    `${faultSnippet(faults, step)}\nif [ -e "${path.join(faults, `${step}.held`)}" ]; then touch "${path.join(faults, 'started')}"; while [ ! -e "${path.join(faults, 'released')}" ]; do sleep 0.05; done; fi`;
  t.module('m', {
    folders: [data],
    service: { stop: `${snippet('service-stop')}\n${service.stop}`, start: `${snippet('service-start')}\n${service.start}`, isActive: service.isActive, stopDuringBackup: true },
    timeouts: { part: 3600, killAfter: 1 },
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
  for (const [tool, body] of Object.entries(provider.shims(snippet))) writeFileSync(path.join(shims, tool), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  t.module('m', { ...parse(readFileSync(path.join(t.root, 'modules/m/module.yaml'), 'utf8')), databases: [{ sqlite: { path: db } }] });
  return { provider, t, service, faults, data, path: `${shims}:${process.env.PATH}` };
}

// Runs the action with the fault armed (signals need the part running: hanging, or in always-phases
// held until Lifeboat says it got the signal), sending the signal once the faulty step has started;
// disarms everything afterwards.
async function runFaulty(s: Setup, target: Target, fault: Fault, args: string[]) {
  const signal = fault === 'SIGTERM' || fault === 'SIGINT';
  if (signal && target.always) writeFileSync(path.join(s.faults, `${target.step}.held`), '');
  else armFault(s.faults, target.step, fault === 'fail' ? 'fail' : 'hang');
  // only the hang fault runs with a short timeouts.part (the runs before it had all the time they needed)
  if (fault === 'hang') s.t.module('m', { ...parse(readFileSync(path.join(s.t.root, 'modules/m/module.yaml'), 'utf8')), timeouts: { part: s.provider.hangTimeout, killAfter: 1 } });
  const child = lifeboat(s.t, args, { env: { PATH: s.path } });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  if (signal) {
    await waitForFile(path.join(s.faults, 'started'), 600_000);
    child.kill(fault);
    if (target.always) {
      // the held step goes on once Lifeboat has said it got the signal
      while (!stderr.includes(`received ${fault}`)) await new Promise((resolve) => setTimeout(resolve, 20));
      writeFileSync(path.join(s.faults, 'released'), '');
    }
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

// The sqlite3 binary the shim runs.
function realSqlite3(): string {
  return execFileSync('sh', ['-c', 'command -v sqlite3'], { encoding: 'utf8' }).trim();
}

// The three matrices (backup, in-place restore, verify) for one provider.
function matrix(provider: ProviderCase, targets: Target[], faults: Fault[]): void {
  describe.concurrent.each(targets.filter((x) => x.action === 'backup'))(`${provider.name}: backup, fault in $part`, (target) => {
    it.for(faults)('%s', { timeout: 900_000 }, async (fault, { expect, onTestFinished }) => {
      const s = await setup(provider, fault, onTestFinished);
      const { t, service, data } = s;
      const result = await runFaulty(s, target, fault, ['backup', 'm', '--json']);
      expect(result.exitCode, result.stderr).toBe(1);
      expect(JSON.parse(result.stdout).ok).toBe(false);
      const end = lastEnd(t);
      expect(end, result.stderr).toMatchObject({ result: 'failure', failedPart: target.part });
      if (fault === 'SIGTERM' || fault === 'SIGINT') expect(end.error).toBe(`interrupted by ${fault}`);
      if (fault === 'hang') expect(String(end.error)).toMatch(new RegExp(`timed out after ${provider.hangTimeout}s|was stopped`));
      const ids = provider.ids(t);
      if (target.snapshotBefore) {
        // The snapshot was taken before the fault: it is complete (its copy equals the data) and journaled.
        expect(ids).toHaveLength(1);
        expect((end.snapshots as Array<{ id: string }>).map((x) => x.id)).toEqual(ids);
        expect(provider.treeOf(t, ids[0], data)).toEqual(describeTree(data));
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

  describe.concurrent.each(targets.filter((x) => x.action === 'restore'))(`${provider.name}: in-place restore, fault in $part`, (target) => {
    it.for(faults)('%s', { timeout: 900_000 }, async (fault, { expect, onTestFinished }) => {
      const s = await setup(provider, fault, onTestFinished);
      const { t, service, data } = s;
      const backup = await lifeboat(t, ['backup', 'm'], { env: { PATH: s.path } });
      expect(backup.exitCode, backup.stderr).toBe(0);
      const [snapshot] = provider.ids(t);
      const snapshotTree = describeTree(data);
      // the live state the restore is about to replace
      writeFileSync(path.join(data, 'a.txt'), 'version 2\n');
      rmSync(path.join(data, 'sub', 'b.txt'));
      writeFileSync(path.join(data, 'new.txt'), 'added after the backup\n');
      const liveTree = describeTree(data);

      const result = await runFaulty(s, target, fault, ['restore', 'm', snapshot]);
      expect(result.exitCode, result.stderr).toBe(1);
      const end = lastEnd(t);
      expect(end, result.stderr).toMatchObject({ action: 'restore', result: 'failure', failedPart: target.part });
      if (fault === 'SIGTERM' || fault === 'SIGINT') expect(end.error).toBe(`interrupted by ${fault}`);

      const ids = provider.ids(t);
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

  describe.concurrent.each(targets.filter((x) => x.action === 'verify'))(`${provider.name}: verify (the restore drill), fault in $part`, (target) => {
    it.for(faults)('%s', { timeout: 900_000 }, async (fault, { expect, onTestFinished }) => {
      const s = await setup(provider, fault, onTestFinished);
      const { t, service, data } = s;
      const backup = await lifeboat(t, ['backup', 'm'], { env: { PATH: s.path } });
      expect(backup.exitCode, backup.stderr).toBe(0);
      const ids = provider.ids(t);
      const live = describeTree(data);
      const pid = service.pid();
      const result = await runFaulty(s, target, fault, ['verify', 'm', '--json']);
      expect(result.exitCode, result.stderr).toBe(1);
      expect(JSON.parse(result.stdout).ok).toBe(false);
      expect(lastEnd(t)).toMatchObject({ action: 'verify', result: 'failure', failedPart: target.part });
      if (fault === 'SIGTERM' || fault === 'SIGINT') expect(lastEnd(t).error).toBe(`interrupted by ${fault}`);
      // A drill changes nothing: no snapshot, the live files and the service untouched, no scratch left.
      expect(provider.ids(t)).toEqual(ids);
      expect(describeTree(data)).toEqual(live);
      expect(service.pid()).toBe(pid);
      expect(service.isRunning()).toBe(true);
      expect(existsSync(path.join(t.stateDir, 'scratch', 'verify', 'm'))).toBe(false);
    });
  });
}

matrix(PROVIDERS.copy, TARGETS, FAULTS);
for (const engine of [PROVIDERS.restic, PROVIDERS.borg]) matrix(engine, TARGETS.filter((target) => ENGINE_TARGETS.includes(target.part)), ENGINE_FAULTS);
