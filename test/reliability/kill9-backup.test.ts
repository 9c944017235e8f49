// kill -9 during backup, with restic: Lifeboat is SIGKILLed at random moments (alone, leaving restic to
// finish as an orphan, or with its whole process group). After each kill the next backup succeeds (no lock
// blocks it), the service runs, `restic check` passes; at the end every snapshot holds exactly one
// generation of the data (never a mix, never partial).
import { describe, expect, it } from 'vitest';
import { backupKillLoop, expectCheckPasses, FILES, folders, ITERATIONS, restic, SEED } from './kill9-fixture.js';

describe('kill -9 with restic', () => {
  it(`during backup, ${ITERATIONS} times (seed ${SEED})`, { timeout: 900_000 }, async () => {
    const killed = await backupKillLoop(expectCheckPasses);
    console.log(`kill -9 during backup, seed ${SEED}: ${killed} of ${ITERATIONS} runs killed before they finished`);
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
  });
});
