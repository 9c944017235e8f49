// The set-up both kill -9 loops share (kill9-backup.test.ts, kill9-restore.test.ts): a restic repository,
// a module with two folders (and a third inside the first), a real process as its service, a NethServer dump script; data written in
// generations whose file sizes name them; restic run directly; kills at chosen moments.
import { afterAll, beforeAll, expect } from 'vitest';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { createFakeService, type FakeService } from '../helpers/service.js';
import { describeTree } from '../helpers/fs-state.js';
import { journalRecords } from '../helpers/faults.js';
import { seededRandom, spawnLifeboat, waitGroupGone } from '../helpers/kill.js';

export const ITERATIONS = Number(process.env.LIFEBOAT_KILL_ITERATIONS ?? 20);
export const SEED = Number(process.env.LIFEBOAT_KILL_SEED ?? Date.now() % 1_000_000);
// Files per folder: enough that swapping a folder's contents takes a moment.
export const FILES = 120;

export let t: TestRoot;
export let service: FakeService;
export let folders: string[];
let resticEnv: Record<string, string>;
export { lifeboat, seededRandom, spawnLifeboat, waitGroupGone };

beforeAll(async () => {
  t = makeRoot({ repositories: {} });
  const passwordFile = path.join(t.dir, 'restic.pass');
  writeFileSync(passwordFile, 'kill-nine-password\n', { mode: 0o600 });
  t.write('lifeboat.yaml', `repositories:\n  local: { provider: restic, url: ${path.join(t.dir, 'repo')}, passwordFile: ${passwordFile} }\n`);
  service = await createFakeService();
  folders = [path.join(t.dir, 'data', 'one'), path.join(t.dir, 'data', 'two')];
  // A folder inside another too (it comes back with the outer one; its own swap must not undo that).
  t.module('m', { folders: [...folders, path.join(folders[0], 'sub')], service: { ...service.config, stopDuringBackup: true }, retention: { keepLast: 1000 } });
  t.write('modules/m/environment', 'M_TOKEN=token-of-m\n');
  t.write('modules/m/bin/module-dump-state', '#!/bin/sh\necho "dump of $M_TOKEN" > "$LIFEBOAT_STATE_DIR/dump.txt"\n', 0o755);
  resticEnv = { RESTIC_REPOSITORY: path.join(t.dir, 'repo', 'm'), RESTIC_PASSWORD_FILE: passwordFile };
});

afterAll(() => {
  service.cleanup();
  t.cleanup();
});

// Writes generation `gen` of the data: every file's size says which generation it belongs to.
export function writeGeneration(gen: number, extra = false): void {
  for (const folder of folders) {
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(path.join(folder, 'sub'), { recursive: true });
    for (let i = 0; i < FILES; i++) writeFileSync(path.join(folder, i % 4 === 0 ? 'sub' : '', `f${String(i).padStart(3, '0')}`), 'x'.repeat(100 + gen));
    if (extra) writeFileSync(path.join(folder, 'extra-not-in-snapshot'), 'only in the live state\n');
  }
}

// The live data as one comparable list (scratch folders of a killed restore are checked on their own).
export function live(): string[] {
  return folders.flatMap((folder) => describeTree(folder).filter((line) => !line.startsWith('.lifeboat-restore-')).map((line) => `${path.basename(folder)}/${line}`));
}

// Runs restic directly against the module's repository.
export function restic(args: string[]) {
  return execa('restic', args, { env: resticEnv, reject: false });
}

// restic check passes. Every fifth time (and at the end) Lifeboat's own exclusive operation, `forget
// --prune` (restic prune, whatever the prune cadence), must first cope with any lock a killed restic
// left behind; in between, check does not lock.
export async function expectCheckPasses(where: string, i: number): Promise<void> {
  const exclusive = i % 5 === 0 || i === ITERATIONS;
  if (exclusive) {
    const forget = await lifeboat(t, ['forget', 'm', '--prune']);
    expect(forget.exitCode, `${where}: lifeboat forget: ${forget.stderr}`).toBe(0);
  }
  // A lock a killed restic left behind: `restic unlock` removes only locks of processes that are gone
  // (Lifeboat does the same before retrying a call a lock blocked; its forget may have had nothing to do).
  if (exclusive) expect((await restic(['unlock'])).exitCode, `${where}: restic unlock`).toBe(0);
  const check = await restic([...(exclusive ? [] : ['--no-lock']), 'check', '--no-cache']);
  expect(check.exitCode, `${where}: restic check: ${check.stderr}`).toBe(0);
}

