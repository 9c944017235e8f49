// kill -9 during a streamed Redis dump, into restic and into borg. The dump runs as a process of its own
// (lifeboat internal-dump-redis) whose stdout is restic's stdin or borg's pipe, like pg_dump:
//  - Lifeboat alone is SIGKILLed (not its process group) half-way through the dump: whatever restic or
//    borg then commits holds the complete dump (its records equal the live keys, trailer included), or
//    nothing is committed at all (borg of a streamed backup dies with Lifeboat: nothing; restic: the
//    complete dump). With restic, Lifeboat copying the bytes itself (LIFEBOAT_DUMP_DIRECT=0 in the
//    environment of this test) fails it: its death looks like the end of the dump.
//  - The dump process alone is SIGKILLed half-way: the backup fails naming the database, and neither
//    restic nor borg holds a snapshot (the failure detection of a dump that dies half-way).
// The keys: 320 of 128 KiB random bytes (40 MiB) under a unique prefix, dumped as a user of their own whose
// password (from the module's environment file) must appear in neither argv nor the environment of the
// dump process. Keys and user are removed afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { makeRoot, lifeboat, type TestRoot } from '../helpers/root.js';
import { spawnLifeboat, waitGroupGone } from '../helpers/kill.js';
import { uniqueName } from '../helpers/databases.js';
import { killIfCommand } from '../helpers/service.js';
import { RedisClient } from '../../src/engines/resp.js';
import { REDIS_MAGIC } from '../../src/engines/redis.js';

const KEYS = 320;
const VALUE_BYTES = 128 * 1024;
// The producer has written this much when Lifeboat (or the dump process) is killed: well inside the dump.
const KILL_AFTER_BYTES = 8 << 20;
const PASSWORD = 'repository-password-k9r';
const prefix = `lbk9r-${uniqueName()}`;
const user = `${prefix}-user`;
const redisPassword = `redis-secret-${randomBytes(8).toString('hex')}`;
const copied = process.env.LIFEBOAT_DUMP_DIRECT === '0';
let admin: RedisClient;

beforeAll(async () => {
  admin = await RedisClient.connect({ host: '127.0.0.1', port: 6379, db: 0 }, 'the test Redis');
  await admin.call('ACL', 'SETUSER', user, 'reset', 'on', `>${redisPassword}`, `~${prefix}:*`, '+@all');
  for (let i = 0; i < KEYS; i++) await admin.call('SET', `${prefix}:k${String(i).padStart(4, '0')}`, randomBytes(VALUE_BYTES));
  await admin.call('SET', `${prefix}:ttl`, 'expires later', 'PX', 3_600_000);
}, 120_000);

afterAll(async () => {
  const keys: Buffer[] = [];
  await admin.scan(`${prefix}:*`, async (found) => {
    keys.push(...found);
  });
  for (let i = 0; i < keys.length; i += 100) await admin.call('DEL', ...keys.slice(i, i + 100));
  await admin.call('ACL', 'DELUSER', user);
  await admin.quit();
});

interface ProviderCase {
  name: 'restic' | 'borg';
  // Every dump the repository holds (a dump snapshot of restic, the dump file of a borg archive).
  dumps(t: TestRoot): Promise<Array<{ where: string; bytes: Buffer }>>;
}

const tool = (t: TestRoot, file: string, args: string[], encoding: 'utf8' | 'buffer' = 'utf8') =>
  execa(file, args, {
    env: { RESTIC_PASSWORD_FILE: path.join(t.dir, 'pass'), BORG_PASSPHRASE: PASSWORD, BORG_BASE_DIR: path.join(t.stateDir, 'borg') },
    encoding,
    reject: false,
    stripFinalNewline: false,
  });
const dumpPath = (t: TestRoot) => path.join(t.stateDir, 'modules', 'r', 'state', 'databases', 'redis-db0.redis');

