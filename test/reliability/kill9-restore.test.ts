// kill -9 during an in-place restore, with restic: Lifeboat is SIGKILLed at random moments, and from a
// restore part right after the files were swapped. Without an unfinished-restore marker the live files
// must be the old state or the new one; with one, backup refuses and the printed commands finish the
// restore or roll it back to the safety snapshot. After each: service up, no lock, no scratch folder,
// `restic check` passes.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { continueChecks, expectCheckPasses, ITERATIONS, killAfter, lifeboat, live, SEED, seededRandom, spawnLifeboat, t, timed, waitGroupGone, writeGeneration } from './kill9-fixture.js';

describe('kill -9 with restic', () => {
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
      // a safety snapshot every other time (the rollback path needs one; it costs a restic backup)
      const safety = i % 2 === 0;
      const child = spawnLifeboat(t, ['restore', 'm', snapshot, ...(safety ? [] : ['--no-safety-snapshot'])]);
      if (afterSwap) {
        await child;
        await waitGroupGone(child.pid!);
        rmSync(killSwitch);
      } else {
        // without the safety snapshot the run is about half as long
        await killAfter(child, Math.floor(random() * duration * (safety ? 1.2 : 0.7)), i % 2 === 0);
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
        expect(finish, `${where}: ${refused.stderr}`).toBeTruthy();
        expect(finish![1]).toBe(`lifeboat restore m ${snapshot} --repo local`);
        if (!safety) expect(refused.stderr).toContain('it cannot be rolled back: no safety snapshot was taken');
        if (safety) {
          expect(rollback, `${where}: ${refused.stderr}`).toBeTruthy();
          const back = await lifeboat(t, ['restore', 'm', rollback![1], '--repo', 'local', '--no-safety-snapshot']);
          expect(back.exitCode, `${where}: rollback: ${back.stderr}`).toBe(0);
          expect(live(), `${where}: rolled back`).toEqual(expectedOld);
          continueChecks(where, back.stderr);
          await expectCheckPasses(where, i);
          continue;
        }
      }
      if (!unfinished && i % 3 === 1) {
        // the next run is a backup: it cleans up after the killed restore and changes no live file
        const backup = await lifeboat(t, ['backup', 'm']);
        expect(backup.exitCode, `${where}: next backup: ${backup.stderr}`).toBe(0);
        expect(live(), `${where}: after the backup`).toEqual(now);
        continueChecks(where, backup.stderr);
        await expectCheckPasses(where, i);
        continue;
      }
      // the printed command as is; otherwise a plain restore without the (costly) safety snapshot
      const next = await lifeboat(t, ['restore', 'm', snapshot, ...(unfinished ? ['--repo', 'local'] : ['--no-safety-snapshot'])]);
      expect(next.exitCode, `${where}: next restore: ${next.stderr}`).toBe(0);
      if (unfinished) expect(next.stderr).toContain('unfinished in-place restore');
      expect(live(), `${where}: finished`).toEqual(expectedNew);
      continueChecks(where, next.stderr);
      await expectCheckPasses(where, i);
    }
    console.log(`kill -9 during in-place restore, seed ${SEED}: state right after each kill: ${JSON.stringify(outcomes)}`);
    expect(outcomes.unfinished, JSON.stringify(outcomes)).toBeGreaterThan(0);
  });
});
