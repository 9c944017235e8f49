// Never lose, never mix: in-place and --target restores on trees that broke them before — names that are
// not UTF-8, nested paths, a bind mount inside the state dir, a swap that fails half-way, two --target
// restores into one folder — and the layouts that are refused before anything runs.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { lifeboat, makeRoot, type TestRoot } from '../helpers/root.js';
import { diffTortureTrees, makeTortureTree, ODD_NAMES, readTortureTree } from '../helpers/torture.js';
import { writeRestoreMarker, readRestoreMarker } from '../../src/lifecycle/restore-marker.js';

const PROVIDERS: Record<string, (dir: string) => Record<string, unknown>> = {
  restic: (dir) => ({ provider: 'restic', url: path.join(dir, 'repo'), passwordFile: path.join(dir, 'repo.pass') }),
  borg: (dir) => ({ provider: 'borg', url: path.join(dir, 'repo'), passwordFile: path.join(dir, 'repo.pass') }),
};

function rootFor(provider: string): TestRoot {
  const t = makeRoot({ repositories: {} });
  t.write('lifeboat.yaml', `repositories:\n  local: ${JSON.stringify(PROVIDERS[provider](t.dir))}\n`);
  writeFileSync(path.join(t.dir, 'repo.pass'), 'correct horse battery staple\n', { mode: 0o600 });
  return t;
}

const oddFile = (dir: string, index: number) => Buffer.concat([Buffer.from(`${dir}/odd/`), ODD_NAMES[index]]);

