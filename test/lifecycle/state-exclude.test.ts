// A module's etc/state-exclude.conf (NethServer's file, README "NethServer modules") is read from
// modules/<m>/etc/ and its patterns reach every provider: the excluded file is absent from the engine's own
// listing of the snapshot (restic ls, the tar file list) while the files next to it are there.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { readFileList } from '../helpers/tar-list.js';

let t: TestRoot | undefined;
afterEach(() => t?.cleanup());

describe('etc/state-exclude.conf', () => {
  it('its patterns leave files out of restic and tar snapshots; the other files are kept', { timeout: 180_000 }, async () => {
    t = makeRoot({ repositories: {} });
    const pass = path.join(t.dir, 'pass');
    writeFileSync(pass, 'state-exclude\n', { mode: 0o600 });
    t.write('lifeboat.yaml', `repositories:\n  vault: { provider: restic, url: ${path.join(t.dir, 'restic')}, passwordFile: ${pass} }\n  archive: { provider: tar, url: ${path.join(t.dir, 'tar')}, compression: none }\n`);
    const data = path.join(t.dir, 'data');
    mkdirSync(path.join(data, 'cache'), { recursive: true });
    writeFileSync(path.join(data, 'keep.txt'), 'kept\n');
    writeFileSync(path.join(data, 'noise.skipme'), 'left out\n');
    writeFileSync(path.join(data, 'cache', 'blob'), 'left out too\n');
    t.module('m', { folders: [data] });
    t.write('modules/m/etc/state-exclude.conf', `# not backed up\n*.skipme\n\n${path.join(data, 'cache')}\n`);

    const run = await lifeboat(t, ['backup', 'm']);
    expect(run.exitCode, run.stderr).toBe(0);

    // restic's own listing of the latest snapshot
    const ls = await execa('restic', ['--no-lock', 'ls', 'latest'], { env: { RESTIC_REPOSITORY: path.join(t.dir, 'restic', 'm'), RESTIC_PASSWORD_FILE: pass }, reject: false });
    expect(ls.exitCode, ls.stderr).toBe(0);
    const resticPaths = ls.stdout.split('\n');
    expect(resticPaths).toContain(path.join(data, 'keep.txt'));
    expect(resticPaths).not.toContain(path.join(data, 'noise.skipme'));
    expect(resticPaths).not.toContain(path.join(data, 'cache'));
    expect(resticPaths).not.toContain(path.join(data, 'cache', 'blob'));

    // the tar provider's file list of its one snapshot
    const lists = readdirSync(path.join(t.dir, 'tar', 'm')).filter((name) => name.endsWith('.files.ndjson.gz'));
    expect(lists).toHaveLength(1);
    const list = readFileList(path.join(t.dir, 'tar', 'm', lists[0]));
    const tarPaths = list.entries.map((entry) => entry.path);
    expect(tarPaths).toContain(path.join(data, 'keep.txt'));
    expect(tarPaths).not.toContain(path.join(data, 'noise.skipme'));
    expect(tarPaths).not.toContain(path.join(data, 'cache'));
    expect(tarPaths).not.toContain(path.join(data, 'cache', 'blob'));
    expect(list.head.exclude).toEqual(expect.arrayContaining(['*.skipme', path.join(data, 'cache')]));
  });
});
