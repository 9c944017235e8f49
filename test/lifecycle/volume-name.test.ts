// A podman volume backed up under its plain NAME and removed since: the restore makes it again under the
// name the snapshot held it by (not the rootful <module>-NAME) and fills it.
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { stringify } from 'yaml';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';

const podman = (...args: string[]) => execFileSync('podman', args, { encoding: 'utf8' }).trim();

describe('a removed volume', () => {
  let t: TestRoot;
  const created: string[] = [];
  afterEach(() => {
    for (const name of created.splice(0)) execFileSync('podman', ['volume', 'rm', '-f', name], { stdio: 'ignore' });
    t.cleanup();
  });

  it('comes back under the name the snapshot held it by, with its files', { timeout: 120_000 }, async () => {
    t = makeRoot();
    const pass = path.join(t.dir, 'restic.pass');
    writeFileSync(pass, 'volume-name\n', { mode: 0o600 });
    t.write('lifeboat.yaml', stringify({ repositories: { local: { provider: 'restic', url: path.join(t.dir, 'restic'), passwordFile: pass } } }));
    const volume = `lbvol${randomBytes(3).toString('hex')}`;
    created.push(volume, `vm-${volume}`);
    podman('volume', 'create', volume);
    writeFileSync(path.join(podman('volume', 'inspect', volume, '--format', '{{.Mountpoint}}'), 'p.txt'), 'precious\n');
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    t.module('vm', { folders: [data] });
    t.write('modules/vm/etc/state-include.conf', `volumes/${volume}\n`);
    expect((await lifeboat(t, ['backup', 'vm'])).exitCode).toBe(0);
    podman('volume', 'rm', volume);
    const restore = await lifeboat(t, ['restore', 'vm']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(restore.stderr).toContain(`created container volume ${volume}`);
    expect(readFileSync(path.join(podman('volume', 'inspect', volume, '--format', '{{.Mountpoint}}'), 'p.txt'), 'utf8')).toBe('precious\n');
  });
});
