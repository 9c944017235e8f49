// A small Redis client (RESP2) for DUMP/RESTORE with binary payloads: TCP, TLS (rediss://) or a unix
// socket, AUTH, SELECT, pipelining. Replies come back as Buffers so binary values survive untouched.
import net from 'node:net';
import tls from 'node:tls';
import { LifeboatError } from '../errors.js';

export type Reply = null | number | Buffer | string | RedisReplyError | Reply[];

export class RedisReplyError extends Error {}

export interface RedisTarget {
  host?: string;
  port?: number;
  socket?: string;
  tls?: boolean;
  db: number;
  username?: string;
  password?: string;
}

// Parses redis://[user:pass@]host[:port][/db], rediss://..., unix:///path/to.sock[?db=N].
export function parseRedisUrl(raw: string): RedisTarget {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new LifeboatError('USAGE', `redis url ${JSON.stringify(raw)} is not a url`, { hint: 'use redis://127.0.0.1:6379/0 or unix:///run/redis.sock?db=0' });
  }
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  if (url.protocol === 'unix:' || url.protocol === 'redis+unix:') {
    return { socket: decodeURIComponent(url.pathname), db: Number(url.searchParams.get('db') ?? 0), username, password };
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new LifeboatError('USAGE', `redis url ${JSON.stringify(raw)}: unknown scheme ${url.protocol}`, { hint: 'use redis://, rediss:// or unix://' });
  }
  const db = url.pathname.replace(/^\//, '') === '' ? 0 : Number(url.pathname.slice(1));
  if (!Number.isInteger(db) || db < 0) throw new LifeboatError('USAGE', `redis url ${JSON.stringify(raw)}: database ${url.pathname.slice(1)} is not a number`);
  return { host: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1', port: url.port ? Number(url.port) : 6379, tls: url.protocol === 'rediss:', db, username, password };
}

// Where a target points, for messages (never the password).
export function describeTarget(target: RedisTarget): string {
  return target.socket ? `${target.socket} db ${target.db}` : `${target.host}:${target.port} db ${target.db}`;
}

// Encodes one command as a RESP array of bulk strings.
function encode(args: Array<string | Buffer | number>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const value = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
    parts.push(Buffer.from(`$${value.length}\r\n`), value, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

const INCOMPLETE = Symbol('incomplete');

// Parses one reply from `buf` at `pos`; INCOMPLETE when more bytes are needed.
function parse(buf: Buffer, pos: number): { value: Reply; next: number } | typeof INCOMPLETE {
  if (pos >= buf.length) return INCOMPLETE;
  const end = buf.indexOf('\r\n', pos);
  if (end < 0) return INCOMPLETE;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('utf8', pos + 1, end);
  switch (type) {
    case '+':
      return { value: line, next: end + 2 };
    case '-':
      return { value: new RedisReplyError(line), next: end + 2 };
    case ':':
      return { value: Number(line), next: end + 2 };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next: end + 2 };
      if (buf.length < end + 2 + length + 2) return INCOMPLETE;
      return { value: Buffer.from(buf.subarray(end + 2, end + 2 + length)), next: end + 2 + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: end + 2 };
      const items: Reply[] = [];
      let next = end + 2;
      for (let i = 0; i < count; i++) {
        const item = parse(buf, next);
        if (item === INCOMPLETE) return INCOMPLETE;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      // A reason: onData destroys the socket with it, and the socket's error handler makes it a DATABASE error.
      throw new Error(`unexpected reply type ${JSON.stringify(type)} from the server`);
  }
}

export class RedisClient {
  private socket!: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly pending: Array<{ resolve: (reply: Reply) => void; reject: (error: Error) => void }> = [];
  private failure: Error | undefined;

  private constructor(private readonly label: string) {}

  // Connects, authenticates and selects the database; errors name the target.
  static async connect(target: RedisTarget, label: string, signal?: AbortSignal): Promise<RedisClient> {
    const client = new RedisClient(label);
    try {
      await client.open(target, signal);
      if (target.password !== undefined) {
        await client.call(...(target.username ? ['AUTH', target.username, target.password] : ['AUTH', target.password]));
      }
      if (target.db !== 0) await client.call('SELECT', target.db);
    } catch (error) {
      client.destroy();
      throw error;
    }
    return client;
  }

  // Opens the socket (10 s connect timeout); an abort destroys it. The plain errors it destroys the socket
  // with are reasons: the error handler below makes each a DATABASE error naming the server.
  private open(target: RedisTarget, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const options = target.socket ? { path: target.socket } : { host: target.host ?? '127.0.0.1', port: target.port ?? 6379 };
      const socket = target.tls ? tls.connect({ ...options, servername: target.host }) : net.connect(options);
      this.socket = socket;
      const timer = setTimeout(() => socket.destroy(new Error('connection timed out after 10 s')), 10_000);
      socket.once(target.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.on('error', (error) => {
        clearTimeout(timer);
        this.fail(new LifeboatError('DATABASE', `${this.label}: ${error.message}`, { cause: error }));
        reject(this.failure);
      });
      socket.on('close', () => this.fail(new LifeboatError('DATABASE', `${this.label}: the connection closed`)));
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      const onAbort = () => socket.destroy(new Error(`stopped (${String(signal?.reason ?? 'aborted')})`));
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('close', () => signal?.removeEventListener('abort', onAbort));
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      let parsed;
      try {
        parsed = parse(this.buffer, pos);
      } catch (error) {
        this.socket.destroy(error as Error);
        return;
      }
      if (parsed === INCOMPLETE) break;
      pos = parsed.next;
      const waiter = this.pending.shift();
      if (!waiter) continue;
      if (parsed.value instanceof RedisReplyError) waiter.reject(parsed.value);
      else waiter.resolve(parsed.value);
    }
    this.buffer = pos === this.buffer.length ? Buffer.alloc(0) : this.buffer.subarray(pos);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.pending.splice(0)) waiter.reject(this.failure);
  }

  // Sends one command; the promise settles with its reply (server errors reject, naming the target).
  send(...args: Array<string | Buffer | number>): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.push({
        resolve,
        reject: (error) => reject(error instanceof RedisReplyError ? new LifeboatError('DATABASE', `${this.label}: ${String(args[0])} failed: ${error.message}`) : error),
      });
      this.socket.write(encode(args));
    });
  }

  // Sends one command and waits for the reply.
  call(...args: Array<string | Buffer | number>): Promise<Reply> {
    return this.send(...args);
  }

  // Resolves once the socket's write buffer is below a limit (backpressure for long pipelines).
  async drain(): Promise<void> {
    if (!this.socket.writableNeedDrain) return;
    await new Promise<void>((resolve) => this.socket.once('drain', resolve));
  }

  // Every key matching a pattern (SCAN, never KEYS), calling `each` with batches.
  async scan(pattern: string | undefined, each: (keys: Buffer[]) => Promise<void>): Promise<void> {
    let cursor = '0';
    do {
      const reply = await this.call('SCAN', cursor, ...(pattern ? ['MATCH', pattern] : []), 'COUNT', 1000);
      // A server (or something else listening there) that answers otherwise is no Redis to trust.
      if (!Array.isArray(reply) || !Buffer.isBuffer(reply[0]) || !Array.isArray(reply[1]) || !reply[1].every((key) => Buffer.isBuffer(key))) {
        throw new Error(`SCAN answered ${JSON.stringify(reply).slice(0, 80)}, not a cursor and a list of keys: is this a Redis server?`);
      }
      cursor = reply[0].toString();
      if (reply[1].length) await each(reply[1] as Buffer[]);
    } while (cursor !== '0');
  }

  // Closes the connection politely.
  async quit(): Promise<void> {
    if (this.failure) return;
    // Internal: a call after quit() or destroy() is a bug in the caller.
    this.failure = new Error('closed');
    this.socket.end();
  }

  // Drops the connection at once.
  destroy(): void {
    this.failure ??= new Error('closed');
    this.socket?.destroy();
  }
}