// Scratch folders and markers that no finished run may leave behind.
export function leftovers(): string[] {
  const holders = [...folders, path.join(t.stateDir, 'modules', 'm', 'state'), path.join(t.root, 'modules', 'm')];
  return holders.flatMap((dir) => (existsSync(dir) ? readdirSync(dir).filter((name) => name.startsWith('.lifeboat-restore-')).map((name) => path.join(dir, name)) : []));
}

// Kills the run after `delayMs`: the leader alone (its restic lives on) or its whole process group.
export async function killAfter(child: ReturnType<typeof spawnLifeboat>, delayMs: number, wholeGroup: boolean): Promise<void> {
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
export async function timed(args: string[]): Promise<number> {
  const started = Date.now();
  const result = await lifeboat(t, args);
  expect(result.exitCode, result.stderr).toBe(0);
  return Date.now() - started;
}

// After the run that follows a kill: service up, no lock, no scratch folder, no marker.
// `output` (the stderr of the run before) goes into the messages, so a failure says what that run did.
export function continueChecks(where: string, output = ''): void {
  expect(service.isRunning(), `${where}: service (pid file ${service.pid() ?? 'empty'}); the run before printed:\n${output}`).toBe(true);
  expect(readdirSync(path.join(t.stateDir, 'locks')), `${where}: locks`).toEqual([]);
  expect(leftovers(), `${where}: leftovers`).toEqual([]);
  expect(existsSync(path.join(t.stateDir, 'modules', 'm', 'restore-unfinished.json')), `${where}: marker`).toBe(false);
}

// The loop of the backup kill tests (restic and borg): after a first backup and a timed one, ITERATIONS
// backups of a new generation of the data, each killed at a random moment over 1.2 times an unkilled
// run (alone, or with its process group every other time); after each kill the next backup must
// succeed, the service run and no lock be left, then `check(where, i)` runs. Returns how many runs were
// killed before they finished (at least one, or the loop proved nothing).
export async function backupKillLoop(check: (where: string, i: number) => Promise<void>, describeLocks: () => string = () => ''): Promise<number> {
  const random = seededRandom(SEED);
  writeGeneration(0);
  // the first backup also creates the repository: time the second one
  expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
  const duration = await timed(['backup', 'm']);
  let killed = 0;
  for (let i = 1; i <= ITERATIONS; i++) {
    const where = `iteration ${i} (seed ${SEED})`;
    writeGeneration(i);
    const child = spawnLifeboat(t, ['backup', 'm']);
    await killAfter(child, Math.floor(random() * duration * 1.2), i % 2 === 0);
    if ((await child).exitCode !== 0) killed++;
    const next = await lifeboat(t, ['backup', 'm']);
    expect(next.exitCode, `${where}: next backup: ${next.stderr}${describeLocks()}`).toBe(0);
    expect(service.isRunning(), `${where}: service`).toBe(true);
    expect(readdirSync(path.join(t.stateDir, 'locks')), `${where}: locks`).toEqual([]);
    await check(where, i);
  }
  expect(killed, 'some runs were actually killed').toBeGreaterThan(0);
  // Killed runs are starts without an end in the journal; every finished run has its end, none failed.
  const records = journalRecords(t.stateDir);
  const ends = new Set(records.filter((r) => r.type === 'end').map((r) => r.runId));
  expect(records.filter((r) => r.type === 'start' && !ends.has(r.runId)).length).toBeLessThanOrEqual(killed);
  expect(records.filter((r) => r.type === 'end' && r.result !== 'success')).toEqual([]);
  return killed;
}
