// `lifeboat redis-dump KEY` / `lifeboat redis-restore KEY [TTL]`: NethServer-compatible helpers. redis-dump
// writes the key's raw DUMP payload to stdout; redis-restore reads one from stdin and RESTOREs it (REPLACE).
// The server: --url, else REDIS_URL, else NethServer's REDIS_ADDRESS (host:port) with REDIS_USER, else
// redis://127.0.0.1:6379/0; a password from the url, --password-file, --password-env, REDISCLI_AUTH or
// REDIS_PASSWORD (never argv).
import os from 'node:os';
import { createLogger, type GlobalOptions } from './common.js';
import { LifeboatError } from '../errors.js';
import { redisTarget } from '../engines/redis.js';
import { RedisClient, describeTarget } from '../engines/resp.js';
import { interruptSignal } from '../lifecycle/signals.js';

interface RedisOptions extends GlobalOptions {
  url?: string;
  passwordFile?: string;
  passwordEnv?: string;
  ttl?: string;
}

// Connects as the options say.
async function connect(options: RedisOptions, log: ReturnType<typeof createLogger>): Promise<{ client: RedisClient; where: string }> {
  const fromEnv = ['REDISCLI_AUTH', 'REDIS_PASSWORD'].find((name) => process.env[name] !== undefined && process.env[name] !== '');
  const passwordEnv = options.passwordEnv ?? (options.passwordFile ? undefined : fromEnv);
  const ctx = { env: process.env, log, signal: interruptSignal(), workDir: os.tmpdir() };
  const target = redisTarget({ url: options.url ?? process.env.REDIS_URL ?? nethserverUrl(), passwordFile: options.passwordFile, passwordEnv }, ctx);
  const where = `Redis ${describeTarget(target)}`;
  return { client: await RedisClient.connect(target, where, ctx.signal), where };
}

// NethServer's agent: REDIS_ADDRESS is host:port, REDIS_USER the user (the password comes from REDIS_PASSWORD).
function nethserverUrl(): string | undefined {
  const address = process.env.REDIS_ADDRESS;
  if (!address) return undefined;
  if (!/^[A-Za-z0-9.\-[\]:]+$/.test(address)) throw new LifeboatError('USAGE', `REDIS_ADDRESS must be host:port, got ${JSON.stringify(address)}`);
  const user = process.env.REDIS_USER ? `${encodeURIComponent(process.env.REDIS_USER)}@` : '';
  return `redis://${user}${address}/0`;
}

// `lifeboat redis-dump KEY`: exit 1 when the key does not exist.
export async function redisDumpCommand([key]: unknown[], options: RedisOptions): Promise<number> {
  const log = createLogger(options);
  const { client, where } = await connect(options, log);
  try {
    const payload = await client.call('DUMP', key as string);
    if (payload === null) throw new LifeboatError('DATABASE', `${where}: key ${JSON.stringify(key)} does not exist`);
    await new Promise<void>((resolve, reject) => process.stdout.write(payload as Buffer, (error) => (error ? reject(error) : resolve())));
  } finally {
    await client.quit();
  }
  return 0;
}

// `lifeboat redis-restore KEY [TTL]` (or --ttl MS): replaces the key with the payload read from stdin; an
// empty stdin is ignored, as NethServer's helper does.
export async function redisRestoreCommand([key, positionalTtl]: unknown[], options: RedisOptions): Promise<number> {
  const log = createLogger(options);
  const given = (positionalTtl as string | undefined) ?? options.ttl;
  const ttl = given === undefined ? 0 : Number(given);
  if (!/^\d+$/.test(given ?? '0') || !Number.isSafeInteger(ttl)) throw new LifeboatError('USAGE', `the TTL must be milliseconds (0: no expiry), got ${JSON.stringify(given)}`);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const payload = Buffer.concat(chunks);
  if (payload.length === 0) {
    log.warn(`redis-restore: no payload on stdin; key ${JSON.stringify(key)} left as it is`);
    return 0;
  }
  const { client } = await connect(options, log);
  try {
    await client.call('RESTORE', key as string, ttl, payload, 'REPLACE');
  } finally {
    await client.quit();
  }
  return 0;
}

// `lifeboat internal-dump-redis` (hidden): the process a streamed Redis dump runs as (src/engines/redis-process.ts
// starts it with its request on fd 3 and the consumer's descriptor as stdout).
export async function internalDumpRedisCommand(_args: unknown[], options: RedisOptions): Promise<number> {
  const { runRedisDumpChild } = await import('../engines/redis-child.js');
  await runRedisDumpChild(createLogger({ ...options, quiet: true }));
  return 0;
}