describe.each(Object.keys(PROVIDERS))('torture tree with %s', (provider) => {
  let t: TestRoot;
  let data: string;
  beforeEach(() => {
    t = rootFor(provider);
    data = path.join(t.dir, 'data');
    makeTortureTree(data, { smallFiles: 300, oddLinkTarget: provider !== 'restic' });
    t.module('m', { folders: [data] });
  });
  afterEach(() => t.cleanup());

  it('names that are not UTF-8 survive an in-place restore, --target into an existing folder, and verify', { timeout: 240_000 }, async () => {
    const before = readTortureTree(data);
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    // damage: a changed odd name, a removed one, a new one, a removed folder
    writeFileSync(oddFile(data, 0), 'changed\n');
    rmSync(oddFile(data, 1));
    writeFileSync(Buffer.concat([Buffer.from(`${data}/odd/`), Buffer.from([0x6e, 0x65, 0x77, 0xfe])]), 'new\n');
    rmSync(path.join(data, 'many'), { recursive: true });
    const restore = await lifeboat(t, ['restore', 'm', '--no-safety-snapshot']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(diffTortureTrees(before, readTortureTree(data))).toEqual([]);
    expect(readdirSync(data).filter((name) => name.startsWith('.lifeboat-restore-'))).toEqual([]);

    // --target into a folder that already holds an older copy with the same odd names
    const target = path.join(t.dir, 'target');
    makeTortureTree(path.join(target, data.slice(1)), { smallFiles: 1, fifo: false, xattrs: false, acl: false });
    writeFileSync(Buffer.concat([Buffer.from(`${target}${data}/odd/`), ODD_NAMES[0]]), 'older copy\n');
    const aside = await lifeboat(t, ['restore', 'm', '--target', target]);
    expect(aside.exitCode, aside.stderr).toBe(0);
    expect(readFileSync(Buffer.concat([Buffer.from(`${target}${data}/odd/`), ODD_NAMES[0]]), 'utf8')).toBe('odd 0\n');
    expect(readFileSync(Buffer.concat([Buffer.from(`${target}${data}/odd/dir`), Buffer.from([0xff, 0x2f, 0xc3, 0x28])]), 'utf8')).toBe('inside a non-UTF-8 folder\n');

    const verify = await lifeboat(t, ['verify', 'm']);
    expect(verify.exitCode, verify.stderr).toBe(0);
    // every entry of the tree was compared, the odd names included (none skipped)
    const files = readTortureTree(data);
    const compared = Number(/(\d+) file\(s\), .* match the manifest/.exec(verify.stderr)?.[1]);
    expect(compared).toBe([...files.values()].filter((line) => line.startsWith('file')).length);
  });
});

describe('nested paths and mount points (restic)', () => {
  let t: TestRoot;
  afterEach(() => t.cleanup());

  it('a state-include.conf path and a folder inside another folder restore in place', { timeout: 180_000 }, async () => {
    t = rootFor('restic');
    const outer = path.join(t.dir, 'chaindata');
    const inner = path.join(outer, 'config');
    mkdirSync(inner, { recursive: true });
    writeFileSync(path.join(outer, 'block'), 'block 1\n');
    writeFileSync(path.join(inner, 'settings'), 'a=1\n');
    t.module('loom', { folders: [outer, inner] });
    const stateDir = path.join(t.stateDir, 'modules', 'loom', 'state');
    mkdirSync(path.join(stateDir, 'extra', 'data'), { recursive: true });
    writeFileSync(path.join(stateDir, 'extra', 'data', 'v'), 'volume 1\n');
    t.write('modules/loom/etc/state-include.conf', 'extra/data\n');
    expect((await lifeboat(t, ['backup', 'loom'])).exitCode).toBe(0);
    writeFileSync(path.join(inner, 'settings'), 'a=2\n');
    writeFileSync(path.join(outer, 'block'), 'block 2\n');
    writeFileSync(path.join(stateDir, 'extra', 'data', 'v'), 'volume 2\n');
    writeFileSync(path.join(stateDir, 'extra', 'data', 'extra'), 'extra\n');
    const restore = await lifeboat(t, ['restore', 'loom']);
    expect(restore.exitCode, restore.stderr).toBe(0);
    expect(readFileSync(path.join(inner, 'settings'), 'utf8')).toBe('a=1\n');
    expect(readFileSync(path.join(outer, 'block'), 'utf8')).toBe('block 1\n');
    expect(readFileSync(path.join(stateDir, 'extra', 'data', 'v'), 'utf8')).toBe('volume 1\n');
    expect(existsSync(path.join(stateDir, 'extra', 'data', 'extra'))).toBe(false);
    expect(existsSync(path.join(t.stateDir, 'modules', 'loom', 'restore-unfinished.json'))).toBe(false);
    // the next backup is not blocked
    expect((await lifeboat(t, ['backup', 'loom'])).exitCode).toBe(0);
  });

  it('a bind mount inside the state dir is restored into and stays mounted', { timeout: 180_000 }, async () => {
    t = rootFor('restic');
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'a'), 'a1\n');
    t.module('m', { folders: [data] });
    const stateDir = path.join(t.stateDir, 'modules', 'm', 'state');
    const mounted = path.join(stateDir, 'mnt');
    const source = path.join(t.dir, 'elsewhere');
    mkdirSync(mounted, { recursive: true });
    mkdirSync(source);
    writeFileSync(path.join(source, 'm'), 'mounted 1\n');
    execFileSync('mount', ['--bind', source, mounted]);
    try {
      expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
      writeFileSync(path.join(mounted, 'm'), 'mounted 2\n');
      writeFileSync(path.join(mounted, 'new'), 'new\n');
      writeFileSync(path.join(stateDir, 'top'), 'top\n');
      const restore = await lifeboat(t, ['restore', 'm']);
      expect(restore.exitCode, restore.stderr).toBe(0);
      expect(readFileSync(path.join(source, 'm'), 'utf8')).toBe('mounted 1\n');
      expect(existsSync(path.join(source, 'new'))).toBe(false);
      expect(existsSync(path.join(stateDir, 'top'))).toBe(false);
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).toContain(` ${mounted} `);
      expect(readdirSync(source).filter((name) => name.startsWith('.lifeboat'))).toEqual([]);
    } finally {
      execFileSync('umount', [mounted]);
    }
  });
});

