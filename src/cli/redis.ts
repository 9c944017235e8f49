// `lifeboat redis-dump KEY` / `lifeboat redis-restore KEY`: NethServer-compatible helpers. redis-dump writes
// the key's raw DUMP payload to stdout; redis-restore reads one from stdin and RESTOREs it (REPLACE).
// The server: --url, else REDIS_URL, else redis://127.0.0.1:6379/0; a password from the url,
// --password-file, --password-env or REDISCLI_AUTH (never argv).
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
  const passwordEnv = options.passwordEnv ?? (process.env.REDISCLI_AUTH !== undefined ? 'REDISCLI_AUTH' : undefined);
  const ctx = { env: process.env, log, signal: interruptSignal(), workDir: os.tmpdir() };
  const target = redisTarget({ url: options.url ?? process.env.REDIS_URL, passwordFile: options.passwordFile, passwordEnv }, ctx);
  const where = `Redis ${describeTarget(target)}`;
  return { client: await RedisClient.connect(target, where, ctx.signal), where };
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

// `lifeboat redis-restore KEY [--ttl MS]`: replaces the key with the payload read from stdin.
export async function redisRestoreCommand([key]: unknown[], options: RedisOptions): Promise<number> {
  const log = createLogger(options);
  const ttl = options.ttl === undefined ? 0 : Number(options.ttl);
  if (!Number.isInteger(ttl) || ttl < 0) throw new LifeboatError('USAGE', `--ttl must be milliseconds (0: no expiry), got ${JSON.stringify(options.ttl)}`);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const payload = Buffer.concat(chunks);
  if (payload.length === 0) throw new LifeboatError('USAGE', 'redis-restore: no payload on stdin (pipe the output of redis-dump into it)');
  const { client } = await connect(options, log);
  try {
    await client.call('RESTORE', key as string, ttl, payload, 'REPLACE');
  } finally {
    await client.quit();
  }
  return 0;
}
