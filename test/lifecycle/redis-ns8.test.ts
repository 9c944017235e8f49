// `lifeboat redis-dump` / `redis-restore` as NethServer's helpers are called: REDIS_ADDRESS, REDIS_USER and
// REDIS_PASSWORD from the environment, the TTL as a positional argument, a restore over an existing key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { BIN } from '../helpers/root.js';

const prefix = `lbns8:${randomBytes(4).toString('hex')}`;
const user = `lbns8_${randomBytes(4).toString('hex')}`;
const password = `pw-${randomBytes(8).toString('hex')}`;
const cli = (...args: string[]) => execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', ...args], { encoding: 'utf8' }).trim();
const ns8Env = (pass = password) => ({ REDIS_ADDRESS: '127.0.0.1:6379', REDIS_USER: user, REDIS_PASSWORD: pass });

beforeAll(() => {
  // A user of its own that may only touch this test's keys.
  cli('ACL', 'SETUSER', user, 'on', `>${password}`, `~${prefix}:*`, '+@all');
});
afterAll(() => {
  cli('ACL', 'DELUSER', user);
  for (const key of cli('--scan', '--pattern', `${prefix}:*`).split('\n').filter(Boolean)) cli('DEL', key);
});

describe('redis-dump / redis-restore, NethServer style', () => {
  it('connects with REDIS_ADDRESS/REDIS_USER/REDIS_PASSWORD, restores over an existing key with a positional TTL', async () => {
    cli('HSET', `${prefix}:settings`, 'theme', 'dark', 'lang', 'it');
    const dump = await execa('node', [BIN, 'redis-dump', `${prefix}:settings`], { encoding: 'buffer', reject: false, env: ns8Env() });
    expect(dump.exitCode, String(dump.stderr)).toBe(0);
    cli('HSET', `${prefix}:settings`, 'theme', 'light');
    const restore = await execa('node', [BIN, 'redis-restore', `${prefix}:settings`, '60000'], { input: dump.stdout as unknown as Buffer, reject: false, env: ns8Env() });
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(cli('HGET', `${prefix}:settings`, 'theme')).toBe('dark');
    const ttl = Number(cli('PTTL', `${prefix}:settings`));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60000);
  });

  it('uses the password: a wrong one fails, and it never appears in the output', async () => {
    cli('SET', `${prefix}:k`, 'v');
    const wrong = await execa('node', [BIN, 'redis-dump', `${prefix}:k`], { reject: false, env: ns8Env('not-the-password') });
    expect(wrong.exitCode).not.toBe(0);
    expect(wrong.stderr).not.toContain('not-the-password');
    const outside = await execa('node', [BIN, 'redis-dump', 'someone-else:key'], { reject: false, env: ns8Env() });
    expect(outside.exitCode).not.toBe(0);
  });

  it('an empty payload on stdin leaves the key as it is (exit 0), as NethServer does', async () => {
    cli('SET', `${prefix}:kept`, 'still here');
    const restore = await execa('node', [BIN, 'redis-restore', `${prefix}:kept`], { input: '', reject: false, env: ns8Env() });
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(cli('GET', `${prefix}:kept`)).toBe('still here');
    const bad = await execa('node', [BIN, 'redis-restore', `${prefix}:kept`, 'soon'], { input: 'x', reject: false, env: ns8Env() });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('the TTL must be milliseconds (0: no expiry), got "soon"');
  });
});