describe('a swap that fails half-way (restic)', () => {
  let t: TestRoot;
  afterEach(() => {
    try {
      execFileSync('chattr', ['-R', '-i', t.dir], { stdio: 'ignore' });
    } catch {
      // nothing immutable left
    }
    t.cleanup();
  });

  it('puts every path back and says the live files were not changed', { timeout: 180_000 }, async () => {
    t = rootFor('restic');
    const first = path.join(t.dir, 'first');
    const second = path.join(t.dir, 'second');
    for (const dir of [first, second]) {
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'f'), 'backed up\n');
    }
    t.module('m', { folders: [first, second] });
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    writeFileSync(path.join(first, 'f'), 'live\n');
    writeFileSync(path.join(second, 'f'), 'live\n');
    // an immutable file in the second folder cannot be moved aside: the swap fails there
    writeFileSync(path.join(second, 'pinned'), 'pinned\n');
    execFileSync('chattr', ['+i', path.join(second, 'pinned')]);
    const restore = await lifeboat(t, ['restore', 'm', '--no-safety-snapshot']);
    expect(restore.exitCode).toBe(1);
    expect(restore.stderr).toContain('every path was put back as it was');
    expect(restore.stderr).toContain('the live files were not changed');
    expect(readFileSync(path.join(first, 'f'), 'utf8')).toBe('live\n');
    expect(readFileSync(path.join(second, 'f'), 'utf8')).toBe('live\n');
    expect(readdirSync(first).sort()).toEqual(['f']);
    execFileSync('chattr', ['-i', path.join(second, 'pinned')]);
    expect(readdirSync(second).sort()).toEqual(['f', 'pinned']);
    // nothing blocks the next backup
    const backup = await lifeboat(t, ['backup', 'm']);
    expect(backup.exitCode, backup.stderr).toBe(0);
  });
});

