// A dump tool writing straight into its consumer (restic's stdin, borg's pipe): the bytes arrive whole, and
// the consumer sees the end of its input only when Lifeboat closes its own end after the tool exited 0,
// never when the tool merely stops (so a dump that died half-way cannot look complete).
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { dumpFromTool } from '../../src/engines/process.js';
import { feed } from '../../src/engines/pump.js';
import { testLogger } from '../helpers/provider.js';

const ctx = () => ({ env: { PATH: process.env.PATH }, log: testLogger(), workDir: '/tmp' });

// A consumer that says `all` once it has read `expected` bytes and `end <count>` when its stdin ends.
function consumer(expected: number) {
  const script = `let n = 0; process.stdin.on('data', (b) => { n += b.length; if (n === ${expected}) console.log('all'); }); process.stdin.on('end', () => console.log('end ' + n));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    waiters.splice(0).forEach((wake) => wake());
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const saw = async (text: string) => {
    while (!out.includes(text)) await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), exited]).then(() => {
      if (child.exitCode !== null && !out.includes(text)) throw new Error(`the consumer exited without printing ${text}: ${out}`);
    });
  };
  return { child, exited, saw, output: () => out };
}

describe('a dump tool writing straight into its consumer', () => {
  it('hands over every byte without Node copying them, and the consumer reads to the end only after Lifeboat closed its end', async () => {
    const sink = consumer(3000000);
    const run = dumpFromTool({ file: 'head', args: ['-c', '3000000', '/dev/zero'], label: 'test dump' }, ctx(), sink.child.stdin);
    expect(run.direct).toBe(true);
    await feed(run, sink.child.stdin);
    // Every byte arrived and the tool has exited, yet the consumer has no end of input: Lifeboat's end is open.
    await sink.saw('all');
    expect(sink.output()).toBe('all\n');
    sink.child.stdin.end();
    await sink.saw('end');
    expect(sink.output()).toBe('all\nend 3000000\n');
  });

  it('a tool that dies half-way fails the feed while the consumer is still waiting for the rest', async () => {
    const sink = consumer(100000);
    const run = dumpFromTool({ file: 'sh', args: ['-c', 'head -c 100000 /dev/zero; echo "simulated crash" >&2; kill -KILL $$'], label: 'test dump' }, ctx(), sink.child.stdin);
    const error = await feed(run, sink.child.stdin).catch((e: unknown) => e);
    expect(String(error)).toMatch(/test dump: sh was killed by SIGKILL: simulated crash/);
    await sink.saw('all');
    expect(sink.output()).toBe('all\n');
    sink.child.kill('SIGTERM');
    await sink.exited;
    expect(sink.output()).not.toContain('end');
  });
});
