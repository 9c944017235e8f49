// A Redis dump handed a consumer's descriptor runs as a process of its own (lifeboat internal-dump-redis),
// writing into it like pg_dump: the bytes arrive whole and equal the dump made inside Lifeboat, the
// consumer sees its end only when Lifeboat closes its own end; a consumer that goes away, an unreachable
// server and a stopped dump fail naming the database. Needs the built CLI (npm run build).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisDumps } from '../../src/engines/redis.js';
import { feed } from '../../src/engines/pump.js';
import type { RedisDatabase } from '../../src/config/types.js';
import { deleteRedisKeys, engineContext, freePort, redisCli, REDIS_URL, uniqueName } from '../helpers/databases.js';

const prefix = `lbrp-${uniqueName()}`;
const config: RedisDatabase = { url: REDIS_URL, keys: [`${prefix}:*`] };
const label = `Redis 127.0.0.1:6379 db 0 (keys ${prefix}:*)`;

beforeAll(() => {
  // 2 MiB of random values: more than a pipe holds, so the writer has to wait for the reader.
  for (let i = 0; i < 32; i++) redisCli(['-x', 'SET', `${prefix}:k${i}`], randomBytes(65536));
});
afterAll(() => deleteRedisKeys(prefix));

// A consumer that collects its stdin and prints how many bytes it got when it ends; `take` bytes only,
// then exits (a consumer that goes away).
function consumer(take?: number) {
  const script = take
    ? `process.stdin.once('readable', () => { process.stdin.read(); process.exit(0); });`
    : `const chunks = []; process.stdin.on('data', (b) => chunks.push(b)); process.stdin.on('end', () => process.stdout.write(Buffer.concat(chunks)));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'ignore'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return { child, exited, bytes: () => Buffer.concat(chunks) };
}

// The dump made inside Lifeboat (staged dumps, LIFEBOAT_DUMP_DIRECT=0), for comparison.
async function inProcess(): Promise<Buffer> {
  const run = redisDumps(config)[0].start!(engineContext());
  const chunks: Buffer[] = [];
  run.stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  await run.done;
  return Buffer.concat(chunks);
}

describe('a Redis dump handed a consumer', () => {
  it('runs as its own process and writes the same bytes as the dump made inside Lifeboat', async () => {
    const sink = consumer();
    const ctx = engineContext();
    const run = redisDumps(config)[0].start!(ctx, sink.child.stdin);
    expect(run.direct).toBe(true);
    await feed(run, sink.child.stdin);
    expect(ctx.lines.join('\n')).toContain(`running lifeboat internal-dump-redis (${label}), its stdout straight into the consumer`);
    // The dump process has exited 0; the consumer's input ends only now.
    sink.child.stdin.end();
    await sink.exited;
    const expected = await inProcess();
    expect(expected.length).toBeGreaterThan(2 << 20);
    expect(sink.bytes().equals(expected)).toBe(true);
  });

  it('a consumer that goes away fails the dump naming the database', async () => {
    const sink = consumer(1);
    const run = redisDumps(config)[0].start!(engineContext(), sink.child.stdin);
    const error = await run.done.catch((e: unknown) => e);
    expect(String(error)).toMatch(new RegExp(`^LifeboatError: ${label.replace(/[()*]/g, '\\$&')}: writing the dump failed: .*EPIPE`));
    await sink.exited;
  });

  it('an unreachable server fails it with the dump process\'s own message (a password given, never shown)', async () => {
    const port = await freePort();
    const sink = consumer();
    const ctx = engineContext({ LBRP_PASSWORD: 'lbrp-secret-password' });
    const run = redisDumps({ url: `redis://127.0.0.1:${port}/0`, passwordEnv: 'LBRP_PASSWORD' })[0].start!(ctx, sink.child.stdin);
    const error = await feed(run, sink.child.stdin).catch((e: unknown) => e);
    expect(String(error)).toMatch(new RegExp(`^LifeboatError: Redis 127.0.0.1:${port} db 0 \\(whole database\\): connect ECONNREFUSED 127.0.0.1:${port}$`));
    expect(String(error)).not.toContain('lbrp-secret-password');
    sink.child.kill('SIGTERM');
    await sink.exited;
  });

  it('abort() stops the dump process and says so', async () => {
    const sink = consumer();
    const run = redisDumps(config)[0].start!(engineContext(), sink.child.stdin);
    run.abort('the backup stopped');
    const error = await run.done.catch((e: unknown) => e);
    expect(String(error)).toBe(`LifeboatError: ${label}: the dump was stopped (the backup stopped)`);
    sink.child.kill('SIGTERM');
    await sink.exited;
  });
});