describe('layouts refused before anything runs', () => {
  let t: TestRoot;
  afterEach(() => t.cleanup());

  it('a repository inside a backed-up folder: exit 2 naming both paths, nothing written', async () => {
    t = rootFor('restic');
    t.write('lifeboat.yaml', `repositories:\n  local: ${JSON.stringify({ provider: 'restic', url: path.join(t.dir, 'data', 'repo'), passwordFile: path.join(t.dir, 'repo.pass') })}\n`);
    mkdirSync(path.join(t.dir, 'data'));
    t.module('m', { folders: [path.join(t.dir, 'data')] });
    const backup = await lifeboat(t, ['backup', 'm']);
    expect(backup.exitCode).toBe(2);
    expect(backup.stderr).toContain(`repository "local" (${path.join(t.dir, 'data', 'repo')}) lies inside the backed-up path ${path.join(t.dir, 'data')}`);
    expect(existsSync(path.join(t.dir, 'data', 'repo'))).toBe(false);
  });

  it('a folder that is a symlink: exit 2 naming the link and its target', async () => {
    t = rootFor('restic');
    mkdirSync(path.join(t.dir, 'real'));
    symlinkSync(path.join(t.dir, 'real'), path.join(t.dir, 'link'));
    t.module('m', { folders: [path.join(t.dir, 'link')] });
    const backup = await lifeboat(t, ['backup', 'm']);
    expect(backup.exitCode).toBe(2);
    expect(backup.stderr).toContain(`folder ${path.join(t.dir, 'link')} is a symlink to ${path.join(t.dir, 'real')}`);
    expect(existsSync(path.join(t.dir, 'repo'))).toBe(false);
  });

  it('a state-include.conf line that does not exist fails the backup naming it', async () => {
    t = rootFor('restic');
    mkdirSync(path.join(t.dir, 'data'));
    t.module('m', { folders: [path.join(t.dir, 'data')] });
    t.write('modules/m/etc/state-include.conf', 'extra/missing\n');
    const backup = await lifeboat(t, ['backup', 'm']);
    expect(backup.exitCode).toBe(1);
    expect(backup.stderr).toContain(path.join(t.stateDir, 'modules', 'm', 'state', 'extra', 'missing'));
    expect(backup.stderr).toContain('does not exist');
  });

  it('a repository reached through a symlink into a backed-up folder (and borg file://): exit 2', async () => {
    t = rootFor('restic');
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    symlinkSync(data, path.join(t.dir, 'lnk'));
    t.module('m', { folders: [data] });
    for (const repo of [
      { provider: 'restic', url: path.join(t.dir, 'lnk', 'repo'), passwordFile: path.join(t.dir, 'repo.pass') },
      { provider: 'borg', url: `file://${path.join(data, 'borg')}`, passwordFile: path.join(t.dir, 'repo.pass') },
    ]) {
      t.write('lifeboat.yaml', `repositories:\n  local: ${JSON.stringify(repo)}\n`);
      const backup = await lifeboat(t, ['backup', 'm']);
      expect(backup.exitCode, backup.stderr).toBe(2);
      expect(backup.stderr).toContain(`lies inside the backed-up path ${data}`);
      expect(readdirSync(data)).toEqual([]);
    }
  });

  it('state-include.conf: absolute lines, lines leaving the state dir, lines through a symlink, and a file others can write are refused', async () => {
    t = rootFor('restic');
    mkdirSync(path.join(t.dir, 'data'));
    t.module('m', { folders: [path.join(t.dir, 'data')] });
    const stateDir = path.join(t.stateDir, 'modules', 'm', 'state');
    mkdirSync(stateDir, { recursive: true });
    mkdirSync(path.join(t.dir, 'victim'));
    symlinkSync(path.join(t.dir, 'victim'), path.join(stateDir, 'vlink'));
    const include = t.write('modules/m/etc/state-include.conf', '/etc/hostname\n../../../../etc\nvlink/hostname\n');
    let backup = await lifeboat(t, ['backup', 'm']);
    expect(backup.exitCode).toBe(2);
    expect(backup.stderr).toContain(`${include}:1: "/etc/hostname" is absolute`);
    expect(backup.stderr).toContain(`${include}:2: "../../../../etc" leaves the module's state dir`);
    expect(backup.stderr).toContain(`${include}:3: "vlink/hostname" passes through a symlink`);
    t.write('modules/m/etc/state-include.conf', 'inside\n', 0o666);
    backup = await lifeboat(t, ['backup', 'm']);
    expect(backup.exitCode).toBe(2);
    expect(backup.stderr).toContain(`${include}: refused:`);
    const check = await lifeboat(t, ['check']);
    expect(check.exitCode).toBe(1);
    expect(check.stdout + check.stderr).toContain(`${include}: refused:`);
    expect(existsSync(path.join(t.dir, 'repo'))).toBe(false);
  });

  it('--target through a symlink to / or into a live folder, or naming a file: exit 2, nothing changed', async () => {
    t = rootFor('restic');
    const data = path.join(t.dir, 'data');
    mkdirSync(data);
    writeFileSync(path.join(data, 'f'), 'backed up\n');
    t.module('m', { folders: [data] });
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    writeFileSync(path.join(data, 'f'), 'live\n');
    symlinkSync('/', path.join(t.dir, 'to-root'));
    symlinkSync(data, path.join(t.dir, 'to-live'));
    writeFileSync(path.join(t.dir, 'afile'), 'x');
    const root = await lifeboat(t, ['restore', 'm', '--target', path.join(t.dir, 'to-root')]);
    expect(root.exitCode).toBe(2);
    expect(root.stderr).toContain('(really /): restoring under / is an in-place restore');
    const live = await lifeboat(t, ['restore', 'm', '--target', path.join(t.dir, 'to-live')]);
    expect(live.exitCode).toBe(2);
    expect(live.stderr).toContain(`(really ${data}) lies inside ${data}`);
    const file = await lifeboat(t, ['restore', 'm', '--target', path.join(t.dir, 'afile')]);
    expect(file.exitCode).toBe(2);
    expect(file.stderr).toContain('exists and is not a folder');
    expect(readFileSync(path.join(data, 'f'), 'utf8')).toBe('live\n');
    expect(readdirSync(data)).toEqual(['f']);
  });

  it('--target inside a live folder is refused with exit 2', async () => {
    t = rootFor('restic');
    mkdirSync(path.join(t.dir, 'data'));
    writeFileSync(path.join(t.dir, 'data', 'f'), 'x\n');
    t.module('m', { folders: [path.join(t.dir, 'data')] });
    expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
    const restore = await lifeboat(t, ['restore', 'm', '--target', path.join(t.dir, 'data', 'copy')]);
    expect(restore.exitCode).toBe(2);
    expect(restore.stderr).toContain(`--target ${path.join(t.dir, 'data', 'copy')} lies inside ${path.join(t.dir, 'data')}, a live path of module m`);
    expect(existsSync(path.join(t.dir, 'data', 'copy'))).toBe(false);
  });
});