const PROVIDERS: ProviderCase[] = [
  {
    name: 'restic',
    async dumps(t) {
      const repo = path.join(t.dir, 'repo', 'r');
      const listed = await tool(t, 'restic', ['-r', repo, 'snapshots', '--json', '--tag', 'lifeboat-dump']);
      // No repository at all (killed before restic made it) holds no dump either.
      if (listed.exitCode !== 0 && /does not exist|Is there a repository/i.test(String(listed.stderr))) return [];
      expect(listed.exitCode, String(listed.stderr)).toBe(0);
      const snapshots = JSON.parse(String(listed.stdout)) as Array<{ short_id: string; paths: string[] }>;
      const out = [];
      for (const snapshot of snapshots) {
        const dumped = await tool(t, 'restic', ['-r', repo, 'dump', snapshot.short_id, dumpPath(t)], 'buffer');
        expect(dumped.exitCode, String(dumped.stderr)).toBe(0);
        out.push({ where: `restic snapshot ${snapshot.short_id}`, bytes: Buffer.from(dumped.stdout as unknown as Uint8Array) });
      }
      return out;
    },
  },
  {
    name: 'borg',
    async dumps(t) {
      const repo = path.join(t.dir, 'repo', 'r');
      // borg of a streamed backup dies with Lifeboat and leaves its lock: stale, borg removes it after its
      // first wait (one second is not enough for that).
      const listed = await tool(t, 'borg', ['list', '--lock-wait', '10', '--consider-checkpoints', '--json', repo]);
      if (listed.exitCode !== 0 && /does not exist|is not a valid repository/i.test(String(listed.stderr))) return [];
      expect(listed.exitCode, String(listed.stderr)).toBe(0);
      const archives = (JSON.parse(String(listed.stdout)) as { archives: Array<{ name: string }> }).archives;
      const out = [];
      for (const { name } of archives) {
        const files = await tool(t, 'borg', ['list', '--short', `${repo}::${name}`]);
        expect(files.exitCode, String(files.stderr)).toBe(0);
        const inside = dumpPath(t).slice(1);
        // An archive without the dump (borg read no byte of the pipe) holds no cut dump either.
        if (!String(files.stdout).split('\n').includes(inside)) continue;
        const extracted = await tool(t, 'borg', ['extract', '--stdout', `${repo}::${name}`, inside], 'buffer');
        expect(extracted.exitCode, String(extracted.stderr)).toBe(0);
        out.push({ where: `borg archive ${name}`, bytes: Buffer.from(extracted.stdout as unknown as Uint8Array) });
      }
      return out;
    },
  },
];

// A root with one repository of `provider` and module r: its Redis keys, as user `user`.
function setup(provider: ProviderCase): TestRoot {
  const t = makeRoot({ repositories: {} });
  writeFileSync(path.join(t.dir, 'pass'), `${PASSWORD}\n`, { mode: 0o600 });
  t.write('lifeboat.yaml', `repositories:\n  local: { provider: ${provider.name}, url: ${path.join(t.dir, 'repo')}, passwordFile: ${path.join(t.dir, 'pass')} }\n`);
  const data = path.join(t.dir, 'data');
  mkdirSync(data);
  writeFileSync(path.join(data, 'note.txt'), 'a small file beside the dump\n');
  t.write('modules/r/environment', `R_REDIS_PASSWORD=${redisPassword}\n`);
  t.module('r', { folders: [data], databases: [{ redis: { url: `redis://${user}@127.0.0.1:6379/0`, passwordEnv: 'R_REDIS_PASSWORD', keys: [`${prefix}:*`] } }] });
  return t;
}

// The processes of a group: pid, command line (NUL-separated), environment, bytes written so far.
function groupProcesses(pgid: number): Array<{ pid: number; cmdline: string; environ: string; written: number }> {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid || fields[0] === 'Z') continue;
      const io = readFileSync(`/proc/${entry}/io`, 'utf8');
      found.push({
        pid: Number(entry),
        cmdline: readFileSync(`/proc/${entry}/cmdline`, 'utf8'),
        environ: readFileSync(`/proc/${entry}/environ`, 'utf8'),
        written: Number(/^wchar: (\d+)$/m.exec(io)?.[1] ?? 0),
      });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

