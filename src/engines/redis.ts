// Redis: the keys matching the module's patterns (SCAN MATCH, never KEYS), or the whole database when no
// pattern is given, as DUMP payloads with their remaining TTL. Restore: RESTORE ... REPLACE for every key
// in the dump, then the keys matching the patterns that are not in the dump are deleted, so the module's
// keys become exactly the snapshot; keys outside the patterns are never touched.
//
// Dump file format (databases/redis-<name>.redis), streamable, all integers big-endian:
//   "LIFEBOAT-REDIS/1\n"
//   per key:  u32 key length, key, i64 TTL in ms (-1: none), u32 payload length, DUMP payload
//   trailer:  u32 0xFFFFFFFF, u64 number of keys      (a dump without it is truncated and refused)
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inPatterns } from './redis-keys.js';
import { LifeboatError } from '../errors.js';
import type { RedisDatabase } from '../config/types.js';
import { readPassword } from './credentials.js';
import { encodeName, EXTENSIONS } from './names.js';
import { describeTarget, parseRedisUrl, RedisClient, type RedisTarget } from './resp.js';
import type { DumpJob, DumpOutput, DumpRun, EngineContext, EngineDeclaration, LoadJob, LoadSource } from './types.js';
import { dumpRedisProcess } from './redis-process.js';
import { startScratchRedis } from './redis-server.js';
import { SCRATCH_HINT } from './scratch.js';

export const REDIS_MAGIC = 'LIFEBOAT-REDIS/1\n';
const TRAILER = 0xffffffff;
const DEFAULT_URL = 'redis://127.0.0.1:6379/0';
// Keys dumped per pipelined round trip, and bytes of RESTORE payloads in flight at most.
const BATCH = 32;
const WINDOW_BYTES = 8 << 20;

// `Redis db 0 on 127.0.0.1:6379 (keys module/app/*)`.
function labelOf(config: RedisDatabase, target: RedisTarget): string {
  return `Redis ${describeTarget(target)}${config.keys?.length ? ` (keys ${config.keys.join(', ')})` : ' (whole database)'}`;
}

// The connection target with the password from passwordFile / passwordEnv / the url (masked).
export function redisTarget(config: Pick<RedisDatabase, 'url' | 'passwordFile' | 'passwordEnv'>, ctx: EngineContext): RedisTarget {
  const target = parseRedisUrl(config.url ?? DEFAULT_URL);
  if (target.password !== undefined) ctx.log.masker.add(target.password);
  const password = readPassword(config, `Redis ${describeTarget(target)}`, ctx);
  if (password !== undefined) target.password = password;
  return target;
}

// The dump file of an entry: redis-<name>.redis, name defaulting to db<N>.
function dumpFile(config: RedisDatabase): string {
  const db = parseRedisUrl(config.url ?? DEFAULT_URL).db;
  return `redis-${config.name ?? encodeName(`db${db}`)}${EXTENSIONS.redis}`;
}

// The dump job of one `redis:` entry.
export function redisDumps(config: RedisDatabase): DumpJob[] {
  const target = parseRedisUrl(config.url ?? DEFAULT_URL);
  return [{ engine: 'redis', file: dumpFile(config), label: labelOf(config, target), streamable: config.stream !== false, start: (ctx, output) => dumpRedis(config, ctx, output) }];
}

// The load job of one `redis:` entry.
export function redisLoads(config: RedisDatabase): LoadJob[] {
  const target = parseRedisUrl(config.url ?? DEFAULT_URL);
  const label = labelOf(config, target);
  return [
    {
      engine: 'redis',
      file: dumpFile(config),
      label,
      load: (source, ctx) => loadRedis(config, source, ctx),
      check: (path) => checkRedisDump(path, label),
      ...(config.scratch === false ? {} : { drill: (path: string, ctx: EngineContext) => drillRedis(label, path, ctx, config.keys) }),
    },
  ];
}

