// kill -9 loops with restic: Lifeboat is SIGKILLed at random moments of a backup and of an in-place
// restore (alone, leaving restic to finish as an orphan, or with its whole process group). After each kill
// the next run must succeed (no lock blocks it), `restic check` must pass, every snapshot must hold one
// generation of the data (never a mix), and the live files must be the old state or the new one; an
// interrupted in-place restore must be finished or rolled back by the commands Lifeboat prints.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { createFakeService, type FakeService } from '../helpers/service.js';
import { describeTree } from '../helpers/fs-state.js';
import { journalRecords } from '../helpers/faults.js';
import { seededRandom, spawnLifeboat, waitGroupGone } from '../helpers/kill.js';

const ITERATIONS = Number(process.env.LIFEBOAT_KILL_ITERATIONS ?? 20);
const SEED = Number(process.env.LIFEBOAT_KILL_SEED ?? Date.now() % 1_000_000);
// Files per folder: enough that swapping a folder's contents takes a moment.
const FILES = 120;

let t: TestRoot;
let service: FakeService;
let folders: string[];
let resticEnv: Record<string, string>;

beforeAll(async () => {
  t = makeRoot({ repositories: {} });
  const passwordFile = path.join(t.dir, 'restic.pass');
  writeFileSync(passwordFile, 'kill-nine-password\n', { mode: 0o600 });
  t.write('lifeboat.yaml', `repositories:\n  local: { provider: restic, url: ${path.join(t.dir, 'repo')}, passwordFile: ${passwordFile} }\n`);
  service = await createFakeService();
  folders = [path.join(t.dir, 'data', 'one'), path.join(t.dir, 'data', 'two')];
  t.module('m', { folders, service: { ...service.config, stopDuringBackup: true }, retention: { keepLast: 1000 } });
  t.write('modules/m/environment', 'M_TOKEN=token-of-m\n');
  t.write('modules/m/bin/module-dump-state', '#!/bin/sh\necho "dump of $M_TOKEN" > "$LIFEBOAT_STATE_DIR/dump.txt"\n', 0o755);
  resticEnv = { RESTIC_REPOSITORY: path.join(t.dir, 'repo', 'm'), RESTIC_PASSWORD_FILE: passwordFile };
});

afterAll(() => {
  service.cleanup();
  t.cleanup();
});

// Writes generation `gen` of the data: every file's size says which generation it belongs to.
function writeGeneration(gen: number, extra = false): void {
  for (const folder of folders) {
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(path.join(folder, 'sub'), { recursive: true });
    for (let i = 0; i < FILES; i++) writeFileSync(path.join(folder, i % 4 === 0 ? 'sub' : '', `f${String(i).padStart(3, '0')}`), 'x'.repeat(100 + gen));
    if (extra) writeFileSync(path.join(folder, 'extra-not-in-snapshot'), 'only in the live state\n');
  }
}

// The live data as one comparable list (scratch folders of a killed restore are checked on their own).
function live(): string[] {
  return folders.flatMap((folder) => describeTree(folder).filter((line) => !line.startsWith('.lifeboat-restore-')).map((line) => `${path.basename(folder)}/${line}`));
}

// Runs restic directly against the module's repository.
function restic(args: string[]) {
  return execa('restic', args, { env: resticEnv, reject: false });
}

// restic check passes. Every fifth time (and at the end) Lifeboat's own exclusive operation, forget
// --prune, must first cope with any lock a killed restic left behind; in between, check does not lock.
async function expectCheckPasses(where: string, i: number): Promise<void> {
  const exclusive = i % 5 === 0 || i === ITERATIONS;
  if (exclusive) {
    const forget = await lifeboat(t, ['forget', 'm']);
    expect(forget.exitCode, `${where}: lifeboat forget: ${forget.stderr}`).toBe(0);
  }
  const check = await restic([...(exclusive ? [] : ['--no-lock']), 'check', '--no-cache']);
  expect(check.exitCode, `${where}: restic check: ${check.stderr}`).toBe(0);
}

