// SIGKILL tests: run the real CLI in its own process group, kill it at a chosen moment, and wait until
// whatever it started in that group (restic, a provider script) is gone too.
import { readdirSync, readFileSync } from 'node:fs';
import { execa, type ResultPromise } from 'execa';
import { BIN, type TestRoot } from './root.js';

// Starts `lifeboat --root R --state-dir S ARGS...` as the leader of a new process group.
export function spawnLifeboat(t: Pick<TestRoot, 'root' | 'stateDir'>, args: string[], env: Record<string, string> = {}): ResultPromise<{ reject: false; detached: true }> {
  return execa('node', [BIN, '--root', t.root, '--state-dir', t.stateDir, ...args], { reject: false, detached: true, env, input: '' }) as unknown as ResultPromise<{
    reject: false;
    detached: true;
  }>;
}

// True while a live (not zombie) process of the group exists.
export function groupAlive(pgid: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}

// Waits until the group is empty (orphans of a killed leader finish on their own); throws after `ms`.
export async function waitGroupGone(pgid: number, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (groupAlive(pgid)) {
    if (Date.now() > deadline) throw new Error(`process group ${pgid} still has live processes after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// A small seeded PRNG (mulberry32), so a failing sequence of kill moments can be replayed.
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