// The restore drill: every key of the dump is RESTOREd into a throwaway redis-server (DUMP payloads carry a
// checksum the server verifies), DBSIZE must then equal the dump's key count, and the server is stopped.
// A key outside the entry's `keys` patterns fails it, as it would fail a restore.
export async function drillRedis(label: string, file: string, ctx: EngineContext, keys?: string[]): Promise<string> {
  const server = await startScratchRedis(ctx);
  const target: RedisTarget = { socket: server.socket, db: 0 };
  const scratch = `${label}, loaded into a throwaway redis-server ${server.version}`;
  try {
    let count: number;
    try {
      ({ count } = await restoreKeys(target, scratch, undefined, { path: file }, ctx, keys));
    } catch (error) {
      if (!/payload version or checksum/i.test((error as Error).message)) throw error;
      throw new LifeboatError('DATABASE', (error as Error).message, {
        hint: `a payload in the dump is damaged, or it was dumped by a newer Redis than the local redis-server ${server.version}; ${SCRATCH_HINT}`,
        cause: error,
      });
    }
    const client = await RedisClient.connect(target, scratch, ctx.signal);
    const size = Number(await client.call('DBSIZE'));
    await client.quit();
    // RESTORE succeeded for every key; only a key whose TTL ran out in between can be missing.
    if (size < count) ctx.log.warn(`${scratch}: DBSIZE ${size} but the dump holds ${count} key(s): ${count - size} expired during the drill`);
    return `${count} key(s) loaded into a throwaway redis-server ${server.version} (DBSIZE ${size}); stopped again`;
  } finally {
    await server.stop();
  }
}

// Writes a u32 / i64 big-endian.
function u32(value: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32BE(value);
  return buf;
}
function i64(value: number): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeBigInt64BE(BigInt(value));
  return buf;
}

// Streams the matching keys into the dump format, in this process (staged dumps, LIFEBOAT_DUMP_DIRECT=0).
// Handed a consumer's descriptor (restic's stdin, borg's pipe), the dump runs as a process of its own
// instead, writing into it the way pg_dump does (redis-process.ts).
export function dumpRedis(config: RedisDatabase, ctx: EngineContext, output?: DumpOutput): DumpRun {
  const target = redisTarget(config, ctx);
  const label = labelOf(config, target);
  if (output !== undefined) return dumpRedisProcess({ target, keys: config.keys, label }, ctx, output);
  return streamRedis(target, config.keys, label, ctx);
}

// The dump of the keys matching `keys` (every key when none) on `target`, as a stream.
export function streamRedis(target: RedisTarget, keys: string[] | undefined, label: string, ctx: Pick<EngineContext, 'log' | 'signal'>): DumpRun {
  const stream = new PassThrough({ highWaterMark: 1 << 20 });
  let client: RedisClient | undefined;
  let stopped: string | undefined;
  // Writes waiting for the stream to drain, woken by abort() too (a consumer that went away never drains it).
  const waiting: Array<() => void> = [];
  const stop = () => new LifeboatError('INTERRUPTED', `${label}: dump stopped (${stopped})`);
  const write = async (chunk: Buffer) => {
    if (stopped) throw stop();
    if (!stream.write(chunk)) {
      await new Promise<void>((resolve) => {
        stream.once('drain', resolve);
        waiting.push(resolve);
      });
    }
    if (stopped) throw stop();
  };
  const done = (async () => {
    client = await RedisClient.connect(target, label, ctx.signal);
    const seen = new Set<string>();
    let count = 0;
    await write(Buffer.from(REDIS_MAGIC));
    const patterns = keys?.length ? keys : [undefined];
    for (const pattern of patterns) {
      await client.scan(pattern, async (found) => {
        // Several patterns can match one key; with one pattern a rare SCAN duplicate is only restored twice.
        const fresh = patterns.length > 1 ? found.filter((key) => !seen.has(key.toString('latin1'))) : found;
        if (patterns.length > 1) fresh.forEach((key) => seen.add(key.toString('latin1')));
        // A few keys at a time: values can be large, and only these are held in memory at once.
        for (let start = 0; start < fresh.length; start += BATCH) {
          const batch = fresh.slice(start, start + BATCH);
          const replies = await Promise.all(batch.map((key) => Promise.all([client!.send('DUMP', key), client!.send('PTTL', key)])));
          for (let i = 0; i < batch.length; i++) {
            const [payload, ttl] = replies[i] as [Buffer | null, number];
            if (payload === null || ttl === -2) continue; // expired or deleted since SCAN saw it
            await write(Buffer.concat([u32(batch[i].length), batch[i], i64(ttl), u32(payload.length), payload]));
            count++;
          }
        }
      });
      if (stopped) throw stop();
    }
    await write(Buffer.concat([u32(TRAILER), i64(count)]));
    await client.quit();
    ctx.log.debug(`${label}: ${count} keys dumped`);
  })().then(
    () => {
      stream.end();
    },
    (error: unknown) => {
      client?.destroy();
      const wrapped = error instanceof LifeboatError ? error : new LifeboatError('DATABASE', ctx.log.masker.mask(`${label}: dump failed: ${(error as Error).message}`), { cause: error });
      stream.destroy(wrapped);
      throw wrapped;
    },
  );
  done.catch(() => {});
  stream.on('error', () => {});
  return {
    stream,
    done,
    abort: (reason = 'aborted') => {
      stopped ??= reason;
      client?.destroy();
      for (const wake of waiting.splice(0)) wake();
    },
  };
}