describe('leftovers of a killed restore (restic)', () => {
  it('check reports them; the next in-place restore (the finish command) removes them', { timeout: 120_000 }, async () => {
    const t = rootFor('restic');
    try {
      const data = path.join(t.dir, 'data');
      mkdirSync(data);
      writeFileSync(path.join(data, 'f'), 'backed up\n');
      t.module('m', { folders: [data] });
      expect((await lifeboat(t, ['backup', 'm'])).exitCode).toBe(0);
      // what a run killed mid-swap leaves: its trash (old files) and scratch folders, and a `replacing` marker
      mkdirSync(path.join(data, '.lifeboat-restore-20261129T000000Z-dead00-0-trash', '0'), { recursive: true });
      mkdirSync(path.join(data, '.lifeboat-restore-20261129T000000Z-dead00-0'));
      writeRestoreMarker(t.stateDir, { phase: 'replacing', runId: '20261129T000000Z-dead00', module: 'm', repository: 'local', snapshot: 'x', safety: null, paths: [data], started: 'then', pid: 1 });
      const check = await lifeboat(t, ['check']);
      expect(check.stdout + check.stderr).toContain('2 scratch folder(s) in its live paths');
      expect(check.stdout + check.stderr).toContain('an unfinished in-place restore left them');
      const restore = await lifeboat(t, ['restore', 'm', '--no-safety-snapshot']);
      expect(restore.exitCode, restore.stderr).toBe(0);
      expect(readdirSync(data)).toEqual(['f']);
      expect(existsSync(path.join(t.stateDir, 'modules', 'm', 'restore-unfinished.json'))).toBe(false);
    } finally {
      t.cleanup();
    }
  });
});

describe('two --target restores into one folder at once (restic)', () => {
  it('both complete; neither removes the other one’s scratch folder', { timeout: 240_000 }, async () => {
    const t = rootFor('restic');
    try {
      for (const name of ['a', 'b']) {
        const dir = path.join(t.dir, name);
        mkdirSync(dir);
        for (let i = 0; i < 400; i++) writeFileSync(path.join(dir, `f${i}`), `${name} ${i}\n`);
        t.module(name, { folders: [dir] });
        expect((await lifeboat(t, ['backup', name])).exitCode).toBe(0);
      }
      const target = path.join(t.dir, 'target');
      const [a, b] = await Promise.all([lifeboat(t, ['restore', 'a', '--target', target]), lifeboat(t, ['restore', 'b', '--target', target])]);
      expect(a.exitCode, a.stderr).toBe(0);
      expect(b.exitCode, b.stderr).toBe(0);
      for (const name of ['a', 'b']) expect(readdirSync(path.join(target, t.dir, name))).toHaveLength(400);
      expect(readdirSync(target).filter((entry) => entry.startsWith('.lifeboat'))).toEqual([]);
    } finally {
      t.cleanup();
    }
  });
});

describe('the unfinished-restore marker', () => {
  it('never names a safety snapshot of the mix as the way back (a --no-safety-snapshot restore, then the finish command)', () => {
    const dir = path.join(process.env.TMPDIR ?? '/tmp', `lifeboat-marker-${process.pid}-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o700);
    try {
      const base = { module: 'm', repository: 'local', snapshot: 'target1', paths: ['/x'], started: 'now', pid: 1 };
      // run 1: --no-safety-snapshot, killed while replacing
      writeRestoreMarker(dir, { ...base, phase: 'staging', runId: 'run1', safety: null });
      writeRestoreMarker(dir, { ...base, phase: 'replacing', runId: 'run1', safety: null });
      // run 2: the finish command took a safety snapshot of the mix, then writes its markers
      writeRestoreMarker(dir, { ...base, phase: 'staging', runId: 'run2', safety: { repository: 'local', id: 'mix' } });
      expect(readRestoreMarker(dir, 'm')).toMatchObject({ phase: 'replacing', safety: null });
      writeRestoreMarker(dir, { ...base, phase: 'replacing', runId: 'run2', safety: { repository: 'local', id: 'mix' } });
      expect(readRestoreMarker(dir, 'm')).toMatchObject({ phase: 'replacing', safety: null });
      // with a safety snapshot from before run 1, that one stays the way back
      rmSync(path.join(dir, 'modules'), { recursive: true });
      writeRestoreMarker(dir, { ...base, phase: 'replacing', runId: 'run1', safety: { repository: 'local', id: 'before' } });
      writeRestoreMarker(dir, { ...base, phase: 'staging', runId: 'run2', safety: { repository: 'local', id: 'mix' } });
      writeRestoreMarker(dir, { ...base, phase: 'replacing', runId: 'run2', safety: { repository: 'local', id: 'mix' } });
      expect(readRestoreMarker(dir, 'm')?.safety).toEqual({ repository: 'local', id: 'before' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
