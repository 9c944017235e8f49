// kill -9 during backup, with restic: Lifeboat is SIGKILLed at random moments (alone, leaving restic to
// finish as an orphan, or with its whole process group). After each kill the next backup succeeds (no lock
// blocks it), the service runs, `restic check` passes; at the end every snapshot holds exactly one
// generation of the data (never a mix, never partial).
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { journalRecords } from '../helpers/faults.js';
import { expectCheckPasses, FILES, folders, ITERATIONS, killAfter, lifeboat, restic, SEED, seededRandom, service, spawnLifeboat, t, timed, writeGeneration } from './kill9-fixture.js';

describe('kill -9 with restic', () => {
  it(`during backup, ${ITERATIONS} times (seed ${SEED})`, { timeout: 900_000 }, async () => {
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
      expect(next.exitCode, `${where}: next backup: ${next.stderr}`).toBe(0);
      expect(service.isRunning(), `${where}: service`).toBe(true);
      expect(readdirSync(path.join(t.stateDir, 'locks')), `${where}: locks`).toEqual([]);
      await expectCheckPasses(where, i);
    }
    console.log(`kill -9 during backup, seed ${SEED}: ${killed} of ${ITERATIONS} runs killed before they finished`);
    expect(killed, 'some runs were actually killed').toBeGreaterThan(0);
    // Every snapshot holds exactly one generation of every file: none is partial, none is a mix.
    const found = await restic(['find', '--json', '*']);
    expect(found.exitCode, found.stderr).toBe(0);
    const groups = JSON.parse(found.stdout) as Array<{ snapshot: string; matches: Array<{ path: string; type: string; size?: number }> }>;
    expect(groups.length).toBeGreaterThanOrEqual(ITERATIONS + 2);
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
});