// Reads exact byte counts from a stream.
class ByteReader {
  private chunks: Buffer[] = [];
  private length = 0;
  private ended = false;
  private readonly iterator: AsyncIterator<Buffer>;

  constructor(stream: Readable) {
    this.iterator = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  // The next `count` bytes, or null at a clean end of input.
  async read(count: number): Promise<Buffer | null> {
    while (this.length < count && !this.ended) {
      const next = await this.iterator.next();
      if (next.done) this.ended = true;
      else {
        this.chunks.push(next.value);
        this.length += next.value.length;
      }
    }
    if (this.length < count) {
      if (this.length === 0) return null;
      // A reason: readRecords wraps it into the DATABASE error naming the dump.
      throw new Error('the dump ends in the middle of a record (truncated)');
    }
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const out = all.subarray(0, count);
    const rest = all.subarray(count);
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
    return out;
  }
}

interface RedisRecord {
  key: Buffer;
  ttl: number;
  payload: Buffer;
}

// The records of a dump, in order; throws (naming why) on a bad header, a truncated record or trailer.
async function* readRecords(input: Readable, bad: (why: string) => Error): AsyncGenerator<RedisRecord> {
  const reader = new ByteReader(input);
  const read = async (count: number) => {
    try {
      return await reader.read(count);
    } catch (error) {
      throw bad((error as Error).message);
    }
  };
  const magic = await read(REDIS_MAGIC.length).catch(() => null);
  if (!magic || magic.toString('latin1') !== REDIS_MAGIC) throw bad(`it does not start with ${JSON.stringify(REDIS_MAGIC.trim())}`);
  let count = 0;
  for (;;) {
    const head = await read(4);
    if (!head) throw bad('it has no trailer (truncated)');
    const keyLength = head.readUInt32BE();
    if (keyLength === TRAILER) {
      const total = Number((await read(8))?.readBigInt64BE() ?? -1);
      if (total !== count) throw bad(`the trailer says ${total} keys, the dump holds ${count}`);
      return;
    }
    const key = await read(keyLength);
    const ttl = await read(8);
    const payloadLength = await read(4);
    const payload = payloadLength ? await read(payloadLength.readUInt32BE()) : null;
    if (!key && keyLength > 0) throw bad('a record is truncated');
    if (!ttl || !payloadLength || !payload) throw bad('a record is truncated');
    count++;
    yield { key: Buffer.from(key ?? Buffer.alloc(0)), ttl: Number(ttl.readBigInt64BE()), payload: Buffer.from(payload) };
  }
}

// Reads a dump file through to its trailer (the restore drill).
export async function checkRedisDump(file: string, label: string): Promise<string> {
  let count = 0;
  const bad = (why: string) => new LifeboatError('DATABASE', `${label}: the dump ${file} is not usable: ${why}`);
  for await (const record of readRecords(createReadStream(file), bad)) count += record ? 1 : 0;
  return `${count} key(s), complete`;
}

// Restores a dump: RESTORE ... REPLACE for each key, then deletes matching keys that are not in it.
// The dump is read through once first (a stream is written to a private temporary file for that), so a
// truncated one, or one holding a key outside the entry's patterns, is refused before any key changes.
export async function loadRedis(config: RedisDatabase, source: LoadSource, ctx: EngineContext): Promise<void> {
  const target = redisTarget(config, ctx);
  const label = labelOf(config, target);
  const staged = 'path' in source ? undefined : await stageStream(source.stream);
  try {
    const { count, removed } = await restoreKeys(target, label, config.keys, staged ? { path: staged.file } : source, ctx, config.keys);
    ctx.log.info(`${label}: ${count} key(s) restored${removed ? `, ${removed} key(s) that were not in the snapshot deleted` : ''}`);
  } finally {
    staged?.remove();
  }
}

// Writes a stream into a 0600 file in a fresh 0700 temporary folder.
async function stageStream(input: Readable): Promise<{ file: string; remove(): void }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-redis-load-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  const file = path.join(dir, 'dump.redis');
  try {
    await pipeline(input, createWriteStream(file, { mode: 0o600 }));
  } catch (error) {
    remove();
    throw error;
  }
  return { file, remove };
}

