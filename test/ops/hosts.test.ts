// Two hosts backing the same module up into the same repository: each host's retention forgets only its
// own snapshots, restore without an id and the drill take this host's latest, another host's snapshot is
// restored only by id (with a warning), and check warns that the repository holds another host's.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';

const roots: TestRoot[] = [];
afterEach(() => roots.splice(0).forEach((r) => r.cleanup()));

describe('two hosts on one repository', () => {
  it('retention, restore and verify keep to this host; check warns', async () => {
    const a = makeRoot();
    const b = makeRoot();
    roots.push(a, b);
    const url = path.join(a.dir, 'shared-repo');
    const data = { a: path.join(a.dir, 'data'), b: path.join(b.dir, 'data') };
    for (const [host, t] of [['hosta', a], ['hostb', b]] as const) {
      t.write('lifeboat.yaml', stringify({ host, repositories: { shared: { provider: 'tar', url } } }));
      mkdirSync(data[host === 'hosta' ? 'a' : 'b']);
      writeFileSync(path.join(data[host === 'hosta' ? 'a' : 'b'], 'who.txt'), `${host}\n`);
      t.module('m1', { folders: [data[host === 'hosta' ? 'a' : 'b']], retention: { keepLast: 1 } });
    }
    for (const t of [a, a, b, b]) {
      const run = await lifeboat(t, ['backup', 'm1']);
      expect(run.exitCode, run.stderr).toBe(0);
    }
    const listed = JSON.parse((await lifeboat(a, ['snapshots', 'm1', '--json'])).stdout) as Array<{ id: string; host: string }>;
    expect(listed.map((s) => s.host)).toEqual(['hosta', 'hostb']);
    const check = await lifeboat(a, ['check']);
    expect(check.stdout).toContain(`holds 1 snapshot(s) of module m1 from other host(s) (hostb); this host (hosta) leaves them alone (retention, restore without an id and drills take its own): give each host its own repository or module name, or set host: in lifeboat.yaml when this host replaces that one`);
    const verify = await lifeboat(a, ['verify', 'm1']);
    expect(verify.exitCode, verify.stderr).toBe(0);
    expect(verify.stderr).toContain(`restored snapshot ${listed[0].id.slice(0, 12)}`);
    writeFileSync(path.join(data.a, 'who.txt'), 'changed\n');
    const restored = await lifeboat(a, ['restore', 'm1']);
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(readFileSync(path.join(data.a, 'who.txt'), 'utf8')).toBe('hosta\n');
    const target = path.join(a.dir, 'target');
    const other = await lifeboat(a, ['restore', 'm1', listed[1].id, '--target', target]);
    expect(other.exitCode, other.stderr).toBe(0);
    expect(other.stderr).toContain(`snapshot ${listed[1].id} was made by host hostb, not this host (hosta); restoring it as asked`);
    expect(readFileSync(path.join(target, data.b, 'who.txt'), 'utf8')).toBe('hostb\n');
  }, 180_000);
});