// Scratch folders and markers that no finished run may leave behind.
function leftovers(): string[] {
  const holders = [...folders, path.join(t.stateDir, 'modules', 'm', 'state'), path.join(t.root, 'modules', 'm')];
  return holders.flatMap((dir) => (existsSync(dir) ? readdirSync(dir).filter((name) => name.startsWith('.lifeboat-restore-')).map((name) => path.join(dir, name)) : []));
}

// Kills the run after `delayMs`: the leader alone (its restic lives on) or its whole process group.
async function killAfter(child: ReturnType<typeof spawnLifeboat>, delayMs: number, wholeGroup: boolean): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  try {
    process.kill(wholeGroup ? -child.pid! : child.pid!, 'SIGKILL');
  } catch {
    // it finished before the kill
  }
  await child;
  await waitGroupGone(child.pid!);
}

// Times one unkilled run, to spread the kill moments over its whole length.
async function timed(args: string[]): Promise<number> {
  const started = Date.now();
  const result = await lifeboat(t, args);
  expect(result.exitCode, result.stderr).toBe(0);
  return Date.now() - started;
}

describe('kill -9 with restic', () => {
  it(`during backup, ${ITERATIONS} times (seed ${SEED})`, { timeout: 900_000 }, async () => {
    const random = seededRandom(SEED);
    writeGeneration(0);
    const duration = await timed(['backup', 'm']);
    let killed = 0;
    for (let i = 1; i <= ITERATIONS; i++) {
      const where = `iteration ${i} (seed ${SEED})`;
      writeGeneration(i);
      const child = spawnLifeboat(t, ['backup', 'm']);
      await killAfter(child, Math.floor(random() * duration * 1.2), i % 2 === 0);
      if ((await child).exitCode !== 0) killed++;
      const next = await lifeboat(t, ['backup', 'm']);
      expect(next.exitCode, `${where}: next backup: ${next.stderr}`).toBe(0);
      expect(service.isRunning(), `${where}: service`).toBe(true);
      expect(readdirSync(path.join(t.stateDir, 'locks')), `${where}: locks`).toEqual([]);
      await expectCheckPasses(where, i);
    }
    expect(killed, 'some runs were actually killed').toBeGreaterThan(0);
    // Every snapshot holds exactly one generation of every file: none is partial, none is a mix.
    const found = await restic(['find', '--json', '*']);
    expect(found.exitCode, found.stderr).toBe(0);
    const groups = JSON.parse(found.stdout) as Array<{ snapshot: string; matches: Array<{ path: string; type: string; size?: number }> }>;
    expect(groups.length).toBeGreaterThanOrEqual(ITERATIONS + 1);
    for (const group of groups) {
      const files = group.matches.filter((m) => m.type === 'file' && folders.some((f) => m.path.startsWith(`${f}/`)));
      expect(files, `snapshot ${group.snapshot}`).toHaveLength(FILES * folders.length);
      expect(new Set(files.map((f) => f.size)).size, `snapshot ${group.snapshot} mixes generations`).toBe(1);
    }
    // The killed runs are in the journal as starts without an end; every finished run has its end.
    const records = journalRecords(t.stateDir);
    const ends = new Set(records.filter((r) => r.type === 'end').map((r) => r.runId));
    const unended = records.filter((r) => r.type === 'start' && !ends.has(r.runId));
    expect(unended.length).toBeLessThanOrEqual(killed);
    expect(records.filter((r) => r.type === 'end' && r.result !== 'success')).toEqual([]);
  });

  it(`during in-place restore, ${ITERATIONS} times (seed ${SEED})`, { timeout: 900_000 }, async () => {
    const random = seededRandom(SEED + 1);
    writeGeneration(500);
    const expectedNew = live();
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    const snapshots = JSON.parse((await lifeboat(t, ['snapshots', 'm', '--json'])).stdout) as Array<{ id: string }>;
    const snapshot = snapshots[snapshots.length - 1].id;
    writeGeneration(900, true);
    const duration = await timed(['restore', 'm', snapshot]);
    expect(live()).toEqual(expectedNew);
    // A restore part that SIGKILLs Lifeboat right after the files were swapped, when its switch is on.
    const killSwitch = path.join(t.dir, 'kill-after-swap');
    t.part('restore', '20killer', `#!/bin/sh\n[ -e "${killSwitch}" ] && kill -9 $PPID\nexit 0\n`, 'm');
    const outcomes: Record<string, number> = {};
    for (let i = 1; i <= ITERATIONS; i++) {
      const where = `iteration ${i} (seed ${SEED})`;
      writeGeneration(900, true);
      const expectedOld = live();
      const afterSwap = i % 5 === 0;
      if (afterSwap) writeFileSync(killSwitch, '');
      const child = spawnLifeboat(t, ['restore', 'm', snapshot]);
      if (afterSwap) {
        await child;
        await waitGroupGone(child.pid!);
        rmSync(killSwitch);
      } else {
        await killAfter(child, Math.floor(random() * duration * 1.2), i % 2 === 0);
      }
      // a `staging` marker only means scratch folders (the live files untouched); `replacing` a possible mix
      const markerFile = path.join(t.stateDir, 'modules', 'm', 'restore-unfinished.json');
      const unfinished = existsSync(markerFile) && JSON.parse(readFileSync(markerFile, 'utf8')).phase === 'replacing';
      const now = live();
      const state = unfinished ? 'unfinished' : JSON.stringify(now) === JSON.stringify(expectedOld) ? 'old' : JSON.stringify(now) === JSON.stringify(expectedNew) ? 'new' : 'MIX';
      outcomes[state] = (outcomes[state] ?? 0) + 1;
      expect(state, `${where}: without an unfinished-restore marker the live files are the old or the new state`).not.toBe('MIX');
      if (afterSwap) expect(state, where).toBe('unfinished');
      if (unfinished) {
        // backup refuses the mix and prints both ways out
        const refused = await lifeboat(t, ['backup', 'm']);
        expect(refused.exitCode, where).toBe(1);
        const finish = /to finish it: (lifeboat restore m \S+ --repo local)/.exec(refused.stderr);
        const rollback = /to roll back to the state before it: lifeboat restore m (\S+) --repo local --no-safety-snapshot/.exec(refused.stderr);
        expect(finish && rollback, `${where}: ${refused.stderr}`).toBeTruthy();
        expect(finish![1]).toBe(`lifeboat restore m ${snapshot} --repo local`);
        if (i % 2 === 0) {
          const back = await lifeboat(t, ['restore', 'm', rollback![1], '--repo', 'local', '--no-safety-snapshot']);
          expect(back.exitCode, `${where}: rollback: ${back.stderr}`).toBe(0);
          expect(live(), `${where}: rolled back`).toEqual(expectedOld);
          continueChecks(where);
          await expectCheckPasses(where, i);
          continue;
        }
      }
      if (!unfinished && i % 3 === 1) {
        // the next run is a backup: it cleans up after the killed restore and changes no live file
        const backup = await lifeboat(t, ['backup', 'm']);
        expect(backup.exitCode, `${where}: next backup: ${backup.stderr}`).toBe(0);
        expect(live(), `${where}: after the backup`).toEqual(now);
        continueChecks(where);
        await expectCheckPasses(where, i);
        continue;
      }
      const next = await lifeboat(t, ['restore', 'm', snapshot]);
      expect(next.exitCode, `${where}: next restore: ${next.stderr}`).toBe(0);
      if (unfinished) expect(next.stderr).toContain('unfinished in-place restore');
      expect(live(), `${where}: finished`).toEqual(expectedNew);
      continueChecks(where);
      await expectCheckPasses(where, i);
    }
    expect(outcomes.unfinished, JSON.stringify(outcomes)).toBeGreaterThan(0);
  });
});

// After the run that follows a kill: service up, no lock, no scratch folder, no marker.
function continueChecks(where: string): void {
  expect(service.isRunning(), `${where}: service`).toBe(true);
  expect(readdirSync(path.join(t.stateDir, 'locks')), `${where}: locks`).toEqual([]);
  expect(leftovers(), `${where}: leftovers`).toEqual([]);
  expect(existsSync(path.join(t.stateDir, 'modules', 'm', 'restore-unfinished.json')), `${where}: marker`).toBe(false);
}