// RESTORE for every key of a dump into `target`, then DEL of the keys matching `patterns` (all keys when
// none) that the dump does not hold; returns how many keys were restored and deleted. A key that matches
// none of `allowed` (when given) is refused, before any key changes when the source is a file.
async function restoreKeys(target: RedisTarget, label: string, patterns: string[] | undefined, source: LoadSource, ctx: EngineContext, allowed?: string[]): Promise<{ count: number; removed: number }> {
  const bad = (why: string) => new LifeboatError('DATABASE', `${label}: the dump is not usable: ${why}`);
  const outside = (key: Buffer) =>
    new LifeboatError('DATABASE', `${label}: the dump holds key ${JSON.stringify(key.toString('utf8'))}, which matches none of the entry's keys patterns (${allowed!.join(', ')}); no key was changed`, {
      hint: "restore the snapshot that holds this module's own dump; keys outside the patterns belong to others and are never written",
    });
  if ('path' in source) {
    for await (const record of readRecords(createReadStream(source.path), bad)) if (!inPatterns(allowed, record.key)) throw outside(record.key);
  }
  const input = 'path' in source ? createReadStream(source.path) : source.stream;
  const client = await RedisClient.connect(target, label, ctx.signal);
  try {
    const restored = new Set<string>();
    const inFlight: Array<Promise<unknown>> = [];
    let bytes = 0;
    let count = 0;
    for await (const { key, ttl, payload } of readRecords(input, bad)) {
      if (!inPatterns(allowed, key)) throw outside(key);
      restored.add(key.toString('latin1'));
      inFlight.push(client.send('RESTORE', key, ttl > 0 ? ttl : 0, payload, 'REPLACE'));
      count++;
      bytes += payload.length + key.length;
      if (bytes >= WINDOW_BYTES || inFlight.length >= 1024) {
        await Promise.all(inFlight.splice(0));
        bytes = 0;
      }
      await client.drain();
    }
    await Promise.all(inFlight.splice(0));
    let removed = 0;
    for (const pattern of patterns?.length ? patterns : [undefined]) {
      await client.scan(pattern, async (keys) => {
        const stale = keys.filter((key) => !restored.has(key.toString('latin1')));
        if (stale.length) removed += Number(await client.call('DEL', ...stale));
      });
    }
    await client.quit();
    return { count, removed };
  } catch (error) {
    client.destroy();
    if (error instanceof LifeboatError) throw error;
    throw new LifeboatError('DATABASE', ctx.log.masker.mask(`${label}: restore failed: ${(error as Error).message}`), { cause: error });
  }
}

// The Redis engine's declaration (src/engines/index.ts lists it). It speaks RESP itself: no client tool.
export const redisEngine: EngineDeclaration<RedisDatabase> = {
  kind: 'redis',
  dumps: (config) => redisDumps(config),
  loads: (config) => redisLoads(config),
  tools: () => [],
  async probe(config, ctx) {
    const target = redisTarget(config, ctx);
    const client = await RedisClient.connect(target, `Redis ${describeTarget(target)}`, ctx.signal);
    try {
      const reply = await client.call('PING');
      if (reply instanceof Error) throw reply;
    } finally {
      client.destroy();
    }
    return `Redis ${describeTarget(target)} answers`;
  },
};