// Waits until the process that writes the dump (the dump process; Lifeboat itself when it copies) has
// written KILL_AFTER_BYTES, and returns it. Fails if the backup ends first.
async function dumpHalfWay(pgid: number, ended: () => boolean): Promise<{ pid: number; cmdline: string; environ: string }> {
  for (;;) {
    const processes = groupProcesses(pgid);
    const producer = copied ? processes.find((p) => p.pid === pgid) : processes.find((p) => p.cmdline.includes('internal-dump-redis'));
    if (producer && producer.written >= KILL_AFTER_BYTES) return producer;
    if (ended()) throw new Error('the backup ended before the dump was half-way');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// Parses a dump and compares it with the live keys: every key once, each payload what DUMP says now,
// the trailer's count right. Returns why it is not complete, or undefined.
async function incomplete(bytes: Buffer): Promise<string | undefined> {
  if (bytes.subarray(0, REDIS_MAGIC.length).toString('latin1') !== REDIS_MAGIC) return 'no header';
  let pos = REDIS_MAGIC.length;
  const seen = new Map<string, Buffer>();
  for (;;) {
    if (pos + 4 > bytes.length) return `cut after ${seen.size} key(s), ${bytes.length} bytes, no trailer`;
    const keyLength = bytes.readUInt32BE(pos);
    pos += 4;
    if (keyLength === 0xffffffff) {
      if (pos + 8 !== bytes.length) return `the trailer is not at the end (${bytes.length - pos} bytes after it)`;
      const count = Number(bytes.readBigInt64BE(pos));
      if (count !== seen.size) return `the trailer says ${count} keys, the dump holds ${seen.size}`;
      break;
    }
    if (pos + keyLength + 12 > bytes.length) return `cut in the record after ${seen.size} key(s)`;
    const key = bytes.subarray(pos, pos + keyLength).toString('latin1');
    pos += keyLength + 8;
    const payloadLength = bytes.readUInt32BE(pos);
    pos += 4;
    if (pos + payloadLength > bytes.length) return `cut in the payload of ${key}`;
    seen.set(key, bytes.subarray(pos, pos + payloadLength));
    pos += payloadLength;
  }
  const live: string[] = [];
  await admin.scan(`${prefix}:*`, async (found) => {
    live.push(...found.map((key) => key.toString('latin1')));
  });
  expect([...seen.keys()].sort()).toEqual(live.sort());
  for (const [key, payload] of seen) expect(Buffer.compare((await admin.call('DUMP', key)) as Buffer, payload), `payload of ${key}`).toBe(0);
  return undefined;
}

describe.each(PROVIDERS)('a streamed Redis dump into $name', (provider) => {
  it('kill -9 of Lifeboat alone half-way: the repository holds the complete dump or none', { timeout: 300_000 }, async () => {
    const t = setup(provider);
    try {
      const child = spawnLifeboat(t, ['backup', 'r']);
      let ended = false;
      void child.then(() => (ended = true));
      const producer = await dumpHalfWay(child.pid!, () => ended);
      // The password reached the dump process through a pipe only.
      expect(producer.cmdline).not.toContain(redisPassword);
      expect(producer.environ).not.toContain(redisPassword);
      child.kill('SIGKILL');
      const result = await child;
      expect(result.signal, result.stderr).toBe('SIGKILL');
      // The dump process, restic or borg finish (or die) as orphans.
      await waitGroupGone(child.pid!);
      const dumps = await provider.dumps(t);
      for (const dump of dumps) expect(await incomplete(dump.bytes), `${dump.where} (${dump.bytes.length} bytes)`).toBeUndefined();
      console.log(`kill -9 of Lifeboat during a Redis dump into ${provider.name}${copied ? ' (copied)' : ''}: ${dumps.length} complete dump(s) committed`);
      // The next backup succeeds, and its dump is complete too.
      const again = await lifeboat(t, ['backup', 'r']);
      expect(again.exitCode, again.stderr).toBe(0);
      const after = await provider.dumps(t);
      expect(after.length).toBe(dumps.length + 1);
      for (const dump of after) expect(await incomplete(dump.bytes), dump.where).toBeUndefined();
    } finally {
      t.cleanup();
    }
  });

  it('kill -9 of the dump process half-way: the backup fails naming the database and leaves no snapshot', { timeout: 300_000 }, async () => {
    if (copied) return; // no dump process of its own
    const t = setup(provider);
    try {
      const child = spawnLifeboat(t, ['backup', 'r', '--json']);
      let ended = false;
      void child.then(() => (ended = true));
      const producer = await dumpHalfWay(child.pid!, () => ended);
      // Still the dump process found a moment ago (never a recycled pid).
      killIfCommand(producer.pid, producer.cmdline.split('\0').slice(0, -1));
      const result = await child;
      expect(result.exitCode, result.stderr).toBe(1);
      const module = JSON.parse(result.stdout).modules[0];
      expect(module).toMatchObject({ ok: false, snapshots: [] });
      expect(module.error).toBe(`snapshot failed in 1 repository(ies): local: Redis 127.0.0.1:6379 db 0 (keys ${prefix}:*): the dump process (lifeboat internal-dump-redis) was killed by SIGKILL`);
      await waitGroupGone(child.pid!);
      expect(await provider.dumps(t)).toEqual([]);
      const list = await lifeboat(t, ['snapshots', 'r', '--json']);
      expect(list.exitCode, list.stderr).toBe(0);
      expect(JSON.parse(list.stdout)).toEqual([]);
    } finally {
      t.cleanup();
    }
  });
});
